package standin

import (
	"net/http"
	"slices"
	"sort"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type metadataMetrics struct {
	InspectedBytes uint64 `json:"inspectedBytes,omitempty,string"`
}

type tagsV1Response struct {
	TagNames []string        `json:"tagNames"`
	Metrics  metadataMetrics `json:"metrics"`
}

type tagsV2Response struct {
	Scopes  []tagScope      `json:"scopes"`
	Metrics metadataMetrics `json:"metrics"`
}

type tagScope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagValuesV1Response struct {
	TagValues []string        `json:"tagValues"`
	Metrics   metadataMetrics `json:"metrics"`
}

type tagValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type tagValuesV2Response struct {
	TagValues []tagValue      `json:"tagValues"`
	Metrics   metadataMetrics `json:"metrics"`
}

var validScopes = map[string]bool{
	"": true, "resource": true, "span": true, "intrinsic": true, "event": true, "link": true, "instrumentation": true,
}

// tagRequest holds what the tag and tag-value endpoints have in common.
type tagRequest struct {
	tenants []string
	filter  *filter // nil: every span
	limit   int
	startNs uint64
	endNs   uint64
}

// parseTagRequest parses start, end, q and limit and resolves the tenants.
// A q that does not parse is ignored, as Tempo does for autocomplete.
func (s *Server) parseTagRequest(r *http.Request, org string) (*tagRequest, *response) {
	tr, errResp := parseSearchRange(r)
	if errResp != nil {
		return nil, errResp
	}
	if e := tr.check(); e != nil {
		return nil, e
	}
	vals := r.URL.Query()
	req := &tagRequest{}
	if qs := vals.Get("q"); qs != "" {
		if e := queryTooLarge(qs); e != nil {
			return nil, e
		}
		// Like Tempo (traceql.ExtractConditions), the filter is best effort: a
		// q that does not parse, or whose conditions are joined with ||, is
		// silently ignored and the unfiltered list is returned.
		if q, err := parse(qs); err == nil {
			req.filter = conditionsOnly(q)
		}
	}
	req.limit, _ = strconv.Atoi(vals.Get("limit"))
	tenants, err := resolveTenants(org)
	if err != nil {
		resp := badRequest(err.Error())
		return nil, &resp
	}
	req.tenants = tenants
	if e := tr.checkMax(); e != nil {
		return nil, e
	}
	req.startNs, req.endNs = s.window(tr)
	return req, nil
}

// eachSpan calls fn for every span of the request's tenants that lies in the
// window and matches the filter; sn is the span's trace.
func (s *Server) eachSpan(req *tagRequest, fn func(sn traceSnap, sm summary, r spanRef)) uint64 {
	var inspected uint64
	if req.endNs <= req.startNs {
		return 0
	}
	var pm ptrace.ProtoMarshaler
	for _, sn := range s.snapshot(req.tenants) {
		sm := sn.summary()
		if !sm.overlaps(req.startNs, req.endNs) {
			continue
		}
		for _, rs := range sn.batches {
			inspected += uint64(pm.ResourceSpansSize(rs))
		}
		if req.filter == nil {
			sn.forEachSpan(func(r spanRef) { fn(sn, sm, r) })
			continue
		}
		t := newTraceCtx(sn, sm)
		for i := range t.spans {
			if t.matches(i, req.filter) {
				fn(sn, sm, t.spans[i].spanRef)
			}
		}
	}
	return inspected
}

type nameSet map[string]struct{}

func (n nameSet) addKeys(m pcommon.Map) {
	for k := range m.All() {
		n[k] = struct{}{}
	}
}

func (n nameSet) sorted(limit int) []string {
	out := make([]string, 0, len(n))
	for k := range n {
		out = append(out, k)
	}
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// collectTagNames gathers attribute names per scope.
func (s *Server) collectTagNames(req *tagRequest) (map[string]nameSet, uint64) {
	names := map[string]nameSet{
		"resource": {}, "span": {}, "event": {}, "link": {}, "instrumentation": {},
	}
	inspected := s.eachSpan(req, func(_ traceSnap, _ summary, r spanRef) {
		names["resource"].addKeys(r.res.Attributes())
		names["span"].addKeys(r.span.Attributes())
		names["instrumentation"].addKeys(r.scope.Attributes())
		for i := 0; i < r.span.Events().Len(); i++ {
			names["event"].addKeys(r.span.Events().At(i).Attributes())
		}
		for i := 0; i < r.span.Links().Len(); i++ {
			names["link"].addKeys(r.span.Links().At(i).Attributes())
		}
	})
	return names, inspected
}

// tagsV2 serves GET /api/v2/search/tags.
func (s *Server) tagsV2(r *http.Request, org string) response {
	scope := r.URL.Query().Get("scope")
	if !validScopes[scope] {
		return badRequest("invalid scope: " + scope)
	}
	req, errResp := s.parseTagRequest(r, org)
	if errResp != nil {
		return *errResp
	}
	names, inspected := s.collectTagNames(req)
	resp := tagsV2Response{Scopes: []tagScope{}, Metrics: metadataMetrics{InspectedBytes: inspected}}
	switch scope {
	case "intrinsic":
		resp.Scopes = append(resp.Scopes, tagScope{Name: "intrinsic", Tags: intrinsicTags(req.limit)})
	case "":
		for _, sc := range []string{"resource", "span", "event", "link", "instrumentation"} {
			if (sc == "resource" || sc == "span") || len(names[sc]) > 0 {
				resp.Scopes = append(resp.Scopes, tagScope{Name: sc, Tags: names[sc].sorted(req.limit)})
			}
		}
		resp.Scopes = append(resp.Scopes, tagScope{Name: "intrinsic", Tags: intrinsicTags(req.limit)})
	default:
		resp.Scopes = append(resp.Scopes, tagScope{Name: scope, Tags: names[scope].sorted(req.limit)})
	}
	return jsonResponse(resp)
}

func intrinsicTags(limit int) []string {
	out := slices.Clone(intrinsicNames)
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// tagsV1 serves GET /api/search/tags: resource and span attribute names
// (or one scope's names with ?scope=).
func (s *Server) tagsV1(r *http.Request, org string) response {
	scope := r.URL.Query().Get("scope")
	if !validScopes[scope] {
		return badRequest("invalid scope: " + scope)
	}
	req, errResp := s.parseTagRequest(r, org)
	if errResp != nil {
		return *errResp
	}
	req.filter = nil // v1 has no q
	names, inspected := s.collectTagNames(req)
	var tags []string
	switch scope {
	case "intrinsic":
		tags = intrinsicTags(req.limit)
	case "":
		all := nameSet{}
		for k := range names["resource"] {
			all[k] = struct{}{}
		}
		for k := range names["span"] {
			all[k] = struct{}{}
		}
		tags = all.sorted(req.limit)
	default:
		tags = names[scope].sorted(req.limit)
	}
	return jsonResponse(tagsV1Response{TagNames: tags, Metrics: metadataMetrics{InspectedBytes: inspected}})
}

// typedValues reports Tempo's tag value type and text of an attribute value
// (of each element for arrays).
func typedValues(v pcommon.Value, add func(typ, val string)) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		add("string", v.Str())
	case pcommon.ValueTypeInt:
		add("int", strconv.FormatInt(v.Int(), 10))
	case pcommon.ValueTypeDouble:
		add("float", strconv.FormatFloat(v.Double(), 'g', -1, 64))
	case pcommon.ValueTypeBool:
		add("bool", strconv.FormatBool(v.Bool()))
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			typedValues(sl.At(i), add)
		}
	}
}

// tagValuesV2 serves GET /api/v2/search/tag/{tag}/values.
func (s *Server) tagValuesV2(r *http.Request, org, tag string) response {
	f, scope, err := parseIdentifier(tag)
	if err != nil {
		return badRequestf("please provide a valid tagName: failed to parse identifier %s: %s", tag, err.Error())
	}
	req, errResp := s.parseTagRequest(r, org)
	if errResp != nil {
		return *errResp
	}
	set := map[tagValue]struct{}{}
	add := func(typ, val string) { set[tagValue{Type: typ, Value: val}] = struct{}{} }
	inspected := s.eachSpan(req, func(_ traceSnap, sm summary, sr spanRef) {
		valuesOf(sr, sm, scope, f.name, add)
	})
	out := make([]tagValue, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value < out[j].Value
		}
		return out[i].Type < out[j].Type
	})
	if req.limit > 0 && len(out) > req.limit {
		out = out[:req.limit]
	}
	return jsonResponse(tagValuesV2Response{TagValues: out, Metrics: metadataMetrics{InspectedBytes: inspected}})
}

// valuesOf reports the values of one tag on one span.
func valuesOf(r spanRef, sm summary, scope, name string, add func(typ, val string)) {
	attr := func(m pcommon.Map) {
		if v, ok := m.Get(name); ok {
			typedValues(v, add)
		}
	}
	switch scope {
	case "resource":
		attr(r.res.Attributes())
	case "span":
		attr(r.span.Attributes())
	case "":
		attr(r.span.Attributes())
		attr(r.res.Attributes())
	case "event":
		for i := 0; i < r.span.Events().Len(); i++ {
			attr(r.span.Events().At(i).Attributes())
		}
	case "link":
		for i := 0; i < r.span.Links().Len(); i++ {
			attr(r.span.Links().At(i).Attributes())
		}
	case "instrumentation":
		attr(r.scope.Attributes())
	case "intrinsic":
		switch name {
		case "name", "span:name":
			add("string", r.span.Name())
		case "status", "span:status":
			add("keyword", spanStatus(r.span))
		case "kind", "span:kind":
			add("keyword", spanKind(r.span))
		case "statusMessage", "span:statusMessage":
			if m := r.span.Status().Message(); m != "" {
				add("string", m)
			}
		case "rootName", "trace:rootName":
			if sm.rootName != "" {
				add("string", sm.rootName)
			}
		case "rootServiceName", "trace:rootService":
			if sm.hasRoot && sm.rootService != "" {
				add("string", sm.rootService)
			}
		case "event:name":
			for i := 0; i < r.span.Events().Len(); i++ {
				add("string", r.span.Events().At(i).Name())
			}
		case "instrumentation:name":
			if n := r.scope.Name(); n != "" {
				add("string", n)
			}
		case "instrumentation:version":
			if v := r.scope.Version(); v != "" {
				add("string", v)
			}
		}
	}
}

// tagValuesV1 serves GET /api/search/tag/{tag}/values: string values of the
// span and resource attributes named tag.
func (s *Server) tagValuesV1(r *http.Request, org, tag string) response {
	req, errResp := s.parseTagRequest(r, org)
	if errResp != nil {
		return *errResp
	}
	req.filter = nil
	set := nameSet{}
	inspected := s.eachSpan(req, func(_ traceSnap, _ summary, sr spanRef) {
		for _, m := range []pcommon.Map{sr.span.Attributes(), sr.res.Attributes()} {
			if v, ok := m.Get(tag); ok && v.Type() == pcommon.ValueTypeStr {
				set[v.Str()] = struct{}{}
			}
		}
	})
	return jsonResponse(tagValuesV1Response{TagValues: set.sorted(req.limit), Metrics: metadataMetrics{InspectedBytes: inspected}})
}

// conditionsOnly returns the filter of a query that is exactly one spanset
// filter without ||, and nil otherwise. Tempo (traceql.ExtractConditions)
// gives up on || and on structural operators; for pipelines the stand-in
// assumes the worst case (q ignored), which no gateway may rely on anyway.
func conditionsOnly(q *query) *filter {
	if f, ok := q.root.(*filter); ok && f.orFree {
		return f
	}
	return nil
}
