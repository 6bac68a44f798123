package standin

// A small recursive-descent parser for the TraceQL subset described in the
// package documentation. Errors mimic the shape of Tempo's goyacc parser:
// "parse error at line L, col C: <message>", where the message is
// "syntax error: unexpected <token>" for grammar errors (token names as Tempo
// prints them: IDENTIFIER, STRING, INTEGER, FLOAT, DURATION, $end, or the
// literal text of an operator or keyword) and "unknown identifier: <word>" for
// a bare word where a field is expected.

import (
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

// ---- AST ----

type fieldKind int

const (
	fieldAttr fieldKind = iota
	fieldName
	fieldStatus
	fieldSpanKind
	fieldDuration
)

// field is an attribute reference or a supported intrinsic.
type field struct {
	kind  fieldKind
	scope string // fieldAttr: "resource", "span" or "" (unscoped)
	name  string // attribute name, or the intrinsic's name
}

// outputKey is the key Tempo uses for the field in search results.
func (f field) outputKey() string { return f.name }

type operator int

const (
	opEq operator = iota
	opNeq
	opRe
	opNre
	opGt
	opGte
	opLt
	opLte
)

var opTokens = map[tokKind]operator{
	tEq: opEq, tNeq: opNeq, tRe: opRe, tNre: opNre, tGt: opGt, tGte: opGte, tLt: opLt, tLte: opLte,
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
)

type literal struct {
	kind litKind
	s    string // string, status or kind keyword
	i    int64
	f    float64
	d    time.Duration
	b    bool
	re   *regexp.Regexp // for =~ and !~
}

type node interface{ isNode() }

type logicNode struct {
	and  bool // false: or
	l, r node
}

type condNode struct {
	f   field
	op  operator
	lit literal
}

func (logicNode) isNode() {}
func (condNode) isNode()  {}

// query is a parsed TraceQL query of the supported subset.
type query struct {
	filter  node    // nil matches every span
	selects []field // from "| select(...)"
}

// fields returns every field the query references, conditions first, then
// selected fields, without duplicates.
func (q *query) fields() []field {
	var out []field
	seen := map[field]bool{}
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case logicNode:
			walk(n.l)
			walk(n.r)
		case condNode:
			if !seen[n.f] {
				seen[n.f] = true
				out = append(out, n.f)
			}
		}
	}
	if q.filter != nil {
		walk(q.filter)
	}
	for _, f := range q.selects {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// ---- parser ----

type parser struct {
	lex *lexer
	tok token
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

// parse parses q, which must be exactly one spanset filter optionally followed
// by "| select(field, ...)". Grammar:
//
//	query   = "{" [ or ] "}" [ "|" "select" "(" field { "," field } ")" ] EOF
//	or      = and { "||" and }
//	and     = primary { "&&" primary }
//	primary = "(" or ")" | field op literal
//	field   = "name" | "status" | "kind" | "duration" | ("resource."|"span."|".") attr
//	op      = "=" | "!=" | "=~" | "!~" | ">" | ">=" | "<" | "<="
//	literal = string | ["-"] (integer | float | duration) | "true" | "false"
//	        | "ok" | "error" | "unset" | kind keyword
func parse(q string) (*query, error) {
	p := &parser{lex: newLexer(q)}
	if err := p.advance(); err != nil {
		return nil, err
	}
	out := &query{}
	if p.tok.kind != tOpenBrace {
		return nil, p.unexpected()
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tCloseBrace {
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		out.filter = n
	}
	if err := p.expect(tCloseBrace); err != nil {
		return nil, err
	}
	if p.tok.kind == tPipe {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tKeyword || p.tok.text != "select" {
			return nil, p.unexpected()
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(tOpenParen); err != nil {
			return nil, err
		}
		for {
			f, err := p.parseField()
			if err != nil {
				return nil, err
			}
			out.selects = append(out.selects, f)
			if p.tok.kind == tComma {
				if err := p.advance(); err != nil {
					return nil, err
				}
				continue
			}
			break
		}
		if err := p.expect(tCloseParen); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected()
	}
	return out, nil
}

func (p *parser) parseOr() (node, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = logicNode{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (node, error) {
	l, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		l = logicNode{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parsePrimary() (node, error) {
	if p.tok.kind == tOpenParen {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tCloseParen); err != nil {
			return nil, err
		}
		return n, nil
	}
	return p.parseCond()
}

// parseField parses an attribute or one of the supported intrinsics.
func (p *parser) parseField() (field, error) {
	t := p.tok
	var f field
	switch t.kind {
	case tAttr:
		switch t.scope {
		case "", "resource", "span":
		default:
			return f, p.errHere("attribute scope %s is not supported by this stand-in", t.scope)
		}
		if t.name == "" && !t.attrQuoted {
			return f, &parseError{line: t.line, col: t.col + len([]rune(t.display())), msg: "syntax error: unexpected END_ATTRIBUTE"}
		}
		f = field{kind: fieldAttr, scope: t.scope, name: t.name}
	case tKeyword:
		switch t.text {
		case "name":
			f = field{kind: fieldName, name: "name"}
		case "status":
			f = field{kind: fieldStatus, name: "status"}
		case "kind":
			f = field{kind: fieldSpanKind, name: "kind"}
		case "duration":
			f = field{kind: fieldDuration, name: "duration"}
		default:
			if isIntrinsic(t.text) {
				return f, p.errHere("intrinsic %s is not supported by this stand-in", t.text)
			}
			return f, p.unexpected()
		}
	case tIdent:
		return f, p.errHere("unknown identifier: %s", t.text)
	default:
		return f, p.unexpected()
	}
	return f, p.advance()
}

func isIntrinsic(s string) bool {
	for _, n := range intrinsicNames {
		if n == s {
			return true
		}
	}
	switch s {
	case "childCount", "nestedSetLeft", "nestedSetRight", "nestedSetParent", "parent":
		return true
	}
	return false
}

func (p *parser) parseCond() (node, error) {
	f, err := p.parseField()
	if err != nil {
		return nil, err
	}
	op, ok := opTokens[p.tok.kind]
	if !ok {
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
	return condNode{f: f, op: op, lit: lit}, nil
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

var opNames = map[operator]string{
	opEq: "=", opNeq: "!=", opRe: "=~", opNre: "!~", opGt: ">", opGte: ">=", opLt: "<", opLte: "<=",
}

var litNames = map[litKind]string{
	litString: "string", litInt: "int", litFloat: "float", litDuration: "duration",
	litBool: "bool", litStatus: "status", litSpanKind: "kind",
}

// checkCond applies the type rules of the subset and compiles regexes.
func checkCond(f field, op operator, lit *literal) error {
	bad := func() error {
		return fmt.Errorf("invalid operation: %s %s %s", f.name, opNames[op], litNames[lit.kind])
	}
	eqOnly := op == opEq || op == opNeq
	switch f.kind {
	case fieldStatus:
		if lit.kind != litStatus || !eqOnly {
			return bad()
		}
	case fieldSpanKind:
		if lit.kind != litSpanKind || !eqOnly {
			return bad()
		}
	case fieldDuration:
		if lit.kind != litDuration || op == opRe || op == opNre {
			return bad()
		}
	case fieldName:
		if lit.kind != litString {
			return bad()
		}
	case fieldAttr:
		switch lit.kind {
		case litStatus, litSpanKind, litDuration:
			return bad()
		case litBool:
			if !eqOnly {
				return bad()
			}
		case litInt, litFloat:
			if op == opRe || op == opNre {
				return bad()
			}
		}
	}
	if op == opRe || op == opNre {
		// TraceQL regular expressions are fully anchored.
		re, err := regexp.Compile("^(?:" + lit.s + ")$")
		if err != nil {
			return err
		}
		lit.re = re
	}
	return nil
}

// parseIdentifier validates a tag name the way Tempo's traceql.ParseIdentifier
// does (it parses "{" + s + "}"): an attribute in any scope (resource., span.,
// ., event., link., instrumentation.) or an intrinsic name.
func parseIdentifier(s string) (field, string, error) {
	l := newLexer("{" + s + "}")
	t, err := l.next() // "{"
	if err != nil {
		return field{}, "", err
	}
	t, err = l.next()
	if err != nil {
		return field{}, "", err
	}
	var f field
	var scope string
	switch t.kind {
	case tAttr:
		if t.name == "" && !t.attrQuoted {
			return f, "", &parseError{line: t.line, col: l.col, msg: "syntax error: unexpected END_ATTRIBUTE"}
		}
		f = field{kind: fieldAttr, scope: t.scope, name: t.name}
		scope = t.scope
	case tKeyword:
		if !isIntrinsic(t.text) {
			return f, "", &parseError{line: t.line, col: t.col, msg: "syntax error: unexpected " + t.display()}
		}
		f = field{kind: fieldName, name: t.text} // kind refined by the caller via name
		scope = "intrinsic"
	case tIdent:
		return f, "", &parseError{line: t.line, col: t.col, msg: "unknown identifier: " + t.text}
	default:
		return f, "", &parseError{line: t.line, col: t.col, msg: "syntax error: unexpected " + t.display()}
	}
	end, err := l.next()
	if err != nil {
		return field{}, "", err
	}
	if end.kind != tCloseBrace {
		return field{}, "", &parseError{line: end.line, col: end.col, msg: "syntax error: unexpected " + end.display()}
	}
	if last, err := l.next(); err != nil || last.kind != tEOF {
		if err != nil {
			return field{}, "", err
		}
		return field{}, "", &parseError{line: last.line, col: last.col, msg: "syntax error: unexpected " + last.display()}
	}
	return f, scope, nil
}
