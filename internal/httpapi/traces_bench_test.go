package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// benchTrace builds a trace of n spans shaped like bench/synth.go's:
// several resources with service.name and tenant.id, random span ids, five
// attributes per span.
func benchTrace(n int) ptrace.Traces {
	rng := rand.New(rand.NewPCG(uint64(n), 11))
	td := ptrace.NewTraces()
	var tid pcommon.TraceID
	for i := range tid {
		tid[i] = byte(rng.Uint32())
	}
	nres := min(max(n/200, 3), 25, n)
	start := pcommon.NewTimestampFromTime(time.Now())
	for r := range nres {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("service-%d", r))
		rs.Resource().Attributes().PutStr("tenant.id", "acme")
		rs.Resource().Attributes().PutStr("host.name", fmt.Sprintf("ip-10-0-0-%d", r))
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := r; i < n; i += nres {
			sp := spans.AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			for j := range sid {
				sid[j] = byte(rng.Uint32())
			}
			sp.SetSpanID(sid)
			sp.SetName("GET /api/orders/{id}")
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(start)
			sp.SetEndTimestamp(start + pcommon.Timestamp(rng.IntN(50_000_000)))
			a := sp.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", "/api/orders/{id}")
			a.PutInt("http.response.status_code", 200)
			a.PutStr("url.path", fmt.Sprintf("/api/orders/%d", rng.IntN(1_000_000)))
			a.PutDouble("app.payment.amount", float64(rng.IntN(100_000))/100)
		}
	}
	return td
}

// BenchmarkGetTrace measures GET /api/v1/traces/{id} through the real Echo
// stack (auth middleware with a real ES256 token, repeated as a browser
// does, request validation, limits, access log, OTLP/JSON encoding), with a
// fake TraceReader that returns an already validated trace: everything but the
// Tempo call and its protobuf validation (see internal/tempo's
// BenchmarkTraceBySize) and the network.
func BenchmarkGetTrace(b *testing.B) {
	for _, n := range []int{10, 1000, 20000} {
		data := otlpData(b, benchTrace(n))
		h := newHarness(b, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
			return traces.Trace{Data: data}, nil
		})
		tok := h.token(b, map[string]any{"tenant_id": "acme"})
		for _, enc := range []string{"identity", "gzip"} {
			b.Run(fmt.Sprintf("spans=%d/%s", n, enc), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					if enc == "gzip" {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					rec := httptest.NewRecorder()
					h.e.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
