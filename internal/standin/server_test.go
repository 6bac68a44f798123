package standin

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func get(t *testing.T, h http.Handler, tenant, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func searchIDs(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	if rec.Code != 200 {
		t.Fatalf("search: %d %s", rec.Code, rec.Body.String())
	}
	var resp struct {
		Traces []struct {
			TraceID string `json:"traceID"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, tr := range resp.Traces {
		ids = append(ids, tr.TraceID)
	}
	return ids
}

func tagValues(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	if rec.Code != 200 {
		t.Fatalf("tag values: %d %s", rec.Code, rec.Body.String())
	}
	var resp struct {
		TagValues []tagValue `json:"tagValues"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range resp.TagValues {
		out = append(out, v.Value)
	}
	sort.Strings(out)
	return out
}

const (
	checkoutID = "4bf92f3577b34da6a3ce929d0e0e4736"
	loginID    = "a1b2c3d4e5f6071"
	globexID   = "5b8efff798038103d269b633813fc700"
	misrouteID = "d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60"
	unstampID  = "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	bigID      = "b16b16b16b16b16b16b16b16b16b16b1"
)

func TestFederation(t *testing.T) {
	h := seededServer(t).Handler()
	all := []string{bigID, unstampID, misrouteID, globexID, loginID, checkoutID}
	for _, org := range []string{"acme|globex", "globex|acme", "globex|acme|acme", "acme:x|globex:y=z:w"} {
		if got := searchIDs(t, get(t, h, org, "/api/search?limit=50")); !cmp.Equal(got, all) {
			t.Errorf("%s search = %v, want %v", org, got, all)
		}
		if rec := get(t, h, org, "/api/v2/traces/"+globexID); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"reports"`) {
			t.Errorf("%s trace: %d", org, rec.Code)
		}
		if rec := get(t, h, org, "/api/traces/"+checkoutID); rec.Code != 200 {
			t.Errorf("%s v1 trace: %d", org, rec.Code)
		}
		vals := tagValues(t, get(t, h, org, "/api/v2/search/tag/resource.tenant.id/values"))
		if !cmp.Equal(vals, []string{"acme", "globex"}) {
			t.Errorf("%s tenant.id values = %v", org, vals)
		}
	}
	if got := searchIDs(t, get(t, h, "globex", "/api/search")); !cmp.Equal(got, []string{globexID}) {
		t.Errorf("globex alone = %v", got)
	}
	// ":" starts metadata: "globex:acme" is globex.
	if rec := get(t, h, "globex:acme", "/api/v2/traces/"+checkoutID); rec.Body.String() != `{"trace":{},"metrics":{}}` {
		t.Errorf("globex:acme read acme's trace: %s", rec.Body.String())
	}
	for org, want := range map[string]string{
		"acme|":         "no org id",
		"|acme":         "no org id",
		"acme||globex":  "no org id",
		"acme|glo/bex":  "tenant ID 'glo/bex' contains unsupported character '/'",
		"acme|..":       "tenant ID is '.' or '..'",
		":x":            "no org id",
		"ac me:x":       "tenant ID 'ac me' contains unsupported character ' '",
		"acme:x|ac/me:": "tenant ID 'ac/me' contains unsupported character '/'",
	} {
		rec := get(t, h, org, "/api/search")
		if rec.Code != 400 || rec.Body.String() != want {
			t.Errorf("%q: %d %q, want 400 %q", org, rec.Code, rec.Body.String(), want)
		}
	}
}

func TestFederatedTraceMergesSpans(t *testing.T) {
	s := New(nil)
	now := time.Now()
	id := traceID(9)
	a := makeTraces(id, "a", 3, now) // span ids 0,1,2
	b := makeTraces(id, "b", 4, now) // span ids 0..3: 0,1,2 repeat a's
	if err := s.Ingest("ta", a); err != nil {
		t.Fatal(err)
	}
	if err := s.Ingest("tb", b); err != nil {
		t.Fatal(err)
	}
	rec := get(t, s.Handler(), "tb|ta", "/api/traces/"+hex.EncodeToString(id[:]), "Accept", "application/protobuf")
	var um ptrace.ProtoUnmarshaler
	td, err := um.UnmarshalTraces(rec.Body.Bytes())
	if err != nil || rec.Code != 200 {
		t.Fatalf("%d %v", rec.Code, err)
	}
	if td.SpanCount() != 4 || td.ResourceSpans().Len() != 2 {
		t.Fatalf("merged trace has %d spans in %d batches, want 4 in 2", td.SpanCount(), td.ResourceSpans().Len())
	}
	svc, _ := td.ResourceSpans().At(0).Resource().Attributes().Get("service.name")
	if svc.Str() != "a" {
		t.Errorf("first batch from %s, want tenant ta (sorted first)", svc.Str())
	}
}

// TestTagValuesQueryLeak pins the real Tempo behaviour the gateway must
// defend against: a q that does not parse, or joins conditions with || or
// spansets with && or a structural operator, is ignored and the full list
// returned, while a valid q filters.
func TestTagValuesQueryLeak(t *testing.T) {
	h := seededServer(t).Handler()
	full := tagValues(t, get(t, h, "acme", "/api/v2/search/tag/resource.service.name/values"))
	if len(full) != 16 {
		t.Fatalf("unfiltered values = %v", full)
	}
	filtered := tagValues(t, get(t, h, "acme", "/api/v2/search/tag/resource.service.name/values?q="+url.QueryEscape(`{ resource.service.name = "auth" }`)))
	if !cmp.Equal(filtered, []string{"auth"}) {
		t.Errorf("valid q: %v", filtered)
	}
	for _, bad := range []string{`{ resource.service.name = "auth" || resource.service.name = "legacy" }`, `{ resource.service.name = "auth"`, `{ resource.service.name = "auth" } | count() > 0`, `nonsense`, `{ tenant = "acme" }`,
		`{ resource.service.name = "auth" } > { }`, `{ resource.service.name = "auth" } && { resource.service.name = "auth" }`} {
		got := tagValues(t, get(t, h, "acme", "/api/v2/search/tag/resource.service.name/values?q="+url.QueryEscape(bad)))
		if !cmp.Equal(got, full) {
			t.Errorf("unparsable or OR q %q: got %v, want the unfiltered list", bad, got)
		}
	}
	// The same q on /api/search is a 400.
	if rec := get(t, h, "acme", "/api/search?q="+url.QueryEscape(`nonsense`)); rec.Code != 400 {
		t.Errorf("search with bad q: %d", rec.Code)
	}
	// tags v2 ignores an unparsable q too.
	if rec := get(t, h, "acme", "/api/v2/search/tags?scope=resource&q=nonsense"); !strings.Contains(rec.Body.String(), "tenant.id") {
		t.Errorf("tags with bad q: %s", rec.Body.String())
	}
	// Other tags: intrinsic and typed values.
	if got := tagValues(t, get(t, h, "acme", "/api/v2/search/tag/status/values")); !cmp.Equal(got, []string{"error", "unset"}) {
		t.Errorf("status values = %v", got)
	}
	rec := get(t, h, "acme", "/api/v2/search/tag/span.http.status_code/values?q="+url.QueryEscape(`{ status = error }`))
	if !strings.Contains(rec.Body.String(), `{"type":"int","value":"500"}`) || strings.Contains(rec.Body.String(), `"200"`) {
		t.Errorf("typed values: %s", rec.Body.String())
	}
}

func TestSearchBehaviour(t *testing.T) {
	h := seededServer(t).Handler()
	cases := []struct {
		target string
		want   []string
	}{
		{"/api/search?q=" + url.QueryEscape(`{ kind = server && resource.service.name =~ "front.*" }`), []string{loginID, checkoutID}},
		{"/api/search?q=" + url.QueryEscape(`{ span.http.status_code >= 500 }`), []string{loginID}},
		{"/api/search?q=" + url.QueryEscape(`{ duration > 5050us }`), []string{bigID, unstampID, misrouteID, loginID, checkoutID}},
		{"/api/search?q=" + url.QueryEscape(`{ duration > 5200us }`), []string{bigID}},
		{"/api/search?q=" + url.QueryEscape(`{ duration > 5200us && resource.service.name != "svc0" }`), []string{bigID}},
		{"/api/search?q=" + url.QueryEscape(`{ duration > 1s }`), []string{}},
		{"/api/search?q=" + url.QueryEscape(`{ name = "checkout" || name = "unstamped" }`), []string{unstampID, checkoutID}},
		{"/api/search?tags=" + url.QueryEscape(`service.name=auth`), []string{loginID}},
		{"/api/search?tags=" + url.QueryEscape(`service.name=frontend http.status_code=500`), []string{loginID}},
		{"/api/search?tags=" + url.QueryEscape(`name="checkout payments op1"`), []string{checkoutID}},
		{"/api/search?tags=" + url.QueryEscape(`status.code=error`), []string{loginID}},
		{"/api/search?minDuration=10ms", []string{bigID, checkoutID}},
		{"/api/search?minDuration=10ms&maxDuration=100ms", []string{checkoutID}},
		{"/api/search?limit=1", []string{bigID}},
		{"/api/search?start=1795698000&end=1795698100", []string{}},
		{"/api/search?start=1795698100&end=1795698186", []string{bigID, unstampID, misrouteID, loginID, checkoutID}},
	}
	for _, c := range cases {
		if got := searchIDs(t, get(t, h, "acme", c.target)); !cmp.Equal(got, c.want) {
			t.Errorf("%s = %v, want %v", c.target, got, c.want)
		}
	}
	errs := map[string]string{
		"/api/search?limit=x":                                                   `invalid limit: strconv.Atoi: parsing "x": invalid syntax`,
		"/api/search?limit=262145":                                              "limit 262145 exceeds max limit 262144",
		"/api/search?spss=0":                                                    "invalid spss: must be a positive number",
		"/api/search?end=1795698149":                                            "range specified by start and end exceeds 168h0m0s. received start=0 end=1795698149",
		"/api/search?minDuration=2s&maxDuration=1s":                             "invalid maxDuration: must be greater than minDuration",
		"/api/search?minDuration=x":                                             `invalid minDuration: time: invalid duration "x"`,
		"/api/search?tags=" + url.QueryEscape(`a=1 a=2`):                        "invalid tags: tag a has been set twice",
		"/api/search?q=" + url.QueryEscape(strings.Repeat(" ", maxQuerySize+1)): "TraceQL expression exceeds the configured maximum size of 131072 bytes, reduce the query expression size or contact your system administrator",
		"/api/v2/search/tag/resource.service.name/values?start=5":               "http parameter start must be before end. received start=5 end=0",
		"/api/v2/search/tags?start=1&end=999999":                                "range specified by start and end exceeds 168h0m0s. received start=1 end=999999",
	}
	for target, want := range errs {
		rec := get(t, h, "acme", target)
		if rec.Code != 400 || rec.Body.String() != want || rec.Header().Get("Content-Type") != ctText {
			t.Errorf("%s: %d %q, want 400 %q", target[:min(len(target), 80)], rec.Code, rec.Body.String(), want)
		}
	}
	// Span sets: select() of an intrinsic and name in results.
	rec := get(t, h, "acme", "/api/search?spss=1&q="+url.QueryEscape(`{ name = "login-error auth op1" } | select(kind, span.http.route)`))
	want := `"spans":[{"spanID":"0e4c337e4d2a31ec","name":"login-error auth op1","startTimeUnixNano":"1795698185093807099","durationNanos":"5100000","attributes":[{"key":"kind","value":{"stringValue":"internal"}},{"key":"http.route","value":{"stringValue":"/auth/1"}}]}],"matched":1}`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("span set:\n%s\nwant it to contain\n%s", rec.Body.String(), want)
	}
	// Empty result keeps "traces":[].
	if rec := get(t, h, "nobody", "/api/search"); !strings.HasPrefix(rec.Body.String(), `{"traces":[],"metrics":{`) {
		t.Errorf("empty search: %s", rec.Body.String())
	}
}

func TestDefaultWindowAndCutoff(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	var mu sync.Mutex
	s := New(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }) // default cutoff 1s
	id := traceID(1)
	if err := s.Ingest("t", makeTraces(id, "svc", 1, now.Add(-500*time.Millisecond))); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if got := searchIDs(t, get(t, h, "t", "/api/search")); len(got) != 0 {
		t.Errorf("trace inside the cutoff was found: %v", got)
	}
	if got := searchIDs(t, get(t, h, "t", fmt.Sprintf("/api/search?start=%d&end=%d", now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix()))); len(got) != 0 {
		t.Errorf("an explicit end after the cutoff found %v", got)
	}
	if rec := get(t, h, "t", "/api/v2/traces/"+hex.EncodeToString(id[:])); !strings.Contains(rec.Body.String(), "resourceSpans") {
		t.Errorf("trace by id must not apply the cutoff")
	}
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	set(now.Add(2 * time.Second))
	if got := searchIDs(t, get(t, h, "t", "/api/search")); len(got) != 1 {
		t.Errorf("after the cutoff: %v", got)
	}
	set(now.Add(16 * time.Minute))
	if got := searchIDs(t, get(t, h, "t", "/api/search")); len(got) != 0 {
		t.Errorf("older than 15 minutes: %v", got)
	}
	if got := tagValues(t, get(t, h, "t", "/api/v2/search/tag/resource.service.name/values")); len(got) != 0 {
		t.Errorf("tag values older than 15 minutes: %v", got)
	}
	start := now.Add(-time.Hour).Unix()
	if got := searchIDs(t, get(t, h, "t", fmt.Sprintf("/api/search?start=%d&end=%d", start, now.Add(time.Hour).Unix()))); len(got) != 1 {
		t.Errorf("explicit window: %v", got)
	}

	s0 := New(func() time.Time { return now }, WithQueryEndCutoff(0))
	_ = s0.Ingest("t", makeTraces(id, "svc", 1, now.Add(-time.Millisecond)))
	if got := searchIDs(t, get(t, s0.Handler(), "t", "/api/search")); len(got) != 1 {
		t.Errorf("cutoff 0: %v", got)
	}
}

func TestTraceIDs(t *testing.T) {
	for in, want := range map[string]string{
		"a1b2c3d4e5f6071":                  "00000000000000000a1b2c3d4e5f6071",
		"0A1B2C3D4E5F6071":                 "00000000000000000a1b2c3d4e5f6071",
		"00000000000000000a1b2c3d4e5f6071": "00000000000000000a1b2c3d4e5f6071",
		"1":                                "00000000000000000000000000000001",
	} {
		id, err := parseTraceID(in)
		if err != nil || hex.EncodeToString(id[:]) != want {
			t.Errorf("parseTraceID(%q) = %x, %v", in, id, err)
		}
	}
	for in, want := range map[string]string{
		"zz12":                               "trace IDs can only contain hex characters: invalid character 'z' at position 1",
		"12 ":                                "trace IDs can only contain hex characters: invalid character ' ' at position 3",
		"0x12":                               "trace IDs can only contain hex characters: invalid character 'x' at position 2",
		"aé":                                 "trace IDs can only contain hex characters: invalid character 'é' at position 2",
		"111111111111111111111111111111111":  "trace IDs can't be larger than 128 bits",
		"0000000000000000000000000000000001": "trace IDs can't be larger than 128 bits",
	} {
		if _, err := parseTraceID(in); err == nil || err.Error() != want {
			t.Errorf("parseTraceID(%q) = %v, want %q", in, err, want)
		}
	}
	if got := traceIDString([16]byte{8: 0x0a, 15: 1}); got != "a00000000000001" {
		t.Errorf("traceIDString = %s", got)
	}
	h := seededServer(t).Handler()
	for _, p := range []string{"/api/v2/traces/", "/api/v2/traces/a/b", "/api/traces/", "/api/metrics/summary", "/status/config", "/metrics", "/api/v2/traces"} {
		rec := get(t, h, "acme", p)
		if rec.Code != 404 || rec.Body.String() != "404 page not found\n" {
			t.Errorf("%s: %d %q", p, rec.Code, rec.Body.String())
		}
	}
	rec := get(t, h, "acme", "/api/traces/"+unstampID+"?start=1795698000&end=1795698100")
	if rec.Code != 404 {
		t.Errorf("v1 outside the time range: %d", rec.Code)
	}
}

func TestGzipThreshold(t *testing.T) {
	h := seededServer(t).Handler()
	small := get(t, h, "acme", "/api/v2/traces/0123", "Accept-Encoding", "gzip")
	if small.Header().Get("Content-Encoding") != "" || small.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("small body: %v", small.Header())
	}
	big := get(t, h, "acme", "/api/search?q=%7B%7D", "Accept-Encoding", "deflate, gzip")
	if big.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("large body not gzipped")
	}
	if _, err := gunzip(big.Body.Bytes()); err != nil {
		t.Error(err)
	}

	// Over real HTTP, with the client's transparent gzip.
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v2/traces/"+bigID, nil)
	req.Header.Set("X-Scope-OrgID", "acme")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Trace struct {
			ResourceSpans []json.RawMessage `json:"resourceSpans"`
		} `json:"trace"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || !resp.Uncompressed || len(doc.Trace.ResourceSpans) != 10 {
		t.Errorf("big trace over HTTP: err=%v uncompressed=%v batches=%d", err, resp.Uncompressed, len(doc.Trace.ResourceSpans))
	}
}

// TestTempoJSONRoundTrip checks the gogo-jsonpb encoder on every kind of
// field: the output, converted back to OTLP/JSON (hex ids), must decode with
// pdata to the same trace.
func TestTempoJSON(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://schema/r")
	rs.Resource().Attributes().PutStr("deployment.environment", "dev")
	rs.Resource().Attributes().PutStr("service.name", "svc")
	rs.Resource().SetDroppedAttributesCount(2)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.SetSchemaUrl("https://schema/s")
	ss.Scope().SetName("lib")
	ss.Scope().SetVersion("1.2")
	ss.Scope().Attributes().PutBool("scoped", true)
	ss.Scope().SetDroppedAttributesCount(1)
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetParentSpanID(pcommon.SpanID{8, 7, 6, 5, 4, 3, 2, 1})
	sp.TraceState().FromRaw("k=v")
	sp.SetFlags(257)
	sp.SetName(`na"me <&>`)
	sp.SetKind(ptrace.SpanKindConsumer)
	sp.SetStartTimestamp(1795698185089553854)
	sp.SetEndTimestamp(1795698185094553854)
	a := sp.Attributes()
	a.PutStr("s", "")
	a.PutInt("i", -42)
	a.PutDouble("d", 1.5e-7)
	a.PutBool("f", false)
	a.PutEmptyBytes("b").FromRaw([]byte{0, 255, 10})
	sl := a.PutEmptySlice("arr")
	sl.AppendEmpty().SetInt(1)
	sl.AppendEmpty().SetStr("x")
	a.PutEmptySlice("emptyarr")
	m := a.PutEmptyMap("map")
	m.PutStr("k", "v")
	m.PutEmptyMap("inner").PutDouble("z", 3)
	a.PutEmpty("nothing")
	sp.SetDroppedAttributesCount(3)
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1795698185090000000)
	ev.Attributes().PutStr("exception.message", "boom")
	ev.SetDroppedAttributesCount(4)
	sp.SetDroppedEventsCount(5)
	lk := sp.Links().AppendEmpty()
	lk.SetTraceID(pcommon.TraceID{15: 1})
	lk.SetSpanID(pcommon.SpanID{7: 1})
	lk.TraceState().FromRaw("a=b")
	lk.Attributes().PutInt("n", 1)
	lk.SetDroppedAttributesCount(6)
	lk.SetFlags(1)
	sp.SetDroppedLinksCount(7)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("bad")
	sp2 := ss.Spans().AppendEmpty() // minimal span: status {} must still be present
	sp2.SetTraceID(sp.TraceID())
	sp2.SetSpanID(pcommon.SpanID{9})

	out, err := encodeTraceV2(td, 10, "")
	if err != nil || !json.Valid(out) {
		t.Fatalf("invalid JSON %s: %v", out, err)
	}
	for _, frag := range []string{
		`"kind":"SPAN_KIND_CONSUMER"`, `"code":"STATUS_CODE_ERROR"`, `"traceId":"AQIDBAUGBwgJCgsMDQ4PEA=="`,
		`"startTimeUnixNano":"1795698185089553854"`, `"intValue":"-42"`, `"flags":257`, `"status":{}`,
		`"metrics":{"inspectedBytes":"10"}`, `{"key":"s","value":{"stringValue":""}}`, `{"key":"f","value":{"boolValue":false}}`,
		`{"key":"emptyarr","value":{"arrayValue":{}}}`, `{"key":"nothing","value":{}}`,
	} {
		if !bytes.Contains(out, []byte(frag)) {
			t.Errorf("output lacks %s:\n%s", frag, out)
		}
	}
	// Attribute values of search results and metrics labels have the same
	// shape as the span's attributes above.
	var doc struct {
		Trace struct {
			ResourceSpans []struct {
				ScopeSpans []struct{ Spans []struct{ Attributes any } }
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	attrs := pcommon.NewValueMap()
	a.CopyTo(attrs.Map())
	var got struct{ KvlistValue struct{ Values any } }
	if b, err := json.Marshal(anyValueJSON(attrs)); err != nil || json.Unmarshal(b, &got) != nil {
		t.Fatalf("anyValueJSON: %s, %v", b, err)
	}
	if want := doc.Trace.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes; !cmp.Equal(got.KvlistValue.Values, want) {
		t.Errorf("anyValueJSON differs (-want +got):\n%s", cmp.Diff(want, got.KvlistValue.Values))
	}
}

func TestBoundedStorage(t *testing.T) {
	now := time.Now()
	s := New(nil)
	s.maxSpans = 10
	for i := 1; i <= 4; i++ {
		if err := s.Ingest(fmt.Sprintf("t%d", i), makeTraces(traceID(byte(i)), "svc", 4, now)); err != nil {
			t.Fatal(err)
		}
	}
	// Re-writing t3's trace (all duplicates) makes it the most recent.
	_ = s.Ingest("t3", makeTraces(traceID(3), "svc", 4, now))
	_ = s.Ingest("t5", makeTraces(traceID(5), "svc", 3, now))
	stored := func() (spans int, tenants []string) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		for t := range s.tenants {
			tenants = append(tenants, t)
		}
		sort.Strings(tenants)
		return s.spans, tenants
	}
	// 19 spans over a budget of 10: the least recently written go first.
	if spans, tenants := stored(); spans != 7 || !cmp.Equal(tenants, []string{"t3", "t5"}) {
		t.Errorf("kept %d spans of %v, want 7 of [t3 t5]", spans, tenants)
	}
	// A single trace is capped at the budget.
	_ = s.Ingest("big", makeTraces(traceID(9), "svc", 25, now))
	if spans, tenants := stored(); spans != 10 || !cmp.Equal(tenants, []string{"big"}) {
		t.Errorf("big trace: kept %d spans of %v, want 10 of [big]", spans, tenants)
	}
}

func TestConcurrency(t *testing.T) {
	s := New(nil, WithQueryEndCutoff(0))
	s.maxSpans = 60
	h := s.Handler()
	otlp := s.OTLPHandler()
	now := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				tenant := []string{"a", "b"}[i%2]
				if i%3 == 0 {
					js, _ := ptraceOTLPJSON(makeTraces(traceID(byte(i)), fmt.Sprint("svc", w), 3, now))
					req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(js))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Scope-OrgID", tenant)
					rec := httptest.NewRecorder()
					otlp.ServeHTTP(rec, req)
					if rec.Code != 200 {
						t.Errorf("ingest: %d", rec.Code)
					}
				} else if err := s.Ingest(tenant, makeTraces(traceID(byte(i)), fmt.Sprint("svc", w), 2+i%4, now)); err != nil {
					t.Error(err)
				}
			}
		}(w)
		go func() {
			defer wg.Done()
			for i := 0; i < 12; i++ {
				for _, target := range []string{
					"/api/search?q=%7B%7D&limit=100", "/api/search?tags=service.name%3Dsvc1",
					"/api/v2/search/tags", "/api/v2/search/tag/resource.service.name/values",
					"/api/v2/traces/" + traceIDString(traceID(byte(i))), "/api/traces/" + traceIDString(traceID(byte(i))),
				} {
					rec := get(t, h, "a|b", target, "Accept-Encoding", "gzip")
					if rec.Code != 200 && rec.Code != 404 {
						t.Errorf("%s: %d", target, rec.Code)
					}
				}
			}
		}()
	}
	wg.Wait()
	if s.spans > 60 {
		t.Errorf("%d spans stored, bound is 60", s.spans)
	}
}

func ptraceOTLPJSON(td ptrace.Traces) ([]byte, error) {
	var m ptrace.JSONMarshaler
	return m.MarshalTraces(td)
}

// Without a scope, v2 tags lists event, link and instrumentation names only
// when there are some; v1 lists resource and span names together.
func TestTagScopes(t *testing.T) {
	s := New(nil, WithQueryEndCutoff(0))
	td := makeTraces(traceID(1), "svc", 1, time.Now().Add(-time.Minute))
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.Attributes().PutStr("http.route", "/a")
	sp.Events().AppendEmpty().Attributes().PutStr("exception.type", "E")
	if err := s.Ingest("t", td); err != nil {
		t.Fatal(err)
	}
	var v2 struct{ Scopes []tagScope }
	if err := json.Unmarshal(get(t, s.Handler(), "t", "/api/v2/search/tags").Body.Bytes(), &v2); err != nil {
		t.Fatal(err)
	}
	want := []tagScope{{"resource", []string{"service.name"}}, {"span", []string{"http.route"}}, {"event", []string{"exception.type"}}}
	if len(v2.Scopes) != 4 || !cmp.Equal(v2.Scopes[:3], want) || v2.Scopes[3].Name != "intrinsic" {
		t.Errorf("v2 scopes = %+v, want %+v and intrinsic", v2.Scopes, want)
	}
	if rec := get(t, s.Handler(), "t", "/api/search/tags"); !strings.Contains(rec.Body.String(), `"tagNames":["http.route","service.name"]`) {
		t.Errorf("v1 tags = %s", rec.Body)
	}
}
