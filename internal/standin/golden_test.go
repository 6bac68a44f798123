package standin

// Golden tests: replay every recorded request of ../../testdata/tempo/fixtures
// (recorded from a real multi-tenant Tempo 3.1.0-dev) against a stand-in
// seeded with ../../testdata/tempo/ingested through its OTLP handler, and
// compare status, the headers that matter and the body.
//
// Bodies are compared as follows:
//   - text bodies byte for byte;
//   - gzip bodies after decompression;
//   - JSON structurally (both decoded), after these normalisations, applied to
//     expected and actual alike:
//     1. every top-level "metrics" object is replaced by a marker (only its
//     presence is compared: inspectedBytes, inspectedTraces and job counts
//     are normalised by the stand-in, see the package doc);
//     2. "tagValues", "tagNames" and each scope's "tags" are sorted (Tempo's
//     order of tag values is arbitrary);
//     3. buildinfo's "goVersion" is expected to be the running Go version;
//   - protobuf bodies by decoding both: traces with pdata (compared as
//     pdata's JSON), TraceByIDResponse field by field (the metrics message
//     only for presence).
//
// Resource attribute order is NOT normalised: the stand-in reproduces Tempo's
// (service.name last).
//
// Fixtures not compared in full (jsonOnlyFixtures, limitFixture and the
// metrics recordings) get their own assertions, with the reason.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	fixturesDir = "../../testdata/tempo/fixtures"
	ingestedDir = "../../testdata/tempo/ingested"
)

// recordingNow is "now" of the recording: search-range-too-long's end and
// metrics-query-range's end are 1795698209 = 2026-11-26T13:03:29Z; the traces
// were ingested at 13:03:05 and search-only-start uses now-60s.
var recordingNow = time.Unix(1795698209, 0).UTC()

// jsonOnlyFixtures ask for a protobuf search; tracegate asks for JSON, and
// the stand-in answers JSON (asserted).
var jsonOnlyFixtures = map[string]string{
	"search-protobuf.json": "protobuf search: tracegate never asks for it",
}

// compatRecording marks the fixtures TestGoldenCompat replays: recorded on
// another day (see compat* below), against traces ingested then.
func compatRecording(name string) bool {
	return strings.HasPrefix(name, "compat-")
}

// limitFixture is a search truncated by limit: real Tempo returned the two
// oldest traces (whatever its first finished jobs found); the stand-in
// returns the newest ones. It is checked against the full recorded list.
const limitFixture = "search-recent-limit2.json"

type fixture struct {
	Note    string `json:"note"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
	} `json:"request"`
	Response struct {
		Status     int               `json:"status"`
		Headers    map[string]string `json:"headers"`
		Body       *string           `json:"body"`
		BodyBase64 string            `json:"body_base64"`
	} `json:"response"`
}

func (f *fixture) bodyBytes() ([]byte, error) {
	if f.Response.Body != nil {
		return []byte(*f.Response.Body), nil
	}
	return base64.StdEncoding.DecodeString(f.Response.BodyBase64)
}

func (f *fixture) body(t testing.TB) []byte {
	t.Helper()
	b, err := f.bodyBytes()
	if err != nil {
		t.Fatalf("fixture body: %v", err)
	}
	return b
}

func loadFixture(t testing.TB, name string) *fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &f
}

type ingestEntry struct {
	Tenant  string `json:"tenant"`
	TraceID string `json:"trace_id"`
	Spans   int    `json:"spans"`
	File    string `json:"file"`
}

func loadIndex(t testing.TB) []ingestEntry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ingestedDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx []ingestEntry
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

// seededServer returns a stand-in pinned to the recording time and fed with
// the ingested files through its OTLP handler over real HTTP.
func seededServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(func() time.Time { return recordingNow }, opts...)
	otlp := httptest.NewServer(s.OTLPHandler())
	defer otlp.Close()
	for _, e := range loadIndex(t) {
		if tenant, _, _ := strings.Cut(e.File, "-"); tenant != e.Tenant {
			t.Fatalf("%s: tenant %q is not the file prefix", e.File, e.Tenant)
		}
		body, err := os.ReadFile(filepath.Join(ingestedDir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, otlp.URL+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Scope-OrgID", e.Tenant)
		resp, err := otlp.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(out) != `{"partialSuccess":{}}` {
			t.Fatalf("ingest %s: %d %s", e.File, resp.StatusCode, out)
		}
	}
	return s
}

// ingestFiles stores the files of testdata/tempo/ingested (and extra, file
// to tenant) with every span and event moved by shift(the latest span end).
func ingestFiles(t testing.TB, s *Server, extra map[string]string, shift func(end pcommon.Timestamp) int64) {
	t.Helper()
	files := maps.Clone(extra)
	if files == nil {
		files = map[string]string{}
	}
	for _, e := range loadIndex(t) {
		files[e.File] = e.Tenant
	}
	for file, tenant := range files {
		raw, err := os.ReadFile(filepath.Join(ingestedDir, file))
		if err != nil {
			t.Fatal(err)
		}
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var end pcommon.Timestamp
		spans := func(fn func(ptrace.Span)) {
			for _, rs := range td.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					for _, sp := range ss.Spans().All() {
						fn(sp)
					}
				}
			}
		}
		spans(func(sp ptrace.Span) { end = max(end, sp.EndTimestamp()) })
		d := pcommon.Timestamp(shift(end)) // wraps around for a negative shift, as intended
		spans(func(sp ptrace.Span) {
			sp.SetStartTimestamp(sp.StartTimestamp() + d)
			sp.SetEndTimestamp(sp.EndTimestamp() + d)
			for _, ev := range sp.Events().All() {
				ev.SetTimestamp(ev.Timestamp() + d)
			}
		})
		if err := s.Ingest(tenant, td); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
}

func replay(h http.Handler, f *fixture) *httptest.ResponseRecorder {
	req := httptest.NewRequest(f.Request.Method, f.Request.Path, nil)
	for k, v := range f.Request.Headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestGolden(t *testing.T) {
	s := seededServer(t)
	h := s.Handler()
	names, err := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	seen := map[string]bool{}
	for _, path := range names {
		name := filepath.Base(path)
		seen[name] = true
		if compatRecording(name) {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			f := loadFixture(t, name)
			rec := replay(h, f)
			if name == "metrics-query-range.json" {
				// Tempo's series were still empty seconds after ingestion.
				checkMetricsShape(t, f, rec)
				return
			}
			if reason, ok := jsonOnlyFixtures[name]; ok {
				t.Logf("JSON only: %s", reason)
				if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("want 200 JSON, got %d %q", rec.Code, rec.Header().Get("Content-Type"))
				}
				return
			}
			if name == limitFixture {
				checkLimitFixture(t, f, rec)
				return
			}
			if diff := compareResponse(f, rec.Code, rec.Header(), rec.Body.Bytes()); diff != "" {
				t.Fatalf("%s (%s %s):\n%s", name, f.Request.Method, f.Request.Path, diff)
			}
		})
	}
	for name := range jsonOnlyFixtures {
		if !seen[name] {
			t.Errorf("JSON-only fixture %s does not exist", name)
		}
	}
	if !seen[limitFixture] {
		t.Errorf("limit fixture %s does not exist", limitFixture)
	}
}

// compareResponse returns "" when the actual response matches the fixture.
func compareResponse(f *fixture, status int, h http.Header, body []byte) string {
	var diffs []string
	if status != f.Response.Status {
		diffs = append(diffs, fmt.Sprintf("status: want %d, got %d", f.Response.Status, status))
	}
	for _, k := range []string{"Content-Type", "Content-Encoding", "Vary", "X-Content-Type-Options"} {
		if want, got := f.Response.Headers[k], h.Get(k); want != got {
			diffs = append(diffs, fmt.Sprintf("header %s: want %q, got %q", k, want, got))
		}
	}
	want, err := f.bodyBytes()
	if err != nil {
		return "fixture body: " + err.Error()
	}
	got := body
	if f.Response.Headers["Content-Encoding"] == "gzip" {
		if want, err = gunzip(want); err != nil {
			return "fixture gzip: " + err.Error()
		}
		if got, err = gunzip(got); err != nil {
			diffs = append(diffs, "body is not gzip: "+err.Error())
			return strings.Join(diffs, "\n")
		}
	}
	switch ct := f.Response.Headers["Content-Type"]; {
	case ct == "application/json":
		if d := compareJSON(want, got); d != "" {
			diffs = append(diffs, "json body (-want +got):\n"+d)
		}
	case ct == "application/protobuf":
		if d := compareProto(f.Request.Path, want, got); d != "" {
			diffs = append(diffs, "protobuf body (-want +got):\n"+d)
		}
	default:
		if !bytes.Equal(want, got) {
			diffs = append(diffs, fmt.Sprintf("body: want %q, got %q", want, got))
		}
	}
	return strings.Join(diffs, "\n")
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// normaliseJSON applies the documented normalisations in place.
func normaliseJSON(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if _, ok := m["metrics"]; ok {
		m["metrics"] = "<metrics present>"
	}
	if _, ok := m["goVersion"]; ok {
		m["goVersion"] = "<go version>"
	}
	sortList := func(l any) {
		if arr, ok := l.([]any); ok {
			sort.SliceStable(arr, func(i, j int) bool {
				a, _ := json.Marshal(arr[i])
				b, _ := json.Marshal(arr[j])
				return string(a) < string(b)
			})
		}
	}
	sortList(m["tagValues"])
	sortList(m["tagNames"])
	if scopes, ok := m["scopes"].([]any); ok {
		for _, sc := range scopes {
			if scm, ok := sc.(map[string]any); ok {
				sortList(scm["tags"])
			}
		}
	}
	return m
}

func compareJSON(want, got []byte) string {
	w, err := decodeJSON(want)
	if err != nil {
		return "fixture json: " + err.Error()
	}
	g, err := decodeJSON(got)
	if err != nil {
		return fmt.Sprintf("invalid json %q: %v", got, err)
	}
	if wm, ok := w.(map[string]any); ok {
		if v, ok := wm["goVersion"]; ok && v != runtime.Version() {
			wm["goVersion"] = runtime.Version()
		}
	}
	if gm, ok := g.(map[string]any); ok {
		if v, ok := gm["goVersion"]; ok && v != runtime.Version() {
			return fmt.Sprintf("goVersion: want %q, got %v", runtime.Version(), v)
		}
	}
	return diff(normaliseJSON(w), normaliseJSON(g))
}

// diff is cmp.Diff with a fast path for equal values (cmp is slow on the
// 2000-span trace).
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return cmp.Diff(want, got)
}

// protoFields splits a protobuf message into its top-level fields.
func protoFields(b []byte) (map[protowire.Number][][]byte, error) {
	out := map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		val := b[:m]
		if typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			val = v
		}
		out[num] = append(out[num], val)
		b = b[m:]
	}
	return out, nil
}

func tracesAsJSON(b []byte) (any, error) {
	var um ptrace.ProtoUnmarshaler
	td, err := um.UnmarshalTraces(b)
	if err != nil {
		return nil, err
	}
	var jm ptrace.JSONMarshaler
	j, err := jm.MarshalTraces(td)
	if err != nil {
		return nil, err
	}
	return decodeJSON(j)
}

func compareProto(path string, want, got []byte) string {
	switch {
	case strings.HasPrefix(path, "/api/traces/"):
		return compareTraceProto(want, got)
	case strings.HasPrefix(path, "/api/v2/traces/"):
		wf, err := protoFields(want)
		if err != nil {
			return "fixture proto: " + err.Error()
		}
		gf, err := protoFields(got)
		if err != nil {
			return "proto: " + err.Error()
		}
		var diffs []string
		for _, num := range []protowire.Number{1, 2, 3, 4} {
			if len(wf[num]) != len(gf[num]) {
				diffs = append(diffs, fmt.Sprintf("field %d: want %d occurrences, got %d", num, len(wf[num]), len(gf[num])))
			}
		}
		for num := range gf {
			if num > 4 {
				diffs = append(diffs, fmt.Sprintf("unexpected field %d", num))
			}
		}
		for _, num := range []protowire.Number{3, 4} {
			if len(wf[num]) == 1 && len(gf[num]) == 1 && !bytes.Equal(wf[num][0], gf[num][0]) {
				diffs = append(diffs, fmt.Sprintf("field %d differs", num))
			}
		}
		if len(wf[1]) == 1 && len(gf[1]) == 1 {
			if d := compareTraceProto(wf[1][0], gf[1][0]); d != "" {
				diffs = append(diffs, d)
			}
		}
		return strings.Join(diffs, "\n")
	}
	return "no protobuf comparison for " + path
}

func compareTraceProto(want, got []byte) string {
	w, err := tracesAsJSON(want)
	if err != nil {
		return "fixture trace proto: " + err.Error()
	}
	g, err := tracesAsJSON(got)
	if err != nil {
		return "trace proto: " + err.Error()
	}
	return diff(w, g)
}

// checkLimitFixture checks a limit=2 search: 200, same headers, two traces,
// newest first, each identical to the recorded unlimited search-recent
// entry; and documents that Tempo's own two are among those as well.
func checkLimitFixture(t *testing.T, f *fixture, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != f.Response.Status {
		t.Fatalf("status: want %d, got %d", f.Response.Status, rec.Code)
	}
	for _, k := range []string{"Content-Type", "Content-Encoding", "Vary"} {
		if want, got := f.Response.Headers[k], rec.Header().Get(k); want != got {
			t.Fatalf("header %s: want %q, got %q", k, want, got)
		}
	}
	full := loadFixture(t, "search-recent.json")
	fullV, err := decodeJSON(full.body(t))
	if err != nil {
		t.Fatal(err)
	}
	allTraces := fullV.(map[string]any)["traces"].([]any)
	if len(allTraces) < 3 {
		t.Fatalf("search-recent should list more than 2 traces")
	}
	got, err := decodeJSON(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"traces": []any{allTraces[0], allTraces[1]}, "metrics": "x"}
	if d := cmp.Diff(normaliseJSON(want), normaliseJSON(got)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	recorded, _ := decodeJSON(f.body(t))
	for _, rt := range recorded.(map[string]any)["traces"].([]any) {
		found := false
		for _, at := range allTraces {
			found = found || cmp.Equal(at, rt)
		}
		if !found {
			t.Errorf("recorded trace %v not in search-recent", rt)
		}
	}
}

// TestGoldenComparatorFails makes sure the comparison can fail: small
// changes to a correct response are reported.
func TestGoldenComparatorFails(t *testing.T) {
	s := seededServer(t)
	h := s.Handler()
	for _, name := range []string{"trace-v2-json-found.json", "search-q-error.json", "trace-v2-protobuf-found.json", "trace-v1-protobuf-found.json", "search-bad-traceql.json", "tag-values-v2-service.json"} {
		f := loadFixture(t, name)
		rec := replay(h, f)
		body := rec.Body.Bytes()
		if d := compareResponse(f, rec.Code, rec.Header(), body); d != "" {
			t.Fatalf("%s should match: %s", name, d)
		}
		mutations := map[string][]byte{
			"one byte changed": mutateOnce(body),
			"truncated":        body[:len(body)-1],
		}
		for what, mb := range mutations {
			if compareResponse(f, rec.Code, rec.Header(), mb) == "" {
				t.Errorf("%s: %s body was accepted", name, what)
			}
		}
		if compareResponse(f, rec.Code+1, rec.Header(), body) == "" {
			t.Errorf("%s: wrong status accepted", name)
		}
		hdr := rec.Header().Clone()
		hdr.Set("Content-Type", "text/html")
		if compareResponse(f, rec.Code, hdr, body) == "" {
			t.Errorf("%s: wrong content type accepted", name)
		}
	}
}

// mutateOnce changes one meaningful byte: a letter or digit inside a value.
func mutateOnce(b []byte) []byte {
	out := bytes.Clone(b)
	// Prefer a JSON string value far from the start, else the middle byte.
	if i := bytes.LastIndex(out, []byte(`"stringValue":"`)); i >= 0 {
		j := i + len(`"stringValue":"`)
		out[j] ^= 0x01
		return out
	}
	if i := bytes.Index(out, []byte(`"value":"`)); i >= 0 {
		out[i+len(`"value":"`)] ^= 0x01
		return out
	}
	mid := len(out) / 2
	for k := mid; k < len(out); k++ {
		c := out[k]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' {
			out[k] ^= 0x01
			return out
		}
	}
	out[mid] ^= 0x01
	return out
}
