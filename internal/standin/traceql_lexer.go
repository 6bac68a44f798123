package standin

// Lexer of TraceQL (see traceql.go). Token names in errors follow
// Tempo's parser.

import (
	"fmt"
	"iter"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// ---- tokens ----

type tokKind int

const (
	tEOF tokKind = iota
	tOpenBrace
	tCloseBrace
	tOpenParen
	tCloseParen
	tComma
	tPipe
	tAnd
	tOr
	tEq
	tNeq
	tRe
	tNre
	tGt
	tGte
	tLt
	tLte
	tString
	tInt
	tFloat
	tDuration
	tIdent   // a bare word that is not a keyword
	tKeyword // a reserved word (intrinsic, literal keyword, function name, ...)
	tAttr    // a scoped or unscoped attribute: scope + name
	tOther   // any other character sequence (unsupported operators)
	tNot     // !
	// structural operators between spansets (~ doubles as tilde, !~ is tNre)
	tDesc         // >>
	tAnc          // <<
	tSibling      // ~
	tNotChild     // !>
	tNotDesc      // !>>
	tNotParent    // !<
	tNotAnc       // !<<
	tUnionChild   // &>
	tUnionDesc    // &>>
	tUnionParent  // &<
	tUnionAnc     // &<<
	tUnionSibling // &~
)

type token struct {
	kind       tokKind
	text       string // source text (for keywords, operators, identifiers)
	line, col  int
	scope      string // tAttr: "resource", "span", "" (unscoped "."), "event", ...
	name       string // tAttr: attribute name
	str        string // tString
	i          int64  // tInt
	f          float64
	d          time.Duration
	attrQuoted bool
}

// display returns the token name as Tempo's parser prints it after "unexpected".
func (t token) display() string {
	switch t.kind {
	case tEOF:
		return "$end"
	case tIdent:
		return "IDENTIFIER"
	case tString:
		return "STRING"
	case tInt:
		return "INTEGER"
	case tFloat:
		return "FLOAT"
	case tDuration:
		return "DURATION"
	case tAttr:
		if t.scope == "" {
			return "."
		}
		return t.scope + "."
	default:
		return t.text
	}
}

// Intrinsics Tempo lists in /api/v2/search/tags?scope=intrinsic.
var intrinsicNames = []string{
	"duration", "event:name", "event:timeSinceStart", "instrumentation:name",
	"instrumentation:version", "kind", "link:spanID", "link:traceID", "name",
	"rootName", "rootServiceName", "span:duration", "span:id", "span:kind",
	"span:name", "span:parentID", "span:status", "span:statusMessage", "status",
	"statusMessage", "trace:duration", "trace:id", "trace:rootName",
	"trace:rootService", "traceDuration",
}

// keywords are the reserved words: intrinsics, literal keywords and the
// names of pipeline and metrics functions.
var keywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{"true", "false", "nil", "select", "count", "avg", "max", "min", "sum", "by", "coalesce", "with"} {
		m[w] = true
	}
	for _, set := range []iter.Seq[string]{maps.Keys(intrinsicTypes), maps.Keys(intrinsicAliases), maps.Keys(statusKeywords), maps.Keys(kindKeywords), maps.Keys(metricsFuncs)} {
		for w := range set {
			m[w] = true
		}
	}
	return m
}()

var attrScopes = map[string]bool{
	"resource": true, "span": true, "event": true, "link": true, "instrumentation": true, "parent": true,
}

var statusKeywords = map[string]bool{"ok": true, "error": true, "unset": true}

var kindKeywords = map[string]bool{
	"unspecified": true, "internal": true, "server": true, "client": true, "producer": true, "consumer": true,
}

// ---- lexer ----

type lexer struct {
	src  string
	pos  int // byte offset
	line int
	col  int // rune column of src[pos], 1-based
}

func newLexer(s string) *lexer { return &lexer{src: s, line: 1, col: 1} }

func (l *lexer) peekRune() (rune, int) {
	if l.pos >= len(l.src) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(l.src[l.pos:])
}

func (l *lexer) peekRuneAt(off int) rune {
	if l.pos+off >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos+off:])
	return r
}

func (l *lexer) advance() rune {
	r, n := l.peekRune()
	if n == 0 {
		return -1
	}
	l.pos += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) errAt(line, col int, format string, args ...any) error {
	return &parseError{line: line, col: col, msg: fmt.Sprintf(format, args...)}
}

func isAttributeRune(r rune) bool {
	if r < 0 || unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',':
		return false
	}
	return true
}

func isWordStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isWordRune(r rune) bool {
	return r == '_' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isDurationRune(r rune) bool {
	switch r {
	case 'n', 's', 'u', 'm', 'h', 'µ', 'd', 'w', 'y':
		return true
	}
	return false
}

// skipSpace skips white space and // and /* */ comments (Tempo accepts
// comments anywhere between tokens).
func (l *lexer) skipSpace() error {
	for {
		r, _ := l.peekRune()
		switch {
		case r >= 0 && unicode.IsSpace(r):
			l.advance()
		case r == '/' && l.peekRuneAt(1) == '/':
			for c, _ := l.peekRune(); c >= 0 && c != '\n'; c, _ = l.peekRune() {
				l.advance()
			}
		case r == '/' && l.peekRuneAt(1) == '*':
			line, col := l.line, l.col
			l.advance()
			l.advance()
			for !(l.peekRuneAt(0) == '*' && l.peekRuneAt(1) == '/') {
				if l.advance() < 0 {
					return l.errAt(line, col, "comment not terminated")
				}
			}
			l.advance()
			l.advance()
		default:
			return nil
		}
	}
}

// operators maps operator texts to tokens; the lexer takes the longest match.
var operators = map[string]tokKind{
	"{": tOpenBrace, "}": tCloseBrace, "(": tOpenParen, ")": tCloseParen, ",": tComma,
	"|": tPipe, "||": tOr, "&&": tAnd, "=": tEq, "!=": tNeq, "=~": tRe, "!~": tNre,
	">": tGt, ">=": tGte, "<": tLt, "<=": tLte, "!": tNot,
	">>": tDesc, "<<": tAnc, "~": tSibling, "!>": tNotChild, "!>>": tNotDesc,
	"!<": tNotParent, "!<<": tNotAnc, "&>": tUnionChild, "&>>": tUnionDesc,
	"&<": tUnionParent, "&<<": tUnionAnc, "&~": tUnionSibling,
	"+": tOther, "-": tOther, "*": tOther, "/": tOther, "%": tOther, "^": tOther,
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	tok := token{line: l.line, col: l.col}
	r, _ := l.peekRune()
	if r < 0 {
		tok.kind = tEOF
		return tok, nil
	}
	r2 := l.peekRuneAt(utf8.RuneLen(r))
	switch {
	case r == '"' || r == '`':
		return l.stringLit(tok)
	case r == '\'':
		return tok, l.errAt(tok.line, tok.col, "invalid char literal")
	case r >= '0' && r <= '9':
		return l.number(tok)
	case r == '.' && isAttributeRune(r2):
		l.advance()
		return l.attribute(tok, "")
	case isWordStart(r):
		start := l.pos
		for {
			c, _ := l.peekRune()
			if !isWordRune(c) {
				break
			}
			l.advance()
		}
		word := l.src[start:l.pos]
		if c, _ := l.peekRune(); c == '.' && attrScopes[word] {
			l.advance()
			return l.attribute(tok, word)
		}
		tok.text = word
		if keywords[word] {
			tok.kind = tKeyword
		} else {
			tok.kind = tIdent
		}
		return tok, nil
	}
	for n := 3; n >= 1; n-- {
		if l.pos+n <= len(l.src) {
			if k, ok := operators[l.src[l.pos:l.pos+n]]; ok {
				tok.kind, tok.text = k, l.src[l.pos:l.pos+n]
				for range n {
					l.advance()
				}
				return tok, nil
			}
		}
	}
	return tok, l.errAt(tok.line, tok.col, "unknown identifier: %c", r)
}

func (l *lexer) attribute(tok token, scope string) (token, error) {
	var sb strings.Builder
	for {
		c, _ := l.peekRune()
		if c == '"' {
			// quoted part of an attribute name: span."foo bar"
			l.advance()
			closed := false
			for {
				q, _ := l.peekRune()
				if q < 0 {
					break
				}
				if q == '"' {
					l.advance()
					closed = true
					break
				}
				if q == '\\' {
					l.advance()
					e, _ := l.peekRune()
					if e != '"' && e != '\\' {
						return tok, l.errAt(l.line, l.col, "invalid escape sequence")
					}
					sb.WriteRune(l.advance())
					continue
				}
				sb.WriteRune(l.advance())
			}
			if !closed {
				return tok, l.errAt(l.line, l.col, `unexpected EOF, expecting "`)
			}
			tok.attrQuoted = true
			continue
		}
		if !isAttributeRune(c) {
			break
		}
		sb.WriteRune(l.advance())
	}
	tok.kind = tAttr
	tok.scope = scope
	tok.name = sb.String()
	if scope == "" {
		tok.text = "." + tok.name
	} else {
		tok.text = scope + "." + tok.name
	}
	return tok, nil
}

func (l *lexer) stringLit(tok token) (token, error) {
	start := l.pos
	quote := l.advance()
	for {
		c, _ := l.peekRune()
		if c < 0 || (c == '\n' && quote == '"') {
			return tok, l.errAt(l.line, l.col, "literal not terminated")
		}
		l.advance()
		if c == '\\' && quote == '"' {
			if e, _ := l.peekRune(); e >= 0 {
				l.advance()
			}
			continue
		}
		if c == quote {
			break
		}
	}
	raw := l.src[start:l.pos]
	s, err := strconv.Unquote(raw)
	if err != nil {
		return tok, l.errAt(tok.line, tok.col, "%s", err.Error())
	}
	tok.kind = tString
	tok.text = raw
	tok.str = s
	return tok, nil
}

func (l *lexer) number(tok token) (token, error) {
	start := l.pos
	isFloat := false
	for {
		c, _ := l.peekRune()
		if c >= '0' && c <= '9' {
			l.advance()
			continue
		}
		if c == '.' && !isFloat {
			if n := l.peekRuneAt(1); n >= '0' && n <= '9' {
				isFloat = true
				l.advance()
				continue
			}
		}
		break
	}
	if c, _ := l.peekRune(); c == 'e' || c == 'E' { // exponent: 1e3, 2.5E-2
		off := 1
		if s := l.peekRuneAt(1); s == '+' || s == '-' {
			off = 2
		}
		if d := l.peekRuneAt(off); d >= '0' && d <= '9' {
			isFloat = true
			for range off {
				l.advance()
			}
			for c, _ := l.peekRune(); c >= '0' && c <= '9'; c, _ = l.peekRune() {
				l.advance()
			}
		}
	}
	num := l.src[start:l.pos]
	// A duration: the number followed (without a space) by digits, '.' and unit letters.
	save := *l
	for {
		c, _ := l.peekRune()
		if c < 0 || !(unicode.IsDigit(c) || c == '.' || isDurationRune(c)) {
			break
		}
		l.advance()
	}
	if l.pos > save.pos {
		if d, err := parseDuration(l.src[start:l.pos]); err == nil {
			tok.kind = tDuration
			tok.text = l.src[start:l.pos]
			tok.d = d
			return tok, nil
		}
		*l = save
	}
	tok.text = num
	if isFloat {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return tok, l.errAt(tok.line, tok.col, "%s", err.Error())
		}
		tok.kind = tFloat
		tok.f = f
		return tok, nil
	}
	i, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return tok, l.errAt(tok.line, tok.col, "%s", err.Error())
	}
	tok.kind = tInt
	tok.i = i
	return tok, nil
}

// parseDuration accepts Go durations and Prometheus ones (1d, 2w, 1y).
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
