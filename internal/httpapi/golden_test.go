package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the bodies the tests produce")

// goldenRequestID is sent as X-Request-Id with every golden request: tracegate
// honours a well-formed one, so a problem's "instance" is fixed and nothing in
// a golden body needs normalising.
const goldenRequestID = "golden"

// checkGolden compares body byte for byte with testdata/name.golden, or
// rewrites the file with -update. On a difference it shows both indented.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/httpapi -run Golden -update writes it)", err)
	}
	if !bytes.Equal(want, body) {
		t.Errorf("body differs from %s (-want +got; -update rewrites it):\n%s", path, cmp.Diff(indent(want), indent(body)))
	}
}

// indent returns b as indented JSON for a readable diff, or as it is.
func indent(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// TestGoldenBodies pins the whole body of each kind of answer: the trace
// (the 9-span checkout trace that acme ingested into the real Tempo), search,
// tags, whoami, and problem+json for every status of the error table.
func TestGoldenBodies(t *testing.T) {
	t.Parallel()
	found := checkoutReader(t)
	partial := func(tn tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error) {
		tr, err := found(tn, id, r)
		tr.Partial, tr.Warnings = true, []string{"Trace exceeds maximum size"}
		return tr, err
	}
	failing := func(err error) func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) {
		return func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error) { return traces.Trace{}, err }
	}
	const secret = "querier 10.0.0.7:9095 panic at tempodb/encoding.go:42"
	trace := "/api/v1/traces/" + checkoutID
	tests := []struct {
		name   string
		method string // GET when empty
		path   string
		trace  func(tenant.Set, traces.ID, traces.TimeRange) (traces.Trace, error)
		err    error                      // what search, tags and tag values answer
		claims map[string]any             // nil: no token
		tempo  *tempoFake                 // mounts /tempo
		want   int                        // status
		ct     string                     // content type
		check  func(*testing.T, *harness) // more about the request, optional
	}{
		{name: "trace", path: trace, trace: found, claims: acmeClaims, want: 200, ct: "application/json"},
		{name: "trace-short-id", path: "/api/v1/traces/A1B2C3D4E5F6071", trace: found, claims: acmeClaims, want: 200, ct: "application/json"},
		{name: "trace-partial", path: trace, trace: partial, claims: acmeClaims, want: 200, ct: "application/json"},
		{name: "search", path: "/api/v1/traces?q=%7B%20status%20%3D%20error%20%7D&limit=5&spss=2&start=1795694609&end=1795698269", claims: acmeClaims, want: 200, ct: "application/json"},
		{name: "tags", path: "/api/v1/tags?scope=resource", claims: acmeClaims, want: 200, ct: "application/json"},
		{name: "tag-values", path: "/api/v1/tags/resource.service.name/values?q=%7B%7D", claims: acmeClaims, want: 200, ct: "application/json"},
		{name: "whoami", path: "/api/v1/whoami", claims: map[string]any{"tenant_id": []string{"globex", "acme"}, "scope": "traces:read profile", "exp": 4102444800}, want: 200, ct: "application/json"},
		{name: "problem-400-trace-id", path: "/api/v1/traces/zz12", trace: found, claims: acmeClaims, want: 400},
		{name: "problem-400-time-range", path: trace + "?start=20&end=10", trace: found, claims: acmeClaims, want: 400},
		{name: "problem-400-limit", path: "/api/v1/traces?limit=0", claims: acmeClaims, want: 400},
		{name: "problem-400-x-tenant", path: trace, trace: found, claims: map[string]any{"tenant_id": []string{"acme", "globex"}}, want: 400},
		{name: "problem-400-query", path: "/api/v1/traces?q=%7B", err: &traces.QueryError{Reason: "invalid TraceQL query: parse error at line 1, col 2"}, claims: acmeClaims, want: 400},
		{name: "problem-401", path: trace, trace: found, want: 401},
		{name: "problem-403", path: trace, trace: found, claims: map[string]any{"tenant_id": "acme|globex"}, want: 403},
		{name: "problem-404", path: trace, trace: failing(fmt.Errorf("get trace: %w", traces.ErrNotFound)), claims: acmeClaims, want: 404},
		{name: "problem-404-hidden", path: trace, trace: failing(&traces.MismatchError{TraceID: checkoutID, Found: "globex"}), claims: acmeClaims, want: 404},
		{name: "problem-405", method: http.MethodDelete, path: trace, trace: found, claims: acmeClaims, want: 405},
		{name: "problem-429", path: trace, trace: failing(fmt.Errorf("get trace: %w: %s", traces.ErrRateLimited, secret)), claims: acmeClaims, want: 429},
		{name: "problem-500", path: trace, trace: failing(errors.New(secret)), claims: acmeClaims, want: 500},
		{name: "problem-502", path: "/api/v1/tags", err: fmt.Errorf("tags: %w: %s", traces.ErrUpstream, secret), claims: acmeClaims, want: 502},
		{name: "problem-503", path: trace, trace: failing(fmt.Errorf("get trace: %w: %s", traces.ErrUnavailable, secret)), claims: acmeClaims, want: 503},
		{name: "problem-504", path: "/api/v1/traces", err: fmt.Errorf("search: %w: %s", traces.ErrTimeout, secret), claims: acmeClaims, want: 504},
		{name: "problem-tempo-502", path: "/tempo/api/search?q=%7B%7D", tempo: &tempoFake{err: fmt.Errorf("%w: %s", traces.ErrUpstream, secret)}, claims: acmeClaims, want: 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts httpapi.Options
			if tc.tempo != nil {
				opts.Tempo = tc.tempo
			}
			h := newHarnessWith(t, tc.trace, opts)
			h.reader.found = goldenSummaries(t)
			h.reader.scopes = []traces.TagScope{{Name: "resource", Tags: []string{"service.name", "tenant.id"}}, {Name: "span"}}
			h.reader.values = []traces.TagValue{{Type: "string", Value: "checkout"}, {Type: "string", Value: "frontend"}}
			h.reader.err = tc.err
			method, ct := tc.method, tc.ct
			if method == "" {
				method = http.MethodGet
			}
			if ct == "" {
				ct = "application/problem+json"
			}
			req := httptest.NewRequest(method, tc.path, nil)
			req.Header.Set("X-Request-Id", goldenRequestID)
			if tc.claims != nil {
				req.Header.Set("Authorization", "Bearer "+h.token(t, tc.claims))
			}
			var rec *httptest.ResponseRecorder
			if tc.want == http.StatusInternalServerError { // not part of the contract: no spec check
				rec = httptest.NewRecorder()
				h.e.ServeHTTP(rec, req)
			} else {
				rec = h.do(t, req)
			}
			if rec.Code != tc.want || rec.Header().Get("Content-Type") != ct {
				t.Errorf("status %d, content type %q; want %d %q", rec.Code, rec.Header().Get("Content-Type"), tc.want, ct)
			}
			checkGolden(t, tc.name, rec.Body.Bytes())
		})
	}
}

var acmeClaims = map[string]any{"tenant_id": "acme"}

// goldenSummaries is what the fake search answers: one trace with one span
// set holding an attribute of each type Tempo's search answers with.
func goldenSummaries(t *testing.T) []traces.TraceSummary {
	return []traces.TraceSummary{{
		ID: mustID(t, "a1b2c3d4e5f6071"), RootService: "frontend", RootSpan: "login-error",
		StartUnixNano: 1795698185090807099, DurationMs: 40,
		SpanSets: []traces.SpanSet{{Matched: 3, Spans: []traces.SpanSummary{{
			SpanID: "aaaaaaaaaaaaaaaa", StartUnixNano: 1795698185090807099, DurationNanos: 40000000,
			Attributes: []traces.Attribute{
				{Key: "tenant.id", Value: "acme"}, {Key: "http.status_code", Value: int64(500)},
				{Key: "ratio", Value: 0.5}, {Key: "error", Value: true},
			},
		}}}},
	}}
}
