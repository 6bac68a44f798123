package traces_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// fakeUpstream records what the repository asks Tempo and answers with
// canned results.
type fakeUpstream struct {
	upstreamFunc
	mu        sync.Mutex
	queries   []traces.SearchQuery
	filters   []string
	orgs      []string
	found     []traces.TraceSummary
	scopes    map[string][]traces.TagScope // by filter
	values    map[string][]traces.TagValue // by filter
	searchErr error
}

func (f *fakeUpstream) Search(_ context.Context, t tenant.Set, q traces.SearchQuery) ([]traces.TraceSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries, f.orgs = append(f.queries, q), append(f.orgs, t.OrgID())
	return f.found, f.searchErr
}

func (f *fakeUpstream) Tags(_ context.Context, t tenant.Set, _, filter string, _ traces.TimeRange) ([]traces.TagScope, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters, f.orgs = append(f.filters, filter), append(f.orgs, t.OrgID())
	return f.scopes[filter], nil
}

func (f *fakeUpstream) TagValues(_ context.Context, t tenant.Set, _, filter string, _ traces.TimeRange) ([]traces.TagValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters, f.orgs = append(f.filters, filter), append(f.orgs, t.OrgID())
	return f.values[filter], nil
}

var now = time.Unix(1795698209, 0)

func clock() time.Time { return now }

// summary is a search result whose one span set holds a span per entry of
// tenantAttrs: "-" for no tenant attribute, "a+b" for two attributes.
func summary(id string, tenantAttrs ...string) traces.TraceSummary {
	set := traces.SpanSet{Matched: int64(len(tenantAttrs))}
	for _, v := range tenantAttrs {
		var attrs []traces.Attribute
		for _, one := range strings.Split(v, "+") {
			switch one {
			case "-":
			case "#":
				attrs = append(attrs, traces.Attribute{Key: "tenant.id", Value: int64(7)})
			default:
				attrs = append(attrs, traces.Attribute{Key: "tenant.id", Value: one})
			}
		}
		set.Spans = append(set.Spans, traces.SpanSummary{SpanID: "0000000000000001", Attributes: attrs})
	}
	tid, _ := traces.ParseID(id)
	s := traces.TraceSummary{ID: tid}
	if len(tenantAttrs) > 0 {
		s.SpanSets = []traces.SpanSet{set}
	}
	return s
}

func ids(found []traces.TraceSummary) []string {
	var out []string
	for _, s := range found {
		out = append(out, strings.TrimLeft(s.ID.String(), "0"))
	}
	return out
}

func TestSearchAttributeLayer(t *testing.T) {
	t.Parallel()
	up := &fakeUpstream{found: []traces.TraceSummary{
		summary("a1", "acme", "acme"),
		summary("b2", "globex"),         // mis-routed
		summary("c3", "acme", "globex"), // mixed
		summary("d4", "-"),              // unstamped
		summary("e5"),                   // no spans returned: cannot be checked
		summary("f6", "acme+globex"),    // a same-named span attribute must not vouch
		summary("a7", "#"),              // not a string
		summary("a8", "acme2"),          // prefix is not the tenant
	}}
	repo := newRepo(t, up, traces.Config{TenantAttribute: "tenant.id", Now: clock}, nil)
	got, err := repo.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{Q: `{ status = error }`, Limit: 20, SpansPerSet: 3})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1"}, ids(got)); diff != "" {
		t.Errorf("kept traces (-want +got):\n%s", diff)
	}
	q := up.queries[0]
	if q.Q != `{ status = error && resource.tenant.id = "acme" } | select(resource.tenant.id)` {
		t.Errorf("query sent to Tempo: %q", q.Q)
	}
	if q.Range != (traces.TimeRange{Start: now.Add(-time.Hour).Unix(), End: now.Unix() + 1}) {
		t.Errorf("default window %+v, want the last hour", q.Range)
	}
	if up.orgs[0] != "acme" {
		t.Errorf("asked as %q", up.orgs[0])
	}

	// Federated: either tenant is fine.
	got, err = repo.Search(context.Background(), tenant.MustSet("acme", "globex"), traces.SearchQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1", "b2", "c3", "f6"}, ids(got)); diff != "" {
		t.Errorf("federated kept traces (-want +got):\n%s", diff)
	}
	if up.queries[1].Q != `{ resource.tenant.id = "acme" || resource.tenant.id = "globex" } | select(resource.tenant.id)` || up.orgs[1] != "acme|globex" {
		t.Errorf("recent traces with the layer on: q %q as %q", up.queries[1].Q, up.orgs[1])
	}
}

func TestSearchWithoutAttributeLayer(t *testing.T) {
	t.Parallel()
	up := &fakeUpstream{found: []traces.TraceSummary{summary("a1", "globex"), summary("b2")}}
	repo := newRepo(t, up, traces.Config{Now: clock, RecentWindow: 10 * time.Minute}, nil)
	got, err := repo.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{})
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", ids(got), err)
	}
	if up.queries[0].Q != "" || up.queries[0].Range.Start != now.Add(-10*time.Minute).Unix() {
		t.Errorf("sent %+v", up.queries[0])
	}
}

func TestSearchRefusals(t *testing.T) {
	t.Parallel()
	up := &fakeUpstream{}
	repo := newRepo(t, up, traces.Config{TenantAttribute: "tenant.id", Now: clock, MaxRange: 24 * time.Hour}, nil)
	for name, q := range map[string]traces.SearchQuery{
		"range too long":         {Range: traces.TimeRange{Start: 1, End: 1 + 24*3600 + 1}},
		"q too long with filter": {Q: `{ name = "` + strings.Repeat("x", traces.MaxQueryBytes-20) + `" }`},
		"q does not parse":       {Q: `{ name = "checkout" } extra`},
		"q with a comment only":  {Q: `// { }`},
		"trace-level intrinsic":  {Q: `{ trace:rootService = "shop" }`},
		"metrics on search":      {Q: `{ } | rate()`},
	} {
		if _, err := repo.Search(context.Background(), tenant.MustSet("acme"), q); !errors.Is(err, traces.ErrInvalidQuery) {
			t.Errorf("%s: err = %v, want ErrInvalidQuery", name, err)
		}
	}
	if len(up.queries) != 0 {
		t.Errorf("Tempo was asked %d times", len(up.queries))
	}
	if _, err := repo.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{Range: traces.TimeRange{Start: 1, End: 1 + 24*3600}}); err != nil {
		t.Errorf("range of exactly MaxRange refused: %v", err)
	}
}

func TestTagsAndValuesAttributeLayer(t *testing.T) {
	t.Parallel()
	acmeF, globexF := `{ resource.tenant.id = "acme" }`, `{ resource.tenant.id = "globex" }`
	up := &fakeUpstream{
		scopes: map[string][]traces.TagScope{
			acmeF:   {{Name: "resource", Tags: []string{"service.name", "tenant.id"}}},
			globexF: {{Name: "resource", Tags: []string{"service.name", "region"}}, {Name: "span", Tags: []string{"db"}}},
		},
		values: map[string][]traces.TagValue{
			acmeF:   {{Type: "string", Value: "acme"}},
			globexF: {{Type: "string", Value: "globex"}},
			"":      {{Type: "string", Value: "acme"}, {Type: "string", Value: "globex"}}, // what Tempo leaks unfiltered
		},
	}
	repo := newRepo(t, up, traces.Config{TenantAttribute: "tenant.id", Now: clock}, nil)
	ctx := context.Background()

	values, err := repo.TagValues(ctx, tenant.MustSet("acme"), "resource.tenant.id", "", traces.TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]traces.TagValue{{Type: "string", Value: "acme"}}, values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if up.filters[0] != acmeF {
		t.Errorf("filter %q", up.filters[0])
	}

	scopes, err := repo.Tags(ctx, tenant.MustSet("acme", "globex"), "", traces.TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	want := []traces.TagScope{{Name: "resource", Tags: []string{"service.name", "tenant.id", "region"}}, {Name: "span", Tags: []string{"db"}}}
	if diff := cmp.Diff(want, scopes); diff != "" {
		t.Errorf("federated tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{acmeF, acmeF, globexF}, up.filters); diff != "" {
		t.Errorf("one filter per tenant, never || (-want +got):\n%s", diff)
	}

	// The caller's q is kept only in the one shape Tempo applies, confined;
	// anything else falls back to the tenant-only filter (editors send a q on
	// every keystroke), never to no filter.
	for q, want := range map[string]string{
		`{ status = error }`:                      `{ status = error && resource.tenant.id = "acme" }`,
		`{ status = error && span.x = "y" } // x`: `{ status = error && span.x = "y" && resource.tenant.id = "acme" }`,
		`{ status = error || span.x = "y" }`:      acmeF,
		`{ status = error } > { span.x = "y" }`:   acmeF,
		`{ status = `:                             acmeF,
		`{ trace:rootService = "shop" }`:          acmeF,
		`{ resource.tenant.id = "globex" }`:       `{ resource.tenant.id = "globex" && resource.tenant.id = "acme" }`,
		`{ } | select(span.x)`:                    acmeF,
	} {
		n := len(up.filters)
		if _, err := repo.TagValues(ctx, tenant.MustSet("acme"), "name", q, traces.TimeRange{}); err != nil {
			t.Errorf("q %q: %v", q, err)
		}
		if got := up.filters[n:]; len(got) != 1 || got[0] != want {
			t.Errorf("q %q sent as %q, want %q", q, got, want)
		}
	}

	// Tags whose values describe whole traces are refused, and not offered.
	n := len(up.filters)
	for _, tag := range []string{"trace:rootService", "trace:rootName", "trace:duration", "rootServiceName", "traceDuration", "span:childCount", "nestedSetParent"} {
		if _, err := repo.TagValues(ctx, tenant.MustSet("acme"), tag, "", traces.TimeRange{}); !errors.Is(err, traces.ErrInvalidQuery) || !strings.Contains(err.Error(), tag) {
			t.Errorf("values of %s: %v, want a refusal naming it", tag, err)
		}
	}
	if len(up.filters) != n {
		t.Error("Tempo was asked for a refused tag")
	}
	up.scopes[acmeF] = []traces.TagScope{{Name: "intrinsic", Tags: []string{"duration", "name", "rootServiceName", "span:childCount", "status", "trace:duration", "trace:id", "trace:rootName", "trace:rootService"}}}
	scopes, err = repo.Tags(ctx, tenant.MustSet("acme"), "intrinsic", traces.TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]traces.TagScope{{Name: "intrinsic", Tags: []string{"duration", "name", "status", "trace:id"}}}, scopes); diff != "" {
		t.Errorf("intrinsic tags offered (-want +got):\n%s", diff)
	}
}

func TestTagValuesWithoutAttributeLayer(t *testing.T) {
	t.Parallel()
	up := &fakeUpstream{values: map[string][]traces.TagValue{`{ status = error }`: {{Type: "string", Value: "auth"}}}}
	repo := newRepo(t, up, traces.Config{Now: clock}, nil)
	got, err := repo.TagValues(context.Background(), tenant.MustSet("acme"), "resource.service.name", `{ status  =  error } // x`, traces.TimeRange{})
	if err != nil || len(got) != 1 || got[0].Value != "auth" {
		t.Errorf("got %v, %v", got, err)
	}
	// Tempo would ignore any other shape: it gets no filter, never the text.
	if _, err := repo.TagValues(context.Background(), tenant.MustSet("acme"), "name", `{ status = error } || { }`, traces.TimeRange{}); err != nil {
		t.Fatal(err)
	}
	if got := up.filters[len(up.filters)-1]; got != "" {
		t.Errorf("filter %q, want none", got)
	}
}

func TestNewRepositoryAttributeNames(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"tenant.id": true, "org_id": true, "k8s.namespace.name": true,
		"tenant id": false, `x" } || { true`: false, "a||b": false, ".x": false, "x.": false, "résumé": false, "a-b": false,
	} {
		_, err := traces.NewRepository(&fakeUpstream{}, traces.Config{TenantAttribute: name}, nil)
		if (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", name, err, ok)
		}
	}
}

// The caller's query reaches Tempo only as its confined, printed tree.
func TestSearchMergesIntoTheCallersSelect(t *testing.T) {
	t.Parallel()
	up := &fakeUpstream{}
	repo := newRepo(t, up, traces.Config{TenantAttribute: "tenant.id", Now: clock}, nil)
	for q, want := range map[string]string{
		`{ } | select(span.secret)`:                            `{ resource.tenant.id = "acme" } | select(span.secret, resource.tenant.id)`,
		`{ name = "a" } | select(span.a, span.b)  `:            `{ name = "a" && resource.tenant.id = "acme" } | select(span.a, span.b, resource.tenant.id)`,
		`{ name = "select(x)" }`:                               `{ name = "select(x)" && resource.tenant.id = "acme" } | select(resource.tenant.id)`,
		`{ } | select(span.a) | count() > 1`:                   `{ resource.tenant.id = "acme" } | select(span.a) | count() > 1 | select(resource.tenant.id)`,
		`{ status = error } // | select(x)`:                    `{ status = error && resource.tenant.id = "acme" } | select(resource.tenant.id)`,
		"{ .a = `x` || span.b > 1.5 } with (most_recent=true)": `{ (.a = "x" || span.b > 1.5) && resource.tenant.id = "acme" } | select(resource.tenant.id) with (most_recent = true)`,
	} {
		if _, err := repo.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{Q: q}); err != nil {
			t.Fatal(err)
		}
		if got := up.queries[len(up.queries)-1].Q; got != want {
			t.Errorf("%q became %q, want %q", q, got, want)
		}
	}
}

// In attribute modes a summary describes the caller's returned spans only:
// Tempo's root service, root span name and trace duration may be another
// tenant's, and a dropped trace is an enforcement bug worth an error log.
func TestSearchSummariesDescribeOwnSpans(t *testing.T) {
	t.Parallel()
	own := summary("a1", "acme", "acme")
	own.RootService, own.RootSpan, own.StartUnixNano, own.DurationMs = "globex-gw", "globex entry", 1_000_000_000, 2000
	own.SpanSets[0].Spans[0].StartUnixNano, own.SpanSets[0].Spans[0].DurationNanos = 1_500_000_000, 3_000_000
	own.SpanSets[0].Spans[1].StartUnixNano, own.SpanSets[0].Spans[1].DurationNanos = 1_501_000_000, 7_000_000
	up := &fakeUpstream{found: []traces.TraceSummary{own, summary("b2", "acme", "globex")}}
	var logs strings.Builder
	repo := newRepo(t, up, traces.Config{TenantAttribute: "tenant.id", Now: clock}, slog.New(slog.NewJSONHandler(&logs, nil)))
	got, err := repo.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", ids(got), err)
	}
	s := got[0]
	if s.RootService != "" || s.RootSpan != "" || s.StartUnixNano != 1_500_000_000 || s.DurationMs != 8 {
		t.Errorf("summary root %q/%q start %d duration %d ms; want no root, start 1500000000, 8 ms", s.RootService, s.RootSpan, s.StartUnixNano, s.DurationMs)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "enforcement bug") || !strings.Contains(logs.String(), "b2") {
		t.Errorf("dropped trace not reported as an enforcement bug: %s", logs.String())
	}

	// Without the attribute layer Tempo's summary is the caller's own.
	up = &fakeUpstream{found: []traces.TraceSummary{own}}
	got, err = newRepo(t, up, traces.Config{Now: clock}, nil).Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{})
	if err != nil || got[0].RootService != "globex-gw" || got[0].DurationMs != 2000 {
		t.Errorf("without the layer: %+v, %v", got, err)
	}
}
