package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// FuzzQueryParameters sends arbitrary query strings to every API route: the
// answer is 200 or a documented problem, never a 5xx, and whatever reaches the
// reader is within the documented bounds.
func FuzzQueryParameters(f *testing.F) {
	for _, q := range []string{"", "limit=0", "limit=1001&spss=101", "start=1&end=0", "q=%7B%7D", "q=", "scope=nope",
		"start=99999999999999999999", "limit=-1", "spss=1e3", "q=%ff%fe", "start=1&start=2&end=3", "limit=20&limit=abc"} {
		f.Add("/api/v1/traces", q)
		f.Add("/api/v1/tags", q)
	}
	f.Add("/api/v1/tags/resource.service.name/values", "q=x")
	f.Add("/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", "start=1&end=2")
	h := newHarness(f, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{}, traces.ErrNotFound
	})
	tok := h.token(f, map[string]any{"tenant_id": "acme"})
	f.Fuzz(func(t *testing.T, path, query string) {
		fuzzGet(t, h, tok, path, query)
		h.reader.mu.Lock()
		defer h.reader.mu.Unlock()
		for _, q := range h.reader.searches {
			if q.Limit < 1 || q.Limit > 1000 || q.SpansPerSet < 1 || q.SpansPerSet > 100 || len(q.Q) > 131072 {
				t.Fatalf("out-of-bounds search reached the reader: %+v", q)
			}
			if _, err := traces.NewTimeRange(&q.Range.Start, &q.Range.End); err != nil && !q.Range.IsZero() {
				t.Fatalf("bad range reached the reader: %+v", q.Range)
			}
		}
		h.reader.searches = nil
	})
}

// FuzzTempoMount sends arbitrary paths and query strings under /tempo: the
// answer is 200 (Tempo's, from the fake), a documented problem or a 404,
// never a 5xx, and every value that reaches the mount's domain is parsed.
func FuzzTempoMount(f *testing.F) {
	for _, p := range tempoPaths {
		f.Add(p, "")
	}
	for _, q := range []string{"q=%7B%7D&q=x", "tags=a%3D%22b", "minDuration=1ms&maxDuration=x", "step=0", "step=1e9",
		"since=-1h", "start=1&end=0", "limit=0", "keep_hierarchy=maybe", "match_depth=-2", "scope=x", "exemplars=-1"} {
		f.Add("/tempo/api/search", q)
		f.Add("/tempo/api/metrics/query_range", "q=%7B%7D%7Crate()&"+q)
		f.Add("/tempo/api/v2/traces/"+checkoutID, q)
	}
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}}
	h := newHarnessWith(f, nil, httpapi.Options{Tempo: fake})
	tok := h.token(f, map[string]any{"tenant_id": "acme"})
	f.Fuzz(func(t *testing.T, path, query string) {
		fuzzGet(t, h, tok, path, query)
		fake.mu.Lock()
		defer fake.mu.Unlock()
		for _, q := range fake.search {
			if q.MinDuration < 0 || q.MaxDuration < 0 || q.Limit != nil && *q.Limit < 1 {
				t.Fatalf("unparsed search reached the mount: %+v", q)
			}
		}
		for _, q := range fake.metric {
			if q.Q == "" || q.Since < 0 {
				t.Fatalf("unparsed metrics query reached the mount: %+v", q)
			}
		}
		fake.search, fake.metric = nil, nil
	})
}

// fuzzGet serves GET path?query with tok: never a 5xx, and anything but a
// 200 is problem+json.
func fuzzGet(t *testing.T, h *harness, tok, path, query string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://tracegate"+path+"?"+query, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s?%s: status %d: %s", path, query, rec.Code, rec.Body)
	}
	if rec.Code != http.StatusOK && rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s?%s: status %d without a problem body", path, query, rec.Code)
	}
}
