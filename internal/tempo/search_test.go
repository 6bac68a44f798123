package tempo

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jarcoal/httpmock"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/testkit"
	"github.com/tracegate/tracegate/internal/traces"
)

// capture replays f and records the request's query and tenant header.
func capture(t *testing.T, f testkit.Fixture, got *http.Request) httpmock.Responder {
	return func(req *http.Request) (*http.Response, error) {
		*got = *req
		return replay(t, f)(req)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	var req http.Request
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/search", capture(t, testkit.LoadFixture(t, "search-q-select-tenant"), &req))
	found, err := c.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{
		Q: "{ } | select(resource.tenant.id)", Range: traces.TimeRange{Start: 10, End: 20}, Limit: 50, SpansPerSet: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Only allow-listed parameters are sent.
	want := url.Values{"q": {"{ } | select(resource.tenant.id)"}, "start": {"10"}, "end": {"20"}, "limit": {"50"}, "spss": {"3"}}
	if diff := cmp.Diff(want, req.URL.Query()); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if req.Header.Get("X-Scope-OrgID") != "acme" {
		t.Errorf("X-Scope-OrgID %q", req.Header.Get("X-Scope-OrgID"))
	}
	if len(found) != 5 {
		t.Fatalf("%d traces, want 5", len(found))
	}
	// Ids are padded to 32 hex characters (Tempo trims leading zeros).
	if i := slices.IndexFunc(found, func(s traces.TraceSummary) bool { return s.ID == "00000000000000000a1b2c3d4e5f6071" }); i < 0 {
		t.Errorf("short id not padded: %v", found)
	}
	big := found[0]
	if big.ID != "b16b16b16b16b16b16b16b16b16b16b1" || big.RootService != "svc0" || big.RootSpan != "big" ||
		big.StartUnixNano != 1795698185091929855 || big.DurationMs != 2023 || len(big.SpanSets) != 1 {
		t.Fatalf("first result %+v", big)
	}
	set := big.SpanSets[0]
	want0 := traces.SpanSummary{SpanID: "7b78706c97bb3afe", StartUnixNano: 1795698185091929855, DurationNanos: 5000000,
		Attributes: []traces.Attribute{{Key: "tenant.id", Value: "acme"}}}
	if set.Matched != 2000 || len(set.Spans) != 3 || !cmp.Equal(want0, set.Spans[0]) {
		t.Errorf("span set %+v", set)
	}
}

func TestSearchRecentSendsNoQ(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	var req http.Request
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/search", capture(t, testkit.LoadFixture(t, "search-recent"), &req))
	found, err := c.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{Range: traces.TimeRange{Start: 10, End: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Query().Has("q") || req.URL.Query().Has("limit") {
		t.Errorf("query %q", req.URL.RawQuery)
	}
	if len(found) == 0 || len(found[0].SpanSets) != 0 {
		t.Errorf("found %+v", found)
	}
}

func TestSearchBadTraceQL(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/search", replay(t, testkit.LoadFixture(t, "search-bad-traceql")))
	_, err := c.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{Q: "foo"})
	var qe *traces.QueryError
	if !errors.As(err, &qe) || qe.Reason != "invalid TraceQL query: parse error at line 1, col 1: syntax error: unexpected IDENTIFIER" {
		t.Fatalf("err = %v", err)
	}
}

func TestTagsAndValues(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	var tagsReq, valuesReq http.Request
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/search/tags", capture(t, testkit.LoadFixture(t, "tags-v2-scope-resource"), &tagsReq))
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/search/tag/resource.service.name/values", capture(t, testkit.LoadFixture(t, "tag-values-v2-globex"), &valuesReq))

	scopes, err := c.Tags(context.Background(), tenant.MustSet("acme"), "resource", `{ resource.tenant.id = "acme" }`, traces.TimeRange{Start: 1, End: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]traces.TagScope{{Name: "resource", Tags: []string{"deployment.environment", "service.name", "tenant.id"}}}, scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(url.Values{"scope": {"resource"}, "q": {`{ resource.tenant.id = "acme" }`}, "start": {"1"}, "end": {"2"}}, tagsReq.URL.Query()); diff != "" {
		t.Errorf("tags query (-want +got):\n%s", diff)
	}

	values, err := c.TagValues(context.Background(), tenant.MustSet("globex"), "resource.service.name", "", traces.TimeRange{Start: 1, End: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]traces.TagValue{{Type: "string", Value: "reports"}, {Type: "string", Value: "db"}}, values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if valuesReq.URL.Query().Has("q") || valuesReq.Header.Get("X-Scope-OrgID") != "globex" {
		t.Errorf("values request %q as %q", valuesReq.URL.RawQuery, valuesReq.Header.Get("X-Scope-OrgID"))
	}
}

func TestTagsBadScopeAndGarbage(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/search/tags", replay(t, testkit.LoadFixture(t, "tags-v2-bad-scope")))
	if _, err := c.Tags(context.Background(), tenant.MustSet("acme"), "nope", "", traces.TimeRange{}); !errors.Is(err, traces.ErrInvalidQuery) {
		t.Errorf("bad scope: %v", err)
	}
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/search", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(200, `{"traces":[{"traceID":"not hex"}]}`)
		r.Header.Set("Content-Type", "application/json")
		return r, nil
	})
	if _, err := c.Search(context.Background(), tenant.MustSet("acme"), traces.SearchQuery{}); !errors.Is(err, traces.ErrUpstream) {
		t.Errorf("garbage trace id: %v", err)
	}
}
