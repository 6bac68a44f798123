package standin

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var statusNames = map[ptrace.StatusCode]string{
	ptrace.StatusCodeUnset: "unset",
	ptrace.StatusCodeOk:    "ok",
	ptrace.StatusCodeError: "error",
}

var kindNames = map[ptrace.SpanKind]string{
	ptrace.SpanKindUnspecified: "unspecified",
	ptrace.SpanKindInternal:    "internal",
	ptrace.SpanKindServer:      "server",
	ptrace.SpanKindClient:      "client",
	ptrace.SpanKindProducer:    "producer",
	ptrace.SpanKindConsumer:    "consumer",
}

func spanStatus(sp ptrace.Span) string {
	if n, ok := statusNames[sp.Status().Code()]; ok {
		return n
	}
	return "unset"
}

func spanKind(sp ptrace.Span) string {
	if n, ok := kindNames[sp.Kind()]; ok {
		return n
	}
	return "unspecified"
}

func spanDuration(sp ptrace.Span) time.Duration {
	st, en := sp.StartTimestamp(), sp.EndTimestamp()
	if en < st {
		return 0
	}
	return time.Duration(en - st)
}

// attr looks an attribute up: span attributes first for unscoped names.
func (r spanRef) attr(f field) (pcommon.Value, bool) {
	switch f.scope {
	case "resource":
		return r.res.Attributes().Get(f.name)
	case "span":
		return r.span.Attributes().Get(f.name)
	default:
		if v, ok := r.span.Attributes().Get(f.name); ok {
			return v, true
		}
		return r.res.Attributes().Get(f.name)
	}
}

// matches evaluates a filter node against one span.
func (r spanRef) matches(n node) bool {
	switch n := n.(type) {
	case nil:
		return true
	case logicNode:
		if n.and {
			return r.matches(n.l) && r.matches(n.r)
		}
		return r.matches(n.l) || r.matches(n.r)
	case condNode:
		return r.cond(n)
	}
	return false
}

func (r spanRef) cond(c condNode) bool {
	switch c.f.kind {
	case fieldName:
		return compareString(r.span.Name(), c.op, c.lit)
	case fieldStatus:
		return (spanStatus(r.span) == c.lit.s) == (c.op == opEq)
	case fieldSpanKind:
		return (spanKind(r.span) == c.lit.s) == (c.op == opEq)
	case fieldDuration:
		return compareOrdered(spanDuration(r.span), c.lit.d, c.op)
	case fieldAttr:
		v, ok := r.attr(c.f)
		if !ok {
			return false // a missing attribute matches nothing, not even !=
		}
		return compareValue(v, c.op, c.lit)
	}
	return false
}

func compareValue(v pcommon.Value, op operator, lit literal) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if lit.kind != litString {
			return false
		}
		return compareString(v.Str(), op, lit)
	case pcommon.ValueTypeInt:
		switch lit.kind {
		case litInt:
			return compareOrdered(v.Int(), lit.i, op)
		case litFloat:
			return compareOrdered(float64(v.Int()), lit.f, op)
		}
	case pcommon.ValueTypeDouble:
		switch lit.kind {
		case litInt:
			return compareOrdered(v.Double(), float64(lit.i), op)
		case litFloat:
			return compareOrdered(v.Double(), lit.f, op)
		}
	case pcommon.ValueTypeBool:
		if lit.kind == litBool {
			return (v.Bool() == lit.b) == (op == opEq)
		}
	case pcommon.ValueTypeSlice:
		// An array attribute matches when one of its elements does.
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if compareValue(s.At(i), op, lit) {
				return true
			}
		}
	}
	return false
}

func compareString(s string, op operator, lit literal) bool {
	switch op {
	case opRe:
		return lit.re.MatchString(s)
	case opNre:
		return !lit.re.MatchString(s)
	}
	return compareOrdered(strings.Compare(s, lit.s), 0, op)
}

func compareOrdered[T int | int64 | float64 | time.Duration](a, b T, op operator) bool {
	switch op {
	case opEq:
		return a == b
	case opNeq:
		return a != b
	case opGt:
		return a > b
	case opGte:
		return a >= b
	case opLt:
		return a < b
	case opLte:
		return a <= b
	}
	return false
}

// outputAttr returns the value Tempo reports for field f of a matched span
// in search results (duration and name are not reported as attributes).
func (r spanRef) outputAttr(f field) (pcommon.Value, bool) {
	switch f.kind {
	case fieldStatus:
		return pcommon.NewValueStr(spanStatus(r.span)), true
	case fieldSpanKind:
		return pcommon.NewValueStr(spanKind(r.span)), true
	case fieldAttr:
		return r.attr(f)
	}
	return pcommon.Value{}, false
}
