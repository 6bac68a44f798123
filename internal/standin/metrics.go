package standin

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// TraceQL metrics: rate() and count_over_time(), optionally by() fields, over
// the spans the query's spansets match, in Tempo's JSON: a series per label
// set, samples aligned to the step, a zero sample without "value".

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

func (s *Server) metrics(r *http.Request, tenants []string, instant bool) (response, error) {
	vals := r.URL.Query()
	q, err := parseQuery(vals.Get("q"), "")
	switch {
	case err != nil:
		return response{}, err
	case q.metricsFn == "":
		return response{}, badRequestError("not a metrics query")
	case q.metricsFn != "rate" && q.metricsFn != "count_over_time":
		return response{}, badRequestf("the Tempo stand-in does not compute %s()", q.metricsFn)
	}
	start, end, err := s.metricsRange(vals)
	if err != nil {
		return response{}, err
	}
	step, buckets := time.Duration(end-start), 1
	if !instant {
		if step, err = metricsStep(vals.Get("step"), step); err != nil {
			return response{}, err
		}
		start -= start % uint64(step)
		buckets = int((end-start)/uint64(step)) + 1
	}
	counts := map[string][]float64{}
	labels := map[string][]metricsLabel{}
	for _, sn := range s.snapshot(tenants, nil) {
		sm := sn.summary()
		if !sm.overlaps(start, end) {
			continue
		}
		t := newTraceCtx(sn, sm)
		for _, i := range flatten(t.eval(q.root, t.all())) {
			ts := uint64(t.spans[i].span.StartTimestamp())
			if ts < start || ts >= end {
				continue
			}
			ls := seriesLabels(t, i, q)
			k, _ := json.Marshal(ls)
			if counts[string(k)] == nil {
				counts[string(k)], labels[string(k)] = make([]float64, buckets), ls
			}
			counts[string(k)][int((ts-start)/uint64(step))%buckets]++
		}
	}
	resp := metricsResponse{Series: []*metricsSeries{}}
	resp.Metrics.CompletedJobs, resp.Metrics.TotalJobs = 1, 1
	scale := 1.0
	if q.metricsFn == "rate" {
		scale = 1 / step.Seconds()
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		se := &metricsSeries{Labels: labels[k]}
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

// metricsRange reads since, or start and end (unix seconds, or nanoseconds
// with more than 10 digits), and returns the window in nanoseconds, the end
// clamped to the cutoff.
func (s *Server) metricsRange(vals url.Values) (uint64, uint64, error) {
	now := s.clock()
	limit := now.Add(-s.cutoff).UnixNano()
	window := [2]int64{now.Add(-time.Hour).UnixNano(), limit}
	if v := vals.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, 0, badRequestf("invalid since: %s", err)
		}
		window[0] = now.Add(-d).UnixNano()
	}
	for i, name := range []string{"start", "end"} {
		if v := vals.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, 0, badRequestf("invalid %s: %s", name, err)
			}
			if len(v) <= 10 {
				n *= int64(time.Second)
			}
			window[i] = n
		}
	}
	start, end := window[0], min(window[1], limit)
	switch {
	case end <= start:
		return 0, 0, badRequestError("end must be greater than start")
	case time.Duration(end-start) > maxMetricsRange:
		return 0, 0, badRequestf("metrics query time range exceeds the maximum allowed duration of %s", maxMetricsRange)
	}
	return uint64(start), uint64(end), nil
}

// metricsStep reads step (a duration or seconds); the default is about
// range/240, as Tempo's.
func metricsStep(v string, rng time.Duration) (time.Duration, error) {
	if v == "" {
		return max(rng/240, time.Second).Truncate(time.Second), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0, badRequestf("invalid step: %s", err)
		}
		d = time.Duration(f * float64(time.Second))
	}
	switch {
	case d <= 0:
		return 0, badRequestError("step must be positive")
	case rng/d > 10000:
		return 0, badRequestf("step of %s is too small, minimum step for given range is %s", d, rng/10000)
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
		key := f.intrinsic // Tempo's label name
		if key == "" {
			key = f.scope + "." + f.name
		}
		out = append(out, metricsLabel{Key: key, Value: v})
	}
	return out
}
