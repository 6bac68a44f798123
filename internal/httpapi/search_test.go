package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/limits"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

func mustID(t *testing.T, s string) traces.ID {
	t.Helper()
	id, err := traces.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSearchTraces(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.reader.found = goldenSummaries(t)
	rec := h.get(t, "/api/v1/traces?q=%7B%20status%20%3D%20error%20%7D&limit=5&spss=2&start=1795694609&end=1795698269",
		h.token(t, map[string]any{"tenant_id": "acme"}))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	// The body is pinned by testdata/search.golden (TestGoldenBodies).
	wantQ := traces.SearchQuery{Q: "{ status = error }", Range: traces.TimeRange{Start: 1795694609, End: 1795698269}, Limit: 5, SpansPerSet: 2}
	if diff := cmp.Diff([]traces.SearchQuery{wantQ}, h.reader.searches); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}

	// Defaults, and an empty result is an empty list.
	h.reader.found = nil
	rec = h.get(t, "/api/v1/traces", h.token(t, map[string]any{"tenant_id": "acme"}))
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"traces":[]}` {
		t.Errorf("recent traces: %d %s", rec.Code, rec.Body)
	}
	if got := h.reader.searches[1]; got != (traces.SearchQuery{Limit: 20, SpansPerSet: 3}) {
		t.Errorf("defaults: %+v", got)
	}
}

func TestTagsAndValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.reader.scopes = []traces.TagScope{{Name: "resource", Tags: []string{"service.name"}}, {Name: "span"}}
	h.reader.values = []traces.TagValue{{Type: "string", Value: "checkout"}}
	tok := h.token(t, map[string]any{"tenant_id": "acme"})

	// The bodies are pinned by testdata/tags.golden and tag-values.golden.
	if rec := h.get(t, "/api/v1/tags?scope=resource", tok); rec.Code != http.StatusOK {
		t.Errorf("tags: %d %s", rec.Code, rec.Body)
	}
	if rec := h.get(t, "/api/v1/tags/resource.service.name/values?q=%7B%7D", tok); rec.Code != http.StatusOK {
		t.Errorf("values: %d %s", rec.Code, rec.Body)
	}
	if diff := cmp.Diff([]string{"resource", "resource.service.name {}"}, h.reader.tagArgs); diff != "" {
		t.Errorf("arguments (-want +got):\n%s", diff)
	}
}

func TestWhoami(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tok := h.token(t, map[string]any{"tenant_id": []string{"globex", "acme"}, "scope": "traces:read profile"})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Tenant", "globex")
	rec := h.do(t, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got struct {
		Subject, Tenant string
		GrantedTenants  []string
		Scopes          []string
		ExpiresAt       time.Time
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-1" || got.Tenant != "globex" || !cmp.Equal(got.GrantedTenants, []string{"acme", "globex"}) ||
		!cmp.Equal(got.Scopes, []string{"traces:read", "profile"}) || time.Until(got.ExpiresAt) < 50*time.Minute {
		t.Errorf("whoami %+v", got)
	}
	if strings.Contains(rec.Body.String(), tok) || strings.Contains(rec.Body.String(), strings.Split(tok, ".")[2]) {
		t.Error("whoami returned the token")
	}
}

// A token granting several tenants may ask whoami without X-Tenant: 200 with
// the granted tenants and no tenant selected (the frontend's tenant picker),
// no denial logged; with X-Tenant the tenant is selected as anywhere else.
func TestWhoamiSeveralTenantsWithoutXTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	both := h.token(t, map[string]any{"tenant_id": []string{"globex", "acme"}})
	rec := h.get(t, "/api/v1/whoami", both)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["tenant"]; ok {
		t.Errorf("whoami selected a tenant: %s", rec.Body)
	}
	if !cmp.Equal(got["grantedTenants"], []any{"acme", "globex"}) || got["subject"] != "user-1" {
		t.Errorf("whoami %s", rec.Body)
	}
	if strings.Contains(h.logs.String(), "choose_tenant") {
		t.Errorf("a denial was logged:\n%s", h.logs)
	}
	// A single-tenant token still names its tenant.
	rec = h.get(t, "/api/v1/whoami", h.token(t, map[string]any{"tenant_id": "acme"}))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"tenant":"acme"`) {
		t.Errorf("single tenant: %d %s", rec.Code, rec.Body)
	}
	// Nothing was read as anyone.
	if n := h.reader.count(); n != 0 {
		t.Errorf("the reader was called %d times", n)
	}
}

// Every new route: validation 400s, 401 before anything, 403, and Tempo's
// failures, never reaching the reader when the request is refused.
func TestSearchRoutesErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	acme := h.token(t, map[string]any{"tenant_id": "acme"})
	both := h.token(t, map[string]any{"tenant_id": []string{"acme", "globex"}})
	bad := h.token(t, map[string]any{"tenant_id": "ac/me"})
	long := strings.Repeat("x", 131073)
	tests := []struct {
		name, path, token, xTenant string
		want                       int
		detail                     string
	}{
		{"search limit 0", "/api/v1/traces?limit=0", acme, "", 400, `"limit"`},
		{"search limit 1001", "/api/v1/traces?limit=1001", acme, "", 400, `"limit"`},
		{"search spss 101", "/api/v1/traces?spss=101", acme, "", 400, `"spss"`},
		{"search spss 0", "/api/v1/traces?spss=0", acme, "", 400, `"spss"`},
		{"search q over 128 KiB", "/api/v1/traces?q=" + long, acme, "", 400, `"q"`},
		{"search empty q", "/api/v1/traces?q=", acme, "", 400, `"q"`},
		{"search only start", "/api/v1/traces?start=10", acme, "", 400, "start and end"},
		{"search end before start", "/api/v1/traces?start=20&end=10", acme, "", 400, "end must be after start"},
		{"search start not a number", "/api/v1/traces?start=x&end=1", acme, "", 400, `"start"`},
		{"tags bad scope", "/api/v1/tags?scope=nope", acme, "", 400, `"scope"`},
		{"tags only end", "/api/v1/tags?end=10", acme, "", 400, "start and end"},
		{"values bad tag", "/api/v1/tags/not%20a%20tag/values", acme, "", 400, `"tag"`},
		{"values only start", "/api/v1/tags/name/values?start=1", acme, "", 400, "start and end"},
		{"search without token", "/api/v1/traces?limit=0", "", "", 401, ""},
		{"tags without token", "/api/v1/tags?scope=nope", "", "", 401, ""},
		{"values without token", "/api/v1/tags/name/values", "", "", 401, ""},
		{"whoami without token", "/api/v1/whoami", "", "", 401, ""},
		{"search bad tenant", "/api/v1/traces", bad, "", 403, ""},
		{"tags bad tenant", "/api/v1/tags", bad, "", 403, ""},
		{"values bad tenant", "/api/v1/tags/name/values", bad, "", 403, ""},
		{"whoami bad tenant", "/api/v1/whoami", bad, "", 403, ""},
		{"tags several tenants, none chosen", "/api/v1/tags", both, "", 400, "X-Tenant"},
		{"values several tenants, none chosen", "/api/v1/tags/name/values", both, "", 400, "X-Tenant"},
		{"search several tenants, none chosen", "/api/v1/traces", both, "", 400, "X-Tenant"},
		{"whoami several tenants, empty X-Tenant", "/api/v1/whoami", both, " ", 400, "X-Tenant"},
		{"whoami tenant not granted", "/api/v1/whoami", acme, "globex", 403, ""},
		{"search tenant not granted", "/api/v1/traces", both, "initech", 403, ""},
		{"search federation off", "/api/v1/traces", both, "acme,globex", 403, ""},
		{"trace several tenants, none chosen", "/api/v1/traces/" + checkoutID, both, "", 400, "X-Tenant"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		if tc.xTenant != "" {
			req.Header.Set("X-Tenant", tc.xTenant)
		}
		rec := h.do(t, req)
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.want, rec.Body)
			continue
		}
		if p := decodeProblem(t, rec); !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%s: detail %q does not mention %s", tc.name, p.Detail, tc.detail)
		}
	}
	if n := h.reader.count(); n != 0 {
		t.Errorf("the reader was called %d times for refused requests", n)
	}
}

func TestSearchRoutesUpstreamErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{&traces.QueryError{Reason: "invalid TraceQL query: parse error at line 1, col 1"}, 400},
		{fmt.Errorf("x: %w", traces.ErrRateLimited), 429},
		{fmt.Errorf("x: %w", traces.ErrUpstream), 502},
		{fmt.Errorf("x: %w", traces.ErrUnavailable), 503},
		{fmt.Errorf("x: %w", traces.ErrTimeout), 504},
	} {
		h := newHarness(t, nil)
		h.reader.err = tc.err
		tok := h.token(t, map[string]any{"tenant_id": "acme"})
		for _, path := range []string{"/api/v1/traces", "/api/v1/tags", "/api/v1/tags/name/values"} {
			rec := h.get(t, path, tok)
			if rec.Code != tc.want {
				t.Errorf("%s with %v: status %d, want %d", path, tc.err, rec.Code, tc.want)
				continue
			}
			p := decodeProblem(t, rec)
			if tc.want == 400 && p.Detail != "invalid query: invalid TraceQL query: parse error at line 1, col 1" {
				t.Errorf("Tempo's reason not passed on: %q", p.Detail)
			}
		}
	}
}

func TestXTenantSelectsTheTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/traces", nil)
	req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": []string{"acme", "globex"}}))
	req.Header.Set("X-Tenant", "globex")
	req.Header.Set("X-Scope-OrgID", "acme")
	if rec := h.do(t, req); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := h.reader.asked[0].OrgID(); got != "globex" {
		t.Errorf("read as %q, want globex", got)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, nil, httpapi.Options{
		ClientIPRate: limits.NewRate(0.001, 4),
		TenantRate:   limits.NewRate(0.001, 2),
	})
	acme := h.token(t, map[string]any{"tenant_id": "acme"})
	globex := h.token(t, map[string]any{"tenant_id": "globex"})
	get := func(path, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.1:1234"
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return h.do(t, req)
	}
	// Tenant rate: acme's burst of 2, then 429 with Retry-After; globex unaffected.
	for i, want := range []int{200, 200, 429} {
		rec := get("/api/v1/whoami", acme)
		if rec.Code != want {
			t.Fatalf("acme request %d: %d, want %d", i+1, rec.Code, want)
		}
		if want == 429 {
			if p := decodeProblem(t, rec); p.Detail != "too many requests for this tenant" || rec.Header().Get("Retry-After") == "" {
				t.Errorf("429: %q, Retry-After %q", p.Detail, rec.Header().Get("Retry-After"))
			}
		}
	}
	if rec := get("/api/v1/whoami", globex); rec.Code != 200 {
		t.Errorf("globex: %d", rec.Code)
	}
	// Client address: its burst of 4 is spent; now even bad tokens are refused before auth.
	rec := get("/api/v1/traces", "not-a-token")
	if rec.Code != http.StatusTooManyRequests || decodeProblem(t, rec).Detail != "too many requests from this client address" {
		t.Errorf("client limit: %d %s", rec.Code, rec.Body)
	}
	if rec := get("/healthz", ""); rec.Code != 200 {
		t.Errorf("probes are not limited: %d", rec.Code)
	}
	if !strings.Contains(h.get(t, "/metrics", "").Body.String(), `tracegate_rate_limited_total{limit="tenant_rate"} 1`) {
		t.Error("rate-limit rejections not counted")
	}
}

func TestTenantConcurrency(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	h := newHarnessWith(t, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		started <- struct{}{}
		<-release
		return traces.Trace{}, traces.ErrNotFound
	}, httpapi.Options{TenantConcurrency: limits.NewConcurrency(1)})
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	done := make(chan int)
	go func() {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, req)
		done <- rec.Code
	}()
	<-started
	rec := h.get(t, "/api/v1/traces/"+checkoutID, tok)
	if rec.Code != http.StatusTooManyRequests || decodeProblem(t, rec).Detail != "too many concurrent requests for this tenant" {
		t.Errorf("second concurrent request: %d %s", rec.Code, rec.Body)
	}
	close(release)
	if code := <-done; code != http.StatusNotFound {
		t.Errorf("first request: %d", code)
	}
	go func() { <-started }()
	if rec := h.get(t, "/api/v1/traces/"+checkoutID, tok); rec.Code != http.StatusNotFound {
		t.Errorf("after the first finished: %d, want the slot back", rec.Code)
	}
}
