package standin

// TestCorpus replays testdata/traceql/cases.json: TraceQL queries a real Tempo
// answered over testdata/tempo/ingested (plus acme-mixed.json, a trace stored
// under acme with a child resource stamped for globex). See
// testdata/traceql/README.md.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

type corpusSpan struct {
	SpanID     string            `json:"spanID"`
	Name       *string           `json:"name"`
	Attributes map[string]string `json:"attributes"`
}

type corpusTrace struct {
	TraceID         string       `json:"traceID"`
	RootServiceName string       `json:"rootServiceName"`
	RootTraceName   string       `json:"rootTraceName"`
	Matched         []int        `json:"matched"`
	Spans           []corpusSpan `json:"spans"`
}

type corpusSearch struct {
	Q       string        `json:"q"`
	Status  int           `json:"status"`
	Error   string        `json:"error"`
	Results []corpusTrace `json:"results"`
}

type corpusTagValues struct {
	Tag    string   `json:"tag"`
	Q      string   `json:"q"`
	Status int      `json:"status"`
	Values []string `json:"values"`
}

type corpus struct {
	MixedTraceID string            `json:"mixed_trace_id"`
	Search       []corpusSearch    `json:"search"`
	TagValues    []corpusTagValues `json:"tag_values"`
}

// corpusMaxSpans is how many returned spans per trace the recording kept
// (sorted by span ID).
const corpusMaxSpans = 12

func loadCorpus(t testing.TB) *corpus {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/traceql/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c corpus
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// corpusServer ingests the recorded traces, moved so that each ends 30s
// before now (Tempo searched the last hour).
func corpusServer(t testing.TB, now time.Time) *Server {
	t.Helper()
	s := New(func() time.Time { return now }, WithQueryEndCutoff(0))
	ingestFiles(t, s, map[string]string{"acme-mixed.json": "acme"}, func(end pcommon.Timestamp) int64 {
		return now.Add(-30*time.Second).UnixNano() - int64(end)
	})
	return s
}

func corpusGet(h http.Handler, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Scope-OrgID", "acme")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// attrText renders a returned attribute value the way the recording does
// (strings and numbers as text, a value-less attribute as "nil").
func attrText(raw json.RawMessage) string {
	var v map[string]any
	if json.Unmarshal(raw, &v) != nil {
		return "?" + string(raw)
	}
	for _, x := range v {
		switch x := x.(type) {
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
		return fmt.Sprint(x)
	}
	return "nil"
}

// toCorpus converts a search response to the recording's shape.
func toCorpus(body []byte) ([]corpusTrace, error) {
	var resp struct {
		Traces []struct {
			TraceID         string `json:"traceID"`
			RootServiceName string `json:"rootServiceName"`
			RootTraceName   string `json:"rootTraceName"`
			SpanSets        []struct {
				Matched int `json:"matched"`
				Spans   []struct {
					SpanID     string `json:"spanID"`
					Name       string `json:"name"`
					Attributes []struct {
						Key   string          `json:"key"`
						Value json.RawMessage `json:"value"`
					} `json:"attributes"`
				} `json:"spans"`
			} `json:"spanSets"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	out := []corpusTrace{}
	for _, tr := range resp.Traces {
		ct := corpusTrace{TraceID: tr.TraceID, RootServiceName: tr.RootServiceName, RootTraceName: tr.RootTraceName, Matched: []int{}, Spans: []corpusSpan{}}
		for _, ss := range tr.SpanSets {
			ct.Matched = append(ct.Matched, ss.Matched)
			for _, sp := range ss.Spans {
				cs := corpusSpan{SpanID: sp.SpanID, Attributes: map[string]string{}}
				if sp.Name != "" {
					cs.Name = &sp.Name
				}
				for _, kv := range sp.Attributes {
					cs.Attributes[kv.Key] = attrText(kv.Value)
				}
				ct.Spans = append(ct.Spans, cs)
			}
		}
		out = append(out, ct)
	}
	return out, nil
}

// normaliseCorpus puts results in a comparable order: traces by ID, matched
// counts sorted (span set order is arbitrary), spans by ID and cut to what
// the recording kept.
func normaliseCorpus(ts []corpusTrace) []corpusTrace {
	out := slices.Clone(ts)
	sort.Slice(out, func(i, j int) bool { return out[i].TraceID < out[j].TraceID })
	for i := range out {
		out[i].Matched = slices.Sorted(slices.Values(out[i].Matched))
		spans := slices.Clone(out[i].Spans)
		sort.SliceStable(spans, func(a, b int) bool { return spans[a].SpanID < spans[b].SpanID })
		out[i].Spans = spans[:min(len(spans), corpusMaxSpans)]
	}
	return out
}

func describeCorpus(ts []corpusTrace) string {
	var b strings.Builder
	for _, tr := range ts {
		fmt.Fprintf(&b, "\n  %s root=%q/%q matched=%v", tr.TraceID, tr.RootServiceName, tr.RootTraceName, tr.Matched)
		for _, sp := range tr.Spans {
			name := "-"
			if sp.Name != nil {
				name = *sp.Name
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range sp.Attributes {
					if !yield(k) {
						return
					}
				}
			})
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+sp.Attributes[k])
			}
			fmt.Fprintf(&b, "\n    %s name=%s %s", sp.SpanID, name, strings.Join(kv, " "))
		}
	}
	return b.String()
}

// checkSearchCase returns "" when the stand-in answers c as Tempo did.
func checkSearchCase(h http.Handler, now time.Time, c corpusSearch) string {
	v := url.Values{}
	v.Set("q", c.Q)
	v.Set("limit", "50")
	v.Set("spss", "10")
	v.Set("start", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10))
	v.Set("end", strconv.FormatInt(now.Unix(), 10))
	rec := corpusGet(h, "/api/search?"+v.Encode())
	if rec.Code != c.Status {
		return fmt.Sprintf("status %d, want %d (body %.300s)", rec.Code, c.Status, rec.Body.String())
	}
	if c.Status != http.StatusOK {
		if got := rec.Body.String(); got != c.Error {
			return fmt.Sprintf("error\n got %q\nwant %q", got, c.Error)
		}
		return ""
	}
	got, err := toCorpus(rec.Body.Bytes())
	if err != nil {
		return err.Error()
	}
	g, w := describeCorpus(normaliseCorpus(got)), describeCorpus(normaliseCorpus(c.Results))
	if g != w {
		return "results differ\n got:" + g + "\nwant:" + w
	}
	return ""
}

func TestCorpus(t *testing.T) {
	c := loadCorpus(t)
	if len(c.Search) != 140 || len(c.TagValues) != 8 {
		t.Fatalf("corpus has %d search and %d tag-values cases, want 140 and 8", len(c.Search), len(c.TagValues))
	}
	now := time.Now()
	h := corpusServer(t, now).Handler()
	for i, sc := range c.Search {
		if msg := checkSearchCase(h, now, sc); msg != "" {
			t.Errorf("search[%d] %q: %s", i, sc.Q, msg)
		}
	}
	for i, tv := range c.TagValues {
		if msg := checkTagValuesCase(t, h, now, tv); msg != "" {
			t.Errorf("tag_values[%d] %s %q: %s", i, tv.Tag, tv.Q, msg)
		}
	}
}

// checkTagValuesCase returns "" when the stand-in answers c as Tempo did.
func checkTagValuesCase(t *testing.T, h http.Handler, now time.Time, c corpusTagValues) string {
	v := url.Values{}
	v.Set("q", c.Q)
	v.Set("start", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10))
	v.Set("end", strconv.FormatInt(now.Unix(), 10))
	rec := corpusGet(h, "/api/v2/search/tag/"+c.Tag+"/values?"+v.Encode())
	if rec.Code != c.Status {
		return fmt.Sprintf("status %d, want %d", rec.Code, c.Status)
	}
	var resp struct{ TagValues []tagValue }
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, tv := range resp.TagValues {
		got = append(got, tv.Value)
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(c.Values)); !slices.Equal(got, want) {
		return fmt.Sprintf("\n got %q\nwant %q", got, want)
	}
	return ""
}

// TestCorpusCanFail mutates recorded answers and checks that the comparison
// notices each mutation.
func TestCorpusCanFail(t *testing.T) {
	c := loadCorpus(t)
	now := time.Now()
	h := corpusServer(t, now).Handler()
	find := func(q string) corpusSearch {
		for _, sc := range c.Search {
			if sc.Q == q {
				return sc
			}
		}
		t.Fatalf("no corpus case %q", q)
		return corpusSearch{}
	}
	clone := func(sc corpusSearch) corpusSearch {
		raw, _ := json.Marshal(sc)
		var out corpusSearch
		_ = json.Unmarshal(raw, &out)
		return out
	}
	mutations := map[string]func() corpusSearch{
		"matched count": func() corpusSearch {
			sc := clone(find(`{ } | count() > 2`))
			sc.Results[0].Matched[0]++
			return sc
		},
		"trace dropped": func() corpusSearch {
			sc := clone(find(`{ resource.tenant.id = "acme" } > { resource.tenant.id = "globex" }`))
			sc.Results = nil
			return sc
		},
		"secret value": func() corpusSearch {
			sc := clone(find(`{ } | select(span.partner.secret)`))
			for i := range sc.Results[0].Spans {
				delete(sc.Results[0].Spans[i].Attributes, "partner.secret")
			}
			return sc
		},
		"span missing": func() corpusSearch {
			sc := clone(find(`{ resource.service.name = "frontend" } ~ { span.http.method = "GET" }`))
			sc.Results[0].Spans = sc.Results[0].Spans[1:]
			return sc
		},
		"root service": func() corpusSearch {
			sc := clone(find(`{ trace:rootService = "shop" }`))
			sc.Results[0].RootServiceName = "partner-api"
			return sc
		},
		"span set split": func() corpusSearch {
			sc := clone(find(`{ } | by(resource.service.name)`))
			sc.Results[0].Matched = []int{2}
			return sc
		},
		"error text": func() corpusSearch {
			sc := clone(find(`{ foo }`))
			sc.Error += "x"
			return sc
		},
		"status": func() corpusSearch {
			sc := clone(find(`{ parent.name = "GET /mixed" }`))
			sc.Status = http.StatusOK
			return sc
		},
	}
	for name, mutate := range mutations {
		sc := mutate()
		if checkSearchCase(h, now, sc) == "" {
			t.Errorf("mutation %q of %q went unnoticed", name, sc.Q)
		}
	}
	tv := c.TagValues[3] // q that does not parse: the unfiltered list
	tv.Values = slices.DeleteFunc(slices.Clone(tv.Values), func(v string) bool { return v == "partner-api" })
	if checkTagValuesCase(t, h, now, tv) == "" {
		t.Errorf("tag values mutation of %q went unnoticed", tv.Q)
	}
}

// TestMixedTraceLeaks spells out the unconfined answers over the mixed trace
// that a gateway must prevent (the corpus holds them too).
func TestMixedTraceLeaks(t *testing.T) {
	c := loadCorpus(t)
	now := time.Now()
	h := corpusServer(t, now).Handler()
	search := func(q string) []corpusTrace {
		v := url.Values{"q": {q}, "limit": {"50"}, "spss": {"10"}}
		rec := corpusGet(h, "/api/search?"+v.Encode())
		got, err := toCorpus(rec.Body.Bytes())
		if rec.Code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %v", q, rec.Code, err)
		}
		return got
	}
	mixed := func(ts []corpusTrace) *corpusTrace {
		for i := range ts {
			if ts[i].TraceID == c.MixedTraceID {
				return &ts[i]
			}
		}
		return nil
	}
	secret := ""
	if m := mixed(search(`{ } | select(span.partner.secret)`)); m != nil {
		for _, sp := range m.Spans {
			secret += sp.Attributes["partner.secret"]
		}
	}
	if secret != "GLOBEX-ONLY" {
		t.Errorf("select(span.partner.secret) returned %q, want GLOBEX-ONLY", secret)
	}
	if m := mixed(search(`{ resource.tenant.id = "acme" } > { resource.tenant.id = "globex" }`)); m == nil {
		t.Error("acme > globex does not match the mixed trace")
	}
	if m := mixed(search(`{ trace:rootService = "shop" }`)); m == nil || m.Matched[0] != 2 {
		t.Errorf("trace:rootService = shop: %+v, want the mixed trace with both spans", m)
	}
	// trace:duration spans the foreign child: the root alone lasts 4ms, the trace 5ms.
	if m := mixed(search(`{ trace:duration > 4500us && resource.tenant.id = "acme" }`)); m == nil {
		t.Error("trace:duration does not include the foreign span")
	}
}

// TestConfinedForms evaluates the shapes a gateway's printer produces when it
// confines every spanset filter to one tenant: nothing stamped for globex
// comes back.
func TestConfinedForms(t *testing.T) {
	now := time.Now()
	h := corpusServer(t, now).Handler()
	tests := map[string]int{ // query -> traces expected
		`{ (true) && resource.tenant.id = "acme" } | select(span.partner.secret)`:                                            4,
		`{ (span.http.method = "GET" || status = error) && resource.tenant.id = "acme" }`:                                    4,
		`{ (span.partner.secret != nil) && (resource.tenant.id = "acme" || resource.tenant.id = "acme") }`:                   0,
		`{ (resource.tenant.id = "acme") && resource.tenant.id = "acme" } > { (true) && resource.tenant.id = "acme" }`:       3,
		`{ (span.http.status_code >= 500.0) && resource.tenant.id = "acme" } | count() > 1.0`:                                1,
		`{ (duration > 1500000ns) && resource.tenant.id = "acme" } | avg(duration) > 1.5ms`:                                  4,
		`({ (true) && resource.tenant.id = "acme" } | count() > 2) && ({ (status = error) && resource.tenant.id = "acme" })`: 1,
	}
	for q, want := range tests {
		v := url.Values{"q": {q}, "limit": {"50"}, "spss": {"100"}}
		rec := corpusGet(h, "/api/search?"+v.Encode())
		got, err := toCorpus(rec.Body.Bytes())
		if rec.Code != http.StatusOK || err != nil {
			t.Errorf("%s: %d %v %s", q, rec.Code, err, rec.Body.String())
			continue
		}
		if len(got) != want {
			t.Errorf("%s: %d traces, want %d", q, len(got), want)
		}
		for _, tr := range got {
			for _, sp := range tr.Spans {
				if strings.HasPrefix(sp.SpanID, "bbbbbbbb") || sp.Attributes["partner.secret"] != "" {
					t.Errorf("%s: returned the globex span %+v", q, sp)
				}
			}
		}
	}
}
