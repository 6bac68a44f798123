// Package devseed makes the realistic example traces that `tracegate dev`
// loads into its Tempo stand-in: two tenants, several services, an error, a
// trace of a few hundred spans, one mis-routed trace and one mixed trace
// (an acme root calling a partner service stamped for globex), all timed
// just before now so that search finds them.
package devseed

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Well-known trace ids, so that dev mode can print working curl lines.
const (
	AcmeCheckout  = "4bf92f3577b34da6a3ce929d0e0e4736" // acme: frontend -> checkout -> payments
	AcmeLoginFail = "00000000000000000a1b2c3d4e5f6071" // acme: a failed login (error status)
	AcmeBatch     = "b16b16b16b16b16b16b16b16b16b16b1" // acme: 300-span batch job over 6 services
	AcmeMisrouted = "d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60" // stored under acme, stamped tenant.id=globex
	AcmeMixed     = "3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a" // stored under acme: acme root, child resource stamped globex
	GlobexReport  = "5b8efff798038103d269b633813fc700" // globex: reports -> db
)

// TenantAttribute is the resource attribute every seeded resource carries.
const TenantAttribute = "tenant.id"

// Traces returns the seed, by tenant, timed to end shortly before now.
func Traces(now time.Time) map[string][]ptrace.Traces {
	b := builder{now: now}
	return map[string][]ptrace.Traces{
		"acme": {
			b.checkout(AcmeCheckout, "acme", now.Add(-2*time.Minute)),
			b.loginFailure(AcmeLoginFail, "acme", now.Add(-90*time.Second)),
			b.batch(AcmeBatch, "acme", now.Add(-5*time.Minute), 300),
			b.misrouted(AcmeMisrouted, "globex", now.Add(-3*time.Minute)),
			b.mixed(AcmeMixed, now.Add(-150*time.Second)),
		},
		"globex": {
			b.report(GlobexReport, "globex", now.Add(-4*time.Minute)),
		},
	}
}

type builder struct {
	now  time.Time
	next uint64 // span id counter
}

// span describes one span of a trace under construction.
type span struct {
	service, name string
	parent        int // index into the trace's spans; -1 for the root
	kind          ptrace.SpanKind
	offset, dur   time.Duration
	err           string // status message; non-empty means an error status
	attrs         map[string]any
	tenant        string // stamped on the span's resource; "" for the trace's tenant
}

func (b *builder) build(traceID, tenant string, start time.Time, spans []span) ptrace.Traces {
	var tid pcommon.TraceID
	if _, err := hex.Decode(tid[:], []byte(traceID)); err != nil {
		panic(fmt.Sprintf("devseed: bad trace id %q", traceID))
	}
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.SpanSlice{}
	ids := make([]pcommon.SpanID, len(spans))
	for i, s := range spans {
		sl, ok := scopes[s.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			attrs := rs.Resource().Attributes()
			attrs.PutStr("service.name", s.service)
			attrs.PutStr("deployment.environment", "dev")
			attrs.PutStr(TenantAttribute, cmp.Or(s.tenant, tenant))
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("tracegate/devseed")
			sl = ss.Spans()
			scopes[s.service] = sl
		}
		b.next++
		binary.BigEndian.PutUint64(ids[i][:], b.next)
		sp := sl.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(ids[i])
		if s.parent >= 0 {
			sp.SetParentSpanID(ids[s.parent])
		}
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(s.offset)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(s.offset + s.dur)))
		if s.err != "" {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(s.err)
		}
		if err := sp.Attributes().FromRaw(s.attrs); err != nil {
			panic(err)
		}
	}
	return td
}

func httpAttrs(method, route string, code int) map[string]any {
	return map[string]any{"http.request.method": method, "http.route": route, "http.response.status_code": code}
}

func (b *builder) checkout(id, tenant string, start time.Time) ptrace.Traces {
	ms := time.Millisecond
	return b.build(id, tenant, start, []span{
		{service: "frontend", name: "POST /checkout", parent: -1, kind: ptrace.SpanKindServer, dur: 180 * ms, attrs: httpAttrs("POST", "/checkout", 200)},
		{service: "frontend", name: "render cart", parent: 0, kind: ptrace.SpanKindInternal, offset: 2 * ms, dur: 8 * ms},
		{service: "frontend", name: "POST checkout/place-order", parent: 0, kind: ptrace.SpanKindClient, offset: 12 * ms, dur: 160 * ms, attrs: httpAttrs("POST", "/place-order", 200)},
		{service: "checkout", name: "POST /place-order", parent: 2, kind: ptrace.SpanKindServer, offset: 14 * ms, dur: 155 * ms, attrs: httpAttrs("POST", "/place-order", 200)},
		{service: "checkout", name: "reserve stock", parent: 3, kind: ptrace.SpanKindInternal, offset: 16 * ms, dur: 30 * ms, attrs: map[string]any{"items": 3}},
		{service: "checkout", name: "POST payments/charge", parent: 3, kind: ptrace.SpanKindClient, offset: 50 * ms, dur: 100 * ms, attrs: httpAttrs("POST", "/charge", 200)},
		{service: "payments", name: "POST /charge", parent: 5, kind: ptrace.SpanKindServer, offset: 52 * ms, dur: 95 * ms, attrs: httpAttrs("POST", "/charge", 200)},
		{service: "payments", name: "card network authorize", parent: 6, kind: ptrace.SpanKindClient, offset: 55 * ms, dur: 80 * ms, attrs: map[string]any{"payment.amount": 42.5}},
		{service: "checkout", name: "publish order-placed", parent: 3, kind: ptrace.SpanKindProducer, offset: 152 * ms, dur: 5 * ms},
	})
}

func (b *builder) loginFailure(id, tenant string, start time.Time) ptrace.Traces {
	ms := time.Millisecond
	return b.build(id, tenant, start, []span{
		{service: "frontend", name: "POST /login", parent: -1, kind: ptrace.SpanKindServer, dur: 40 * ms, err: "login failed", attrs: httpAttrs("POST", "/login", 500)},
		{service: "frontend", name: "POST auth/verify", parent: 0, kind: ptrace.SpanKindClient, offset: 3 * ms, dur: 35 * ms, attrs: httpAttrs("POST", "/verify", 500)},
		{service: "auth", name: "POST /verify", parent: 1, kind: ptrace.SpanKindServer, offset: 4 * ms, dur: 33 * ms, err: "user store unavailable", attrs: httpAttrs("POST", "/verify", 500)},
		{service: "auth", name: "SELECT users", parent: 2, kind: ptrace.SpanKindClient, offset: 5 * ms, dur: 30 * ms, err: "connection refused", attrs: map[string]any{"db.system": "postgresql"}},
	})
}

func (b *builder) batch(id, tenant string, start time.Time, n int) ptrace.Traces {
	services := []string{"scheduler", "ingest", "transform", "enrich", "store", "notify"}
	spans := []span{{service: "scheduler", name: "nightly batch", parent: -1, kind: ptrace.SpanKindInternal, dur: time.Duration(n+10) * time.Millisecond}}
	for i := 1; i < n; i++ {
		svc := services[i%len(services)]
		spans = append(spans, span{
			service: svc, name: fmt.Sprintf("%s record %d", svc, i), parent: (i - 1) / 10,
			kind: ptrace.SpanKindInternal, offset: time.Duration(i) * time.Millisecond, dur: 5 * time.Millisecond,
			attrs: map[string]any{"record.index": i},
		})
	}
	return b.build(id, tenant, start, spans)
}

func (b *builder) misrouted(id, stampedTenant string, start time.Time) ptrace.Traces {
	return b.build(id, stampedTenant, start, []span{
		{service: "intruder", name: "GET /export", parent: -1, kind: ptrace.SpanKindServer, dur: 12 * time.Millisecond, attrs: httpAttrs("GET", "/export", 200)},
		{service: "intruder", name: "read secrets", parent: 0, kind: ptrace.SpanKindInternal, offset: time.Millisecond, dur: 10 * time.Millisecond},
	})
}

func (b *builder) report(id, tenant string, start time.Time) ptrace.Traces {
	ms := time.Millisecond
	return b.build(id, tenant, start, []span{
		{service: "reports", name: "GET /reports/quarterly", parent: -1, kind: ptrace.SpanKindServer, dur: 300 * ms, attrs: httpAttrs("GET", "/reports/{name}", 200)},
		{service: "reports", name: "render pdf", parent: 0, kind: ptrace.SpanKindInternal, offset: 200 * ms, dur: 90 * ms},
		{service: "reports", name: "SELECT revenue", parent: 0, kind: ptrace.SpanKindClient, offset: 10 * ms, dur: 80 * ms, attrs: map[string]any{"db.system": "postgresql"}},
		{service: "db", name: "query revenue", parent: 2, kind: ptrace.SpanKindServer, offset: 12 * ms, dur: 75 * ms},
		{service: "reports", name: "SELECT costs", parent: 0, kind: ptrace.SpanKindClient, offset: 100 * ms, dur: 90 * ms, attrs: map[string]any{"db.system": "postgresql"}},
		{service: "db", name: "query costs", parent: 4, kind: ptrace.SpanKindServer, offset: 102 * ms, dur: 85 * ms},
	})
}

// PartnerSecret is the span attribute value of the mixed trace's globex span:
// a confined acme caller must never see it.
const PartnerSecret = "GLOBEX-ONLY"

// mixed is a trace stored under acme whose root is acme's and whose child
// resource (a partner service) is stamped for globex, with a secret.
func (b *builder) mixed(id string, start time.Time) ptrace.Traces {
	ms := time.Millisecond
	return b.build(id, "acme", start, []span{
		{service: "shop", name: "GET /mixed", parent: -1, kind: ptrace.SpanKindServer, dur: 4 * ms, attrs: httpAttrs("GET", "/mixed", 200)},
		{service: "partner-api", name: "partner lookup", parent: 0, kind: ptrace.SpanKindClient, offset: ms, dur: 4 * ms,
			attrs: map[string]any{"partner.secret": PartnerSecret}, tenant: "globex"},
	})
}
