package traceql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxQueryBytes is Tempo's default limit on a TraceQL expression (max_query_expression_size_bytes).
const MaxQueryBytes = 128 << 10

// SyntaxError is a query the parser does not fully understand.
type SyntaxError struct {
	Line, Col int // 1-based; Col counts runes
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

type tokKind int

const (
	tEOF    tokKind = iota
	tPunct          // { } ( ) , | -
	tOp             // operators: && || ! = != =~ !~ > >= >> < <= << ~ !> !>> !< !<< &> &>> &< &<< &~
	tString         // val.S
	tNumber         // val: int, float or duration (never negative; '-' is a separate token)
	tIdent          // a bare word: keyword, intrinsic, function or hint name
	tAttr           // a scoped attribute or scoped intrinsic: attr
	tError          // a lexical error (parser only)
)

type token struct {
	kind      tokKind
	text      string // punctuation, operator or word; the source text for numbers
	val       Static
	attr      Attribute
	line, col int
}

// describe names a token in error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string"
	case tNumber:
		return "number " + t.text
	case tAttr:
		return "attribute " + printAttr(t.attr)
	}
	return strconv.Quote(t.text)
}

// Scopes written `word.name` and `word:intrinsic`.
var (
	dotScopes = map[string]Scope{
		"resource": ScopeResource, "span": ScopeSpan, "event": ScopeEvent,
		"link": ScopeLink, "instrumentation": ScopeInstrumentation,
	}
	colonScopes = map[string]bool{"trace": true, "span": true, "event": true, "link": true, "instrumentation": true}
)

type lexer struct {
	src       string
	pos       int
	line, col int
	tok       token // the token just read
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

// read reads the next token into l.tok; at the end it is a tEOF token.
func (l *lexer) read() error {
	if err := l.skipSpaceAndComments(); err != nil {
		return err
	}
	if l.pos >= len(l.src) {
		l.tok = token{kind: tEOF, line: l.line, col: l.col}
		return nil
	}
	return l.next()
}

// lex reads all of src.
func lex(src string) ([]token, error) {
	l := newLexer(src)
	var toks []token
	for {
		if err := l.read(); err != nil {
			return nil, err
		}
		toks = append(toks, l.tok)
		if l.tok.kind == tEOF {
			return toks, nil
		}
	}
}

func (l *lexer) errAt(line, col int, format string, args ...any) error {
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) peekRune(off int) rune {
	if l.pos+off >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos+off:])
	return r
}

// advance moves over n bytes, keeping line and column (in runes) up to date.
func (l *lexer) advance(n int) {
	for _, c := range []byte(l.src[l.pos : l.pos+n]) {
		switch {
		case c == '\n':
			l.line++
			l.col = 1
		case c&0xC0 != 0x80: // not a UTF-8 continuation byte: a new rune
			l.col++
		}
	}
	l.pos += n
}

func (l *lexer) skipSpaceAndComments() error {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t', '\n', '\r':
			l.advance(1)
		case '/':
			switch {
			case strings.HasPrefix(l.src[l.pos:], "//"):
				end := strings.IndexByte(l.src[l.pos:], '\n')
				if end < 0 {
					end = len(l.src) - l.pos
				}
				l.advance(end)
			case strings.HasPrefix(l.src[l.pos:], "/*"):
				end := strings.Index(l.src[l.pos+2:], "*/")
				if end < 0 {
					return l.errAt(l.line, l.col, "comment not terminated")
				}
				l.advance(end + 4)
			default:
				return nil
			}
		default:
			return nil
		}
	}
	return nil
}

// operator returns the operator at the start of s, longest match first, or "".
func operator(s string) string {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	switch c1, c2 := s[0], at(1); c1 {
	case '&':
		switch c2 {
		case '&', '~':
			return s[:2]
		case '>', '<':
			if at(2) == c2 {
				return s[:3]
			}
			return s[:2]
		}
	case '|':
		if c2 == '|' {
			return "||"
		}
	case '!':
		switch c2 {
		case '=', '~':
			return s[:2]
		case '>', '<':
			if at(2) == c2 {
				return s[:3]
			}
			return s[:2]
		}
		return "!"
	case '=':
		if c2 == '~' {
			return "=~"
		}
		return "="
	case '>', '<':
		if c2 == '=' || c2 == c1 {
			return s[:2]
		}
		return s[:1]
	case '~':
		return "~"
	}
	return ""
}

func (l *lexer) emit(t token, n int) {
	t.line, t.col = l.line, l.col
	l.tok = t
	l.advance(n)
}

func (l *lexer) next() error {
	rest := l.src[l.pos:]
	r, size := utf8.DecodeRuneInString(rest)
	switch {
	case r == utf8.RuneError && size == 1:
		return l.errAt(l.line, l.col, "invalid UTF-8")
	case strings.ContainsRune("{}(),-", r):
		l.emit(token{kind: tPunct, text: rest[:1]}, 1)
		return nil
	case r == '|' && !strings.HasPrefix(rest, "||"):
		l.emit(token{kind: tPunct, text: "|"}, 1)
		return nil
	case r == '"' || r == '`':
		return l.lexString()
	case r == '\'':
		return l.errAt(l.line, l.col, "invalid char literal: strings take double quotes or backticks")
	case r == '.' && isDigit(l.peekRune(1)):
		return l.lexNumber()
	case r == '.':
		return l.lexAttribute(ScopeUnscoped, 1)
	case isDigit(r):
		return l.lexNumber()
	case unicode.IsLetter(r) || r == '_':
		return l.lexWord()
	}
	if op := operator(rest); op != "" {
		l.emit(token{kind: tOp, text: op}, len(op))
		return nil
	}
	return l.errAt(l.line, l.col, "unexpected character %q", r)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isNameRune is a rune of an unquoted attribute name.
func isNameRune(r rune) bool { return r == '.' || isWordRune(r) }

// quotedString scans a "…" or `…` literal at the start of s and returns its
// length and value (Go escape rules, as Tempo's scanner uses).
func quotedString(s string) (int, string, error) {
	q := s[0]
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return 0, "", fmt.Errorf("invalid string literal: %w", err)
			}
			if !utf8.ValidString(v) {
				return 0, "", fmt.Errorf("string literal is not valid UTF-8")
			}
			return i + 1, v, nil
		case c == '\\' && q == '"':
			i += 2
		case c == '\n' && q == '"':
			return 0, "", fmt.Errorf("string literal not terminated")
		default:
			i++
		}
	}
	return 0, "", fmt.Errorf("string literal not terminated")
}

func (l *lexer) lexString() error {
	n, v, err := quotedString(l.src[l.pos:])
	if err != nil {
		return l.errAt(l.line, l.col, "%v", err)
	}
	l.emit(token{kind: tString, text: "string", val: Static{Kind: StaticString, S: v}}, n)
	return nil
}

// lexNumber reads an integer, a float (1.5, .5, 1e3, 1.5e-3) or a duration (a
// number directly followed by ns, us, µs, ms, s, m or h).
func (l *lexer) lexNumber() error {
	s := l.src[l.pos:]
	i := 0
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	isFloat := false
	intDigits := digits()
	if i < len(s) && s[i] == '.' {
		i++
		isFloat = true
		if digits() == 0 && intDigits == 0 {
			return l.errAt(l.line, l.col, "invalid number")
		}
	}
	exponent := false
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			i = j
			digits()
			isFloat, exponent = true, true
		}
	}
	num := s[:i]
	unitStart := i
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) {
			break
		}
		i += size
	}
	unit := s[unitStart:i]
	if r, _ := utf8.DecodeRuneInString(s[i:]); i < len(s) && (isNameRune(r) || r == '"') {
		return l.errAt(l.line, l.col, "invalid number %q", s[:i+1])
	}
	t := token{kind: tNumber, text: s[:i]}
	switch {
	case unit != "":
		switch unit {
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return l.errAt(l.line, l.col, "invalid duration unit %q", unit)
		}
		if exponent {
			return l.errAt(l.line, l.col, "invalid duration %q", s[:i])
		}
		d, err := time.ParseDuration(s[:i])
		if err != nil {
			return l.errAt(l.line, l.col, "invalid duration %q", s[:i])
		}
		t.val = Static{Kind: StaticDuration, I: int64(d)}
	case isFloat:
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return l.errAt(l.line, l.col, "invalid number %q", num)
		}
		t.val = Static{Kind: StaticFloat, F: f}
	default:
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return l.errAt(l.line, l.col, "invalid integer %q", num)
		}
		t.val = Static{Kind: StaticInt, I: n}
	}
	l.emit(t, i)
	return nil
}

// lexWord reads a bare word, or a word that starts a scoped attribute
// (`span.x`) or a scoped intrinsic (`span:name`).
func (l *lexer) lexWord() error {
	s := l.src[l.pos:]
	i := 0
	for i < len(s) {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !isWordRune(r) {
			break
		}
		i += size
	}
	word := s[:i]
	if i < len(s) && s[i] == '.' {
		if word == "parent" {
			return l.errAt(l.line, l.col, "the parent. scope is not supported")
		}
		if scope, ok := dotScopes[word]; ok {
			return l.lexAttribute(scope, i+1)
		}
	}
	if i < len(s) && s[i] == ':' && colonScopes[word] {
		j := i + 1
		for j < len(s) && isWordRune(rune(s[j])) && s[j] < utf8.RuneSelf {
			j++
		}
		name := s[:j]
		if _, ok := intrinsics[name]; !ok {
			return l.errAt(l.line, l.col, "unknown intrinsic %s", name)
		}
		l.emit(token{kind: tAttr, text: name, attr: Attribute{Scope: ScopeIntrinsic, Name: name}}, j)
		return nil
	}
	l.emit(token{kind: tIdent, text: word}, i)
	return nil
}

// lexAttribute reads the name after a scope prefix of length n: a run of
// letters, digits, '_' and '.', or one "quoted" string.
func (l *lexer) lexAttribute(scope Scope, n int) error {
	s := l.src[l.pos:]
	i := n
	var name string
	if i < len(s) && s[i] == '"' {
		m, v, err := quotedString(s[i:])
		if err != nil {
			return l.errAt(l.line, l.col, "attribute name: %v", err)
		}
		// No escapes in quoted names: whether Tempo decodes them is not established.
		if v == "" || strings.ContainsRune(s[i:i+m], '\\') || strings.ContainsRune(v, '"') || strings.ContainsFunc(v, unicode.IsControl) {
			return l.errAt(l.line, l.col, "invalid quoted attribute name")
		}
		name = v
		i += m
	} else {
		for i < len(s) {
			r, size := rune(s[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[i:])
			}
			if !isNameRune(r) {
				break
			}
			i += size
		}
		name = s[n:i]
		if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
			return l.errAt(l.line, l.col, "invalid attribute name %q", s[:i])
		}
	}
	if r, _ := utf8.DecodeRuneInString(s[i:]); i < len(s) && (isNameRune(r) || r == '"') {
		return l.errAt(l.line, l.col, "invalid attribute name %q", s[:i+1])
	}
	l.emit(token{kind: tAttr, text: s[:i], attr: Attribute{Scope: scope, Name: name}}, i)
	return nil
}
