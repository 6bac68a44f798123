package traceql

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Kind is the endpoint a query is for.
type Kind int

// The endpoints: Search (/api/search) takes no metrics stage; Metrics
// (/api/metrics/query_range, /api/metrics/query) needs exactly one, at the end.
const (
	Search Kind = iota + 1
	Metrics
)

// RefusedError is a query that parses but cannot be confined to the caller's tenant
// (or does not fit the endpoint). Construct names what was refused, Reason says why;
// both are written for the caller.
type RefusedError struct {
	Construct string
	Reason    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s is not allowed here: %s", e.Construct, e.Reason)
}

// Spanset operators and why each is allowed or refused once both operands are
// confined (every filter matches only the caller's spans). Tempo evaluates structural
// relations from the nested-set numbers it assigns over the WHOLE trace, walking down
// from its root spans; foreign spans shift the numbers but, for a parent/child or
// sibling pair of the caller's own spans, not the relation, which the caller's own
// spans already carry in their parentSpanId.
//
//	op   meaning (R spans kept)            confined verdict
//	&&   both sides match in the trace     allowed: each side sees only own spans
//	||   either side matches               allowed: same
//	>    R is a child of an L span         allowed: R.parentSpanId = L.spanId, both own
//	<    R is the parent of an L span      allowed: L.parentSpanId = R.spanId, both own
//	~    R is a sibling of an L span       allowed: equal parentSpanId on two own spans
//	!>   R is not a child of any L span    allowed: negation of an own-data relation
//	!<   R is not the parent of an L span  allowed: same
//	!~   R is not a sibling of an L span   allowed: same
//	&>   L and R spans of a child pair     allowed: same relation as >, both sides kept
//	&<   L and R spans of a parent pair    allowed: same relation as <
//	&~   L and R spans of a sibling pair   allowed: same relation as ~
//	>>   R is a descendant of an L span    REFUSED: the ancestor chain may pass through
//	<<   R is an ancestor of an L span     REFUSED: foreign spans, so the answer says how
//	!>>  negated descendant                REFUSED: foreign spans link the caller's spans
//	!<<  negated ancestor                  REFUSED
//	&>>  union descendant                  REFUSED
//	&<<  union ancestor                    REFUSED
//
// Residue of the allowed structural operators (documented in docs/tenancy.md): Tempo
// numbers only spans it reaches from a root span, so a span whose chain of ancestors is
// broken in the store (for example because a foreign ancestor was stored elsewhere)
// takes part in no relation. The answer can therefore depend on whether spans with ids
// the caller already holds (its spans' parentSpanId) exist in the store; never on any
// attribute, name, status or time of a foreign span.
var refusedSpansetOps = map[string]string{
	">>": "the descendant operator", "<<": "the ancestor operator",
	"!>>": "the not-descendant operator", "!<<": "the not-ancestor operator",
	"&>>": "the union-descendant operator", "&<<": "the union-ancestor operator",
}

const reasonChain = "it relates spans through chains of ancestors that can pass through spans of other tenants"

// safeHints are the hints that may pass confinement. most_recent only makes Tempo
// search its blocks newest-first and return the most recent matching traces; the
// matching itself is confined, and the ordering uses the trace start time, which the
// search time range already depends on without the hint.
var safeHints = map[string]bool{"most_recent": true}

// ValidateAttributeName checks a tenant attribute name: a plain dotted name of
// letters, digits and '_' (for example "tenant.id").
func ValidateAttributeName(attr string) error {
	if attr == "" || attr[0] == '.' || attr[len(attr)-1] == '.' || strings.Contains(attr, "..") {
		return fmt.Errorf("invalid tenant attribute name %q", attr)
	}
	for _, r := range attr {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return fmt.Errorf("invalid tenant attribute name %q", attr)
		}
	}
	return nil
}

// CheckKind applies only the endpoint shape rule: Search refuses a metrics stage,
// Metrics requires one. It returns a *RefusedError.
func CheckKind(q *Query, kind Kind) error {
	switch kind {
	case Search:
		if q.Metrics != nil {
			return &RefusedError{Construct: "the metrics function " + q.Metrics.Fn + "()", Reason: "search takes no metrics functions; send metrics queries to the metrics endpoints"}
		}
	case Metrics:
		if q.Metrics == nil {
			return &RefusedError{Construct: "a query without a metrics function", Reason: "the metrics endpoints need a query that ends in a metrics function such as rate()"}
		}
	default:
		return fmt.Errorf("traceql: unknown query kind %d", kind)
	}
	return nil
}

// Confine returns a new tree (q is not modified) in which every spanset filter { X },
// including those inside compare() and those used as later pipeline stages, becomes
// { (X) && resource.<attr> = "<t>" }, or with several tenants
// { (X) && (resource.<attr> = "a" || resource.<attr> = "b") }; { } becomes
// { resource.<attr> = "<t>" }. It returns a *RefusedError for whatever cannot be
// confined (trace-level and other-span intrinsics, the operators refused above,
// hints other than most_recent) or does not fit kind.
//
// The printed result is longer than q (by the tenant condition per filter) and can
// exceed MaxQueryBytes, which Tempo refuses; callers check len(result.String()).
func Confine(q *Query, attr string, tenants []string, kind Kind) (*Query, error) {
	if err := ValidateAttributeName(attr); err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		return nil, errors.New("traceql: confine needs at least one tenant")
	}
	if err := CheckKind(q, kind); err != nil {
		return nil, err
	}
	if err := checkConfinable(q); err != nil {
		return nil, err
	}
	c := &confiner{attr: attr, tenants: tenants}
	out := &Query{Stages: make([]Stage, len(q.Stages))}
	for i, st := range q.Stages {
		out.Stages[i] = c.stage(st)
	}
	if m := q.Metrics; m != nil {
		cm := *m
		cm.Attr = cloneAttrPtr(m.Attr)
		cm.Quantiles = cloneSlice(m.Quantiles)
		cm.CompareArgs = cloneSlice(m.CompareArgs)
		cm.By = cloneSlice(m.By)
		if m.Compare != nil {
			cm.Compare = c.filter(m.Compare)
		}
		if m.Second != nil {
			s := *m.Second
			cm.Second = &s
		}
		out.Metrics = &cm
	}
	out.Hints = cloneSlice(q.Hints)
	return out, nil
}

// checkConfinable walks q and returns the first construct that cannot be confined.
func checkConfinable(q *Query) error {
	for _, h := range q.Hints {
		if !safeHints[h.Name] || h.Value.Kind != StaticBool {
			return &RefusedError{Construct: "the hint " + h.Name + " = " + printStatic(h.Value), Reason: "only with (most_recent = true|false) is shown safe with tenant confinement"}
		}
	}
	var err error
	walk(q, func(a Attribute) bool {
		if reason := attrRefusal(a); reason != "" {
			err = &RefusedError{Construct: printAttr(a), Reason: reason}
			return false
		}
		return true
	}, func(op string) bool {
		if name, refused := refusedSpansetOps[op]; refused {
			err = &RefusedError{Construct: name + " " + op, Reason: reasonChain}
			return false
		}
		return true
	})
	return err
}

// walk calls onAttr for every attribute and onOp for every spanset operator in q,
// until one returns false.
func walk(q *Query, onAttr func(Attribute) bool, onOp func(string) bool) {
	w := walker{onAttr: onAttr, onOp: onOp, ok: true}
	for _, st := range q.Stages {
		w.stage(st)
	}
	if m := q.Metrics; m != nil {
		if m.Attr != nil {
			w.attr(*m.Attr)
		}
		if m.Compare != nil {
			w.spanset(m.Compare)
		}
		for _, a := range m.By {
			w.attr(a)
		}
	}
}

type walker struct {
	onAttr func(Attribute) bool
	onOp   func(string) bool
	ok     bool
}

func (w *walker) attr(a Attribute) {
	if w.ok {
		w.ok = w.onAttr(a)
	}
}

func (w *walker) stage(st Stage) {
	switch s := st.(type) {
	case *SpansetStage:
		w.spanset(s.Expr)
	case *ScalarFilter:
		for _, o := range []ScalarOperand{s.Left, s.Right} {
			if o.Agg != nil && o.Agg.Arg != nil {
				w.attr(*o.Agg.Arg)
			}
		}
	case *GroupBy:
		w.attr(s.Attr)
	case *Select:
		for _, a := range s.Attrs {
			w.attr(a)
		}
	}
}

func (w *walker) spanset(e SpansetExpr) {
	switch s := e.(type) {
	case *SpansetOp:
		if w.ok {
			w.ok = w.onOp(s.Op)
		}
		w.spanset(s.Left)
		w.spanset(s.Right)
	case *SpansetFilter:
		w.cond(s.Cond)
	}
}

func (w *walker) cond(c Cond) {
	switch c := c.(type) {
	case *Logic:
		w.cond(c.Left)
		w.cond(c.Right)
	case *Not:
		w.cond(c.X)
	case *Comparison:
		w.attr(c.Attr)
	}
}

// confiner builds the confined copy.
type confiner struct {
	attr    string
	tenants []string
	cmps    slab[Comparison]
	logic   slab[Logic]
}

// tenantCond is resource.<attr> = "t", or ("a" || "b" || ...) for several tenants.
func (c *confiner) tenantCond() Cond {
	var out Cond
	for _, t := range c.tenants {
		cmp := c.cmps.new(Comparison{Attr: Attribute{Scope: ScopeResource, Name: c.attr}, Op: "=", Value: Static{Kind: StaticString, S: t}})
		if out == nil {
			out = cmp
		} else {
			out = c.logic.new(Logic{Op: "||", Left: out, Right: cmp})
		}
	}
	return out
}

func (c *confiner) filter(f *SpansetFilter) *SpansetFilter {
	if f.Cond == nil {
		return &SpansetFilter{Cond: c.tenantCond()}
	}
	return &SpansetFilter{Cond: c.logic.new(Logic{Op: "&&", Left: c.clone(f.Cond), Right: c.tenantCond()})}
}

func (c *confiner) spanset(e SpansetExpr) SpansetExpr {
	switch s := e.(type) {
	case *SpansetOp:
		return &SpansetOp{Op: s.Op, Left: c.spanset(s.Left), Right: c.spanset(s.Right)}
	case *SpansetFilter:
		return c.filter(s)
	}
	panic(fmt.Sprintf("traceql: unknown spanset expression %T", e))
}

func (c *confiner) stage(st Stage) Stage {
	switch s := st.(type) {
	case *SpansetStage:
		return &SpansetStage{Expr: c.spanset(s.Expr)}
	case *ScalarFilter:
		return &ScalarFilter{Left: cloneOperand(s.Left), Op: s.Op, Right: cloneOperand(s.Right)}
	case *GroupBy:
		return &GroupBy{Attr: s.Attr}
	case *Select:
		return &Select{Attrs: cloneSlice(s.Attrs)}
	case *Coalesce:
		return &Coalesce{}
	}
	panic(fmt.Sprintf("traceql: unknown stage %T", st))
}

// clone copies a condition tree.
func (c *confiner) clone(x Cond) Cond {
	switch x := x.(type) {
	case *Logic:
		return c.logic.new(Logic{Op: x.Op, Left: c.clone(x.Left), Right: c.clone(x.Right)})
	case *Not:
		return &Not{X: c.clone(x.X)}
	case *Comparison:
		return c.cmps.new(*x)
	case *BoolLit:
		return &BoolLit{Value: x.Value}
	}
	panic(fmt.Sprintf("traceql: unknown condition %T", x))
}

func cloneOperand(o ScalarOperand) ScalarOperand {
	var out ScalarOperand
	if o.Agg != nil {
		out.Agg = &Aggregate{Fn: o.Agg.Fn, Arg: cloneAttrPtr(o.Agg.Arg)}
	}
	if o.Value != nil {
		v := *o.Value
		out.Value = &v
	}
	return out
}

func cloneAttrPtr(a *Attribute) *Attribute {
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

// cloneSlice copies s, keeping nil as nil.
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// TagFilter returns the q to send with a tag-values request for one tenant. Tempo
// answers a tag-values q that contains ||, a structural operator or anything it cannot
// use as UNFILTERED, so the caller's q is kept only when it parses to exactly one
// spanset filter of comparisons that Tempo surely applies (see tagSafe) joined by &&
// and nothing
// Confine would refuse: then the result is { <conditions> && resource.<attr> = "<t>" }.
// Anything else (empty, half-typed, any other shape) gives the tenant-only filter
// { resource.<attr> = "<t>" }. It never fails: editors send q on every keystroke. An
// invalid attr (a configuration bug) gives { false }, which matches nothing.
func TagFilter(q, attr, tenant string) string {
	if ValidateAttributeName(attr) != nil {
		return "{ false }"
	}
	c := &confiner{attr: attr, tenants: []string{tenant}}
	out := &SpansetFilter{Cond: c.tenantCond()}
	if conds := tagConditions(q); conds != nil {
		all := conds[0]
		for _, x := range conds[1:] {
			all = &Logic{Op: "&&", Left: all, Right: x}
		}
		out.Cond = &Logic{Op: "&&", Left: all, Right: out.Cond}
	}
	var b strings.Builder
	writeFilter(&b, out)
	if b.Len() > MaxQueryBytes {
		b.Reset()
		writeFilter(&b, &SpansetFilter{Cond: c.tenantCond()})
	}
	return b.String()
}

// tagConditions returns the &&-joined comparisons of q, or nil when q has any other shape.
func tagConditions(q string) []Cond {
	parsed, err := Parse(q)
	if err != nil || len(parsed.Stages) != 1 || parsed.Metrics != nil || parsed.Hints != nil {
		return nil
	}
	f, ok := parsed.Stages[0].(*SpansetStage).Expr.(*SpansetFilter)
	if !ok || f.Cond == nil || checkConfinable(parsed) != nil {
		return nil
	}
	var conds []Cond
	var collect func(c Cond) bool
	collect = func(c Cond) bool {
		switch c := c.(type) {
		case *Logic:
			return c.Op == "&&" && collect(c.Left) && collect(c.Right)
		case *Comparison:
			if !tagSafe(c) {
				return false
			}
			conds = append(conds, c)
			return true
		}
		return false
	}
	if !collect(f.Cond) {
		return nil
	}
	return conds
}

// Value kinds each typed intrinsic can be compared with; attributes take any of
// string, int, float, duration and bool.
var (
	intrinsicTypes = map[string]StaticKind{
		"status": StaticStatus, "span:status": StaticStatus,
		"kind": StaticSpanKind, "span:kind": StaticSpanKind,
		"duration": StaticDuration, "span:duration": StaticDuration, "event:timeSinceStart": StaticDuration,
	}
	orderedKinds = map[StaticKind]bool{StaticInt: true, StaticFloat: true, StaticDuration: true}
)

// tagSafe reports whether a comparison is one Tempo surely parses, validates and
// applies in a tag-values q. Tempo answers a q it cannot use UNFILTERED, so anything
// doubtful is dropped: nil, floats printed with an exponent (not in the corpus), enum
// values on attributes, a type an intrinsic does not have, ordering on non-numbers, and
// regular expressions Go (and so Tempo) cannot compile.
func tagSafe(c *Comparison) bool {
	v := c.Value
	switch {
	case v.Kind == StaticNil, v.Kind == StaticFloat && strings.ContainsAny(formatFloat(v.F), "eE"):
		return false
	case c.Op == "=~" || c.Op == "!~":
		if _, err := regexp.Compile(v.S); err != nil {
			return false
		}
	case c.Op != "=" && c.Op != "!=" && !orderedKinds[v.Kind]:
		return false
	}
	if c.Attr.Scope != ScopeIntrinsic {
		return v.Kind != StaticStatus && v.Kind != StaticSpanKind
	}
	if want, typed := intrinsicTypes[c.Attr.Name]; typed {
		return v.Kind == want
	}
	return v.Kind == StaticString // names, messages, ids, event and instrumentation names
}

// TagQuery returns q printed back when it has the one shape TagFilter keeps
// (a single spanset filter of &&-joined comparisons), else "" (no filter). It
// is the tag-values filter of a read that Tempo's own tenants isolate: Tempo
// would ignore any other q, so it is not worth sending, and it never receives
// the caller's text.
func TagQuery(q string) string {
	conds := tagConditions(q)
	if conds == nil {
		return ""
	}
	all := conds[0]
	for _, x := range conds[1:] {
		all = &Logic{Op: "&&", Left: all, Right: x}
	}
	var b strings.Builder
	writeFilter(&b, &SpansetFilter{Cond: all})
	return b.String()
}

// WithSelect returns a copy of q that also selects attr: added to q's last
// stage when that is a select(), else as a new select() stage. q must not be
// a metrics query (a select() cannot follow a metrics function).
func (q *Query) WithSelect(attr Attribute) *Query {
	out := *q
	out.Stages = cloneSlice(q.Stages)
	if s, ok := out.Stages[len(out.Stages)-1].(*Select); ok {
		out.Stages[len(out.Stages)-1] = &Select{Attrs: append(cloneSlice(s.Attrs), attr)}
	} else {
		out.Stages = append(out.Stages, &Select{Attrs: []Attribute{attr}})
	}
	return &out
}
