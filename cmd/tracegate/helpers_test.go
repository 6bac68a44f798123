package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/standin"
	"github.com/tracegate/tracegate/internal/testkit"
)

// Helpers shared by the tests of package main.

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}

// newIssuer returns the dev issuer the tests' tracegate trusts
// (iss http://idp.test, aud tracegate) and the URL of its JWKS.
func newIssuer(t *testing.T) (*devauth.Issuer, string) {
	t.Helper()
	return testkit.NewIssuer(t, "http://idp.test", "tracegate")
}

// recordingTempo is the Tempo stand-in over real HTTP, seeded with the OTLP
// files that were ingested into the real Tempo the fixtures were recorded from
// (testdata/tempo/ingested, tenant = file prefix). It records what it was sent.
type recordingTempo struct {
	next http.Handler

	mu       sync.Mutex
	requests []*http.Request
}

func newTempo(t *testing.T) (*httptest.Server, *recordingTempo) {
	t.Helper()
	st := standin.New(nil)
	for _, name := range testkit.IngestedNames(t) {
		tenant, _, _ := strings.Cut(name, "-")
		if err := st.Ingest(tenant, testkit.Ingested(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	rt := &recordingTempo{next: st.Handler()}
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return srv, rt
}

func (rt *recordingTempo) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.requests)
}

func (rt *recordingTempo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	rt.requests = append(rt.requests, r.Clone(context.Background()))
	rt.mu.Unlock()
	rt.next.ServeHTTP(w, r)
}

// startRun runs the program (run) with args and environ until the test ends,
// and returns its output once ready reports that it has started.
func startRun(t *testing.T, args []string, environ map[string]string, ready func(out string) bool) *testkit.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &testkit.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, environ, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", args[0], err)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if ready(out.String()) {
			return out
		}
		select {
		case err := <-done:
			t.Fatalf("%s returned early: %v\n%s", args[0], err, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not start:\n%s", args[0], out)
	return nil
}

// startTracegate runs `tracegate serve` with environ and returns its base
// URL and output; it stops when the test ends.
func startTracegate(t *testing.T, environ map[string]string) (string, *testkit.Buffer) {
	t.Helper()
	var addr string
	out := startRun(t, []string{"serve"}, environ, func(out string) bool {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr = line.Addr
				return true
			}
		}
		return false
	})
	return "http://" + addr, out
}

func get(t *testing.T, url, token string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// otlpSpan is one span of a test trace, as OTLP/JSON.
type otlpSpan struct {
	traceHex, spanHex, parentHex, name string
	start                              time.Time
	attrs                              map[string]string // string attributes
}

func (s otlpSpan) json() string {
	b := fmt.Appendf(nil, `{"traceId":%q,"spanId":%q,"name":%q,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"`,
		s.traceHex, s.spanHex, s.name, s.start.UnixNano(), s.start.Add(time.Millisecond).UnixNano())
	if s.parentHex != "" {
		b = fmt.Appendf(b, `,"parentSpanId":%q`, s.parentHex)
	}
	return string(b) + `,"attributes":` + otlpAttributes(s.attrs) + "}"
}

// otlpAttributes writes string attributes as OTLP/JSON KeyValues.
func otlpAttributes(attrs map[string]string) string {
	kvs := make([]string, 0, len(attrs))
	for k, v := range attrs {
		kvs = append(kvs, fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v))
	}
	return "[" + strings.Join(kvs, ",") + "]"
}

// otlpResource is one resource of a test trace: its attributes (OTLP/JSON
// KeyValues, written as they are) and spans.
func otlpResource(attrs string, spans ...otlpSpan) string {
	js := make([]string, len(spans))
	for i, s := range spans {
		js[i] = s.json()
	}
	return `{"resource":{"attributes":` + attrs + `},"scopeSpans":[{"spans":[` + strings.Join(js, ",") + `]}]}`
}

// ingest stores a trace of the given resources (otlpResource) in the
// stand-in as Tempo tenant org.
func ingest(t testing.TB, st *standin.Server, org string, resources ...string) {
	t.Helper()
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(`{"resourceSpans":[` + strings.Join(resources, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Ingest(org, td); err != nil {
		t.Fatal(err)
	}
}
