package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracegate/tracegate/internal/devauth"
)

// faultyTempo is the Tempo stand-in behind a switch that injects one fault.
type faultyTempo struct {
	next  http.Handler
	fault atomic.Value // string
}

func (f *faultyTempo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fault, _ := f.fault.Load().(string)
	switch fault {
	case "reset": // accept, then drop the connection without an answer
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case "hang":
		<-r.Context().Done()
	case "500", "503", "429":
		http.Error(w, "injected "+fault, map[string]int{"500": 500, "503": 503, "429": 429}[fault])
	case "garbage":
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write([]byte("\xff\xfe not protobuf at all"))
	case "truncated":
		w.Header().Set("Content-Type", "application/protobuf")
		w.Header().Set("Content-Length", "5000")
		_, _ = w.Write([]byte("\x0a\x90\x27"))
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	case "huge":
		w.Header().Set("Content-Type", "application/protobuf")
		chunk := make([]byte, 64<<10)
		for range 32 { // 2 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case "slow-body": // slowloris: headers at once, then a byte now and then
		w.Header().Set("Content-Type", "application/protobuf")
		w.WriteHeader(http.StatusOK)
		for range 100 {
			if _, err := w.Write([]byte{0x0a}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	default:
		f.next.ServeHTTP(w, r)
	}
}

// TestFaults injects each Tempo fault, expects its documented status within
// the timeout, and then recovery without a restart; and the same for the
// identity provider. Nothing may leak a goroutine.
func TestFaults(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})

	stand, _ := newTempo(t)
	ft := &faultyTempo{next: stand.Config.Handler}
	tempoSrv := httptest.NewServer(ft)
	t.Cleanup(tempoSrv.Close)

	iss, _ := devauth.NewIssuer("http://idp.test", "tracegate")
	var idpDown atomic.Bool
	idpDown.Store(true) // down at start
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if idpDown.Load() {
			http.Error(w, "identity provider down", http.StatusServiceUnavailable)
			return
		}
		iss.JWKS().ServeHTTP(w, r)
	}))
	t.Cleanup(jwks.Close)

	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":               "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":                 tempoSrv.URL,
		"TRACEGATE_TEMPO_TIMEOUT":             "700ms",
		"TRACEGATE_TEMPO_MAX_RESPONSE_BYTES":  "1048576",
		"TRACEGATE_JWKS_URL":                  jwks.URL,
		"TRACEGATE_JWKS_REFRESH_INTERVAL":     "300ms",
		"TRACEGATE_JWKS_MIN_REFETCH_INTERVAL": "100ms",
		"TRACEGATE_RATE_LIMIT_CLIENT_IP":      "0",
	})
	tok := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))
	call := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	trace := "/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736"
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Identity provider down at start: tokens cannot be verified, not ready.
	if status, _ := call(trace); status != http.StatusUnauthorized {
		t.Errorf("keys never loaded: %d, want 401", status)
	}
	if status, body := call("/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, `"detail":"not ready: keys"`) {
		t.Errorf("readyz without keys: %d %s", status, body)
	}
	idpDown.Store(false)
	eventually("keys load once the identity provider is back", func() bool { s, _ := call(trace); return s == http.StatusOK })

	// Identity provider down later: cached keys keep working, readyz degraded.
	idpDown.Store(true)
	eventually("a failed refresh shows as degraded", func() bool {
		s, body := call("/readyz")
		return s == http.StatusOK && strings.Contains(body, `"status":"degraded"`)
	})
	if status, _ := call(trace); status != http.StatusOK {
		t.Errorf("with the identity provider down and keys cached: %d, want 200", status)
	}
	idpDown.Store(false)

	for _, f := range []struct {
		fault string
		want  int
	}{
		{"reset", 503}, {"hang", 504}, {"500", 502}, {"503", 503}, {"429", 429},
		{"garbage", 502}, {"truncated", 502}, {"huge", 502}, {"slow-body", 504},
	} {
		ft.fault.Store(f.fault)
		start := time.Now()
		status, body := call(trace)
		if status != f.want {
			t.Errorf("%s: status %d, want %d: %s", f.fault, status, f.want, body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: answered after %v, beyond the 700ms Tempo timeout (+ retries)", f.fault, d)
		}
		if strings.Contains(body, "injected") {
			t.Errorf("%s: Tempo's text reached the caller: %s", f.fault, body)
		}
		ft.fault.Store("")
		if status, _ := call(trace); status != http.StatusOK {
			t.Errorf("after %s: %d, want recovery to 200", f.fault, status)
		}
	}
	ft.fault.Store("hang")
	if status, body := call("/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, `"detail":"not ready: tempo"`) {
		t.Errorf("readyz with Tempo hanging: %d %s", status, body)
	}
	ft.fault.Store("")
}
