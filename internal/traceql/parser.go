package traceql

import "fmt"

// maxDepth bounds the nesting of parentheses and operators, so a hostile query cannot
// make the recursive descent run deep.
const maxDepth = 100

// Operator sets. && and || share one precedence level and associate to the left, at
// the spanset level and inside filters, as in Tempo's grammar; the structural
// operators bind tighter than both; comparisons bind tighter than && and ||.
var (
	logicOps      = map[string]bool{"&&": true, "||": true}
	structuralOps = map[string]bool{
		">": true, ">>": true, "<": true, "<<": true, "~": true,
		"!>": true, "!>>": true, "!<": true, "!<<": true, "!~": true,
		"&>": true, "&>>": true, "&<": true, "&<<": true, "&~": true,
	}
	comparisonOps = map[string]bool{"=": true, "!=": true, "=~": true, "!~": true, ">": true, ">=": true, "<": true, "<=": true}
	scalarOps     = map[string]bool{"=": true, "!=": true, ">": true, ">=": true, "<": true, "<=": true}
	aggregateFns  = map[string]bool{"count": true, "min": true, "max": true, "sum": true, "avg": true}
	metricsFns    = map[string]bool{
		"rate": true, "count_over_time": true, "min_over_time": true, "max_over_time": true,
		"avg_over_time": true, "sum_over_time": true, "quantile_over_time": true,
		"histogram_over_time": true, "compare": true,
	}
	statusWords = map[string]bool{"error": true, "ok": true, "unset": true}
	kindWords   = map[string]bool{"server": true, "client": true, "internal": true, "producer": true, "consumer": true, "unspecified": true}
)

// Parse parses q (as sent to Tempo's /api/search or /api/metrics/*) into a tree.
// Anything it does not fully understand is a *SyntaxError; so is an empty q and a q
// longer than MaxQueryBytes.
func Parse(q string) (*Query, error) {
	if len(q) > MaxQueryBytes {
		return nil, &SyntaxError{Line: 1, Col: 1, Msg: fmt.Sprintf("query exceeds the maximum size of %d bytes", MaxQueryBytes)}
	}
	return parse(q)
}

// parse parses q of any length.
func parse(q string) (*Query, error) {
	// The parser and its lexer live on the stack: token copies need no write barriers.
	p := parser{lex: lexer{src: q, line: 1, col: 1}}
	p.fill()
	if p.peek().kind == tEOF {
		return nil, p.errorf("empty query")
	}
	return p.query()
}

// parser is a recursive descent over a lexer with one token of lookahead. A lexical
// error becomes a tError token, which no rule accepts, so it surfaces as the error.
type parser struct {
	lex   lexer
	cur   token
	err   error // the lexical error behind a tError token
	depth int
	cmps  slab[Comparison]
	logic slab[Logic]
}

func (p *parser) fill() {
	if err := p.lex.read(); err != nil {
		p.cur, p.err = token{kind: tError}, err
		return
	}
	p.cur = p.lex.tok
}

// peek returns the next token; it changes with the next take.
func (p *parser) peek() *token { return &p.cur }

func (p *parser) take() token {
	t := p.cur
	if t.kind != tEOF && t.kind != tError {
		p.fill()
	}
	return t
}

func (p *parser) errorf(format string, args ...any) error {
	if p.cur.kind == tError {
		return p.err
	}
	t := p.peek()
	return &SyntaxError{Line: t.line, Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected(expecting string) error {
	return p.errorf("unexpected %s, expecting %s", p.peek().describe(), expecting)
}

// is reports whether the next token is punctuation, an operator or a word spelled s.
func (p *parser) is(s string) bool {
	t := &p.cur
	return (t.kind == tPunct || t.kind == tOp || t.kind == tIdent) && t.text == s
}

func (p *parser) expect(s string) error {
	if !p.is(s) {
		return p.unexpected(s)
	}
	p.take()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("query nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// query := spansetExpr { "|" stage } [ "|" metrics [ "|" topk/bottomk ] ] [ hints ] EOF
func (p *parser) query() (*Query, error) {
	first, err := p.spansetExpr()
	if err != nil {
		return nil, err
	}
	q := &Query{Stages: []Stage{&SpansetStage{Expr: first}}}
	for p.is("|") {
		p.take()
		t := p.peek()
		if t.kind == tIdent && metricsFns[t.text] {
			if q.Metrics, err = p.metrics(); err != nil {
				return nil, err
			}
			break
		}
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		q.Stages = append(q.Stages, st)
	}
	if p.is("with") {
		if q.Hints, err = p.hints(); err != nil {
			return nil, err
		}
	}
	if p.peek().kind != tEOF {
		return nil, p.unexpected("end of query")
	}
	return q, nil
}

func (p *parser) stage() (Stage, error) {
	t := p.peek()
	switch {
	case p.is("{") || p.is("("):
		e, err := p.spansetExpr()
		if err != nil {
			return nil, err
		}
		return &SpansetStage{Expr: e}, nil
	case t.kind == tIdent && aggregateFns[t.text], t.kind == tNumber, p.is("-"):
		return p.scalarFilter()
	case p.is("by"):
		p.take()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		return &GroupBy{Attr: a}, p.expect(")")
	case p.is("select"):
		p.take()
		attrs, err := p.attributeList()
		if err != nil {
			return nil, err
		}
		return &Select{Attrs: attrs}, nil
	case p.is("coalesce"):
		p.take()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		return &Coalesce{}, p.expect(")")
	}
	return nil, p.unexpected("a spanset filter, count(), avg(), min(), max(), sum(), by(), select(), coalesce() or a metrics function")
}

// spansetExpr := spansetRel { ("&&" | "||") spansetRel }
func (p *parser) spansetExpr() (SpansetExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.spansetRel()
	if err != nil {
		return nil, err
	}
	for p.cur.kind == tOp && logicOps[p.cur.text] {
		op := p.take().text
		right, err := p.spansetRel()
		if err != nil {
			return nil, err
		}
		left = &SpansetOp{Op: op, Left: left, Right: right}
	}
	return left, nil
}

// spansetRel := spansetPrimary { structuralOp spansetPrimary }
func (p *parser) spansetRel() (SpansetExpr, error) {
	left, err := p.spansetPrimary()
	if err != nil {
		return nil, err
	}
	for p.cur.kind == tOp && structuralOps[p.cur.text] {
		op := p.take().text
		right, err := p.spansetPrimary()
		if err != nil {
			return nil, err
		}
		left = &SpansetOp{Op: op, Left: left, Right: right}
	}
	return left, nil
}

// spansetPrimary := filter | "(" spansetExpr ")"
func (p *parser) spansetPrimary() (SpansetExpr, error) {
	switch {
	case p.is("{"):
		return p.filter()
	case p.is("("):
		p.take()
		e, err := p.spansetExpr()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	}
	return nil, p.unexpected("{ or (")
}

// filter := "{" [ cond ] "}"
func (p *parser) filter() (*SpansetFilter, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	if p.is("}") {
		p.take()
		return &SpansetFilter{}, nil
	}
	c, err := p.cond()
	if err != nil {
		return nil, err
	}
	return &SpansetFilter{Cond: c}, p.expect("}")
}

// cond := condUnary { ("&&" | "||") condUnary }
func (p *parser) cond() (Cond, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.condUnary()
	if err != nil {
		return nil, err
	}
	for p.cur.kind == tOp && logicOps[p.cur.text] {
		op := p.take().text
		right, err := p.condUnary()
		if err != nil {
			return nil, err
		}
		left = p.logic.new(Logic{Op: op, Left: left, Right: right})
	}
	return left, nil
}

// condUnary := "!" "(" cond ")" | "(" cond ")" | "true" | "false" | attribute comparisonOp static
func (p *parser) condUnary() (Cond, error) {
	t := p.peek()
	switch {
	case p.is("!"):
		p.take()
		if !p.is("(") {
			return nil, p.unexpected("( after !")
		}
		p.take()
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		return &Not{X: c}, p.expect(")")
	case p.is("("):
		p.take()
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		return c, p.expect(")")
	case p.is("true") || p.is("false"):
		return &BoolLit{Value: p.take().text == "true"}, nil
	case t.kind == tAttr || (t.kind == tIdent && isIntrinsic(t.text)):
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tOp || !comparisonOps[p.peek().text] {
			return nil, p.unexpected("a comparison operator after " + printAttr(a))
		}
		op := p.take().text
		v, err := p.static()
		if err != nil {
			return nil, err
		}
		if err := checkComparison(op, v); err != nil {
			return nil, p.errorf("%s", err)
		}
		return p.cmps.new(Comparison{Attr: a, Op: op, Value: v}), nil
	case t.kind == tIdent:
		return nil, p.errorf("unknown identifier: %s", t.text)
	}
	return nil, p.unexpected("a condition")
}

// checkComparison rejects comparisons no Tempo type accepts.
func checkComparison(op string, v Static) error {
	switch {
	case (op == "=~" || op == "!~") && v.Kind != StaticString:
		return fmt.Errorf("%s needs a string", op)
	case op != "=" && op != "!=" && (v.Kind == StaticNil || v.Kind == StaticBool || v.Kind == StaticStatus || v.Kind == StaticSpanKind):
		return fmt.Errorf("%s cannot compare with %s", op, printStatic(v))
	}
	return nil
}

// attribute := scoped attribute | scoped intrinsic | intrinsic word
func (p *parser) attribute() (Attribute, error) {
	t := p.peek()
	switch {
	case t.kind == tAttr:
		return p.take().attr, nil
	case t.kind == tIdent && isIntrinsic(t.text):
		return Attribute{Scope: ScopeIntrinsic, Name: p.take().text}, nil
	case t.kind == tIdent:
		return Attribute{}, p.errorf("unknown identifier: %s", t.text)
	}
	return Attribute{}, p.unexpected("an attribute")
}

// attributeList := "(" attribute { "," attribute } ")"
func (p *parser) attributeList() ([]Attribute, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var attrs []Attribute
	for {
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
		if !p.is(",") {
			break
		}
		p.take()
	}
	return attrs, p.expect(")")
}

// static := string | ["-"] number | true | false | nil | status | kind
func (p *parser) static() (Static, error) {
	t := p.peek()
	switch {
	case t.kind == tString:
		return p.take().val, nil
	case t.kind == tNumber, p.is("-"):
		return p.number()
	case t.kind == tIdent:
		switch {
		case t.text == "true" || t.text == "false":
			return Static{Kind: StaticBool, B: p.take().text == "true"}, nil
		case t.text == "nil":
			p.take()
			return Static{Kind: StaticNil}, nil
		case statusWords[t.text]:
			return Static{Kind: StaticStatus, S: p.take().text}, nil
		case kindWords[t.text]:
			return Static{Kind: StaticSpanKind, S: p.take().text}, nil
		}
		return Static{}, p.errorf("unknown identifier: %s", t.text)
	}
	return Static{}, p.unexpected("a value")
}

// number := ["-"] (int | float | duration)
func (p *parser) number() (Static, error) {
	neg := false
	if p.is("-") {
		p.take()
		neg = true
	}
	if p.peek().kind != tNumber {
		return Static{}, p.unexpected("a number")
	}
	v := p.take().val
	if neg {
		v.I, v.F = -v.I, -v.F
	}
	return v, nil
}

// scalarFilter := scalarOperand scalarOp scalarOperand
func (p *parser) scalarFilter() (Stage, error) {
	left, err := p.scalarOperand()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tOp || !scalarOps[p.peek().text] {
		return nil, p.unexpected("a comparison operator")
	}
	op := p.take().text
	right, err := p.scalarOperand()
	if err != nil {
		return nil, err
	}
	return &ScalarFilter{Left: left, Op: op, Right: right}, nil
}

// scalarOperand := aggregate | ["-"] number
func (p *parser) scalarOperand() (ScalarOperand, error) {
	if t := p.peek(); t.kind == tIdent && aggregateFns[t.text] {
		agg := &Aggregate{Fn: p.take().text}
		if err := p.expect("("); err != nil {
			return ScalarOperand{}, err
		}
		if agg.Fn != "count" {
			a, err := p.attribute()
			if err != nil {
				return ScalarOperand{}, err
			}
			agg.Arg = &a
		}
		return ScalarOperand{Agg: agg}, p.expect(")")
	}
	v, err := p.number()
	if err != nil {
		return ScalarOperand{}, err
	}
	return ScalarOperand{Value: &v}, nil
}

// metrics := fn "(" args ")" [ "by" attributeList ] [ "|" ("topk" | "bottomk") "(" int ")" ]
func (p *parser) metrics() (*MetricsStage, error) {
	m := &MetricsStage{Fn: p.take().text}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	switch m.Fn {
	case "rate", "count_over_time":
	case "compare":
		f, err := p.filter()
		if err != nil {
			return nil, err
		}
		m.Compare = f
		for p.is(",") {
			p.take()
			n, err := p.integer()
			if err != nil {
				return nil, err
			}
			m.CompareArgs = append(m.CompareArgs, n)
		}
		if len(m.CompareArgs) == 2 || len(m.CompareArgs) > 3 {
			return nil, p.errorf("compare takes a filter and then either a top-N or a top-N, a start and an end")
		}
	default:
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		m.Attr = &a
		if m.Fn == "quantile_over_time" {
			if !p.is(",") {
				return nil, p.unexpected(", and the quantiles")
			}
			for p.is(",") {
				p.take()
				v, err := p.static()
				if err != nil {
					return nil, err
				}
				switch v.Kind {
				case StaticFloat:
					m.Quantiles = append(m.Quantiles, v.F)
				case StaticInt:
					m.Quantiles = append(m.Quantiles, float64(v.I))
				default:
					return nil, p.errorf("quantiles are numbers")
				}
			}
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if p.is("by") && m.Fn != "compare" {
		p.take()
		attrs, err := p.attributeList()
		if err != nil {
			return nil, err
		}
		m.By = attrs
	}
	if p.is("|") {
		p.take()
		if !p.is("topk") && !p.is("bottomk") {
			return nil, p.unexpected("topk or bottomk after a metrics function")
		}
		s := &SecondStage{Fn: p.take().text}
		if err := p.expect("("); err != nil {
			return nil, err
		}
		n, err := p.integer()
		if err != nil {
			return nil, err
		}
		s.N = n
		m.Second = s
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (p *parser) integer() (int64, error) {
	if t := p.peek(); t.kind != tNumber || t.val.Kind != StaticInt {
		return 0, p.unexpected("an integer")
	}
	return p.take().val.I, nil
}

// hints := "with" "(" name "=" static { "," name "=" static } ")"
func (p *parser) hints() ([]Hint, error) {
	p.take()
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var hs []Hint
	for {
		if p.peek().kind != tIdent {
			return nil, p.unexpected("a hint name")
		}
		name := p.take().text
		if err := p.expect("="); err != nil {
			return nil, err
		}
		v, err := p.static()
		if err != nil {
			return nil, err
		}
		hs = append(hs, Hint{Name: name, Value: v})
		if !p.is(",") {
			break
		}
		p.take()
	}
	return hs, p.expect(")")
}
