package traces_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// cannedUpstream answers every trace-by-id and search with the same result.
type cannedUpstream struct {
	upstreamFunc
	found []traces.TraceSummary
}

func (c cannedUpstream) Search(context.Context, tenant.Set, traces.SearchQuery) ([]traces.TraceSummary, error) {
	return c.found, nil
}

// bigTrace is a trace of resources × spansPer spans whose every resource
// carries tenant.id=acme and service.name, each span five attributes.
func bigTrace(b testing.TB, resources, spansPer int) traces.Trace {
	td := ptrace.NewTraces()
	for r := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		a := rs.Resource().Attributes()
		a.PutStr("host.name", fmt.Sprintf("ip-10-0-0-%d", r%250))
		a.PutStr("deployment.environment.name", "production")
		a.PutStr("tenant.id", "acme")
		a.PutStr("service.name", fmt.Sprintf("service-%d", r%25))
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range spansPer {
			sp := spans.AppendEmpty()
			sp.SetName("GET /api/orders/{id}")
			sa := sp.Attributes()
			sa.PutStr("http.request.method", "GET")
			sa.PutStr("http.route", "/api/orders/{id}")
			sa.PutInt("http.response.status_code", 200)
			sa.PutStr("url.path", fmt.Sprintf("/api/orders/%d", i))
			sa.PutBool("app.retry", false)
		}
	}
	return fromPdata(b, td)
}

func benchRepo(b *testing.B, up traces.Upstream, attr string) *traces.Repository {
	b.Helper()
	repo, err := traces.NewRepository(up, traces.Config{TenantAttribute: attr}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return repo
}

// BenchmarkTraceAttributeCheck measures Repository.Trace on a 20,000-span
// trace from a fake upstream, with the tenant-attribute check off and on.
// The check reads one attribute per resource, so the shapes differ in
// resources: 25 (one per service) and 2,000 (Tempo returns a ResourceSpans
// per ingested batch, so large traces often have many).
func BenchmarkTraceAttributeCheck(b *testing.B) {
	acme := tenant.MustSet("acme")
	ctx := context.Background()
	for _, shape := range []struct{ resources, spansPer int }{{25, 800}, {2000, 10}} {
		tr := bigTrace(b, shape.resources, shape.spansPer)
		up := cannedUpstream{upstreamFunc: func(context.Context, tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
			return tr, nil
		}}
		for _, attr := range []string{"", "tenant.id"} {
			name := fmt.Sprintf("spans=20000/resources=%d/check=%v", shape.resources, attr != "")
			b.Run(name, func(b *testing.B) {
				repo := benchRepo(b, up, attr)
				b.ReportAllocs()
				for b.Loop() {
					if err := repo.WithTrace(ctx, acme, id, traces.TimeRange{}, func(traces.Trace) error { return nil }); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSearchAttributeFilter measures Repository.Search over 1,000
// results of three spans each (Tempo's default spss), every span carrying
// the tenant attribute Tempo was asked to select, with the filter off and on.
func BenchmarkSearchAttributeFilter(b *testing.B) {
	found := make([]traces.TraceSummary, 1000)
	for i := range found {
		set := traces.SpanSet{Matched: 3}
		for j := range 3 {
			set.Spans = append(set.Spans, traces.SpanSummary{
				SpanID:        fmt.Sprintf("%016x", i*3+j),
				StartUnixNano: 1_795_698_209_000_000_000,
				DurationNanos: 1_000_000,
				Attributes: []traces.Attribute{
					{Key: "resource.service.name", Value: "checkout"},
					{Key: "resource.tenant.id", Value: "acme"},
				},
			})
		}
		found[i] = traces.TraceSummary{ID: traces.ID(fmt.Sprintf("%032x", i+1)), RootService: "checkout",
			RootSpan: "GET /api/cart", StartUnixNano: 1_795_698_209_000_000_000, DurationMs: 12, SpanSets: []traces.SpanSet{set}}
	}
	up := cannedUpstream{found: found}
	acme := tenant.MustSet("acme")
	ctx := context.Background()
	q := traces.SearchQuery{Q: `{ status = error }`, Limit: 1000, SpansPerSet: 3}
	for _, attr := range []string{"", "tenant.id"} {
		b.Run(fmt.Sprintf("results=1000/filter=%v", attr != ""), func(b *testing.B) {
			repo := benchRepo(b, up, attr)
			b.ReportAllocs()
			for b.Loop() {
				got, err := repo.Search(ctx, acme, q)
				if err != nil || len(got) != len(found) {
					b.Fatalf("%d results, %v", len(got), err)
				}
			}
		})
	}
}
