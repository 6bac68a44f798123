package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
