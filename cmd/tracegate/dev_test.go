package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/devseed"
)

// startDev runs `tracegate dev` on random loopback ports and returns its
// welcome text once it is ready.
func startDev(t *testing.T, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	args := append([]string{"dev", "--listen", "127.0.0.1:0", "--tempo-listen", "127.0.0.1:0", "--otlp-listen", "127.0.0.1:0"}, flags...)
	go func() { done <- run(ctx, args, nil, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev: %v", err)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if s := out.String(); strings.Contains(s, "Try:") && strings.Contains(s, "/api/v1/traces?q=") {
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("dev returned early: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("dev did not start:\n%s", out)
	return ""
}

var (
	curlLine  = regexp.MustCompile(`(?m)^  # .*\((\d{3})[,:)].*\n  curl (-s|-si)(?: -H 'Authorization: Bearer ([^']+)')? '?([^'\s]+)'?$`)
	otlpLine  = regexp.MustCompile(`OTLP/HTTP\s+(\S+)`)
	tokenLine = regexp.MustCompile(`(?m)^  (acme|globex)\s+(\S+)$`)
)

// The printed curl lines work as printed, in every tenancy mode of dev.
func TestDevCurlLines(t *testing.T) {
	for _, flags := range [][]string{nil, {"--attribute-check"}, {"--shared-tempo"}} {
		t.Run(strings.Join(append([]string{"dev"}, flags...), " "), func(t *testing.T) {
			checkCurlLines(t, startDev(t, flags...))
		})
	}
}

func checkCurlLines(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "NOT FOR PRODUCTION") {
		t.Error("dev mode does not say it is not for production")
	}
	lines := curlLine.FindAllStringSubmatch(out, -1)
	if len(lines) != 3 {
		t.Fatalf("found %d curl lines, want 3:\n%s", len(lines), out)
	}
	for _, m := range lines {
		want, token, url := m[1], m[3], m[4]
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Status[:3]; got != want {
			t.Errorf("curl %s: status %s, the comment promises %s", url, got, want)
		}
		if strings.Contains(url, "?q=") {
			if !strings.Contains(string(body), devseed.AcmeLoginFail) || strings.Contains(string(body), devseed.GlobexReport) {
				t.Errorf("search found %s", body)
			}
		}
	}
}

// Traces sent to the dev OTLP receiver are readable through the gateway by
// their tenant only, and equal to what was sent.
func TestDevIngestAndReadBack(t *testing.T) {
	out := startDev(t, "--attribute-check")
	otlpURL := otlpLine.FindStringSubmatch(out)[1]
	tokens := map[string]string{}
	for _, m := range tokenLine.FindAllStringSubmatch(out, -1) {
		tokens[m[1]] = m[2]
	}
	api := regexp.MustCompile(`API\s+(http://\S+)/api/v1`).FindStringSubmatch(out)[1]

	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tempo", "ingested", "acme-checkout.json"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef"
	raw = bytes.ReplaceAll(raw, []byte("4bf92f3577b34da6a3ce929d0e0e4736"), []byte(id))
	req, _ := http.NewRequest(http.MethodPost, otlpURL, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Scope-OrgID", "acme")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP ingest: status %d", resp.StatusCode)
	}

	status, _, body := get(t, api+"/api/v1/traces/"+id, tokens["acme"], nil)
	if status != http.StatusOK {
		t.Fatalf("acme reading its ingested trace: %d %s", status, body)
	}
	got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	if got.SpanCount() != want.SpanCount() || got.SpanCount() != 9 {
		t.Fatalf("read back %d spans, sent %d", got.SpanCount(), want.SpanCount())
	}
	gotJSON, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(got)
	for _, s := range []string{`"spanId":"5e3369e1730c53eb"`, `"traceId":"` + id + `"`, `"stringValue":"/frontend/0"`} {
		if !bytes.Contains(gotJSON, []byte(s)) {
			t.Errorf("read-back trace lacks %s", s)
		}
	}

	if status, _, _ := get(t, api+"/api/v1/traces/"+id, tokens["globex"], nil); status != http.StatusNotFound {
		t.Errorf("globex reading acme's trace: %d, want 404", status)
	}
	// Search finds it for acme only (the file's spans are timed 2026-11-26 13:03 UTC).
	search := api + "/api/v1/traces?start=1795697000&end=1795699000&q=" + url.QueryEscape(`{ resource.service.name = "payments" }`)
	if status, _, body := get(t, search, tokens["acme"], nil); status != http.StatusOK || !bytes.Contains(body, []byte(id)) {
		t.Errorf("acme's search: %d %s", status, body)
	}
	if status, _, body := get(t, search, tokens["globex"], nil); status != http.StatusOK || bytes.Contains(body, []byte(id)) {
		t.Errorf("globex's search: %d %s", status, body)
	}
	// The seeded mis-routed trace is stored under acme but stamped globex.
	if status, _, _ := get(t, api+"/api/v1/traces/d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60", tokens["acme"], nil); status != http.StatusNotFound {
		t.Errorf("mis-routed trace with the attribute check on: %d, want 404", status)
	}
}

// With --shared-tempo every seeded trace sits in one Tempo tenant and only the
// tenant attribute tells them apart: the trace stored under acme but stamped
// globex is globex's, and the banner says how to send traces.
func TestDevSharedTempo(t *testing.T) {
	out := startDev(t, "--shared-tempo")
	if !strings.Contains(out, "X-Scope-OrgID: single-tenant") || !strings.Contains(out, "shared Tempo tenant single-tenant") {
		t.Errorf("banner does not explain the shared tenant:\n%s", out)
	}
	tokens := map[string]string{}
	for _, m := range tokenLine.FindAllStringSubmatch(out, -1) {
		tokens[m[1]] = m[2]
	}
	api := regexp.MustCompile(`API\s+(http://\S+)/api/v1`).FindStringSubmatch(out)[1]
	for _, c := range []struct {
		tenant, id string
		want       int
	}{
		{"globex", devseed.AcmeMisrouted, http.StatusOK},
		{"acme", devseed.AcmeMisrouted, http.StatusNotFound},
		{"globex", devseed.AcmeCheckout, http.StatusNotFound},
		{"acme", devseed.AcmeCheckout, http.StatusOK},
	} {
		status, _, body := get(t, api+"/api/v1/traces/"+c.id, tokens[c.tenant], nil)
		if status != c.want {
			t.Errorf("%s reads %s: %d %s, want %d", c.tenant, c.id, status, body, c.want)
		}
	}
	// The mixed trace: each tenant reads its own part, marked partial.
	for tn, want := range map[string]string{"acme": `"stringValue":"shop"`, "globex": `"stringValue":"partner-api"`} {
		status, _, body := get(t, api+"/api/v1/traces/"+devseed.AcmeMixed, tokens[tn], nil)
		if status != http.StatusOK || !bytes.Contains(body, []byte(want)) || !bytes.Contains(body, []byte(`"partial":true`)) {
			t.Errorf("%s reads the mixed trace: %d %s", tn, status, body)
		}
		if tn == "acme" && bytes.Contains(body, []byte("GLOBEX-ONLY")) {
			t.Errorf("acme sees globex's part of the mixed trace: %s", body)
		}
	}
	// Search is confined: globex's secret is not even selectable by acme.
	status, _, body := get(t, api+"/api/v1/traces?spss=10&q="+url.QueryEscape(`{ } | select(span.partner.secret)`), tokens["acme"], nil)
	if status != http.StatusOK || bytes.Contains(body, []byte("GLOBEX-ONLY")) || !bytes.Contains(body, []byte(devseed.AcmeMixed)) {
		t.Errorf("acme's search: %d %s", status, body)
	}
	if status, _, body := get(t, api+"/api/v1/tags/trace:rootService/values", tokens["acme"], nil); status != http.StatusBadRequest || !bytes.Contains(body, []byte("trace:rootService")) {
		t.Errorf("trace-level tag values: %d %s, want 400 naming the tag", status, body)
	}
}

func TestDevRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"dev", "--listen", "0.0.0.0:8080"}, nil, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}
