package standin

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
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

type attrKV struct {
	key string
	val pcommon.Value
}

type serviceStats struct {
	SpanCount  uint32 `json:"spanCount,omitempty"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

// searchParams are the parsed parameters of GET /api/search.
type searchParams struct {
	tr             timeRange
	q              *query
	tags           map[string]string
	minDur, maxDur time.Duration
	limit, spss    int
}

func parseSearchParams(r *http.Request) (*searchParams, *response) {
	p := &searchParams{limit: defaultLimit, spss: defaultSpss, tags: map[string]string{}}
	vals := r.URL.Query()
	tr, errResp := parseSearchRange(r)
	if errResp != nil {
		return nil, errResp
	}
	p.tr = tr
	qs := vals.Get("q")
	if qs != "" {
		if e := queryTooLarge(qs); e != nil {
			return nil, e
		}
		q, err := parse(qs)
		if err != nil {
			resp := badRequest("invalid TraceQL query: " + err.Error())
			return nil, &resp
		}
		p.q = q
	}
	tagsText := vals.Get("tags")
	if tagsText != "" {
		if qs != "" {
			resp := badRequest("invalid request: can't specify tags and q in the same query")
			return nil, &resp
		}
		tags, err := parseLogfmt(tagsText)
		if err != nil {
			resp := badRequest("invalid tags: " + err.Error())
			return nil, &resp
		}
		p.tags = tags
	}
	if v := vals.Get("minDuration"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			resp := badRequest("invalid minDuration: " + err.Error())
			return nil, &resp
		}
		p.minDur = d.Truncate(time.Millisecond)
	}
	if v := vals.Get("maxDuration"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			resp := badRequest("invalid maxDuration: " + err.Error())
			return nil, &resp
		}
		p.maxDur = d.Truncate(time.Millisecond)
		if p.minDur != 0 && p.minDur > p.maxDur {
			resp := badRequest("invalid maxDuration: must be greater than minDuration")
			return nil, &resp
		}
	}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			resp := badRequest("invalid limit: " + err.Error())
			return nil, &resp
		}
		if n <= 0 {
			resp := badRequest("invalid limit: must be a positive number")
			return nil, &resp
		}
		p.limit = n
	}
	if v := vals.Get("spss"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			resp := badRequest("invalid spss: " + err.Error())
			return nil, &resp
		}
		if n <= 0 {
			resp := badRequest("invalid spss: must be a positive number")
			return nil, &resp
		}
		p.spss = n
	}
	if e := tr.check(); e != nil {
		return nil, e
	}
	return p, nil
}

// search serves GET /api/search.
func (s *Server) search(r *http.Request, tenants []string) response {
	p, errResp := parseSearchParams(r)
	if errResp != nil {
		return *errResp
	}
	if p.limit > maxSearchLimit {
		return badRequestf("limit %d exceeds max limit %d", p.limit, maxSearchLimit)
	}
	if p.spss > maxSpansPerSet {
		return badRequestf("spans per span set exceeds %d. received %d", maxSpansPerSet, p.spss)
	}
	if e := p.tr.checkMax(); e != nil {
		return *e
	}
	startNs, endNs := s.window(p.tr)

	resp := &searchResponse{Traces: []*traceMetadata{}, Metrics: searchMetrics{CompletedJobs: 1, TotalJobs: 1}}
	seen := map[[16]byte]bool{}
	var pm ptrace.ProtoMarshaler
	if endNs > startNs {
		for _, sn := range s.snapshot(tenants, nil) {
			if seen[sn.id] {
				continue
			}
			sm := sn.summary()
			if !sm.overlaps(startNs, endNs) {
				continue
			}
			resp.Metrics.InspectedTraces++
			for _, rs := range sn.batches {
				resp.Metrics.InspectedBytes += uint64(pm.ResourceSpansSize(rs))
			}
			dur := time.Duration(sm.end - sm.start)
			if p.minDur > 0 && dur < p.minDur || p.maxDur > 0 && dur > p.maxDur {
				continue
			}
			md := &traceMetadata{
				TraceID:           traceIDString(sn.id),
				RootServiceName:   sm.rootService,
				RootTraceName:     sm.rootName,
				StartTimeUnixNano: sm.start,
				DurationMs:        uint32((sm.end - sm.start) / 1e6),
			}
			switch {
			case p.q != nil:
				if !fillSpanSet(md, sn, sm, p.q, p.spss) {
					continue
				}
			case len(p.tags) > 0:
				if !matchTags(sn, p.tags) {
					continue
				}
			}
			seen[sn.id] = true
			resp.Traces = append(resp.Traces, md)
		}
	}
	sort.SliceStable(resp.Traces, func(i, j int) bool {
		a, b := resp.Traces[i], resp.Traces[j]
		if a.StartTimeUnixNano != b.StartTimeUnixNano {
			return a.StartTimeUnixNano > b.StartTimeUnixNano
		}
		return a.TraceID < b.TraceID
	})
	if len(resp.Traces) > p.limit {
		resp.Traces = resp.Traces[:p.limit]
	}
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
			var attrs []attrKV
			out.Name, attrs = t.output(i, q)
			for _, a := range attrs {
				out.Attributes = append(out.Attributes, kvJSON{Key: a.key, Value: anyValueJSON(a.val)})
			}
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

// parseLogfmt is a minimal logfmt decoder: space separated key=value pairs,
// values optionally double-quoted with Go escapes, a bare key has value "".
func parseLogfmt(s string) (map[string]string, error) {
	out := map[string]string{}
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			if s[i] == '"' {
				return nil, fmt.Errorf("unexpected '\"' at pos %d", i+1)
			}
			i++
		}
		key := s[start:i]
		if key == "" {
			return nil, fmt.Errorf("unexpected '=' at pos %d", i+1)
		}
		val := ""
		if i < len(s) && s[i] == '=' {
			i++
			if i < len(s) && s[i] == '"' {
				j := i + 1
				for j < len(s) && s[j] != '"' {
					if s[j] == '\\' {
						j++
					}
					j++
				}
				if j >= len(s) {
					return nil, errors.New("unterminated quoted value at pos " + strconv.Itoa(len(s)+1))
				}
				v, err := strconv.Unquote(s[i : j+1])
				if err != nil {
					return nil, fmt.Errorf("invalid quoted value at pos %d", i+1)
				}
				val = v
				i = j + 1
			} else {
				vs := i
				for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
					i++
				}
				val = s[vs:i]
			}
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("tag %s has been set twice", key)
		}
		out[key] = val
	}
}
