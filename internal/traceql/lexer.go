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

// advance moves over n bytes, keeping line and column (in runes) up to date.
func (l *lexer) advance(n int) {
	seg := l.src[l.pos : l.pos+n]
	if i := strings.LastIndexByte(seg, '\n'); i >= 0 {
		l.line += strings.Count(seg, "\n")
		l.col = 1 + utf8.RuneCountInString(seg[i+1:])
	} else {
		l.col += utf8.RuneCountInString(seg)
	}
	l.pos += n
}

func (l *lexer) skipSpaceAndComments() error {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t', '\r':
			l.pos++
			l.col++
		case '\n':
			l.pos++
			l.line++
			l.col = 1
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

// emit makes the next n bytes the current token and returns it for the caller to
// fill in its value.
func (l *lexer) emit(kind tokKind, text string, n int) *token {
	l.tok = token{kind: kind, text: text, line: l.line, col: l.col}
	l.advance(n)
	return &l.tok
}

func (l *lexer) next() error {
	rest := l.src[l.pos:]
	switch c := rest[0]; {
	case c == '{' || c == '}' || c == '(' || c == ')' || c == ',' || c == '-':
		l.emit(tPunct, rest[:1], 1)
		return nil
	case c == '|' && !strings.HasPrefix(rest, "||"):
		l.emit(tPunct, "|", 1)
		return nil
	case c == '"' || c == '`':
		return l.lexString()
	case c == '\'':
		return l.errAt(l.line, l.col, "invalid char literal: strings take double quotes or backticks")
	case c == '.' && len(rest) > 1 && isDigit(rune(rest[1])):
		return l.lexNumber()
	case c == '.':
		return l.lexAttribute(ScopeUnscoped, 1)
	case isDigit(rune(c)):
		return l.lexNumber()
	case c < utf8.RuneSelf && isWordRune(rune(c)):
		return l.lexWord()
	case c >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(rest)
		switch {
		case r == utf8.RuneError && size == 1:
			return l.errAt(l.line, l.col, "invalid UTF-8")
		case unicode.IsLetter(r):
			return l.lexWord()
		}
		return l.errAt(l.line, l.col, "unexpected character %q", r)
	}
	if op := operator(rest); op != "" {
		l.emit(tOp, op, len(op))
		return nil
	}
	return l.errAt(l.line, l.col, "unexpected character %q", rest[0])
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// wordBytes marks the ASCII bytes of words: letters, digits and '_'.
var wordBytes = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
	}
	return t
}()

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return wordBytes[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// wordLen is the length in bytes of the run of word runes (or, with dots, of name
// runes) at the start of s.
func wordLen(s string, dots bool) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if !wordBytes[c] && !(dots && c == '.') {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			return i
		}
		i += size
	}
	return i
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
			v := s[1:i]
			if strings.ContainsAny(v, "\\\r") { // escapes (or a CR, which raw strings drop)
				var err error
				if v, err = strconv.Unquote(s[:i+1]); err != nil {
					return 0, "", fmt.Errorf("invalid string literal: %w", err)
				}
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
	l.emit(tString, "string", n).val = Static{Kind: StaticString, S: v}
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
	var val Static
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
		val = Static{Kind: StaticDuration, I: int64(d)}
	case isFloat:
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return l.errAt(l.line, l.col, "invalid number %q", num)
		}
		val = Static{Kind: StaticFloat, F: f}
	default:
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return l.errAt(l.line, l.col, "invalid integer %q", num)
		}
		val = Static{Kind: StaticInt, I: n}
	}
	l.emit(tNumber, s[:i], i).val = val
	return nil
}

// lexWord reads a bare word, or a word that starts a scoped attribute
// (`span.x`) or a scoped intrinsic (`span:name`).
func (l *lexer) lexWord() error {
	s := l.src[l.pos:]
	i := wordLen(s, false)
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
		l.emit(tAttr, name, j).attr = Attribute{Scope: ScopeIntrinsic, Name: name}
		return nil
	}
	l.emit(tIdent, word, i)
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
		i += wordLen(s[i:], true)
		name = s[n:i]
		if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
			return l.errAt(l.line, l.col, "invalid attribute name %q", s[:i])
		}
	}
	if r, _ := utf8.DecodeRuneInString(s[i:]); i < len(s) && (isNameRune(r) || r == '"') {
		return l.errAt(l.line, l.col, "invalid attribute name %q", s[:i+1])
	}
	l.emit(tAttr, s[:i], i).attr = Attribute{Scope: scope, Name: name}
	return nil
}
