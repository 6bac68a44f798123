package traceql

// The syntax tree. It holds no positions and no parentheses: the printer adds
// parentheses from the structure, so Parse(q.String()) gives a tree that is
// reflect.DeepEqual to q. Absent optional parts are nil (never empty slices).

// Query is a parsed TraceQL query: a pipeline whose first stage is a spanset
// expression, an optional metrics stage at the end, and optional hints.
type Query struct {
	Stages  []Stage       // Stages[0] is always a *SpansetStage
	Metrics *MetricsStage // nil for a search query
	Hints   []Hint        // `with (name = value, ...)`; nil when absent
}

// Stage is one element of the pipeline: *SpansetStage, *ScalarFilter,
// *GroupBy, *Select or *Coalesce.
type Stage interface{ isStage() }

// SpansetStage is a spanset expression used as a pipeline stage (always the first one).
type SpansetStage struct{ Expr SpansetExpr }

// ScalarFilter is `count() > 2`, `avg(duration) > 1ms`, ...: two operands, each an
// aggregate or a number.
type ScalarFilter struct {
	Left  ScalarOperand
	Op    string // = != < <= > >=
	Right ScalarOperand
}

// ScalarOperand is exactly one of an aggregate or a numeric static (int, float, duration).
type ScalarOperand struct {
	Agg   *Aggregate
	Value *Static
}

// Aggregate is count(), or min/max/sum/avg(attribute).
type Aggregate struct {
	Fn  string     // count min max sum avg
	Arg *Attribute // nil for count()
}

// GroupBy is `by(attribute)`.
type GroupBy struct{ Attr Attribute }

// Select is `select(a, b, ...)`.
type Select struct{ Attrs []Attribute }

// Coalesce is `coalesce()`.
type Coalesce struct{}

func (*SpansetStage) isStage() {}
func (*ScalarFilter) isStage() {}
func (*GroupBy) isStage()      {}
func (*Select) isStage()       {}
func (*Coalesce) isStage()     {}

// SpansetExpr is a *SpansetFilter or a *SpansetOp between two spanset expressions.
type SpansetExpr interface{ isSpanset() }

// SpansetOp is `L op R` for the spanset operators && || > >> < << ~ and their
// negated (!>, !>>, !<, !<<, !~) and union (&>, &>>, &<, &<<, &~) forms.
type SpansetOp struct {
	Op          string
	Left, Right SpansetExpr
}

// SpansetFilter is `{ cond }`; Cond is nil for `{ }`.
type SpansetFilter struct{ Cond Cond }

func (*SpansetOp) isSpanset()     {}
func (*SpansetFilter) isSpanset() {}

// Cond is a condition inside a spanset filter: *Logic, *Not, *Comparison or *BoolLit.
type Cond interface{ isCond() }

// Logic is `L && R` or `L || R`.
type Logic struct {
	Op          string // && ||
	Left, Right Cond
}

// Not is `!(X)`.
type Not struct{ X Cond }

// Comparison is `attribute op static`.
type Comparison struct {
	Attr  Attribute
	Op    string // = != =~ !~ > >= < <=
	Value Static
}

// BoolLit is a bare `true` or `false` condition.
type BoolLit struct{ Value bool }

func (*Logic) isCond()      {}
func (*Not) isCond()        {}
func (*Comparison) isCond() {}
func (*BoolLit) isCond()    {}

// Scope says where an attribute lives; ScopeIntrinsic marks an intrinsic.
type Scope int

// The scopes. ScopeUnscoped is the leading-dot form `.name`.
const (
	ScopeIntrinsic Scope = iota
	ScopeUnscoped
	ScopeResource
	ScopeSpan
	ScopeEvent
	ScopeLink
	ScopeInstrumentation
)

// scopePrefix is how each attribute scope is written.
var scopePrefix = map[Scope]string{
	ScopeUnscoped:        ".",
	ScopeResource:        "resource.",
	ScopeSpan:            "span.",
	ScopeEvent:           "event.",
	ScopeLink:            "link.",
	ScopeInstrumentation: "instrumentation.",
}

// Attribute is a scoped attribute (Scope != ScopeIntrinsic, Name is the key) or an
// intrinsic (Name is its spelling: "name", "span:name", "trace:rootService", ...).
type Attribute struct {
	Scope Scope
	Name  string
}

// StaticKind is the type of a literal.
type StaticKind int

// The literal types. Status and SpanKind hold their keyword in S.
const (
	StaticString StaticKind = iota
	StaticInt
	StaticFloat
	StaticDuration // nanoseconds in I
	StaticBool
	StaticNil
	StaticStatus   // error ok unset
	StaticSpanKind // server client internal producer consumer unspecified
)

// Static is a literal value.
type Static struct {
	Kind StaticKind
	S    string  // string value, or status/kind keyword
	I    int64   // int value, or duration in nanoseconds
	F    float64 // float value
	B    bool    // bool value
}

// MetricsStage is the final metrics function of a metrics query.
type MetricsStage struct {
	Fn          string         // rate count_over_time min_over_time max_over_time avg_over_time sum_over_time quantile_over_time histogram_over_time compare
	Attr        *Attribute     // argument of the *_over_time functions that take one
	Quantiles   []float64      // quantile_over_time only
	Compare     *SpansetFilter // compare only
	CompareArgs []int64        // compare: nil, [topN] or [topN, start, end]
	By          []Attribute    // `by (a, b)`; nil when absent
	Second      *SecondStage   // `| topk(n)` / `| bottomk(n)`; nil when absent
}

// SecondStage is topk(n) or bottomk(n) after a metrics function.
type SecondStage struct {
	Fn string // topk bottomk
	N  int64
}

// Hint is one `name = value` of `with (...)`.
type Hint struct {
	Name  string
	Value Static
}

// IsMetrics reports whether q ends in a metrics stage.
func (q *Query) IsMetrics() bool { return q.Metrics != nil }

// slab hands out pointers into chunks of T, so that building a tree of many small
// nodes costs a few allocations instead of one per node.
type slab[T any] struct{ free []T }

func (s *slab[T]) new(v T) *T {
	if len(s.free) == 0 {
		s.free = make([]T, 16)
	}
	p := &s.free[0]
	*p = v
	s.free = s.free[1:]
	return p
}
