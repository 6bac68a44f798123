package standin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Golden tests of the compat-* recordings (made on 2026-12-01 for the
// Tempo-compatible mount, with the same traces ingested again a few seconds
// before). The stand-in is seeded with the
// ingested traces moved to that day and its clock pinned there; absolute
// times (startTimeUnixNano, endTimeUnixNano, timeUnixNano) are left out of
// the comparison, since each trace was ingested with its own fresh "now".
//
// TraceQL metrics cannot be compared value for value: real Tempo answered
// most of them from an empty or partly filled store (empty or zero series
// seconds after ingestion, see the fixtures' README), and computes functions
// the stand-in does not (compare(), quantile_over_time()). Those fixtures are
// checked for what the stand-in does reproduce, each with its reason below.

// compatNow is the compat recordings' "now" (their window ends at 1796142405).
var compatNow = time.Unix(1796142440, 0).UTC()

// compatShift moves the ingested traces to the compat recording: checkout
// started at 1795698185089553854 and, recorded again, at 1796142336789540493.
const compatShift = 1796142336789540493 - 1795698185089553854

// compatExact are compared as TestGolden compares (times left out).
var compatExact = []string{
	"compat-echo.json",
	"compat-metrics-bad-query.json",
	"compat-metrics-search-query.json",
	"compat-trace-v2-protobuf-notfound.json",
	"compat-search-logfmt-tags.json",
	"compat-search-tags-v1.json",
	"compat-search-tags-v2-scope.json",
	"compat-tag-values-v1.json",
	"compat-trace-v2-filtered.json",
	"compat-trace-v2-filtered-hierarchy.json",
}

// compatMetricsShape are metrics answers compared by shape: status, content
// type, and series of the recorded kind (samples for a range, one value for
// an instant query) labelled with the recorded label keys.
var compatMetricsShape = map[string]string{
	"compat-metrics-count.json":      "Tempo's samples were all zero seconds after ingestion; the stand-in counts the spans",
	"compat-metrics-rate.json":       "as compat-metrics-count",
	"compat-metrics-instant-by.json": "Tempo's values are rates over its own (cutoff-clamped) window",
}

// compatUnsupported are metrics functions the stand-in does not compute: it
// answers 400 naming the function.
var compatUnsupported = map[string]string{
	"compat-metrics-compare.json":  "compare",
	"compat-metrics-quantile.json": "quantile_over_time",
	"compat-metrics-rate-by.json":  "", // rate() by: computed, but Tempo's series were still empty
}

func TestGoldenCompat(t *testing.T) {
	s := New(func() time.Time { return compatNow })
	ingestFiles(t, s, nil, func(pcommon.Timestamp) int64 { return compatShift })
	h := s.Handler()
	names, _ := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	covered := 0
	for _, path := range names {
		name := filepath.Base(path)
		if !compatRecording(name) {
			continue
		}
		covered++
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			f := loadFixture(t, name)
			rec := replay(h, f)
			switch fn, unsupported := compatUnsupported[name]; {
			case unsupported && fn != "":
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), fn) {
					t.Fatalf("want 400 naming %s, got %d %q", fn, rec.Code, rec.Body)
				}
				return
			case unsupported:
				if rec.Code != f.Response.Status || !strings.Contains(rec.Body.String(), `"series":[`) {
					t.Fatalf("got %d %q", rec.Code, rec.Body)
				}
				return
			}
			if reason, ok := compatMetricsShape[name]; ok {
				t.Logf("shape only: %s", reason)
				checkMetricsShape(t, f, rec)
				return
			}
			f.Response.Body, f.Response.BodyBase64 = dropTimes(t, f.body(t)), ""
			if d := compareResponse(f, rec.Code, rec.Header(), []byte(*dropTimes(t, rec.Body.Bytes()))); d != "" {
				t.Fatalf("%s:\n%s", name, d)
			}
		})
	}
	if want := len(compatExact) + len(compatMetricsShape) + len(compatUnsupported); covered != want {
		t.Errorf("%d compat recordings, %d listed here", covered, want)
	}
}

// dropTimes removes absolute times from a JSON body (other bodies are
// returned as they are).
func dropTimes(t *testing.T, b []byte) *string {
	t.Helper()
	v, err := decodeJSON(b)
	if err != nil {
		s := string(b)
		return &s
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano"} {
				delete(x, k)
			}
			for _, val := range x {
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	return &s
}

// checkMetricsShape compares a metrics answer with the recording by shape.
func checkMetricsShape(t *testing.T, f *fixture, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != f.Response.Status || rec.Header().Get("Content-Type") != f.Response.Headers["Content-Type"] {
		t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Header().Get("Content-Type"), f.Response.Status, f.Response.Headers["Content-Type"])
	}
	type series struct {
		Labels []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"labels"`
		Samples []struct {
			TimestampMs string `json:"timestampMs"`
		} `json:"samples"`
		Value *float64 `json:"value"`
	}
	var want, got struct {
		Series  []series        `json:"series"`
		Metrics json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(f.body(t), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Series) == 0 || got.Metrics == nil {
		t.Fatalf("no series or no metrics block: %s", rec.Body)
	}
	instant := strings.Contains(f.Request.Path, "/api/metrics/query?")
	keys := map[string]bool{}
	for _, s := range want.Series {
		for _, l := range s.Labels {
			keys[l.Key] = true
		}
	}
	for _, s := range got.Series {
		if instant != (s.Value != nil) || instant != (len(s.Samples) == 0) {
			t.Errorf("series %+v: instant %t", s, instant)
		}
		for _, l := range s.Labels {
			if len(keys) > 0 && !keys[l.Key] {
				t.Errorf("label %q not among the recorded %v", l.Key, keys)
			}
		}
	}
}

// The stand-in's metrics count the spans the query's spansets match.
func TestMetricsCounts(t *testing.T) {
	h := seededServer(t).Handler()
	q := `{ trace:id = "4bf92f3577b34da6a3ce929d0e0e4736" } | count_over_time() by (resource.service.name)`
	rec := get(t, h, "acme", "/api/metrics/query?start=1795698000&end=1795698209&q="+url.QueryEscape(q))
	want := `{"series":[` +
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"checkout"}}],"value":3},` +
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"frontend"}}],"value":3},` +
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"payments"}}],"value":3}],` +
		`"metrics":{"completedJobs":1,"totalJobs":1}}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("%d %s\nwant %s", rec.Code, rec.Body, want)
	}
	rec = get(t, h, "acme", "/api/metrics/query_range?step=60s&start=1795698000&end=1795698209&q="+url.QueryEscape(`{ trace:id = "4bf92f3577b34da6a3ce929d0e0e4736" } | rate()`))
	var got metricsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Series) != 1 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var total float64
	for _, s := range got.Series[0].Samples {
		total += s.Value * 60
	}
	if total < 8.99 || total > 9.01 || len(got.Series[0].Samples) != 4 {
		t.Errorf("rate over %d samples sums to %v spans, want 9: %s", len(got.Series[0].Samples), total, rec.Body)
	}
	if rec := get(t, h, "globex", "/api/metrics/query?q="+url.QueryEscape(q)); rec.Code != 200 || strings.Contains(rec.Body.String(), "checkout") {
		t.Errorf("another tenant counts acme's spans: %s", rec.Body)
	}
}
