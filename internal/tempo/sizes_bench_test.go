package tempo

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// benchSizes are the trace sizes of the performance targets (docs/performance.md).
var benchSizes = []int{10, 1000, 20000}

// synthTrace builds a trace of n spans shaped like bench/synth.go's (simpler
// span contents, same counts): several
// resources carrying service.name and tenant.id, random span ids, five
// attributes per span.
func synthTrace(n int) ptrace.Traces {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	td := ptrace.NewTraces()
	var tid pcommon.TraceID
	for i := range tid {
		tid[i] = byte(rng.Uint32())
	}
	nres := min(max(n/200, 3), 25, n)
	base := time.Now()
	var ids []pcommon.SpanID
	for r := range nres {
		rs := td.ResourceSpans().AppendEmpty()
		a := rs.Resource().Attributes()
		a.PutStr("service.name", "service-"+strconv.Itoa(r))
		a.PutStr("tenant.id", "acme")
		a.PutStr("service.version", "1.4.2")
		a.PutStr("host.name", fmt.Sprintf("ip-10-0-%d-%d", r%8, rng.IntN(250)))
		a.PutStr("deployment.environment.name", "production")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		count := n/nres + btoi(r < n%nres)
		for range count {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			for i := range sid {
				sid[i] = byte(rng.Uint32())
			}
			sp.SetSpanID(sid)
			if len(ids) > 0 {
				sp.SetParentSpanID(ids[rng.IntN(len(ids))])
			}
			ids = append(ids, sid)
			sp.SetName("GET /api/orders/{id}")
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(rng.IntN(50_000)) * time.Microsecond)))
			sa := sp.Attributes()
			sa.PutStr("http.request.method", "GET")
			sa.PutStr("http.route", "/api/orders/{id}")
			sa.PutInt("http.response.status_code", 200)
			sa.PutStr("url.path", "/api/orders/"+strconv.Itoa(rng.IntN(1_000_000)))
			sa.PutDouble("app.payment.amount", float64(rng.IntN(100_000))/100)
		}
	}
	return td
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// traceByIDBody is Tempo's v2 protobuf answer for td.
func traceByIDBody(tb testing.TB, td ptrace.Traces) []byte {
	tb.Helper()
	inner, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		tb.Fatal(err)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, fieldTrace, protowire.BytesType), inner)
}

// perSpan reports allocations and time per span of the measured loop.
func perSpan(b *testing.B, spans int, run func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	iterations := 0
	for b.Loop() {
		run()
		iterations++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(iterations)/float64(spans), "allocs/span")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(iterations)/float64(spans), "ns/span")
}

// BenchmarkTraceBySize measures tracegate's per-trace work on Tempo's answer
// at each target size: decoding the protobuf TraceByIDResponse, encoding
// OTLP/JSON with pdata, and both (what one trace-by-id request costs besides
// HTTP, authentication and the network).
func BenchmarkTraceBySize(b *testing.B) {
	for _, n := range benchSizes {
		td := synthTrace(n)
		pb := traceByIDBody(b, td)
		b.Run(fmt.Sprintf("spans=%d/decode", n), func(b *testing.B) {
			b.SetBytes(int64(len(pb)))
			b.ReportAllocs()
			perSpan(b, n, func() {
				if _, err := decodeTraceByID(pb); err != nil {
					b.Fatal(err)
				}
			})
		})
		// Go's transport asks Tempo for gzip by itself and inflates the answer.
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		_, _ = zw.Write(pb)
		_ = zw.Close()
		b.Run(fmt.Sprintf("spans=%d/gunzip", n), func(b *testing.B) {
			b.SetBytes(int64(len(pb)))
			b.ReportAllocs()
			perSpan(b, n, func() {
				zr, err := gzip.NewReader(bytes.NewReader(zipped.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, zr); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("spans=%d/encode-otlpjson", n), func(b *testing.B) {
			b.ReportAllocs()
			perSpan(b, n, func() {
				if _, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("spans=%d/decode+encode", n), func(b *testing.B) {
			b.SetBytes(int64(len(pb)))
			b.ReportAllocs()
			perSpan(b, n, func() {
				tr, err := decodeTraceByID(pb)
				if err != nil {
					b.Fatal(err)
				}
				if err := tr.WriteJSON(io.Discard, nil); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
