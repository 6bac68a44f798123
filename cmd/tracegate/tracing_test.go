package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, tracegate traces itself: a server
// span per request named by route, a client span per Tempo call, and Tempo
// receives tracegate's own traceparent — never the caller's.
func TestSelfTracing(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // export quickly (ms)
	var mu sync.Mutex
	var spans []ptrace.Span
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		rss := td.ResourceSpans()
		for i := range rss.Len() {
			ss := rss.At(i).ScopeSpans()
			for j := range ss.Len() {
				for k := range ss.At(j).Spans().Len() {
					spans = append(spans, ss.At(j).Spans().At(k))
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(collector.Close)

	tempoSrv, rt := newTempo(t)
	iss, jwksURL := newIssuer(t)
	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":       "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":         tempoSrv.URL,
		"TRACEGATE_JWKS_URL":          jwksURL,
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
	})
	const callerTrace = "0af7651916cd43dd8448eb211c80319c"
	status, _, _ := get(t, base+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"})),
		map[string]string{"traceparent": "00-" + callerTrace + "-b7ad6b7169203331-01"})
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	deadline := time.Now().Add(5 * time.Second)
	var server, client *ptrace.Span
	for time.Now().Before(deadline) && (server == nil || client == nil) {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		for i := range spans {
			switch spans[i].Name() {
			case "GET /api/v1/traces/:trace_id":
				server = &spans[i]
			case "tempo trace_by_id":
				client = &spans[i]
			}
		}
		mu.Unlock()
	}
	if server == nil || client == nil {
		t.Fatalf("spans exported: server %v, client %v", server != nil, client != nil)
	}
	if server.TraceID().String() == callerTrace {
		t.Error("the caller's traceparent became the parent of tracegate's span")
	}
	if client.TraceID() != server.TraceID() {
		t.Error("the Tempo call is not in tracegate's trace")
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	tp := rt.requests[len(rt.requests)-1].Header.Get("traceparent")
	if !strings.Contains(tp, server.TraceID().String()) || strings.Contains(tp, callerTrace) {
		t.Errorf("Tempo got traceparent %q, want tracegate's trace %s", tp, server.TraceID())
	}
}
