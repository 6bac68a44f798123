package standin

// Evaluation of parsed TraceQL over one trace. A query yields span sets
// (lists of span indices in trace order); a trace matches when at least one
// non-empty span set remains.

import (
	"cmp"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanStatus and spanKind are TraceQL's keywords for a span's status and kind.
func spanStatus(sp ptrace.Span) string { return strings.ToLower(sp.Status().Code().String()) }

func spanKind(sp ptrace.Span) string { return strings.ToLower(sp.Kind().String()) }

func spanDuration(sp ptrace.Span) time.Duration {
	st, en := sp.StartTimestamp(), sp.EndTimestamp()
	if en < st {
		return 0
	}
	return time.Duration(en - st)
}

// spanNode is a span with its place in the trace tree.
type spanNode struct {
	spanRef
	parent      int // index of the parent span, -1 for a root (or a missing parent)
	children    int
	left, right int // nested set numbers (depth-first, from 1)
}

// traceCtx is one trace prepared for evaluation.
type traceCtx struct {
	sn     traceSnap
	sm     summary
	spans  []spanNode
	linked bool // tree() has run
}

func newTraceCtx(sn traceSnap, sm summary) *traceCtx {
	t := &traceCtx{sn: sn, sm: sm}
	sn.forEachSpan(func(r spanRef) {
		t.spans = append(t.spans, spanNode{spanRef: r, parent: -1})
	})
	return t
}

// tree links parents and children and numbers the nested sets, once; only
// queries about the trace's structure need it.
func (t *traceCtx) tree() {
	if t.linked {
		return
	}
	t.linked = true
	byID := make(map[pcommon.SpanID]int, len(t.spans))
	for i := range t.spans {
		byID[t.spans[i].span.SpanID()] = i
	}
	kids := make([][]int, len(t.spans))
	var roots []int
	for i := range t.spans {
		n := &t.spans[i]
		if p, ok := byID[n.span.ParentSpanID()]; ok && !n.span.ParentSpanID().IsEmpty() && p != i {
			n.parent = p
			t.spans[p].children++
			kids[p] = append(kids[p], i)
		} else {
			roots = append(roots, i)
		}
	}
	// Depth first, iteratively (a span reached twice keeps its first numbers).
	next := 1
	type frame struct{ i, k int }
	for _, r := range roots {
		stack := []frame{{r, 0}}
		t.spans[r].left = next
		next++
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.k < len(kids[f.i]) {
				c := kids[f.i][f.k]
				f.k++
				if t.spans[c].left == 0 {
					t.spans[c].left = next
					next++
					stack = append(stack, frame{c, 0})
				}
				continue
			}
			t.spans[f.i].right = next
			next++
			stack = stack[:len(stack)-1]
		}
	}
}

func (t *traceCtx) all() []int {
	out := make([]int, len(t.spans))
	for i := range out {
		out[i] = i
	}
	return out
}

// ---- values ----

func strLit(s string) literal { return literal{kind: litString, s: s} }
func intLit(i int64) literal  { return literal{kind: litInt, i: i} }

// valueLits converts an attribute value (each element of an array).
func valueLits(v pcommon.Value, out []literal) []literal {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(out, strLit(v.Str()))
	case pcommon.ValueTypeInt:
		return append(out, intLit(v.Int()))
	case pcommon.ValueTypeDouble:
		return append(out, literal{kind: litFloat, f: v.Double()})
	case pcommon.ValueTypeBool:
		return append(out, literal{kind: litBool, b: v.Bool()})
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			out = valueLits(e, out)
		}
	}
	return out
}

// attrValue finds an attribute: for unscoped names the span's first, then
// the resource's; for event and link scopes the first event or link having it.
func (n *spanNode) attrValue(f field) (pcommon.Value, bool) {
	switch f.scope {
	case "resource":
		return n.res.Attributes().Get(f.name)
	case "span":
		return n.span.Attributes().Get(f.name)
	case "instrumentation":
		return n.scope.Attributes().Get(f.name)
	case "event":
		for _, ev := range n.span.Events().All() {
			if v, ok := ev.Attributes().Get(f.name); ok {
				return v, true
			}
		}
	case "link":
		for _, l := range n.span.Links().All() {
			if v, ok := l.Attributes().Get(f.name); ok {
				return v, true
			}
		}
	case "":
		if v, ok := n.span.Attributes().Get(f.name); ok {
			return v, true
		}
		return n.res.Attributes().Get(f.name)
	}
	return pcommon.Value{}, false
}

// values returns the values of field f on span i (none: the field is nil).
func (t *traceCtx) values(i int, f field) []literal {
	n := &t.spans[i]
	sp := n.span
	switch f.intrinsic {
	case "":
		if v, ok := n.attrValue(f); ok {
			return valueLits(v, nil)
		}
		return nil
	case "name":
		return []literal{strLit(sp.Name())}
	case "status":
		return []literal{{kind: litStatus, s: spanStatus(sp)}}
	case "kind":
		return []literal{{kind: litSpanKind, s: spanKind(sp)}}
	case "duration":
		return []literal{{kind: litDuration, d: spanDuration(sp)}}
	case "statusMessage":
		return []literal{strLit(sp.Status().Message())}
	case "span:id":
		id := sp.SpanID()
		return []literal{strLit(hex.EncodeToString(id[:]))}
	case "span:parentID":
		if id := sp.ParentSpanID(); !id.IsEmpty() {
			return []literal{strLit(hex.EncodeToString(id[:]))}
		}
	case "span:childCount":
		t.tree()
		return []literal{intLit(int64(n.children))}
	case "nestedSetLeft":
		t.tree()
		return []literal{intLit(int64(n.left))}
	case "nestedSetRight":
		t.tree()
		return []literal{intLit(int64(n.right))}
	case "nestedSetParent":
		t.tree()
		if n.parent < 0 {
			return []literal{intLit(-1)}
		}
		return []literal{intLit(int64(t.spans[n.parent].left))}
	case "trace:id":
		return []literal{strLit(hex.EncodeToString(t.sn.id[:]))}
	case "trace:rootService":
		if t.sm.hasRoot {
			return []literal{strLit(t.sm.rootService)}
		}
	case "trace:rootName":
		if t.sm.hasRoot {
			return []literal{strLit(t.sm.rootName)}
		}
	case "trace:duration":
		return []literal{{kind: litDuration, d: time.Duration(t.sm.end - t.sm.start)}}
	case "instrumentation:name":
		return []literal{strLit(n.scope.Name())}
	case "instrumentation:version":
		return []literal{strLit(n.scope.Version())}
	case "event:name", "event:timeSinceStart":
		var out []literal
		for _, ev := range sp.Events().All() {
			if f.intrinsic == "event:name" {
				out = append(out, strLit(ev.Name()))
			} else {
				out = append(out, literal{kind: litDuration, d: time.Duration(ev.Timestamp()) - time.Duration(sp.StartTimestamp())})
			}
		}
		return out
	case "link:traceID", "link:spanID":
		var out []literal
		for _, l := range sp.Links().All() {
			tid, sid := l.TraceID(), l.SpanID()
			if f.intrinsic == "link:traceID" {
				out = append(out, strLit(hex.EncodeToString(tid[:])))
			} else {
				out = append(out, strLit(hex.EncodeToString(sid[:])))
			}
		}
		return out
	}
	return nil
}

// ---- conditions ----

func (t *traceCtx) test(i int, e expr) bool {
	switch e := e.(type) {
	case nil:
		return true
	case boolConst:
		return bool(e)
	case *binary:
		if e.op == tAnd {
			return t.test(i, e.l) && t.test(i, e.r)
		}
		return t.test(i, e.l) || t.test(i, e.r)
	case *not:
		return !t.test(i, e.e)
	case *cond:
		return t.cmp(i, e)
	}
	return false
}

// cmp evaluates one condition: a missing field matches only "= nil"; an
// array matches when one element does.
func (t *traceCtx) cmp(i int, c *cond) bool {
	var vals []literal
	var present bool
	if c.f.intrinsic == "" {
		var v pcommon.Value
		if v, present = t.spans[i].attrValue(c.f); present {
			vals = valueLits(v, nil)
		}
	} else {
		vals = t.values(i, c.f)
		present = len(vals) > 0
	}
	if c.lit.kind == litNil {
		return present != (c.op == tEq)
	}
	return slices.ContainsFunc(vals, func(v literal) bool { return compareLit(v, c.op, c.lit) })
}

// matches applies a spanset filter to span i. Like Tempo, whose storage layer
// first fetches the spans on which every condition of an OR-free filter
// holds, a condition under ! in such a filter makes it match nothing.
func (t *traceCtx) matches(i int, f *filter) bool {
	if f.orFree {
		for _, c := range f.leaves {
			if !t.cmp(i, c) {
				return false
			}
		}
		if f.onlyAnd {
			return true
		}
	}
	return t.test(i, f.cond)
}

func compareLit(v literal, op tokKind, lit literal) bool {
	switch {
	case v.kind == litString && lit.kind == litString:
		switch op {
		case tRe:
			return lit.re.MatchString(v.s)
		case tNre:
			return !lit.re.MatchString(v.s)
		}
		return compareOrdered(v.s, lit.s, op)
	case (v.kind == litInt || v.kind == litFloat) && (lit.kind == litInt || lit.kind == litFloat):
		if v.kind == litInt && lit.kind == litInt {
			return compareOrdered(v.i, lit.i, op)
		}
		return compareOrdered(v.number(), lit.number(), op)
	case v.kind == litDuration && lit.kind == litDuration:
		return compareOrdered(v.d, lit.d, op)
	case v.kind == litBool && lit.kind == litBool,
		v.kind == litStatus && lit.kind == litStatus,
		v.kind == litSpanKind && lit.kind == litSpanKind:
		eq := v.b == lit.b && v.s == lit.s
		return op == tEq && eq || op == tNeq && !eq
	}
	return false
}

// number is a numeric value as float64 (durations in nanoseconds).
func (l literal) number() float64 {
	switch l.kind {
	case litInt:
		return float64(l.i)
	case litDuration:
		return float64(l.d)
	}
	return l.f
}

func compareOrdered[T cmp.Ordered](a, b T, op tokKind) bool {
	switch op {
	case tEq:
		return a == b
	case tNeq:
		return a != b
	case tGt:
		return a > b
	case tGte:
		return a >= b
	case tLt:
		return a < b
	case tLte:
		return a <= b
	}
	return false
}

// ---- span sets ----

type spanset []int // span indices, ascending

func union(a, b spanset) spanset {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func flatten(sets []spanset) spanset {
	var out spanset
	for _, s := range sets {
		out = union(out, s)
	}
	return out
}

func nonEmpty(s spanset) []spanset {
	if len(s) == 0 {
		return nil
	}
	return []spanset{s}
}

// eval evaluates e over the spans in universe.
func (t *traceCtx) eval(e ssExpr, universe spanset) []spanset {
	switch e := e.(type) {
	case *filter:
		var out spanset
		for _, i := range universe {
			if t.matches(i, e) {
				out = append(out, i)
			}
		}
		return nonEmpty(out)
	case *binary:
		l, r := flatten(t.eval(e.l, universe)), flatten(t.eval(e.r, universe))
		switch e.op {
		case tAnd:
			if len(l) == 0 || len(r) == 0 {
				return nil
			}
			return nonEmpty(union(l, r))
		case tOr:
			return nonEmpty(union(l, r))
		}
		return nonEmpty(t.structural(e.op, l, r))
	case *pipeline:
		sets := t.eval(e.src, universe)
		for _, st := range e.stages {
			sets = t.stage(st, sets)
		}
		return sets
	}
	return nil
}

type relation int

const (
	relChild   relation = iota // b's parent is in A
	relDesc                    // an ancestor of b is in A
	relParent                  // b is the parent of a span in A
	relAnc                     // b is an ancestor of a span in A
	relSibling                 // b has the same parent as another span in A
)

var reverseRel = map[relation]relation{
	relChild: relParent, relParent: relChild, relDesc: relAnc, relAnc: relDesc, relSibling: relSibling,
}

type structOp struct {
	rel  relation
	mode int // 0: B spans related to A; 1 (negated): B spans not related; 2 (union): both sides
}

var structOpsByTok = map[tokKind]structOp{
	tGt: {relChild, 0}, tDesc: {relDesc, 0}, tLt: {relParent, 0}, tAnc: {relAnc, 0}, tSibling: {relSibling, 0},
	tNotChild: {relChild, 1}, tNotDesc: {relDesc, 1}, tNotParent: {relParent, 1}, tNotAnc: {relAnc, 1}, tNre: {relSibling, 1},
	tUnionChild: {relChild, 2}, tUnionDesc: {relDesc, 2}, tUnionParent: {relParent, 2}, tUnionAnc: {relAnc, 2}, tUnionSibling: {relSibling, 2},
}

// structural evaluates A op B for a structural operator.
func (t *traceCtx) structural(op tokKind, a, b spanset) spanset {
	so := structOpsByTok[op]
	switch so.mode {
	case 1:
		return t.related(so.rel, a, b, true)
	case 2:
		return union(t.related(so.rel, a, b, false), t.related(reverseRel[so.rel], b, a, false))
	}
	return t.related(so.rel, a, b, false)
}

// related returns the spans of to that stand in relation rel to some span of
// from (with negate: to no span of from).
func (t *traceCtx) related(rel relation, from, to spanset, negate bool) spanset {
	t.tree()
	n := len(t.spans)
	inFrom := make([]bool, n)
	for _, a := range from {
		inFrom[a] = true
	}
	mark := make([]int, n) // relParent/relAnc: marked spans; relSibling: members of from per parent
	for _, a := range from {
		p := t.spans[a].parent
		switch rel {
		case relParent:
			if p >= 0 {
				mark[p] = 1
			}
		case relAnc:
			for steps := 0; p >= 0 && mark[p] == 0 && steps < n; steps++ {
				mark[p] = 1
				p = t.spans[p].parent
			}
		case relSibling:
			if p >= 0 {
				mark[p]++
			}
		}
	}
	var out spanset
	for _, b := range to {
		p := t.spans[b].parent
		var ok bool
		switch rel {
		case relChild:
			ok = p >= 0 && inFrom[p]
		case relDesc:
			for steps := 0; p >= 0 && !ok && steps < n; steps++ {
				ok = inFrom[p]
				p = t.spans[p].parent
			}
		case relParent, relAnc:
			ok = mark[b] > 0
		case relSibling:
			self := 0
			if inFrom[b] {
				self = 1
			}
			ok = p >= 0 && mark[p]-self > 0
		}
		if ok != negate {
			out = append(out, b)
		}
	}
	return out
}

// stage applies one pipeline stage to every span set.
func (t *traceCtx) stage(st *stage, sets []spanset) []spanset {
	var out []spanset
	switch st.kind {
	case stFilter:
		for _, s := range sets {
			out = append(out, nonEmpty(flatten(t.eval(st.expr, s)))...)
		}
	case stAggregate:
		for _, s := range sets {
			if v, ok := t.aggregate(st, s); ok && compareOrdered(v, st.lit.number(), st.op) {
				out = append(out, s)
			}
		}
	case stBy:
		for _, s := range sets {
			var keys []string
			groups := map[string]spanset{}
			for _, i := range s {
				k := "nil"
				if vals := t.values(i, st.by); len(vals) > 0 {
					k = strconv.Itoa(int(vals[0].kind)) + ":" + litText(vals[0])
				}
				if _, seen := groups[k]; !seen {
					keys = append(keys, k)
				}
				groups[k] = append(groups[k], i)
			}
			for _, k := range keys {
				out = append(out, groups[k])
			}
		}
	case stCoalesce:
		return nonEmpty(flatten(sets))
	default:
		return sets
	}
	return out
}

// aggregate computes count() or avg/min/max/sum(field) over a span set.
func (t *traceCtx) aggregate(st *stage, s spanset) (float64, bool) {
	if st.agg == "count" {
		return float64(len(s)), true
	}
	var nums []float64
	for _, i := range s {
		for _, v := range t.values(i, st.arg) {
			if v.kind == litInt || v.kind == litFloat || v.kind == litDuration {
				nums = append(nums, v.number())
				break
			}
		}
	}
	if len(nums) == 0 {
		return 0, false
	}
	sum := 0.0
	for _, x := range nums {
		sum += x
	}
	switch st.agg {
	case "avg":
		return sum / float64(len(nums)), true
	case "min":
		return slices.Min(nums), true
	case "max":
		return slices.Max(nums), true
	}
	return sum, true
}

func litText(v literal) string {
	switch v.kind {
	case litInt:
		return strconv.FormatInt(v.i, 10)
	case litFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case litDuration:
		return v.d.String()
	case litBool:
		return strconv.FormatBool(v.b)
	}
	return v.s
}

// ---- returned attributes ----

// wellKnownColumns are the attributes Tempo stores in dedicated columns;
// select() and compare() report them as nil on spans that lack them.
var wellKnownColumns = []string{
	"http.method", "http.request.method", "http.response.status_code", "http.route",
	"http.status_code", "http.url", "k8s.cluster.name", "k8s.container.name",
	"k8s.namespace.name", "k8s.pod.name", "server.address", "server.port", "url.path", "url.route",
}

// output returns the span name (when reported) and the attributes Tempo
// reports for returned span i: the fields of the conditions that hold on it
// (value-less for a holding "= nil"), the selected fields it has, or with
// compare() every attribute.
func (t *traceCtx) output(i int, q *query) (name string, attrs []kvJSON) {
	seen := map[string]bool{}
	put := func(key string, v any) {
		if !seen[key] {
			seen[key] = true
			attrs = append(attrs, kvJSON{Key: key, Value: v})
		}
	}
	add := func(f field) {
		if f.intrinsic == "name" {
			name = t.spans[i].span.Name()
		} else if v, ok := t.outputValue(i, f); ok && !hiddenIntrinsics[f.intrinsic] {
			put(f.outputKey(), anyValueJSON(v))
		}
	}
	for _, c := range q.conds {
		switch {
		case !t.cmp(i, c):
		case c.lit.kind == litNil && c.op == tEq && c.f.intrinsic == "":
			put(c.f.name, map[string]any{})
		default:
			add(c.f)
		}
	}
	for _, f := range q.selects {
		add(f)
		if f.intrinsic == "" && slices.Contains(wellKnownColumns, f.name) {
			put(f.name, map[string]any{})
		}
	}
	if q.selectAll {
		n := &t.spans[i]
		for _, m := range []pcommon.Map{n.span.Attributes(), n.res.Attributes()} {
			for k := range m.All() {
				add(field{name: k})
			}
		}
		for _, k := range wellKnownColumns {
			put(k, map[string]any{})
		}
		for _, in := range []string{"name", "status", "kind", "statusMessage", "span:childCount", "instrumentation:name", "instrumentation:version"} {
			add(field{intrinsic: in})
		}
	}
	return name, attrs
}

// outputValue is field f of span i as an attribute value.
func (t *traceCtx) outputValue(i int, f field) (pcommon.Value, bool) {
	if f.intrinsic == "" {
		return t.spans[i].attrValue(f)
	}
	vals := t.values(i, f)
	if len(vals) == 0 {
		return pcommon.Value{}, false
	}
	switch v := vals[0]; v.kind {
	case litInt:
		return pcommon.NewValueInt(v.i), true
	case litFloat:
		return pcommon.NewValueDouble(v.f), true
	case litBool:
		return pcommon.NewValueBool(v.b), true
	case litDuration:
		return pcommon.NewValueInt(int64(v.d)), true
	default:
		return pcommon.NewValueStr(v.s), true
	}
}
