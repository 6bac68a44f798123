package standin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// TraceQL metrics (GET /api/metrics/query_range and /api/metrics/query):
// the stand-in evaluates rate() and count_over_time(), optionally by() one
// or more fields, over the spans the query's spanset part matches. Other
// metrics functions parse but are answered 400 (Tempo computes them; the
// stand-in does not). Answers use Tempo's JSON: a series per label set,
// samples aligned to the step, a zero sample without "value".

type metricsLabel struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type metricsSample struct {
	TimestampMs int64   `json:"timestampMs,string"`
	Value       float64 `json:"value,omitempty"`
}

type metricsSeries struct {
	Labels  []metricsLabel  `json:"labels"`
	Samples []metricsSample `json:"samples,omitempty"`
	Value   *float64        `json:"value,omitempty"`
}

type metricsResponse struct {
	Series  []*metricsSeries `json:"series"`
	Metrics struct {
		CompletedJobs uint32 `json:"completedJobs"`
		TotalJobs     uint32 `json:"totalJobs"`
	} `json:"metrics"`
}

const maxMetricsRange = 24 * time.Hour

func (s *Server) metrics(r *http.Request, tenants []string, instant bool) response {
	vals := r.URL.Query()
	text := vals.Get("q")
	if e := queryTooLarge(text); e != nil {
		return *e
	}
	q, err := parse(text)
	if err != nil {
		return badRequest(err.Error())
	}
	if q.metricsFn == "" {
		return badRequest("not a metrics query")
	}
	if q.metricsFn != "rate" && q.metricsFn != "count_over_time" {
		return badRequestf("the Tempo stand-in does not compute %s()", q.metricsFn)
	}
	start, end, errResp := s.metricsRange(vals)
	if errResp != nil {
		return *errResp
	}
	step := time.Duration(end - start)
	if !instant {
		if step, errResp = metricsStep(vals.Get("step"), time.Duration(end-start)); errResp != nil {
			return *errResp
		}
		start -= start % uint64(step)
	}
	buckets := int((end-start)/uint64(step)) + 1
	if instant {
		buckets = 1
	}
	counts := map[string][]float64{}
	labels := map[string][]metricsLabel{}
	for _, sn := range s.snapshot(tenants, nil) {
		sm := sn.summary()
		if !sm.overlaps(start, end) {
			continue
		}
		t := newTraceCtx(sn, sm)
		seen := map[int]bool{}
		for _, set := range t.eval(q.root, t.all()) {
			for _, i := range set {
				ts := uint64(t.spans[i].span.StartTimestamp())
				if seen[i] || ts < start || ts >= end {
					continue
				}
				seen[i] = true
				ls := seriesLabels(t, i, q)
				k, _ := json.Marshal(ls)
				key := string(k)
				if counts[key] == nil {
					counts[key] = make([]float64, buckets)
					labels[key] = ls
				}
				counts[key][int((ts-start)/uint64(step))%buckets]++
			}
		}
	}
	resp := metricsResponse{Series: []*metricsSeries{}}
	resp.Metrics.CompletedJobs, resp.Metrics.TotalJobs = 1, 1
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		se := &metricsSeries{Labels: labels[k]}
		scale := 1.0
		if q.metricsFn == "rate" {
			scale = 1 / step.Seconds()
		}
		if instant {
			v := counts[k][0] * scale
			se.Value = &v
		} else {
			for b, n := range counts[k] {
				se.Samples = append(se.Samples, metricsSample{TimestampMs: int64(start/1e6) + int64(b)*step.Milliseconds(), Value: n * scale})
			}
		}
		resp.Series = append(resp.Series, se)
	}
	return jsonResponse(resp)
}

// metricsRange reads start/end (unix seconds, or nanoseconds with more than
// 10 digits) or since, and returns the window in nanoseconds, end clamped to
// the cutoff as Tempo does.
func (s *Server) metricsRange(vals url.Values) (uint64, uint64, *response) {
	get := vals.Get
	now := s.clock()
	end := now.Add(-s.cutoff).UnixNano()
	start := now.Add(-time.Hour).UnixNano()
	if v := get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			resp := badRequest("invalid since: " + err.Error())
			return 0, 0, &resp
		}
		start = now.Add(-d).UnixNano()
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"start", &start}, {"end", &end}} {
		v := get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			resp := badRequestf("invalid %s: %s", p.name, err)
			return 0, 0, &resp
		}
		if len(v) <= 10 {
			n *= int64(time.Second)
		}
		if p.name == "end" {
			n = min(n, now.Add(-s.cutoff).UnixNano())
		}
		*p.dst = n
	}
	if end <= start {
		resp := badRequest("end must be greater than start")
		return 0, 0, &resp
	}
	if time.Duration(end-start) > maxMetricsRange {
		resp := badRequestf("metrics query time range exceeds the maximum allowed duration of %s", maxMetricsRange)
		return 0, 0, &resp
	}
	return uint64(start), uint64(end), nil
}

// metricsStep reads step (a duration or seconds); the default is about
// range/240, as Tempo's.
func metricsStep(v string, rng time.Duration) (time.Duration, *response) {
	if v == "" {
		return max(rng/240, time.Second).Truncate(time.Second), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			resp := badRequest("invalid step: " + err.Error())
			return 0, &resp
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		resp := badRequest("step must be positive")
		return 0, &resp
	}
	if rng/d > 10000 {
		resp := badRequestf("step of %s is too small, minimum step for given range is %s", d, rng/10000)
		return 0, &resp
	}
	return d, nil
}

// seriesLabels are the labels of span i's series: its by() fields, or the
// function's name.
func seriesLabels(t *traceCtx, i int, q *query) []metricsLabel {
	if len(q.metricsBy) == 0 {
		return []metricsLabel{{Key: "__name__", Value: map[string]string{"stringValue": q.metricsFn}}}
	}
	out := make([]metricsLabel, 0, len(q.metricsBy))
	for _, f := range q.metricsBy {
		var v any = map[string]any{}
		if pv, ok := t.outputValue(i, f); ok {
			v = anyValueJSON(pv)
		}
		out = append(out, metricsLabel{Key: fieldText(f), Value: v})
	}
	return out
}

// fieldText prints a field as Tempo names it in series labels.
func fieldText(f field) string {
	switch {
	case f.intrinsic != "":
		return f.intrinsic
	case f.scope == "":
		return "." + f.name
	}
	return f.scope + "." + f.name
}
