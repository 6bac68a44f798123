package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/limits"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// tempoFake is a func-field fake of httpapi.TempoReader: every method
// records its call and answers with answer/err (or fn, for trace by id).
type tempoFake struct {
	mu     sync.Mutex
	calls  []string
	asked  []tenant.Set
	traceQ []traces.TraceQuery
	search []traces.NativeSearch
	metric []traces.MetricsQuery

	answer traces.Answer
	err    error
	fn     func(q traces.TraceQuery) (traces.Answer, error)
}

func (f *tempoFake) record(call string, t tenant.Set) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.asked = append(f.calls, call), append(f.asked, t)
}

func (f *tempoFake) Echo(context.Context) (traces.Answer, error) {
	f.record("echo", tenant.Set{})
	return f.answer, f.err
}

func (f *tempoFake) BuildInfo(context.Context) (traces.Answer, error) {
	f.record("buildinfo", tenant.Set{})
	return f.answer, f.err
}

func (f *tempoFake) Trace(_ context.Context, t tenant.Set, q traces.TraceQuery) (traces.Answer, error) {
	f.record("trace", t)
	f.mu.Lock()
	f.traceQ = append(f.traceQ, q)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(q)
	}
	return f.answer, f.err
}

func (f *tempoFake) Search(_ context.Context, t tenant.Set, q traces.NativeSearch) (traces.Answer, error) {
	f.record("search", t)
	f.mu.Lock()
	f.search = append(f.search, q)
	f.mu.Unlock()
	return f.answer, f.err
}

func (f *tempoFake) Tags(_ context.Context, t tenant.Set, v2 bool, scope, q string, _ traces.TimeRange) (traces.Answer, error) {
	f.record(fmt.Sprintf("tags v2=%t scope=%s q=%s", v2, scope, q), t)
	return f.answer, f.err
}

func (f *tempoFake) TagValues(_ context.Context, t tenant.Set, v2 bool, tag, q string, _ traces.TimeRange) (traces.Answer, error) {
	f.record(fmt.Sprintf("values v2=%t tag=%s q=%s", v2, tag, q), t)
	return f.answer, f.err
}

func (f *tempoFake) Metrics(_ context.Context, t tenant.Set, q traces.MetricsQuery) (traces.Answer, error) {
	f.record("metrics", t)
	f.mu.Lock()
	f.metric = append(f.metric, q)
	f.mu.Unlock()
	return f.answer, f.err
}

func newTempoHarness(t *testing.T, fake *tempoFake) *harness {
	t.Helper()
	return newHarnessWith(t, nil, httpapi.Options{Tempo: fake})
}

// tempoPaths is one request per mounted operation.
var tempoPaths = []string{
	"/tempo/api/echo",
	"/tempo/api/status/buildinfo",
	"/tempo/api/traces/" + checkoutID,
	"/tempo/api/v2/traces/" + checkoutID,
	"/tempo/api/search?q=%7B%7D",
	"/tempo/api/search/tags",
	"/tempo/api/v2/search/tags",
	"/tempo/api/search/tag/service.name/values",
	"/tempo/api/v2/search/tag/resource.service.name/values",
	"/tempo/api/metrics/query_range?q=%7B%7D%7Crate()",
	"/tempo/api/metrics/query?q=%7B%7D%7Crate()",
}

// Tempo's bytes, status and content type reach the client unchanged.
func TestTempoMountPassesTempoAnswers(t *testing.T) {
	t.Parallel()
	body := []byte(`{"traces":[],"metrics":{"inspectedBytes":"1"}}` + "\n")
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: body}}
	h := newTempoHarness(t, fake)
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	for _, path := range tempoPaths[1:] {
		rec := h.get(t, path, tok)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !cmp.Equal(rec.Body.Bytes(), body) {
			t.Errorf("%s: %d %q %q", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	echo := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "text/plain; charset=utf-8", Body: []byte("echo\n")}}
	h = newTempoHarness(t, echo)
	if rec := h.get(t, "/tempo/api/echo", h.token(t, map[string]any{"tenant_id": "acme"})); rec.Code != 200 || rec.Body.String() != "echo\n" {
		t.Errorf("echo: %d %q", rec.Code, rec.Body)
	}
	if want := len(tempoPaths) - 1; len(fake.calls) != want {
		t.Errorf("%d calls, want %d: %v", len(fake.calls), want, fake.calls)
	}
	// The mount is measured and logged like /api/v1.
	metrics := h.get(t, "/metrics", "").Body.String()
	for _, want := range []string{
		`tracegate_http_requests_total{method="GET",route="/tempo/api/echo",status="200"} 1`,
		`tracegate_auth_decisions_total{decision="allow",reason="ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(h.logs.String(), `"msg":"request"`) || !strings.Contains(h.logs.String(), `"route":"/tempo/api/echo"`) {
		t.Errorf("no access log line for the mount: %s", h.logs)
	}
}

// Every status the spec documents for the mount, produced per operation:
// tracegate's denials and upstream failures as problem+json, Tempo's 400
// and 429 with Tempo's text.
func TestTempoMountStatuses(t *testing.T) {
	t.Parallel()
	const secret = "querier 10.0.0.7:9095 panic"
	type outcome struct {
		answer     traces.Answer
		err        error
		wantStatus int
		wantText   string // Tempo's text passed on; "" for problem+json
	}
	outcomes := []outcome{
		{answer: traces.Answer{Status: 400, ContentType: "text/plain; charset=utf-8", Body: []byte("invalid TraceQL query: parse error")}, wantStatus: 400, wantText: "invalid TraceQL query: parse error"},
		{err: &traces.QueryError{Reason: "q: refused"}, wantStatus: 400},
		{answer: traces.Answer{Status: 429, ContentType: "text/plain; charset=utf-8", Body: []byte("job queue full")}, wantStatus: 429, wantText: "job queue full"},
		{err: fmt.Errorf("%w: %s", traces.ErrUpstream, secret), wantStatus: 502},
		{err: fmt.Errorf("%w: %s", traces.ErrUnavailable, secret), wantStatus: 503},
		{err: fmt.Errorf("%w: %s", traces.ErrTimeout, secret), wantStatus: 504},
	}
	for _, o := range outcomes {
		fake := &tempoFake{answer: o.answer, err: o.err}
		h := newTempoHarness(t, fake)
		tok := h.token(t, map[string]any{"tenant_id": "acme"})
		for _, path := range tempoPaths {
			if o.wantStatus == 400 && (path == "/tempo/api/echo" || path == "/tempo/api/status/buildinfo") {
				continue // no parameters: never a 400
			}
			rec := h.get(t, path, tok)
			if rec.Code != o.wantStatus {
				t.Errorf("%s: %d, want %d", path, rec.Code, o.wantStatus)
				continue
			}
			if o.wantText != "" {
				if rec.Body.String() != o.wantText || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
					t.Errorf("%s: %q %q, want Tempo's text", path, rec.Header().Get("Content-Type"), rec.Body)
				}
			} else if p := decodeProblem(t, rec); strings.Contains(p.Detail, "10.0.0.7") {
				t.Errorf("%s: internals leaked: %s", path, p.Detail)
			} else if !strings.Contains(rec.Body.String(), `"message":`+strconv.Quote(p.Detail)) {
				t.Errorf("%s: no message for Grafana: %s", path, rec.Body)
			}
			if o.wantStatus == 429 && rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s: 429 without Retry-After", path)
			}
		}
	}
	// Denials: no token, a token without a usable tenant.
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}}
	h := newTempoHarness(t, fake)
	for _, path := range tempoPaths {
		if rec := h.get(t, path, ""); rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a token: %d", path, rec.Code)
		}
		if rec := h.get(t, path, h.token(t, map[string]any{"tenant": "acme"})); rec.Code != 403 {
			t.Errorf("%s without a tenant claim: %d", path, rec.Code)
		}
	}
	if len(fake.calls) != 0 {
		t.Errorf("denied requests reached Tempo: %v", fake.calls)
	}
	if rec := h.get(t, "/api/v1/whoami", ""); strings.Contains(rec.Body.String(), `"message"`) {
		t.Errorf("/api/v1 problems carry the mount's message: %s", rec.Body)
	}
	// Tempo's 422 (v1 trace too large) keeps Tempo's status and text.
	fake = &tempoFake{answer: traces.Answer{Status: 422, ContentType: "text/plain; charset=utf-8", Body: []byte("trace exceeds max size (max bytes: 5000000)")}}
	h = newTempoHarness(t, fake)
	if rec := h.get(t, "/tempo/api/traces/"+checkoutID, h.token(t, map[string]any{"tenant_id": "acme"})); rec.Code != 422 || rec.Body.String() != "trace exceeds max size (max bytes: 5000000)" {
		t.Errorf("422: %d %q", rec.Code, rec.Body)
	}
}

// A trace of another tenant and a missing trace give Tempo's bytes for a
// missing trace, in each format; the hidden one is audited.
func TestTempoMissingTraceSameBytes(t *testing.T) {
	t.Parallel()
	const foreign = "0123456789abcdef0123456789abcdef"
	fake := &tempoFake{fn: func(q traces.TraceQuery) (traces.Answer, error) {
		if q.ID == foreign {
			return traces.Answer{}, &traces.MismatchError{TraceID: q.ID, Found: "globex"}
		}
		return traces.Answer{}, fmt.Errorf("get trace: %w", traces.ErrNotFound)
	}}
	h := newTempoHarness(t, fake)
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	for _, tc := range []struct {
		path, accept string
		wantStatus   int
		wantBody     string
	}{
		{"/tempo/api/traces/", "", 404, ""},
		{"/tempo/api/traces/", "application/protobuf", 404, ""},
		{"/tempo/api/v2/traces/", "", 200, `{"trace":{},"metrics":{}}`},
		{"/tempo/api/v2/traces/", "application/protobuf", 200, "\x0a\x00\x12\x00"},
	} {
		var got []string
		for _, id := range []string{foreign, checkoutID} {
			req := httptest.NewRequest(http.MethodGet, tc.path+id, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := h.do(t, req)
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("%s%s (%s): %d %q, want %d %q", tc.path, id, tc.accept, rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			got = append(got, rec.Header().Get("Content-Type")+"|"+rec.Body.String())
		}
		if got[0] != got[1] {
			t.Errorf("%s (%s): foreign %q, missing %q", tc.path, tc.accept, got[0], got[1])
		}
	}
	if !strings.Contains(h.logs.String(), `"reason":"tenant_attribute_mismatch"`) {
		t.Error("the hidden trace was not audited")
	}
}

// Parameters reach the domain parsed; Accept chooses protobuf; the tenant
// is the token's, whatever X-Scope-OrgID says.
func TestTempoMountParameters(t *testing.T) {
	t.Parallel()
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}}
	h := newTempoHarness(t, fake)
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	get := func(path string, headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Scope-OrgID", "globex")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return h.do(t, req)
	}
	if rec := get("/tempo/api/v2/traces/A1B2?start=10&end=20&q=%7B%7D&keep_hierarchy=true&match_depth=2", "Accept", "application/protobuf"); rec.Code != 200 {
		t.Fatalf("trace: %d %s", rec.Code, rec.Body)
	}
	want := traces.TraceQuery{ID: "0000000000000000000000000000a1b2", V2: true, Protobuf: true, Range: traces.TimeRange{Start: 10, End: 20},
		Filter: "{}", KeepHierarchy: ptr(true), MatchDepth: ptr(2)}
	if diff := cmp.Diff(want, fake.traceQ[0]); diff != "" {
		t.Errorf("trace query:\n%s", diff)
	}
	if rec := get("/tempo/api/search?tags=service.name%3Dcart&minDuration=100ms&maxDuration=2s&limit=5&spss=2&start=10&end=20&grafanaNewParam=1"); rec.Code != 200 {
		t.Fatalf("search: %d %s", rec.Code, rec.Body)
	}
	wantS := traces.NativeSearch{Tags: "service.name=cart", MinDuration: 100 * time.Millisecond, MaxDuration: 2 * time.Second,
		Limit: ptr(5), SpansPerSet: ptr(2), Range: traces.TimeRange{Start: 10, End: 20}}
	if diff := cmp.Diff(wantS, fake.search[0]); diff != "" {
		t.Errorf("search query:\n%s", diff)
	}
	if rec := get("/tempo/api/metrics/query_range?q=%7B%7D%7Crate()&start=1796141445000000000&end=1796142405000000000&step=60&since=1h&exemplars=5"); rec.Code != 200 {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	wantM := traces.MetricsQuery{Q: "{}|rate()", Start: ptr(int64(1796141445000000000)), End: ptr(int64(1796142405000000000)), Step: "60", Since: time.Hour, Exemplars: ptr(5)}
	if diff := cmp.Diff(wantM, fake.metric[0]); diff != "" {
		t.Errorf("metrics query:\n%s", diff)
	}
	// Empty parameters are absent, as for Tempo (tempo-cli sends scope= and q=).
	if rec := get("/tempo/api/v2/search/tags?scope=&q=&start=&end="); rec.Code != 200 || fake.calls[len(fake.calls)-1] != "tags v2=true scope= q=" {
		t.Errorf("empty parameters: %d %v", rec.Code, fake.calls)
	}
	for _, set := range fake.asked {
		if set.OrgID() != "acme" {
			t.Errorf("read as %q, want the token's tenant", set.OrgID())
		}
	}
	for _, path := range []string{
		"/tempo/api/search?q=a&q=b",                       // a repeated parameter
		"/tempo/api/search?minDuration=soon",              // not a duration
		"/tempo/api/metrics/query_range?q=x&step=-1s",     // not a step
		"/tempo/api/traces/xyz",                           // not a trace id
		"/tempo/api/search?start=10",                      // start without end
		"/tempo/api/v2/search/tags?scope=everything",      // not a scope
		"/tempo/api/metrics/query_range",                  // q is required
		"/tempo/api/metrics/query?q=x&since=yesterday",    // not a duration
		"/tempo/api/v2/traces/" + checkoutID + "?start=9", // start without end
	} {
		if rec := get(path); rec.Code != 400 {
			t.Errorf("%s: %d, want 400", path, rec.Code)
		} else {
			decodeProblem(t, rec)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A token that grants several tenants reads the one X-Tenant names.
func TestTempoMountXTenant(t *testing.T) {
	t.Parallel()
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}}
	h := newTempoHarness(t, fake)
	tok := h.token(t, map[string]any{"tenant_id": []string{"acme", "globex"}})
	req := httptest.NewRequest(http.MethodGet, "/tempo/api/v2/search/tags", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Tenant", "globex")
	if rec := h.do(t, req); rec.Code != 200 || fake.asked[0].OrgID() != "globex" {
		t.Errorf("%d, read as %v", rec.Code, fake.asked)
	}
	if rec := h.get(t, "/tempo/api/v2/search/tags", tok); rec.Code != 400 {
		t.Errorf("no X-Tenant with two tenants: %d", rec.Code)
	}
}

// Everything of Tempo's API that is not mounted is 404, for every method.
func TestTempoUnmountedPaths(t *testing.T) {
	t.Parallel()
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}}
	h := newTempoHarness(t, fake)
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	paths := []string{
		"/tempo/api/push", "/tempo/v1/traces", "/tempo/otlp/v1/traces",
		"/tempo/flush", "/tempo/shutdown", "/tempo/ready", "/tempo/metrics", "/tempo/status", "/tempo/status/config",
		"/tempo/status/runtime_config", "/tempo/status/overrides", "/tempo/api/overrides", "/tempo/api/mcp",
		"/tempo/querier/api/search", "/tempo/debug/pprof/", "/tempo/memberlist", "/tempo/live-store/ring",
		"/tempo/api/search/tag/service.name", "/tempo/api/traces", "/tempo/", "/tempo", "/tempo/api/echo/x",
		"/tempo/api/v2/search/tag/a/b/values",
	}
	for _, path := range paths {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			req := httptest.NewRequest(method, path, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.e.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", method, path, rec.Code)
			}
		}
	}
	// Tempo's trace diff is POST-only; a GET reads "diff" as a (malformed) trace id.
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, path := range append(slices.Clone(tempoPaths), "/tempo/api/v2/traces/diff") {
			req := httptest.NewRequest(method, path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.e.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", method, path, rec.Code)
			}
		}
	}
	if len(fake.calls) != 0 {
		t.Errorf("unmounted paths reached Tempo: %v", fake.calls)
	}
}

// Without a TempoReader the mount fails closed.
func TestTempoMountNotConfigured(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, nil, httpapi.Options{})
	req := httptest.NewRequest(http.MethodGet, "/tempo/api/echo", nil)
	req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": "acme"}))
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("%d, want 500", rec.Code)
	}
}

// The mount shares /api/v1's limits: a tenant over its rate gets 429.
func TestTempoMountLimits(t *testing.T) {
	t.Parallel()
	fake := &tempoFake{answer: traces.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{}`)}}
	h := newHarnessWith(t, nil, httpapi.Options{Tempo: fake, TenantRate: limits.NewRate(0.001, 1)})
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	if rec := h.get(t, "/tempo/api/search", tok); rec.Code != 200 {
		t.Fatalf("first request: %d", rec.Code)
	}
	rec := h.get(t, "/tempo/api/v2/search/tags", tok)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("second request: %d", rec.Code)
	}
	if p := decodeProblem(t, rec); p.Detail != "too many requests for this tenant" {
		t.Errorf("detail %q", p.Detail)
	}
	if len(fake.calls) != 1 {
		t.Errorf("the limited request reached Tempo: %v", fake.calls)
	}
}
