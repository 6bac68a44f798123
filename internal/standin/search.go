package standin

import (
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-logfmt/logfmt"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type searchResponse struct {
	Traces  []*traceMetadata `json:"traces"`
	Metrics searchMetrics    `json:"metrics"`
}

type searchMetrics struct {
	InspectedTraces uint32 `json:"inspectedTraces,omitempty"`
	InspectedBytes  uint64 `json:"inspectedBytes,omitempty,string"`
	CompletedJobs   uint32 `json:"completedJobs,omitempty"`
	TotalJobs       uint32 `json:"totalJobs,omitempty"`
}

type traceMetadata struct {
	TraceID           string                   `json:"traceID,omitempty"`
	RootServiceName   string                   `json:"rootServiceName,omitempty"`
	RootTraceName     string                   `json:"rootTraceName,omitempty"`
	StartTimeUnixNano uint64                   `json:"startTimeUnixNano,omitempty,string"`
	DurationMs        uint32                   `json:"durationMs,omitempty"`
	SpanSet           *spanSet                 `json:"spanSet,omitempty"`
	SpanSets          []*spanSet               `json:"spanSets,omitempty"`
	ServiceStats      map[string]*serviceStats `json:"serviceStats,omitempty"`
}

type spanSet struct {
	Spans   []*searchSpan `json:"spans,omitempty"`
	Matched uint32        `json:"matched,omitempty"`
}

type searchSpan struct {
	SpanID            string   `json:"spanID,omitempty"`
	Name              string   `json:"name,omitempty"`
	StartTimeUnixNano uint64   `json:"startTimeUnixNano,omitempty,string"`
	DurationNanos     uint64   `json:"durationNanos,omitempty,string"`
	Attributes        []kvJSON `json:"attributes,omitempty"`
}

type kvJSON struct {
	Key   string `json:"key,omitempty"`
	Value any    `json:"value"`
}

type serviceStats struct {
	SpanCount  uint32 `json:"spanCount,omitempty"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

// search serves GET /api/search.
func (s *Server) search(r *http.Request, tenants []string) (response, error) {
	startNs, endNs, err := s.searchRange(r)
	if err != nil {
		return response{}, err
	}
	vals := r.URL.Query()
	var q *query
	if qs := vals.Get("q"); qs != "" {
		if q, err = parseQuery(qs, "invalid TraceQL query: "); err != nil {
			return response{}, err
		}
	}
	tags := map[string]string{}
	if v := vals.Get("tags"); v != "" {
		if q != nil {
			return response{}, badRequestError("invalid request: can't specify tags and q in the same query")
		}
		// Tempo reads tags with go-logfmt, too.
		dec := logfmt.NewDecoder(strings.NewReader(v))
		for dec.ScanRecord() {
			for dec.ScanKeyval() {
				if _, dup := tags[string(dec.Key())]; dup {
					return response{}, badRequestf("invalid tags: tag %s has been set twice", dec.Key())
				}
				tags[string(dec.Key())] = string(dec.Value())
			}
		}
		if err := dec.Err(); err != nil {
			return response{}, badRequestf("invalid tags: %s", err)
		}
	}
	var dur [2]time.Duration
	for i, name := range []string{"minDuration", "maxDuration"} {
		if v := vals.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return response{}, badRequestf("invalid %s: %s", name, err)
			}
			dur[i] = d.Truncate(time.Millisecond)
		}
	}
	if dur[0] != 0 && dur[1] != 0 && dur[0] > dur[1] {
		return response{}, badRequestError("invalid maxDuration: must be greater than minDuration")
	}
	limit, spss := 20, 3
	for _, p := range []struct {
		name string
		dst  *int
		max  int
		text string
	}{{"limit", &limit, 262144, "limit %d exceeds max limit %d"}, {"spss", &spss, 100, "spans per span set exceeds %[2]d. received %[1]d"}} {
		if v := vals.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				return response{}, badRequestf("invalid %s: %s", p.name, err)
			case n <= 0:
				return response{}, badRequestf("invalid %s: must be a positive number", p.name)
			case n > p.max:
				return response{}, badRequestf(p.text, n, p.max)
			}
			*p.dst = n
		}
	}

	resp := &searchResponse{Traces: []*traceMetadata{}, Metrics: searchMetrics{CompletedJobs: 1, TotalJobs: 1}}
	seen := map[[16]byte]bool{}
	var pm ptrace.ProtoMarshaler
	for _, sn := range s.snapshot(tenants, nil) {
		sm := sn.summary()
		if seen[sn.id] || endNs <= startNs || !sm.overlaps(startNs, endNs) {
			continue
		}
		resp.Metrics.InspectedTraces++
		for _, rs := range sn.batches {
			resp.Metrics.InspectedBytes += uint64(pm.ResourceSpansSize(rs))
		}
		d := time.Duration(sm.end - sm.start)
		if dur[0] > 0 && d < dur[0] || dur[1] > 0 && d > dur[1] {
			continue
		}
		md := &traceMetadata{
			TraceID:           traceIDString(sn.id),
			RootServiceName:   sm.rootService,
			RootTraceName:     sm.rootName,
			StartTimeUnixNano: sm.start,
			DurationMs:        uint32(d.Milliseconds()),
		}
		if q != nil && !fillSpanSet(md, sn, sm, q, spss) || q == nil && !matchTags(sn, tags) {
			continue
		}
		seen[sn.id] = true
		resp.Traces = append(resp.Traces, md)
	}
	sort.SliceStable(resp.Traces, func(i, j int) bool {
		a, b := resp.Traces[i], resp.Traces[j]
		if a.StartTimeUnixNano != b.StartTimeUnixNano {
			return a.StartTimeUnixNano > b.StartTimeUnixNano
		}
		return a.TraceID < b.TraceID
	})
	resp.Traces = resp.Traces[:min(limit, len(resp.Traces))]
	return jsonResponse(resp)
}

// fillSpanSet evaluates q over the trace and, when a span set remains, fills
// the span sets (the first spss spans of each, with the attributes Tempo
// reports) and the service statistics of md.
func fillSpanSet(md *traceMetadata, sn traceSnap, sm summary, q *query, spss int) bool {
	t := newTraceCtx(sn, sm)
	sets := t.eval(q.root, t.all())
	if len(sets) == 0 {
		return false
	}
	stats := map[string]*serviceStats{}
	for _, n := range t.spans {
		svc := ""
		if v, ok := n.res.Attributes().Get("service.name"); ok {
			svc = v.AsString()
		}
		st := stats[svc]
		if st == nil {
			st = &serviceStats{}
			stats[svc] = st
		}
		st.SpanCount++
		if n.span.Status().Code() == ptrace.StatusCodeError {
			st.ErrorCount++
		}
	}
	for _, set := range sets {
		ss := &spanSet{Matched: uint32(len(set))}
		for _, i := range set[:min(spss, len(set))] {
			sp := t.spans[i].span
			sid := sp.SpanID()
			out := &searchSpan{
				SpanID:            hex.EncodeToString(sid[:]),
				StartTimeUnixNano: uint64(sp.StartTimestamp()),
				DurationNanos:     uint64(spanDuration(sp)),
			}
			out.Name, out.Attributes = t.output(i, q)
			ss.Spans = append(ss.Spans, out)
		}
		md.SpanSets = append(md.SpanSets, ss)
	}
	md.SpanSet = md.SpanSets[0]
	md.ServiceStats = stats
	return true
}

// matchTags reports whether one span of the trace satisfies every tag:
// "name" is the span name, "status.code" the status (unset|ok|error),
// "error=true" an error status, anything else a span or resource attribute
// whose value, as text, equals the tag value.
func matchTags(sn traceSnap, tags map[string]string) bool {
	found := false
	sn.forEachSpan(func(r spanRef) {
		if found {
			return
		}
		for k, v := range tags {
			if !tagMatches(r, k, v) {
				return
			}
		}
		found = true
	})
	return found
}

func tagMatches(r spanRef, k, v string) bool {
	switch k {
	case "name":
		return r.span.Name() == v
	case "status.code":
		return spanStatus(r.span) == v
	case "error":
		return v == "true" && r.span.Status().Code() == ptrace.StatusCodeError
	}
	if a, ok := r.span.Attributes().Get(k); ok && a.AsString() == v {
		return true
	}
	if a, ok := r.res.Attributes().Get(k); ok && a.AsString() == v {
		return true
	}
	return false
}
