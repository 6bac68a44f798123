package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/devseed"
	"github.com/tracegate/tracegate/internal/testkit"
	"github.com/tracegate/tracegate/web"
)

// startDev runs `tracegate dev` on random loopback ports and returns its
// welcome text once it is ready.
func startDev(t *testing.T, flags ...string) string {
	t.Helper()
	return startDevEnv(t, nil, flags...)
}

// startDevEnv is startDev with TRACEGATE_* variables in environ.
func startDevEnv(t *testing.T, environ map[string]string, flags ...string) string {
	t.Helper()
	args := append([]string{"dev", "--listen", "127.0.0.1:0", "--tempo-listen", "127.0.0.1:0", "--otlp-listen", "127.0.0.1:0"}, flags...)
	return startRun(t, args, environ, func(out string) bool {
		return strings.Contains(out, "Try:") && strings.Contains(out, "/api/v1/traces?q=")
	}).String()
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
	for _, s := range []string{`"spanId":"5e3369e1730c53eb"`, `"traceId":"` + id + `"`, `"stringValue":"/frontend/0"`} {
		if !bytes.Contains(body, []byte(s)) {
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
	err := run(context.Background(), []string{"dev", "--listen", "0.0.0.0:8080"}, nil, &testkit.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}

var (
	apiLine  = regexp.MustCompile(`API\s+(http://\S+)/api/v1`)
	corsLine = regexp.MustCompile(`(?m)^  CORS origins\s+(.*)$`)
)

// preflightAllows reports whether the gateway lets origin call the API from a browser.
func preflightAllows(t *testing.T, base, origin string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, base+"/api/v1/whoami", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization,x-tenant")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Access-Control-Allow-Origin") == origin
}

// CORS in dev mode: Vite's dev server by default (and printed), replaced by a
// set TRACEGATE_CORS_ORIGINS, overridden by --cors-origin ("" = off).
func TestDevCORS(t *testing.T) {
	const vite, vite2, app = "http://localhost:5173", "http://127.0.0.1:5173", "https://app.example.com"
	for _, tc := range []struct {
		name    string
		environ map[string]string
		flags   []string
		allowed []string
		denied  []string
		banner  string
	}{
		{"default", nil, nil, []string{vite, vite2}, []string{app}, vite + ", " + vite2},
		{"env replaces the default", map[string]string{"TRACEGATE_CORS_ORIGINS": app}, nil, []string{app}, []string{vite, vite2}, app + " "},
		{"flag", map[string]string{"TRACEGATE_CORS_ORIGINS": app}, []string{"--cors-origin", vite2}, []string{vite2}, []string{app, vite}, vite2 + " "},
		{"off", nil, []string{"--cors-origin", ""}, nil, []string{vite, app}, "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := startDevEnv(t, tc.environ, tc.flags...)
			base := apiLine.FindStringSubmatch(out)[1]
			m := corsLine.FindStringSubmatch(out)
			if m == nil || !strings.HasPrefix(m[1], tc.banner) {
				t.Errorf("banner's CORS line %q, want it to start with %q", m, tc.banner)
			}
			for _, o := range tc.allowed {
				if !preflightAllows(t, base, o) {
					t.Errorf("%s is not allowed", o)
				}
			}
			for _, o := range tc.denied {
				if preflightAllows(t, base, o) {
					t.Errorf("%s is allowed", o)
				}
			}
		})
	}
	help := &testkit.Buffer{}
	if err := run(context.Background(), []string{"dev", "-h"}, nil, help); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(help.String(), "-cors-origin") || !strings.Contains(help.String(), "TRACEGATE_CORS_ORIGINS replaces that default") {
		t.Errorf("dev -h does not explain --cors-origin:\n%s", help)
	}
}

// Dev mode's token endpoints: the dev tenants' tokens (also where the trace
// explorer looks for them), minted tokens for several tenants or expired
// ones, loopback host names only, and never readable cross-origin.
func TestDevTokenEndpoints(t *testing.T) {
	out := startDev(t)
	base := apiLine.FindStringSubmatch(out)[1]
	whoami := func(token string) (int, map[string]any) {
		status, _, body := get(t, base+"/api/v1/whoami", token, nil)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		return status, m
	}
	for _, path := range []string{"/dev/tokens", "/ui/dev.json"} {
		status, h, body := get(t, base+path, "", map[string]string{"Origin": "http://localhost:5173"})
		var list struct {
			Tokens []struct{ Tenant, Token string }
		}
		if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list.Tokens) != 2 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: headers %v", path, h)
		}
		for _, e := range list.Tokens {
			if status, me := whoami(e.Token); status != 200 || me["tenant"] != e.Tenant {
				t.Errorf("%s: %s's token: whoami %d %v", path, e.Tenant, status, me)
			}
		}
	}
	mint := func(query string) (int, string) {
		status, _, body := get(t, base+"/dev/token?"+query, "", nil)
		var r struct{ Token string }
		_ = json.Unmarshal(body, &r)
		return status, r.Token
	}
	status, both := mint("tenant=acme&tenant=globex&ttl=1h")
	if st, me := whoami(both); status != 200 || st != 200 || me["tenant"] != nil || fmt.Sprint(me["grantedTenants"]) != "[acme globex]" {
		t.Errorf("multi-tenant token: mint %d, whoami %d %v", status, st, me)
	}
	if st, _, _ := get(t, base+"/api/v1/traces", both, map[string]string{"X-Tenant": "globex"}); st != 200 {
		t.Errorf("multi-tenant token choosing globex: %d", st)
	}
	status, expired := mint("tenant=acme&ttl=-1h")
	if st, _ := whoami(expired); status != 200 || st != http.StatusUnauthorized {
		t.Errorf("expired token: mint %d, whoami %d", status, st)
	}
	for _, q := range []string{"", "ttl=1h", "tenant=acme&ttl=soon"} {
		if status, tok := mint(q); status != http.StatusBadRequest || tok != "" {
			t.Errorf("/dev/token?%s: %d %q", q, status, tok)
		}
	}
	// DNS rebinding: a page of evil.example whose name resolves to 127.0.0.1.
	req, _ := http.NewRequest(http.MethodGet, base+"/dev/tokens", nil)
	req.Host = "evil.example:8080"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "eyJ") {
		t.Errorf("/dev/tokens for Host evil.example: %d %s", resp.StatusCode, body)
	}
}

// The trace explorer is on in dev mode, and the banner links to it.
func TestDevUI(t *testing.T) {
	out := startDev(t)
	base := apiLine.FindStringSubmatch(out)[1]
	if !strings.Contains(out, "Trace explorer  "+base+"/ui/") || !strings.Contains(out, base+"/ui/?tenant=acme") {
		t.Errorf("the banner does not link to the explorer:\n%s", out)
	}
	status, h, body := get(t, base+"/ui/", "", nil)
	if status != 200 || h.Get("Content-Security-Policy") != web.CSP || !strings.Contains(string(body), "app.js") {
		t.Errorf("GET /ui/: %d %v", status, h)
	}
}

// tracegate serve has no dev token endpoint, and serves the explorer only
// with TRACEGATE_UI=true (and then without dev tokens).
func TestServeHasNoDevEndpoints(t *testing.T) {
	_, jwksURL := newIssuer(t)
	tempoSrv, _ := newTempo(t)
	environ := map[string]string{
		"TRACEGATE_LISTEN_ADDR": "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":   tempoSrv.URL,
		"TRACEGATE_JWKS_URL":    jwksURL,
	}
	off, _ := startTracegate(t, environ)
	withUI := maps.Clone(environ)
	withUI["TRACEGATE_UI"] = "true"
	on, _ := startTracegate(t, withUI)
	for _, base := range []string{off, on} {
		for _, path := range []string{"/dev/tokens", "/dev/token?tenant=acme", "/dev/jwks.json"} {
			if status, _, body := get(t, base+path, "", nil); status != http.StatusUnauthorized || strings.Contains(string(body), "eyJ") {
				t.Errorf("serve: GET %s: %d %s", path, status, body)
			}
		}
	}
	if status, _, _ := get(t, off+"/ui/", "", nil); status != http.StatusUnauthorized {
		t.Errorf("serve without TRACEGATE_UI: GET /ui/: %d", status)
	}
	if status, h, _ := get(t, on+"/ui/", "", nil); status != 200 || h.Get("Content-Security-Policy") != web.CSP {
		t.Errorf("serve with TRACEGATE_UI=true: GET /ui/: %d", status)
	}
	if status, _, body := get(t, on+"/ui/dev.json", "", nil); status != 200 || strings.TrimSpace(string(body)) != `{"tokens":[]}` {
		t.Errorf("serve: GET /ui/dev.json: %d %s", status, body)
	}
}
