package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/otlpjson"
	"github.com/tracegate/tracegate/internal/telemetry"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/testkit"
	"github.com/tracegate/tracegate/internal/traces"
	"github.com/tracegate/tracegate/web"
)

const (
	issuer   = "https://idp.test/"
	audience = "tracegate"
)

// readerFunc is a func-field fake of httpapi.TraceReader that counts calls.
type readerFunc struct {
	mu    sync.Mutex
	calls []traces.ID
	asked []tenant.Set
	fn    func(t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error)

	// search, tags and tag values answer with these
	searches []traces.SearchQuery
	tagArgs  []string
	found    []traces.TraceSummary
	scopes   []traces.TagScope
	values   []traces.TagValue
	err      error
}

func (f *readerFunc) WithTrace(_ context.Context, t tenant.Set, id traces.ID, r traces.TimeRange, fn func(traces.Trace) error) error {
	f.mu.Lock()
	f.calls, f.asked = append(f.calls, id), append(f.asked, t)
	f.mu.Unlock()
	tr, err := f.fn(t, id, r)
	if err != nil {
		return err
	}
	return fn(tr)
}

func (f *readerFunc) Search(_ context.Context, t tenant.Set, q traces.SearchQuery) ([]traces.TraceSummary, error) {
	f.mu.Lock()
	f.searches, f.asked = append(f.searches, q), append(f.asked, t)
	f.mu.Unlock()
	return f.found, f.err
}

func (f *readerFunc) Tags(_ context.Context, t tenant.Set, scope string, _ traces.TimeRange) ([]traces.TagScope, error) {
	f.mu.Lock()
	f.tagArgs, f.asked = append(f.tagArgs, scope), append(f.asked, t)
	f.mu.Unlock()
	return f.scopes, f.err
}

func (f *readerFunc) TagValues(_ context.Context, t tenant.Set, tag, q string, _ traces.TimeRange) ([]traces.TagValue, error) {
	f.mu.Lock()
	f.tagArgs, f.asked = append(f.tagArgs, tag+" "+q), append(f.asked, t)
	f.mu.Unlock()
	return f.values, f.err
}

func (f *readerFunc) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

// harness is the real httpapi.New behind the real auth middleware, with a JWKS
// served over HTTP and tokens really signed.
type harness struct {
	e       *echo.Echo
	issuer  *devauth.Issuer
	reader  *readerFunc
	logs    *testkit.Buffer
	metrics *telemetry.Metrics
}

func newHarness(t testing.TB, fn func(t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error)) *harness {
	t.Helper()
	return newHarnessCORS(t, fn, nil)
}

func newHarnessCORS(t testing.TB, fn func(t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error), origins []string) *harness {
	t.Helper()
	return newHarnessWith(t, fn, httpapi.Options{CORSOrigins: origins})
}

func newHarnessWith(t testing.TB, fn func(t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error), opts httpapi.Options) *harness {
	t.Helper()
	return newHarnessAt(t, fn, opts, slog.LevelInfo)
}

// newHarnessAt is newHarnessWith logging from level on.
func newHarnessAt(t testing.TB, fn func(t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error), opts httpapi.Options, level slog.Level) *harness {
	t.Helper()
	iss, jwksURL := testkit.NewIssuer(t, issuer, audience)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	v, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: jwksURL, Issuer: issuer, Audience: audience}, http.DefaultClient, logger)
	if err != nil {
		t.Fatal(err)
	}
	reader := &readerFunc{fn: fn}
	metrics := telemetry.New()
	e, err := httpapi.New(reader, v.Middleware(), metrics, logger, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{e: e, issuer: iss, reader: reader, logs: logs, metrics: metrics}
}

func (h *harness) token(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := h.issuer.Token("user-1", time.Hour, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do serves req and checks the answer against openapi.yaml.
func (h *harness) do(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	spec.check(t, req, rec)
	for k, want := range map[string]string{
		"Cache-Control": "no-store", "Vary": "Authorization", "X-Content-Type-Options": "nosniff",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s %s: %s = %q, want %q", req.Method, req.URL, k, got, want)
		}
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id", req.Method, req.URL)
	}
	return rec
}

func (h *harness) get(t *testing.T, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.do(t, req)
}

type problem struct {
	Type, Title, Detail, Instance string
	Status                        int
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != rec.Code || p.Type != "about:blank" || p.Title != http.StatusText(rec.Code) {
		t.Errorf("problem %+v does not match status %d", p, rec.Code)
	}
	if p.Instance == "" || p.Instance != rec.Header().Get("X-Request-Id") {
		t.Errorf("instance %q, X-Request-Id %q", p.Instance, rec.Header().Get("X-Request-Id"))
	}
	return p
}

const checkoutID = "4bf92f3577b34da6a3ce929d0e0e4736"

func TestGetTraceNormalisesID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, checkoutReader(t))
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	for in, want := range map[string]string{
		"4BF92F3577B34DA6A3CE929D0E0E4736": checkoutID,
		"a1b2c3d4e5f6071":                  "00000000000000000a1b2c3d4e5f6071",
		"1":                                "00000000000000000000000000000001",
	} {
		rec := h.get(t, "/api/v1/traces/"+in, tok)
		var got struct{ TraceID string }
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != http.StatusOK || got.TraceID != want {
			t.Errorf("%s: status %d traceId %q, want %q", in, rec.Code, got.TraceID, want)
		}
	}
}

func TestGetTraceTimeRange(t *testing.T) {
	t.Parallel()
	var gotRange traces.TimeRange
	found := checkoutReader(t)
	h := newHarness(t, func(tn tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error) {
		gotRange = r
		return found(tn, id, r)
	})
	rec := h.get(t, "/api/v1/traces/"+checkoutID+"?start=1795694609&end=1795698269", h.token(t, map[string]any{"tenant_id": "acme"}))
	if rec.Code != http.StatusOK || gotRange != (traces.TimeRange{Start: 1795694609, End: 1795698269}) {
		t.Errorf("status %d, range %+v", rec.Code, gotRange)
	}
}

func TestGetTraceBadRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{}, errors.New("must not be called")
	})
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	tests := []struct {
		name, path, wantDetail string
	}{
		{"non-hex id", "/api/v1/traces/zz12", `"trace_id"`},
		{"33 characters", "/api/v1/traces/111111111111111111111111111111111", `"trace_id"`},
		{"0x prefix", "/api/v1/traces/0x12", `"trace_id"`},
		{"encoded space", "/api/v1/traces/12%20", `"trace_id"`},
		{"only start", "/api/v1/traces/" + checkoutID + "?start=10", "start and end"},
		{"only end", "/api/v1/traces/" + checkoutID + "?end=10", "start and end"},
		{"end before start", "/api/v1/traces/" + checkoutID + "?start=20&end=10", "end must be after start"},
		{"start not a number", "/api/v1/traces/" + checkoutID + "?start=abc&end=10", `"start"`},
		{"start in nanoseconds", "/api/v1/traces/" + checkoutID + "?start=1795698149000000000&end=1795698209000000000", `"start"`},
		{"negative end", "/api/v1/traces/" + checkoutID + "?start=1&end=-5", `"end"`},
	}
	for _, tc := range tests {
		rec := h.get(t, tc.path, tok)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", tc.name, rec.Code, rec.Body)
			continue
		}
		if p := decodeProblem(t, rec); !strings.Contains(p.Detail, tc.wantDetail) {
			t.Errorf("%s: detail %q does not mention %s", tc.name, p.Detail, tc.wantDetail)
		}
	}
	if n := h.reader.count(); n != 0 {
		t.Errorf("the trace reader was called %d times for bad requests", n)
	}
}

func TestGetTraceEmptyID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{}, errors.New("must not be called")
	})
	rec := h.get(t, "/api/v1/traces/", h.token(t, map[string]any{"tenant_id": "acme"}))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status %d, want 400", rec.Code)
	}
	if p := decodeProblem(t, rec); !strings.Contains(p.Detail, `"trace_id"`) {
		t.Errorf("detail %q does not name trace_id", p.Detail)
	}
	if h.reader.count() != 0 {
		t.Error("the trace reader was called for an empty id")
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{}, errors.New("must not be called")
	})
	other, err := devauth.NewIssuer(issuer, audience) // same names, another key
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Token("mallory", time.Hour, map[string]any{"tenant_id": "acme"})
	expired, _ := h.issuer.Token("user-1", -time.Hour, map[string]any{"tenant_id": "acme"})
	valid := h.token(t, map[string]any{"tenant_id": "acme"})
	const (
		noToken = `Bearer realm="tracegate"`
		badTok  = `Bearer realm="tracegate", error="invalid_token"`
	)
	tests := []struct {
		name       string
		path       string
		header     []string // Authorization values
		wantStatus int
		wantAuth   string
	}{
		{"no token", "/api/v1/traces/" + checkoutID, nil, 401, noToken},
		{"no token and a bad id: auth first", "/api/v1/traces/zz", nil, 401, noToken},
		{"no token and bad params: auth first", "/api/v1/traces/" + checkoutID + "?start=x", nil, 401, noToken},
		{"garbage token", "/api/v1/traces/" + checkoutID, []string{"Bearer not.a.jwt"}, 401, badTok},
		{"empty bearer", "/api/v1/traces/" + checkoutID, []string{"Bearer "}, 401, badTok},
		{"basic scheme", "/api/v1/traces/" + checkoutID, []string{"Basic dXNlcjpwYXNz"}, 401, badTok},
		{"signed by another key", "/api/v1/traces/" + checkoutID, []string{"Bearer " + forged}, 401, badTok},
		{"expired", "/api/v1/traces/" + checkoutID, []string{"Bearer " + expired}, 401, badTok},
		{"two Authorization headers", "/api/v1/traces/" + checkoutID, []string{"Bearer " + valid, "Bearer " + valid}, 401, badTok},
		{"unknown route needs a token too", "/api/v1/nope", nil, 401, noToken},
		{"unknown route needs a token too, even for a close prefix", "/api/v1/traces", nil, 401, noToken},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		for _, v := range tc.header {
			req.Header.Add("Authorization", v)
		}
		rec := h.do(t, req)
		if rec.Code != tc.wantStatus {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.wantStatus)
			continue
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != tc.wantAuth {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, got, tc.wantAuth)
		}
		decodeProblem(t, rec)
	}
	if n := h.reader.count(); n != 0 {
		t.Errorf("the trace reader was called %d times for unauthenticated requests", n)
	}
	if strings.Contains(h.logs.String(), forged) || strings.Contains(h.logs.String(), valid) {
		t.Error("a token was logged")
	}
}

func TestForbiddenTenants(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{}, errors.New("must not be called")
	})
	for name, claims := range map[string]map[string]any{
		"missing":                   {},
		"empty":                     {"tenant_id": ""},
		"number":                    {"tenant_id": 42},
		"array with a forbidden id": {"tenant_id": []string{"acme", "acme|globex"}},
		"empty array":               {"tenant_id": []string{}},
		"federation":                {"tenant_id": "acme|globex"},
		"metadata":                  {"tenant_id": "acme:x"},
		"dotdot":                    {"tenant_id": ".."},
		"slash":                     {"tenant_id": "ac/me"},
		"non-ascii":                 {"tenant_id": "acmé"},
		"too long":                  {"tenant_id": strings.Repeat("a", 151)},
		"other claim":               {"tenant": "acme"},
		"control chars":             {"tenant_id": "acme\r\nX-Scope-OrgID: globex"},
	} {
		rec := h.get(t, "/api/v1/traces/"+checkoutID, h.token(t, claims))
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, rec.Code)
			continue
		}
		decodeProblem(t, rec)
	}
	if n := h.reader.count(); n != 0 {
		t.Errorf("the trace reader was called %d times", n)
	}
}

func TestClientTenantHeadersIgnored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, checkoutReader(t))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": "acme"}))
	req.Header.Set("X-Scope-OrgID", "globex")
	req.Header.Add("X-Scope-OrgID", "acme|globex")
	if rec := h.do(t, req); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if h.reader.asked[0].OrgID() != "acme" {
		t.Errorf("read as %q, want the token's tenant acme", h.reader.asked[0])
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Parallel()
	const secret = "querier 10.0.0.7:9095 panic at tempodb/encoding.go:42"
	tests := []struct {
		err        error
		wantStatus int
	}{
		{traces.ErrNotFound, http.StatusNotFound},
		{fmt.Errorf("get trace: %w: %s", traces.ErrRateLimited, secret), http.StatusTooManyRequests},
		{fmt.Errorf("get trace: %w: %s", traces.ErrUpstream, secret), http.StatusBadGateway},
		{fmt.Errorf("get trace: %w: %s", traces.ErrUnavailable, secret), http.StatusServiceUnavailable},
		{fmt.Errorf("get trace: %w: %s", traces.ErrTimeout, secret), http.StatusGatewayTimeout},
		{&traces.QueryError{Reason: "invalid start"}, http.StatusBadRequest},
		{errors.New(secret), http.StatusInternalServerError},
	}
	for _, tc := range tests {
		h := newHarness(t, func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
			return traces.Trace{}, tc.err
		})
		req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
		req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": "acme"}))
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, req)
		if tc.wantStatus != http.StatusInternalServerError { // 500 is not part of the contract
			spec.check(t, req, rec)
		}
		if rec.Code != tc.wantStatus {
			t.Errorf("%v: status %d, want %d", tc.err, rec.Code, tc.wantStatus)
			continue
		}
		decodeProblem(t, rec)
		if strings.Contains(rec.Body.String(), "10.0.0.7") || strings.Contains(rec.Body.String(), "tempodb") {
			t.Errorf("%v: internals leaked: %s", tc.err, rec.Body)
		}
		if tc.wantStatus == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if tc.wantStatus >= 500 && !strings.Contains(h.logs.String(), `"level":"ERROR"`) {
			t.Errorf("%v: 5xx not logged", tc.err)
		}
	}
}

// A foreign trace and a missing one must be indistinguishable.
func TestNotFoundBodiesIdentical(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(_ tenant.Set, id traces.ID, _ traces.TimeRange) (traces.Trace, error) {
		if id == checkoutID {
			return traces.Trace{}, fmt.Errorf("get trace: tenant attribute mismatch: %w", traces.ErrNotFound)
		}
		return traces.Trace{}, fmt.Errorf("get trace: %w", traces.ErrNotFound)
	})
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	bodies := []problem{}
	for _, id := range []string{checkoutID, "0123456789abcdef0123456789abcdef"} {
		rec := h.get(t, "/api/v1/traces/"+id, tok)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d", rec.Code)
		}
		p := decodeProblem(t, rec)
		p.Instance = ""
		bodies = append(bodies, p)
	}
	if diff := cmp.Diff(bodies[0], bodies[1]); diff != "" {
		t.Errorf("foreign and missing traces differ:\n%s", diff)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("X-Request-Id", "abc-123")
	if rec := h.do(t, req); rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Errorf("well-formed request id not honoured: %q", rec.Header().Get("X-Request-Id"))
	}
	req = httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("X-Request-Id", "bad id\"<script>")
	if rec := h.do(t, req); strings.ContainsAny(rec.Header().Get("X-Request-Id"), " \"<") {
		t.Errorf("malformed request id echoed: %q", rec.Header().Get("X-Request-Id"))
	}
}

func TestHealthNeedsNoToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.get(t, "/healthz", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	h := newHarnessCORS(t, checkoutReader(t), []string{"https://app.example.com"})

	// A preflight needs no token.
	req := httptest.NewRequest(http.MethodOptions, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization,x-tenant")
	rec := h.do(t, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight status %d: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"authorization", "x-tenant"} {
		if !strings.Contains(allowed, want) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, want)
		}
	}

	// The real request still needs a token, and says which origin may read it.
	req = httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": "acme"}))
	rec = h.do(t, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("status %d, ACAO %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
	if vary := strings.Join(rec.Header().Values("Vary"), ","); !strings.Contains(vary, "Origin") || !strings.Contains(vary, "Authorization") {
		t.Errorf("Vary %q, want Origin and Authorization", vary)
	}

	// Another origin gets no grant.
	req = httptest.NewRequest(http.MethodOptions, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Origin", "https://evil.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	rec = h.do(t, req)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin granted: %q", got)
	}
	if h.reader.count() != 1 {
		t.Errorf("reader called %d times, want 1", h.reader.count())
	}
}

func TestNoCORSByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	req := httptest.NewRequest(http.MethodOptions, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	rec := h.do(t, req)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("cross-origin access granted without configuration: %q", got)
	}
}

func TestOperationsEndpointsNeedNoToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.get(t, "/openapi.yaml", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("/openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	file, err := os.ReadFile(filepath.Join("..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), file) {
		t.Error("/openapi.yaml differs from openapi.yaml")
	}

	rec = h.get(t, "/docs", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html" {
		t.Fatalf("/docs: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'sha256-", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "script-src 'unsafe-inline'") {
		t.Errorf("CSP allows arbitrary scripts: %q", csp)
	}
	if !strings.Contains(rec.Body.String(), "tracegate API") {
		t.Error("/docs does not look like the reference")
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t, checkoutReader(t))
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "TRACE", "CONNECT", "PROPFIND"} {
		for _, path := range []string{"/api/v1/traces/" + checkoutID, "/api/v1/traces", "/healthz", "/nope"} {
			req := httptest.NewRequest(m, path, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := h.do(t, req)
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
				t.Errorf("%s %s: %d, Allow %q", m, path, rec.Code, rec.Header().Get("Allow"))
				continue
			}
			decodeProblem(t, rec)
		}
	}
	req := httptest.NewRequest(http.MethodHead, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("HEAD: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if h.reader.count() != 1 {
		t.Errorf("reader called %d times, want 1 (the HEAD)", h.reader.count())
	}
}

func TestAuditAndMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(_ tenant.Set, id traces.ID, _ traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{}, &traces.MismatchError{TraceID: id, Found: "globex"}
	})
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	h.get(t, "/api/v1/traces/"+checkoutID, "")                                             // 401
	h.get(t, "/api/v1/traces/"+checkoutID, tok)                                            // 404, mismatch
	h.get(t, "/api/v1/traces/"+checkoutID, h.token(t, map[string]any{"tenant_id": "a|b"})) // 403
	req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)          // 403, not granted
	req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": []string{"acme", "globex"}}))
	req.Header.Set("X-Tenant", "initech")
	h.do(t, req)

	logs := h.logs.String()
	for _, want := range []string{
		`"msg":"access denied","route":"/api/v1/traces/:trace_id","status":401`,
		`"status":404,"reason":"tenant_attribute_mismatch"`,
		`"tenant":"acme","subject_hash":"`,
		`"trace_id":"` + checkoutID + `","found":"globex"`,
		`"status":403`,
		`"reason":"tenant_not_granted","request_id":"`,
		`"tenant":"acme,globex","subject_hash":"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("audit log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, "user-1") {
		t.Error("the audit log holds the token or the plain subject")
	}

	rec := h.get(t, "/metrics", "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`tracegate_auth_decisions_total{decision="allow",reason="ok"} 1`,
		`tracegate_auth_decisions_total{decision="deny",reason="missing_token"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "tenant_attribute_mismatch") {
		t.Error("/metrics counts hidden traces: a mis-routed id would tell from a missing one")
	}
}

// At debug level the audit event of a denial carries the verifier's detailed
// reason (expected and actual values); at info level only the reason code.
// Never the token.
func TestAuditDetailAtDebug(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		h := newHarnessAt(t, nil, httpapi.Options{}, level)
		tok := h.token(t, map[string]any{"tenant_id": "acme", "iss": issuer + "/"}) // one trailing slash too many
		h.get(t, "/api/v1/traces/"+checkoutID, tok)
		logs := h.logs.String()
		if !strings.Contains(logs, `"msg":"access denied"`) || !strings.Contains(logs, `"reason":"wrong_issuer"`) {
			t.Fatalf("%v: no audit event:\n%s", level, logs)
		}
		detail := `"detail":"invalid token: iss \"` + issuer + `/\", expected \"` + issuer + `\""`
		if got := strings.Contains(logs, detail); got != (level == slog.LevelDebug) {
			t.Errorf("%v: detail %s logged = %v:\n%s", level, detail, got, logs)
		}
		if level == slog.LevelInfo && strings.Contains(logs, `"detail"`) {
			t.Errorf("info level logs a detail:\n%s", logs)
		}
		for part := range strings.SplitSeq(tok, ".") {
			if strings.Contains(logs, part) {
				t.Errorf("%v: the log holds a part of the token", level)
			}
		}
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	var checks []httpapi.Check
	var mu sync.Mutex
	h := newHarnessWith(t, nil, httpapi.Options{Readiness: func(context.Context) []httpapi.Check {
		mu.Lock()
		defer mu.Unlock()
		return checks
	}})
	set := func(c ...httpapi.Check) {
		mu.Lock()
		checks = c
		mu.Unlock()
	}
	set(httpapi.Check{Name: "keys", OK: true, Detail: "1 key"}, httpapi.Check{Name: "tempo", OK: true, Detail: "ready"})
	if rec := h.get(t, "/readyz", ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"ready"`) {
		t.Errorf("ready: %d %s", rec.Code, rec.Body)
	}
	set(httpapi.Check{Name: "keys", OK: true, Degraded: true, Detail: "1 key, 9m old; last refresh failed"}, httpapi.Check{Name: "tempo", OK: true})
	if rec := h.get(t, "/readyz", ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"degraded"`) {
		t.Errorf("degraded: %d %s", rec.Code, rec.Body)
	}
	secretDetail := `Get "http://alice@tempo.internal:3200/ready": connection refused; JWKS file /etc/tracegate/jwks.json`
	set(httpapi.Check{Name: "keys", OK: false, Detail: "no keys loaded yet"}, httpapi.Check{Name: "tempo", OK: false, Detail: secretDetail})
	rec := h.get(t, "/readyz", "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("not ready: %d %s", rec.Code, rec.Body)
	}
	if p := decodeProblem(t, rec); p.Detail != "not ready: keys, tempo" {
		t.Errorf("detail %q", p.Detail)
	}
	rec = h.get(t, "/readyz", "") // unchanged: logged once
	for _, leak := range []string{"alice", "tempo.internal", "jwks.json", "refused", "no keys"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Errorf("the unauthenticated /readyz tells %q: %s", leak, rec.Body)
		}
	}
	logs := h.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Error("a failing probe was logged as an error")
	}
	if n := strings.Count(logs, `"msg":"readiness check changed","check":"tempo","ok":false`); n != 1 || !strings.Contains(logs, "tempo.internal:3200/ready") {
		t.Errorf("the tempo failure is logged %d times (want once, with its detail):\n%s", n, logs)
	}
	set(httpapi.Check{Name: "keys", OK: true}, httpapi.Check{Name: "tempo", OK: true})
	if rec := h.get(t, "/readyz", ""); rec.Code != http.StatusOK || rec.Body.String() != `{"checks":[{"name":"keys","ok":true},{"name":"tempo","ok":true}],"status":"ready"}`+"\n" {
		t.Errorf("ready again: %d %q", rec.Code, rec.Body)
	}
}

// With the operations routes on a listener of their own, the API handler
// answers them 404 (no token asked, nothing told) and the operations handler
// serves nothing else.
func TestRouteSplit(t *testing.T) {
	t.Parallel()
	found := func(_ tenant.Set, id traces.ID, _ traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{ID: id, Data: otlpData(t, ptrace.NewTraces())}, nil
	}
	api := newHarnessWith(t, found, httpapi.Options{Routes: httpapi.APIRoutes})
	ops := newHarnessWith(t, found, httpapi.Options{Routes: httpapi.OperationsRoutes})
	tok := api.token(t, map[string]any{"tenant_id": "acme"})
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
			req := httptest.NewRequest(m, path, nil)
			if rec := api.do(t, req); rec.Code != http.StatusNotFound {
				t.Errorf("API listener %s %s: %d, want 404", m, path, rec.Code)
			}
		}
		if rec := ops.get(t, path, ""); rec.Code != http.StatusOK {
			t.Errorf("operations listener %s: %d, want 200", path, rec.Code)
		}
	}
	if rec := api.get(t, "/api/v1/traces/"+checkoutID, tok); rec.Code != http.StatusOK {
		t.Errorf("API listener, a trace: %d", rec.Code)
	}
	for _, path := range []string{"/api/v1/traces/" + checkoutID, "/openapi.yaml", "/docs", "/nope"} {
		req := httptest.NewRequest(http.MethodGet, path, nil) // not the API's contract: no spec check
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		ops.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("operations listener %s: %d, want 404", path, rec.Code)
		}
	}
}

func TestAccessLogAndRequestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.reader.found = nil
	tok := h.token(t, map[string]any{"tenant_id": "acme"})
	h.get(t, "/api/v1/traces?q=%7B%20name%20%3D%20%22secret-thing%22%20%7D", tok)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/traces", nil)
	h.do(t, req)

	logs := h.logs.String()
	for _, want := range []string{
		`"msg":"request","request_id":"`,
		`"method":"GET","route":"/api/v1/traces","status":200`,
		`"upstream_ms":`,
		`"tenant":"acme","q_len":25`,
		`"method":"POST","route":"unmatched","status":405`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret-thing") {
		t.Error("the query was logged although LogQueries is off")
	}
	if strings.Contains(logs, tok) {
		t.Error("the token was logged")
	}
	body := h.get(t, "/metrics", "").Body.String()
	for _, want := range []string{
		`tracegate_http_requests_total{method="GET",route="/api/v1/traces",status="200"} 1`,
		`tracegate_http_requests_total{method="POST",route="unmatched",status="405"} 1`,
		`tracegate_http_request_duration_seconds_bucket{method="GET",route="/api/v1/traces",status="200",le="+Inf"} 1`,
		"tracegate_http_requests_in_flight 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestGzip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, checkoutReader(t))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/"+checkoutID, nil)
	req.Header.Set("Authorization", "Bearer "+h.token(t, map[string]any{"tenant_id": "acme"}))
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Accept-Encoding") {
		t.Fatalf("status %d, Content-Encoding %q, Vary %q", rec.Code, rec.Header().Get("Content-Encoding"), rec.Header().Values("Vary"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	back, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(plain)
	if err != nil || back.SpanCount() != 9 {
		t.Fatalf("decompressed body: %d spans, %v", back.SpanCount(), err)
	}
}

// The trace explorer is served under /ui/ only when Options.UI is set, without
// a token, with its own CSP; without it, /ui/ is an unknown route (401 first).
func TestUI(t *testing.T) {
	t.Parallel()
	serve := func(h *harness, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	on := newHarnessWith(t, nil, httpapi.Options{UI: web.Handler()})
	rec := serve(on, "/ui/")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), `src="app.js"`) {
		t.Fatalf("GET /ui/: %d %q %.200s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if got := rec.Header().Get("Content-Security-Policy"); got != web.CSP || !strings.Contains(got, "script-src 'self';") {
		t.Errorf("CSP %q", got)
	}
	for path, ct := range map[string]string{"/ui/app.js": "text/javascript", "/ui/app.css": "text/css", "/ui/dev.json": "application/json"} {
		if rec := serve(on, path); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ct) {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if rec := serve(on, "/ui/dev.json"); strings.TrimSpace(rec.Body.String()) != `{"tokens":[]}` {
		t.Errorf("the embedded dev.json lists tokens: %s", rec.Body)
	}
	if rec := serve(on, "/ui/../openapi.yaml.js"); rec.Code != http.StatusNotFound {
		t.Errorf("GET an unknown file: %d", rec.Code)
	}
	if rec := serve(on, "/ui"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	// The API behind it still needs a token.
	if rec := serve(on, "/api/v1/whoami"); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/whoami without token: %d", rec.Code)
	}

	off := newHarness(t, nil)
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/dev.json"} {
		if rec := serve(off, path); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("without the UI, GET %s: %d %.100s", path, rec.Code, rec.Body)
		}
	}
}

// checkoutReader answers every trace id with the 9-span trace that acme
// ingested into the real Tempo.
func checkoutReader(t testing.TB) func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
	td := testkit.Ingested(t, "acme-checkout")
	return func(_ tenant.Set, id traces.ID, _ traces.TimeRange) (traces.Trace, error) {
		return traces.Trace{ID: id, Data: otlpData(t, td)}, nil
	}
}

// otlpData returns td as the Tempo adapter holds it: protobuf, validated.
func otlpData(t testing.TB, td ptrace.Traces) *otlpjson.Trace {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	data, err := otlpjson.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
