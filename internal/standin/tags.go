package standin

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type metadataMetrics struct {
	InspectedBytes uint64 `json:"inspectedBytes,omitempty,string"`
}

type tagScope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

var scopeNames = []string{"resource", "span", "event", "link", "instrumentation", "intrinsic"}

// tagRequest holds what the tag and tag-value endpoints have in common.
type tagRequest struct {
	tenants        []string
	filter         *filter // nil: every span
	startNs, endNs uint64
}

// parseTagRequest parses start, end and (withQ) q. Like Tempo
// (traceql.ExtractConditions), q is best effort: one that does not parse, or
// that is more than one spanset filter without ||, is ignored.
func (s *Server) parseTagRequest(r *http.Request, tenants []string, withQ bool) (*tagRequest, error) {
	req := &tagRequest{tenants: tenants}
	var err error
	if req.startNs, req.endNs, err = s.searchRange(r); err != nil {
		return nil, err
	}
	if qs := r.URL.Query().Get("q"); withQ && qs != "" {
		q, err := parseQuery(qs, "")
		if len(qs) > maxQuerySize {
			return nil, err
		}
		if err == nil {
			if f, ok := q.root.(*filter); ok && f.orFree {
				req.filter = f
			}
		}
	}
	return req, nil
}

// eachSpan calls fn for every span of the request's tenants in the window
// that matches the filter, and returns the bytes inspected.
func (s *Server) eachSpan(req *tagRequest, fn func(t *traceCtx, i int)) uint64 {
	if req.endNs <= req.startNs {
		return 0
	}
	var inspected uint64
	var pm ptrace.ProtoMarshaler
	for _, sn := range s.snapshot(req.tenants, nil) {
		sm := sn.summary()
		if !sm.overlaps(req.startNs, req.endNs) {
			continue
		}
		for _, rs := range sn.batches {
			inspected += uint64(pm.ResourceSpansSize(rs))
		}
		t := newTraceCtx(sn, sm)
		for i := range t.spans {
			if req.filter == nil || t.matches(i, req.filter) {
				fn(t, i)
			}
		}
	}
	return inspected
}

func keys(set map[string]bool) []string {
	return slices.Sorted(maps.Keys(set))
}

// tagNames gathers the attribute names per scope.
func (s *Server) tagNames(req *tagRequest) (map[string]map[string]bool, uint64) {
	names := map[string]map[string]bool{}
	for _, sc := range scopeNames {
		names[sc] = map[string]bool{}
	}
	for _, n := range intrinsicNames {
		names["intrinsic"][n] = true
	}
	add := func(scope string, m pcommon.Map) {
		for k := range m.All() {
			names[scope][k] = true
		}
	}
	inspected := s.eachSpan(req, func(t *traceCtx, i int) {
		n := t.spans[i]
		add("resource", n.res.Attributes())
		add("span", n.span.Attributes())
		add("instrumentation", n.scope.Attributes())
		for _, ev := range n.span.Events().All() {
			add("event", ev.Attributes())
		}
		for _, l := range n.span.Links().All() {
			add("link", l.Attributes())
		}
	})
	return names, inspected
}

func validScope(scope string) bool {
	return scope == "" || slices.Contains(scopeNames, scope)
}

// tags serves GET /api/search/tags (v1: resource and span attribute names
// in one list, or one scope's) and /api/v2/search/tags (names per scope).
func (s *Server) tags(r *http.Request, tenants []string, v2 bool) (response, error) {
	scope := r.URL.Query().Get("scope")
	if !validScope(scope) {
		return response{}, badRequestError("invalid scope: " + scope)
	}
	req, err := s.parseTagRequest(r, tenants, v2)
	if err != nil {
		return response{}, err
	}
	names, inspected := s.tagNames(req)
	if !v2 {
		if scope == "" {
			maps.Copy(names["resource"], names["span"])
			scope = "resource"
		}
		return jsonResponse(struct {
			TagNames []string        `json:"tagNames"`
			Metrics  metadataMetrics `json:"metrics"`
		}{keys(names[scope]), metadataMetrics{inspected}})
	}
	scopes := []tagScope{}
	for _, sc := range scopeNames {
		// Without a scope, Tempo lists resource, span and intrinsic always, the others when not empty.
		if sc == scope || scope == "" && (sc == "resource" || sc == "span" || sc == "intrinsic" || len(names[sc]) > 0) {
			scopes = append(scopes, tagScope{Name: sc, Tags: keys(names[sc])})
		}
	}
	return jsonResponse(struct {
		Scopes  []tagScope      `json:"scopes"`
		Metrics metadataMetrics `json:"metrics"`
	}{scopes, metadataMetrics{inspected}})
}

// tagValuesV2 serves GET /api/v2/search/tag/{tag}/values: typed values of an
// attribute (unscoped: of the span and of the resource attribute) or of an
// intrinsic (except durations and empty strings).
func (s *Server) tagValuesV2(r *http.Request, tenants []string) (response, error) {
	tag := r.PathValue("tag")
	f, err := parseIdentifier(tag)
	if err != nil {
		return response{}, badRequestf("please provide a valid tagName: failed to parse identifier %s: %s", tag, err)
	}
	req, err := s.parseTagRequest(r, tenants, true)
	if err != nil {
		return response{}, err
	}
	set := map[tagValue]bool{}
	add := func(lits []literal) {
		for _, l := range lits {
			typ := litTypeNames[l.kind]
			if typ != "" && (f.intrinsic == "" || l.s != "" || l.kind != litString) {
				set[tagValue{Type: typ, Value: litText(l)}] = true
			}
		}
	}
	attr := func(m pcommon.Map) {
		if v, ok := m.Get(f.name); ok {
			add(valueLits(v, nil))
		}
	}
	inspected := s.eachSpan(req, func(t *traceCtx, i int) {
		n := t.spans[i]
		switch f.scope {
		case "event":
			for _, ev := range n.span.Events().All() {
				attr(ev.Attributes())
			}
		case "link":
			for _, l := range n.span.Links().All() {
				attr(l.Attributes())
			}
		case "":
			if f.intrinsic != "" {
				add(t.values(i, f))
				return
			}
			attr(n.span.Attributes())
			attr(n.res.Attributes())
		default:
			if v, ok := n.attrValue(f); ok {
				add(valueLits(v, nil))
			}
		}
	})
	out := slices.SortedFunc(maps.Keys(set), func(a, b tagValue) int {
		return cmp.Or(strings.Compare(a.Value, b.Value), strings.Compare(a.Type, b.Type))
	})
	return jsonResponse(struct {
		TagValues []tagValue      `json:"tagValues"`
		Metrics   metadataMetrics `json:"metrics"`
	}{out, metadataMetrics{inspected}})
}

// litTypeNames are the types Tempo reports tag values with.
var litTypeNames = map[litKind]string{
	litString: "string", litInt: "int", litFloat: "float", litBool: "bool", litStatus: "keyword", litSpanKind: "keyword",
}

// tagValuesV1 serves GET /api/search/tag/{tag}/values: string values of the
// span and resource attributes named tag.
func (s *Server) tagValuesV1(r *http.Request, tenants []string) (response, error) {
	req, err := s.parseTagRequest(r, tenants, false)
	if err != nil {
		return response{}, err
	}
	set := map[string]bool{}
	inspected := s.eachSpan(req, func(t *traceCtx, i int) {
		for _, m := range []pcommon.Map{t.spans[i].span.Attributes(), t.spans[i].res.Attributes()} {
			if v, ok := m.Get(r.PathValue("tag")); ok && v.Type() == pcommon.ValueTypeStr {
				set[v.Str()] = true
			}
		}
	})
	return jsonResponse(struct {
		TagValues []string        `json:"tagValues"`
		Metrics   metadataMetrics `json:"metrics"`
	}{keys(set), metadataMetrics{inspected}})
}
