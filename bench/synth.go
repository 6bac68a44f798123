package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var services = []string{
	"frontend", "checkout", "cart", "payment", "shipping", "email", "currency", "recommendation",
	"ad", "quote", "product-catalog", "accounting", "fraud-detection", "inventory", "auth",
	"search", "notification", "user", "pricing", "gateway", "billing", "reviews", "media",
	"analytics", "scheduler",
}

// synthTrace builds one trace of n spans under tenant: several resources
// (service.name, tenant.id and four more attributes each), one scope per
// resource, random span ids, each span a child of a random earlier one, five
// attributes per span drawn from four realistic shapes (HTTP server, database
// client, internal work, messaging producer), ~2% errors. rng makes it
// reproducible.
func synthTrace(rng *rand.Rand, n int, tenant string) (pcommon.TraceID, ptrace.Traces) {
	var tid pcommon.TraceID
	fillRandom(rng, tid[:])
	td := ptrace.NewTraces()
	nres := min(max(n/200, 3), len(services), n)
	base := time.Now().Add(-time.Minute)
	var ids []pcommon.SpanID
	made := 0
	for r := range nres {
		rs := td.ResourceSpans().AppendEmpty()
		a := rs.Resource().Attributes()
		a.PutStr("service.name", services[r])
		a.PutStr("tenant.id", tenant)
		a.PutStr("service.version", fmt.Sprintf("1.%d.%d", r%7, r%3))
		a.PutStr("service.instance.id", fmt.Sprintf("%s-7d9f8c%04x", services[r], rng.IntN(1<<16)))
		a.PutStr("host.name", fmt.Sprintf("ip-10-0-%d-%d", r%8, rng.IntN(250)))
		a.PutStr("deployment.environment.name", "production")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		ss.Scope().SetVersion("0.60.0")
		count := n / nres
		if r < n%nres {
			count++
		}
		spans := ss.Spans()
		spans.EnsureCapacity(count)
		for range count {
			sp := spans.AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			fillRandom(rng, sid[:])
			sp.SetSpanID(sid)
			if len(ids) > 0 {
				sp.SetParentSpanID(ids[rng.IntN(len(ids))])
			}
			ids = append(ids, sid)
			start := base.Add(time.Duration(made) * 50 * time.Microsecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(50+rng.IntN(50_000)) * time.Microsecond)))
			fillSpan(rng, sp, made)
			if rng.IntN(50) == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
				sp.Status().SetMessage("upstream request failed: context deadline exceeded")
			}
			made++
		}
	}
	return tid, td
}

func fillSpan(rng *rand.Rand, sp ptrace.Span, i int) {
	a := sp.Attributes()
	switch i % 4 {
	case 0:
		sp.SetName("GET /api/orders/{id}")
		sp.SetKind(ptrace.SpanKindServer)
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/orders/{id}")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("url.path", fmt.Sprintf("/api/orders/%d", rng.IntN(1_000_000)))
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
	case 1:
		sp.SetName("SELECT orders")
		sp.SetKind(ptrace.SpanKindClient)
		a.PutStr("db.system.name", "postgresql")
		a.PutStr("db.namespace", "orders")
		a.PutStr("db.operation.name", "SELECT")
		a.PutStr("db.query.text", "SELECT id, status, total FROM orders WHERE customer_id = $1")
		a.PutInt("server.port", 5432)
	case 2:
		sp.SetName("process-payment")
		sp.SetKind(ptrace.SpanKindInternal)
		a.PutDouble("app.payment.amount", float64(rng.IntN(100_000))/100)
		a.PutStr("app.payment.currency", "EUR")
		a.PutStr("app.user.id", fmt.Sprintf("user-%d", rng.IntN(100_000)))
		a.PutBool("app.payment.retry", rng.IntN(10) == 0)
		a.PutInt("app.cart.items", int64(1+rng.IntN(20)))
	default:
		sp.SetName("orders publish")
		sp.SetKind(ptrace.SpanKindProducer)
		a.PutStr("messaging.system", "kafka")
		a.PutStr("messaging.destination.name", "orders")
		a.PutStr("messaging.operation.type", "publish")
		a.PutStr("messaging.message.id", fmt.Sprintf("%016x", rng.Uint64()))
		a.PutInt("messaging.kafka.destination.partition", int64(rng.IntN(12)))
	}
}

func fillRandom(rng *rand.Rand, b []byte) {
	for {
		allZero := true
		for i := range b {
			b[i] = byte(rng.Uint32())
			allZero = allZero && b[i] == 0
		}
		if !allZero {
			return
		}
	}
}
