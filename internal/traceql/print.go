package traceql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// String prints the tree canonically: single spaces, strings re-quoted with "…",
// durations as integer nanoseconds, floats always with a '.' or an exponent,
// parentheses around every nested binary operation except a left-leaning chain of one
// operator (which associates to the left, as in Tempo), and never a comment.
// Parse(q.String()) gives a tree equal to q.
func (q *Query) String() string {
	var b strings.Builder
	b.Grow(1024)
	for i, st := range q.Stages {
		if i > 0 {
			b.WriteString(" | ")
		}
		writeStage(&b, st)
	}
	if m := q.Metrics; m != nil {
		b.WriteString(" | ")
		writeMetrics(&b, m)
	}
	if len(q.Hints) > 0 {
		b.WriteString(" with (")
		for i, h := range q.Hints {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(h.Name)
			b.WriteString(" = ")
			writeStatic(&b, h.Value)
		}
		b.WriteString(")")
	}
	return b.String()
}

func writeStage(b *strings.Builder, st Stage) {
	switch s := st.(type) {
	case *SpansetStage:
		writeSpanset(b, s.Expr)
	case *ScalarFilter:
		writeScalarOperand(b, s.Left)
		writeOp(b, s.Op)
		writeScalarOperand(b, s.Right)
	case *GroupBy:
		b.WriteString("by(")
		writeAttr(b, s.Attr)
		b.WriteString(")")
	case *Select:
		b.WriteString("select(")
		writeAttrs(b, s.Attrs)
		b.WriteString(")")
	case *Coalesce:
		b.WriteString("coalesce()")
	default:
		panic(fmt.Sprintf("traceql: unknown stage %T", st))
	}
}

func writeScalarOperand(b *strings.Builder, o ScalarOperand) {
	if o.Agg != nil {
		b.WriteString(o.Agg.Fn)
		b.WriteString("(")
		if o.Agg.Arg != nil {
			writeAttr(b, *o.Agg.Arg)
		}
		b.WriteString(")")
		return
	}
	writeStatic(b, *o.Value)
}

func writeAttrs(b *strings.Builder, attrs []Attribute) {
	for i, a := range attrs {
		if i > 0 {
			b.WriteString(", ")
		}
		writeAttr(b, a)
	}
}

func writeMetrics(b *strings.Builder, m *MetricsStage) {
	b.WriteString(m.Fn + "(")
	switch {
	case m.Compare != nil:
		writeFilter(b, m.Compare)
		for _, n := range m.CompareArgs {
			b.WriteString(", " + strconv.FormatInt(n, 10))
		}
	case m.Attr != nil:
		writeAttr(b, *m.Attr)
		for _, f := range m.Quantiles {
			b.WriteString(", " + formatFloat(f))
		}
	}
	b.WriteString(")")
	if len(m.By) > 0 {
		b.WriteString(" by (")
		writeAttrs(b, m.By)
		b.WriteString(")")
	}
	if m.Second != nil {
		b.WriteString(" | " + m.Second.Fn + "(" + strconv.FormatInt(m.Second.N, 10) + ")")
	}
}

// writeSpanset prints a spanset expression; a nested operation is parenthesized
// unless it is the left operand of the same operator.
func writeSpanset(b *strings.Builder, e SpansetExpr) {
	switch s := e.(type) {
	case *SpansetFilter:
		writeFilter(b, s)
	case *SpansetOp:
		writeSpansetOperand(b, s.Left, s.Op, true)
		writeOp(b, s.Op)
		writeSpansetOperand(b, s.Right, s.Op, false)
	default:
		panic(fmt.Sprintf("traceql: unknown spanset expression %T", e))
	}
}

func writeSpansetOperand(b *strings.Builder, e SpansetExpr, parentOp string, left bool) {
	if op, ok := e.(*SpansetOp); ok && !(left && op.Op == parentOp) {
		b.WriteString("(")
		writeSpanset(b, e)
		b.WriteString(")")
		return
	}
	writeSpanset(b, e)
}

func writeFilter(b *strings.Builder, f *SpansetFilter) {
	if f.Cond == nil {
		b.WriteString("{ }")
		return
	}
	b.WriteString("{ ")
	writeCond(b, f.Cond)
	b.WriteString(" }")
}

func writeCond(b *strings.Builder, c Cond) {
	switch c := c.(type) {
	case *Logic:
		writeCondOperand(b, c.Left, c.Op, true)
		writeOp(b, c.Op)
		writeCondOperand(b, c.Right, c.Op, false)
	case *Not:
		b.WriteString("!(")
		writeCond(b, c.X)
		b.WriteString(")")
	case *Comparison:
		writeAttr(b, c.Attr)
		writeOp(b, c.Op)
		writeStatic(b, c.Value)
	case *BoolLit:
		b.WriteString(strconv.FormatBool(c.Value))
	default:
		panic(fmt.Sprintf("traceql: unknown condition %T", c))
	}
}

func writeCondOperand(b *strings.Builder, c Cond, parentOp string, left bool) {
	if l, ok := c.(*Logic); ok && !(left && l.Op == parentOp) {
		b.WriteString("(")
		writeCond(b, c)
		b.WriteString(")")
		return
	}
	writeCond(b, c)
}

func writeOp(b *strings.Builder, op string) {
	b.WriteByte(' ')
	b.WriteString(op)
	b.WriteByte(' ')
}

// writeAttr prints an attribute; a name with characters the unquoted form does not
// take is printed quoted: span."http method".
func writeAttr(b *strings.Builder, a Attribute) {
	if a.Scope == ScopeIntrinsic {
		b.WriteString(a.Name)
		return
	}
	b.WriteString(scopePrefix[a.Scope])
	if needsQuoting(a) {
		writeQuoted(b, a.Name)
		return
	}
	b.WriteString(a.Name)
}

func printAttr(a Attribute) string {
	var b strings.Builder
	writeAttr(&b, a)
	return b.String()
}

func needsQuoting(a Attribute) bool {
	n := a.Name
	if n == "" || n[0] == '.' || n[len(n)-1] == '.' || strings.Contains(n, "..") {
		return true
	}
	if a.Scope == ScopeUnscoped && n[0] >= '0' && n[0] <= '9' {
		return true // .5 would read as a number
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c >= utf8.RuneSelf {
			return strings.ContainsFunc(n[i:], func(r rune) bool { return !isNameRune(r) })
		} else if !isNameRune(rune(c)) {
			return true
		}
	}
	return false
}

func writeStatic(b *strings.Builder, v Static) {
	var buf [24]byte
	switch v.Kind {
	case StaticString:
		writeQuoted(b, v.S)
	case StaticInt:
		b.Write(strconv.AppendInt(buf[:0], v.I, 10))
	case StaticFloat:
		b.WriteString(formatFloat(v.F))
	case StaticDuration:
		b.Write(strconv.AppendInt(buf[:0], v.I, 10))
		b.WriteString("ns")
	case StaticBool:
		b.WriteString(strconv.FormatBool(v.B))
	case StaticNil:
		b.WriteString("nil")
	case StaticStatus, StaticSpanKind:
		b.WriteString(v.S)
	default:
		panic(fmt.Sprintf("traceql: unknown static kind %d", v.Kind))
	}
}

func printStatic(v Static) string {
	var b strings.Builder
	writeStatic(&b, v)
	return b.String()
}

// formatFloat prints f so that it reads back as a float: 1.5, 1000.0, 1e30, 1.5e-07.
func formatFloat(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-4 && a < 1e21) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		return s
	}
	return strings.Replace(strconv.FormatFloat(f, 'e', -1, 64), "e+", "e", 1)
}

// needsEscape reports whether byte c of a string must be escaped.
func needsEscape(c byte) bool { return c < 0x20 || c == 0x7f || c == '"' || c == '\\' }

// writeQuoted writes s as a "…" literal, escaping \, " and control characters.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	plain := true
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			plain = false
			break
		}
	}
	if plain {
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
