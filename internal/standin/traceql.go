package standin

// A recursive-descent parser for the TraceQL the stand-in evaluates (see the
// package documentation). Errors mimic the shape of Tempo's goyacc parser:
// "parse error at line L, col C: <message>", where the message is
// "syntax error: unexpected <token>" for grammar errors (token names as Tempo
// prints them: IDENTIFIER, STRING, INTEGER, FLOAT, DURATION, $end, or the
// literal text of an operator or keyword) and "unknown identifier: <word>" for
// a bare word where a field is expected.

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// maxQuerySize mirrors Tempo's default max_query_expression_size_bytes.
const maxQuerySize = 128 * 1024

// ---- errors ----

type parseError struct {
	line, col int
	msg       string
}

func (e *parseError) Error() string {
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.line, e.col, e.msg)
}

// errParent is Tempo's answer to the parent. scope (not a parse error there).
var errParent = errors.New("parent not yet supported")

// ---- fields ----

// field is an attribute reference or an intrinsic.
type field struct {
	intrinsic string // canonical intrinsic name; "" for an attribute
	scope     string // attribute: resource, span, event, link, instrumentation or "" (unscoped)
	name      string // attribute name
}

// intrinsicTypes gives the value type of each intrinsic (canonical names).
var intrinsicTypes = map[string]litKind{
	"name": litString, "status": litStatus, "kind": litSpanKind, "duration": litDuration,
	"statusMessage": litString, "span:id": litString, "span:parentID": litString,
	"span:childCount": litInt, "nestedSetLeft": litInt, "nestedSetRight": litInt, "nestedSetParent": litInt,
	"trace:id": litString, "trace:rootService": litString, "trace:rootName": litString,
	"trace:duration": litDuration, "event:name": litString, "event:timeSinceStart": litDuration,
	"link:traceID": litString, "link:spanID": litString,
	"instrumentation:name": litString, "instrumentation:version": litString,
}

// intrinsicAliases maps other spellings to the canonical names.
var intrinsicAliases = map[string]string{
	"span:name": "name", "span:status": "status", "span:kind": "kind", "span:duration": "duration",
	"span:statusMessage": "statusMessage", "rootServiceName": "trace:rootService",
	"rootName": "trace:rootName", "traceDuration": "trace:duration",
}

// hiddenIntrinsics are never reported as attributes of returned spans.
var hiddenIntrinsics = map[string]bool{
	"duration": true, "span:id": true, "trace:id": true, "trace:rootService": true,
	"trace:rootName": true, "trace:duration": true,
}

// outputKey is the key Tempo uses for the field in search results.
func (f field) outputKey() string {
	if f.intrinsic != "" {
		return f.intrinsic
	}
	return f.name
}

func (f field) String() string { return f.outputKey() }

// ---- literals and operators ----

// comparisons are the comparison operators and their texts.
var comparisons = map[tokKind]string{
	tEq: "=", tNeq: "!=", tRe: "=~", tNre: "!~", tGt: ">", tGte: ">=", tLt: "<", tLte: "<=",
}

type litKind int

const (
	litString litKind = iota
	litInt
	litFloat
	litDuration
	litBool
	litStatus
	litSpanKind
	litNil
)

// literal is a value in a query, or (in eval.go) a value of a span.
type literal struct {
	kind litKind
	s    string // string, status or kind keyword
	i    int64
	f    float64
	d    time.Duration
	b    bool
	re   *regexp.Regexp // for =~ and !~
}

// ---- syntax tree ----

// A condition inside { }: *binary (&& ||), *not, *cond or boolConst.
type expr = any

// binary joins two conditions with && or ||, or two spanset expressions
// with && || or a structural operator.
type binary struct {
	op   tokKind
	l, r any
}

type not struct{ e expr }

type cond struct {
	f   field
	op  tokKind
	lit literal
}

type boolConst bool

// A spanset expression: *filter, *binary or *pipeline.
type ssExpr = any

// filter is { cond }; cond nil matches every span.
type filter struct {
	cond    expr
	orFree  bool    // no || inside: Tempo's storage first keeps spans where every condition holds
	onlyAnd bool    // conditions joined with && only: the pre-filter decides
	leaves  []*cond // the conditions, for that pre-filter
}

type pipeline struct {
	src     ssExpr
	stages  []*stage
	wrapped bool // written as ( ... ): only ( ... ) may be joined to it
}

type stageKind int

const (
	stFilter    stageKind = iota // a spanset expression applied to each spanset
	stAggregate                  // count() > 1, avg(duration) > 1ms, ...
	stBy                         // by(field): split spansets
	stCoalesce                   // merge spansets
	stNoop                       // select(), metrics functions: no effect on which spans match
)

type stage struct {
	kind stageKind
	expr ssExpr // stFilter
	agg  string // stAggregate: count, avg, min, max, sum
	arg  field  // stAggregate argument (not for count)
	op   tokKind
	lit  literal
	by   field // stBy
}

// query is a parsed TraceQL query.
type query struct {
	root      ssExpr
	conds     []*cond // every condition in source order (for returned attributes)
	selects   []field // select() and by() fields
	selectAll bool    // compare(): every attribute of every returned span
	metricsFn string  // the metrics function ending the query ("" for a search)
	metricsBy []field // its by() fields
}

// ---- parser ----

type parser struct {
	lex *lexer
	tok token
	q   *query
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected() error {
	return &parseError{line: p.tok.line, col: p.tok.col, msg: "syntax error: unexpected " + p.tok.display()}
}

func (p *parser) errHere(format string, args ...any) error {
	return &parseError{line: p.tok.line, col: p.tok.col, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(k tokKind) error {
	if p.tok.kind != k {
		return p.unexpected()
	}
	return p.advance()
}

func (p *parser) isWord(w string) bool { return p.tok.kind == tKeyword && p.tok.text == w }

// parse parses a query. Grammar (the precedence of spanset operators, from
// loosest: ||, &&, structural):
//
//	query    = pipeline [ "with" "(" hint { "," hint } ")" ] EOF
//	pipeline = ssor { "|" stage }
//	ssor     = ssand { "||" ssand } ;  ssand = ssrel { "&&" ssrel }
//	ssrel    = ssprim { structural ssprim }      (> >> < << ~ !> !>> !< !<< !~ &> &>> &< &<< &~)
//	ssprim   = "{" [ or ] "}" | "(" pipeline ")"  (a parenthesised pipeline with stages
//	           may only be joined to another parenthesised operand)
//	stage    = ssor | "select" "(" fields ")" | "by" "(" field ")" | "coalesce" "(" ")"
//	         | "count" "(" ")" op number | ("avg"|"min"|"max"|"sum") "(" field ")" op literal
//	         | metrics function "(" args ")" [ "by" "(" fields ")" ]
//	or       = and { "||" and } ;  and = unary { "&&" unary }
//	unary    = "!" unary | "(" or ")" | "true" | "false" | field op literal
func parse(q string) (*query, error) {
	p := &parser{lex: newLexer(q), q: &query{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.parsePipeline()
	if err != nil {
		return nil, err
	}
	p.q.root = root
	if p.isWord("with") {
		if err := p.parseHints(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != tEOF {
		return nil, p.errHere("syntax error: unexpected %s, expecting with", p.tok.display())
	}
	return p.q, nil
}

// parseHints accepts with(name = value, ...); hints have no effect here.
func (p *parser) parseHints() error {
	if err := p.advance(); err != nil {
		return err
	}
	if err := p.expect(tOpenParen); err != nil {
		return err
	}
	for {
		if p.tok.kind != tIdent && p.tok.kind != tKeyword {
			return p.unexpected()
		}
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.expect(tEq); err != nil {
			return err
		}
		if _, err := p.parseLiteral(); err != nil {
			return err
		}
		if p.tok.kind != tComma {
			return p.expect(tCloseParen)
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

func (p *parser) parsePipeline() (ssExpr, error) {
	src, err := p.parseSsOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tPipe {
		return src, nil
	}
	pl := &pipeline{src: src}
	for p.tok.kind == tPipe {
		if err := p.advance(); err != nil {
			return nil, err
		}
		st, err := p.parseStage()
		if err != nil {
			return nil, err
		}
		pl.stages = append(pl.stages, st)
	}
	return pl, nil
}

// parseBinary parses one precedence level of spanset operators.
func (p *parser) parseBinary(ops func(tokKind) bool, next func() (ssExpr, error)) (ssExpr, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for ops(p.tok.kind) {
		op := p.tok.kind
		if err := p.advance(); err != nil {
			return nil, err
		}
		if pl, ok := l.(*pipeline); ok && pl.wrapped && p.tok.kind != tOpenParen {
			return nil, p.errHere("syntax error: unexpected %s, expecting (", p.tok.display())
		}
		r, err := next()
		if err != nil {
			return nil, err
		}
		l = &binary{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseSsOr() (ssExpr, error) {
	return p.parseBinary(func(k tokKind) bool { return k == tOr }, p.parseSsAnd)
}

func (p *parser) parseSsAnd() (ssExpr, error) {
	return p.parseBinary(func(k tokKind) bool { return k == tAnd }, p.parseSsRel)
}

func (p *parser) parseSsRel() (ssExpr, error) {
	return p.parseBinary(func(k tokKind) bool { _, ok := structOpsByTok[k]; return ok }, p.parseSsPrimary)
}

func (p *parser) parseSsPrimary() (ssExpr, error) {
	switch p.tok.kind {
	case tOpenBrace:
		if err := p.advance(); err != nil {
			return nil, err
		}
		f := &filter{}
		if p.tok.kind != tCloseBrace {
			c, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			f.cond = c
			f.orFree = collectLeaves(c, &f.leaves)
			f.onlyAnd = f.orFree && onlyAnd(c)
		} else {
			f.orFree, f.onlyAnd = true, true
		}
		return f, p.expect(tCloseBrace)
	case tOpenParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.parsePipeline()
		if err != nil {
			return nil, err
		}
		if pl, ok := e.(*pipeline); ok {
			pl.wrapped = true
		}
		return e, p.expect(tCloseParen)
	}
	return nil, p.unexpected()
}

// collectLeaves appends the conditions of c and reports whether c has no ||.
func collectLeaves(c expr, out *[]*cond) bool {
	switch c := c.(type) {
	case *binary:
		l := collectLeaves(c.l, out)
		r := collectLeaves(c.r, out)
		return c.op == tAnd && l && r
	case *not:
		return collectLeaves(c.e, out)
	case *cond:
		*out = append(*out, c)
	}
	return true
}

// onlyAnd reports whether c is conditions joined with && (no !, no true/false).
func onlyAnd(c expr) bool {
	switch c := c.(type) {
	case *binary:
		return c.op == tAnd && onlyAnd(c.l) && onlyAnd(c.r)
	case *cond:
		return true
	}
	return false
}

var metricsFuncs = map[string]bool{
	"rate": true, "count_over_time": true, "min_over_time": true, "max_over_time": true,
	"avg_over_time": true, "sum_over_time": true, "quantile_over_time": true,
	"histogram_over_time": true, "compare": true, "topk": true, "bottomk": true,
}

func (p *parser) parseStage() (*stage, error) {
	if p.tok.kind == tOpenBrace || p.tok.kind == tOpenParen {
		e, err := p.parseSsOr()
		return &stage{kind: stFilter, expr: e}, err
	}
	if p.tok.kind != tKeyword {
		return nil, p.unexpected()
	}
	name := p.tok.text
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tOpenParen); err != nil {
		return nil, err
	}
	st := &stage{kind: stNoop}
	switch name {
	case "select", "by":
		fields, err := p.parseFields()
		if err != nil {
			return nil, err
		}
		p.q.selects = append(p.q.selects, fields...)
		if name == "by" {
			if len(fields) != 1 {
				return nil, p.errHere("by() takes one field")
			}
			st = &stage{kind: stBy, by: fields[0]}
		}
		return st, nil
	case "coalesce":
		st.kind = stCoalesce
	case "count", "avg", "min", "max", "sum":
		st = &stage{kind: stAggregate, agg: name}
		if name != "count" {
			f, err := p.parseField()
			if err != nil {
				return nil, err
			}
			st.arg = f
		}
		if err := p.expect(tCloseParen); err != nil {
			return nil, err
		}
		op := p.tok.kind
		if _, ok := comparisons[op]; !ok || op == tRe || op == tNre {
			return nil, p.unexpected()
		}
		st.op = op
		if err := p.advance(); err != nil {
			return nil, err
		}
		lit, err := p.parseLiteral()
		if err != nil {
			return nil, err
		}
		if lit.kind != litInt && lit.kind != litFloat && lit.kind != litDuration {
			return nil, p.errHere("invalid operation: %s() %s %s", name, comparisons[op], litNames[lit.kind])
		}
		st.lit = lit
		return st, nil
	default:
		if !metricsFuncs[name] {
			return nil, p.unexpected()
		}
		if err := p.parseMetricsArgs(); err != nil {
			return nil, err
		}
		p.q.selectAll = p.q.selectAll || name == "compare"
		p.q.metricsFn = name
		if p.isWord("by") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if err := p.expect(tOpenParen); err != nil {
				return nil, err
			}
			fields, err := p.parseFields()
			if err != nil {
				return nil, err
			}
			p.q.metricsBy = fields
		}
		return st, nil
	}
	return st, p.expect(tCloseParen)
}

// parseMetricsArgs skips the arguments of a metrics function (spanset
// expressions, fields, numbers) up to and including ")".
func (p *parser) parseMetricsArgs() error {
	for p.tok.kind != tCloseParen {
		var err error
		switch p.tok.kind {
		case tOpenBrace:
			_, err = p.parseSsOr()
		case tAttr, tKeyword:
			_, err = p.parseField()
		default:
			_, err = p.parseLiteral()
		}
		if err != nil {
			return err
		}
		if p.tok.kind != tComma {
			break
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
	return p.expect(tCloseParen)
}

// parseFields parses field { "," field } ")".
func (p *parser) parseFields() ([]field, error) {
	var out []field
	for {
		f, err := p.parseField()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		if p.tok.kind != tComma {
			return out, p.expect(tCloseParen)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseOr() (expr, error) {
	return p.parseBinary(func(k tokKind) bool { return k == tOr }, p.parseAnd)
}

func (p *parser) parseAnd() (expr, error) {
	return p.parseBinary(func(k tokKind) bool { return k == tAnd }, p.parseUnary)
}

func (p *parser) parseUnary() (expr, error) {
	switch {
	case p.tok.kind == tNot:
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &not{e: e}, nil
	case p.tok.kind == tOpenParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		return e, p.expect(tCloseParen)
	case p.isWord("true") || p.isWord("false"):
		b := boolConst(p.tok.text == "true")
		return b, p.advance()
	}
	return p.parseCond()
}

// parseField parses an attribute or an intrinsic.
func (p *parser) parseField() (field, error) {
	t := p.tok
	var f field
	switch t.kind {
	case tAttr:
		if t.scope == "parent" {
			return f, errParent
		}
		if t.name == "" && !t.attrQuoted {
			return f, &parseError{line: t.line, col: t.col + len([]rune(t.display())), msg: "syntax error: unexpected END_ATTRIBUTE"}
		}
		f = field{scope: t.scope, name: t.name}
	case tKeyword:
		name := t.text
		if a, ok := intrinsicAliases[name]; ok {
			name = a
		}
		if _, ok := intrinsicTypes[name]; !ok {
			return f, p.unexpected()
		}
		f = field{intrinsic: name}
	case tIdent:
		return f, p.errHere("unknown identifier: %s", t.text)
	default:
		return f, p.unexpected()
	}
	return f, p.advance()
}

func (p *parser) parseCond() (expr, error) {
	f, err := p.parseField()
	if err != nil {
		return nil, err
	}
	op := p.tok.kind
	if _, ok := comparisons[op]; !ok {
		return nil, p.unexpected()
	}
	opTok := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	lit, err := p.parseLiteral()
	if err != nil {
		return nil, err
	}
	if err := checkCond(f, op, &lit); err != nil {
		return nil, &parseError{line: opTok.line, col: opTok.col, msg: err.Error()}
	}
	c := &cond{f: f, op: op, lit: lit}
	p.q.conds = append(p.q.conds, c)
	return c, nil
}

func (p *parser) parseLiteral() (literal, error) {
	t := p.tok
	var lit literal
	neg := false
	if t.kind == tOther && t.text == "-" {
		if err := p.advance(); err != nil {
			return lit, err
		}
		t = p.tok
		if t.kind != tInt && t.kind != tFloat && t.kind != tDuration {
			return lit, p.unexpected()
		}
		neg = true
	}
	switch t.kind {
	case tString:
		lit = literal{kind: litString, s: t.str}
	case tInt:
		lit = literal{kind: litInt, i: t.i}
		if neg {
			lit.i = -lit.i
		}
	case tFloat:
		lit = literal{kind: litFloat, f: t.f}
		if neg {
			lit.f = -lit.f
		}
	case tDuration:
		lit = literal{kind: litDuration, d: t.d}
		if neg {
			lit.d = -lit.d
		}
	case tKeyword:
		switch {
		case t.text == "true" || t.text == "false":
			lit = literal{kind: litBool, b: t.text == "true"}
		case t.text == "nil":
			lit = literal{kind: litNil}
		case statusKeywords[t.text]:
			lit = literal{kind: litStatus, s: t.text}
		case kindKeywords[t.text]:
			lit = literal{kind: litSpanKind, s: t.text}
		default:
			return lit, p.unexpected()
		}
	default:
		return lit, p.unexpected()
	}
	return lit, p.advance()
}

var litNames = map[litKind]string{
	litString: "string", litInt: "int", litFloat: "float", litDuration: "duration",
	litBool: "bool", litStatus: "status", litSpanKind: "kind", litNil: "nil",
}

// checkCond applies TraceQL's type rules and compiles regexes.
func checkCond(f field, op tokKind, lit *literal) error {
	bad := func() error {
		return fmt.Errorf("invalid operation: %s %s %s", f, comparisons[op], litNames[lit.kind])
	}
	eqOnly := op == tEq || op == tNeq
	regex := op == tRe || op == tNre
	if lit.kind == litNil {
		if !eqOnly {
			return bad()
		}
		return nil
	}
	want, intrinsic := intrinsicTypes[f.intrinsic]
	switch {
	case intrinsic && (want == litStatus || want == litSpanKind):
		if lit.kind != want || !eqOnly {
			return bad()
		}
	case intrinsic && want == litDuration:
		if lit.kind != litDuration || regex {
			return bad()
		}
	case intrinsic && want == litString:
		if lit.kind != litString {
			return bad()
		}
	case intrinsic && want == litInt:
		if lit.kind != litInt && lit.kind != litFloat || regex {
			return bad()
		}
	default: // attribute
		switch lit.kind {
		case litStatus, litSpanKind, litDuration:
			return bad()
		case litBool:
			if !eqOnly {
				return bad()
			}
		case litInt, litFloat:
			if regex {
				return bad()
			}
		}
	}
	if regex {
		// TraceQL regular expressions are fully anchored.
		re, err := regexp.Compile("^(?:" + lit.s + ")$")
		if err != nil {
			return err
		}
		lit.re = re
	}
	return nil
}

// parseIdentifier parses a tag name the way Tempo's traceql.ParseIdentifier
// does: as the field of "{" + s + "}".
func parseIdentifier(s string) (field, error) {
	p := &parser{lex: newLexer("{" + s + "}"), q: &query{}}
	if err := p.advance(); err != nil {
		return field{}, err
	}
	if err := p.expect(tOpenBrace); err != nil {
		return field{}, err
	}
	f, err := p.parseField()
	if err == nil {
		err = p.expect(tCloseBrace)
	}
	if err == nil && p.tok.kind != tEOF {
		err = p.unexpected()
	}
	return f, err
}
