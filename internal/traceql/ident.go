package traceql

import "fmt"

// Why an intrinsic cannot be confined to the caller's spans.
const (
	reasonTraceLevel = "it describes the whole trace, including spans of other tenants"
	reasonChildCount = "it counts the child spans of a span, including spans of other tenants"
	reasonNestedSet  = "it is numbered over the whole trace, including spans of other tenants"
)

// intrinsics lists every intrinsic the parser accepts, by spelling, with the reason it
// cannot be confined ("" when it describes only the span it is read from: that span's
// own fields, events, links and instrumentation scope).
//
// trace:id is confinable: it is the trace id field of the span it is read from, which
// is the caller's own span after confinement; it says nothing about other spans.
var intrinsics = map[string]string{
	"name": "", "status": "", "statusMessage": "", "kind": "", "duration": "",
	"span:name": "", "span:status": "", "span:statusMessage": "", "span:kind": "",
	"span:duration": "", "span:id": "", "span:parentID": "",
	"event:name": "", "event:timeSinceStart": "",
	"link:traceID": "", "link:spanID": "",
	"instrumentation:name": "", "instrumentation:version": "",
	"trace:id": "",

	"trace:rootService": reasonTraceLevel, "trace:rootName": reasonTraceLevel, "trace:duration": reasonTraceLevel,
	"rootServiceName": reasonTraceLevel, "rootName": reasonTraceLevel, "traceDuration": reasonTraceLevel,

	"childCount": reasonChildCount, "span:childCount": reasonChildCount,
	"nestedSetLeft": reasonNestedSet, "nestedSetRight": reasonNestedSet, "nestedSetParent": reasonNestedSet,
}

// Identifier is a tag name as used in /api/v2/search/tag/{tag}/values: a scoped
// attribute or an intrinsic.
type Identifier struct{ Attribute Attribute }

// ParseIdentifier parses a tag name: an attribute with a scope (resource., span., .,
// event., link., instrumentation., quoted parts allowed) or an intrinsic (name,
// span:name, trace:rootService, rootServiceName, ...). Anything else is a *SyntaxError.
func ParseIdentifier(s string) (Identifier, error) {
	if len(s) > MaxQueryBytes {
		return Identifier{}, &SyntaxError{Line: 1, Col: 1, Msg: "identifier too long"}
	}
	toks, err := lex(s)
	if err != nil {
		return Identifier{}, err
	}
	if len(toks) != 2 {
		return Identifier{}, &SyntaxError{Line: 1, Col: 1, Msg: fmt.Sprintf("%q is not a single attribute or intrinsic", s)}
	}
	switch t := toks[0]; {
	case t.kind == tAttr:
		return Identifier{Attribute: t.attr}, nil
	case t.kind == tIdent && isIntrinsic(t.text):
		return Identifier{Attribute: Attribute{Scope: ScopeIntrinsic, Name: t.text}}, nil
	default:
		return Identifier{}, &SyntaxError{Line: t.line, Col: t.col, Msg: fmt.Sprintf("unknown identifier: %s", t.text)}
	}
}

// String prints the identifier canonically.
func (id Identifier) String() string { return printAttr(id.Attribute) }

// Confinable reports whether the values of this tag can be confined to the caller's
// spans; if not, reason says why.
func (id Identifier) Confinable() (ok bool, reason string) {
	reason = attrRefusal(id.Attribute)
	return reason == "", reason
}

// IsUnconfinableTag reports whether name, as listed by Tempo's tags endpoints, is an
// intrinsic that describes the whole trace or other spans (trace:rootService,
// rootServiceName, span:childCount, nestedSetLeft, ...). The tags endpoints hide these
// in attribute mode. trace:id is not one of them (see intrinsics).
func IsUnconfinableTag(name string) bool {
	return intrinsics[name] != ""
}

func isIntrinsic(word string) bool {
	_, ok := intrinsics[word]
	return ok
}

// attrRefusal is why a attribute cannot be confined, or "".
func attrRefusal(a Attribute) string {
	if a.Scope != ScopeIntrinsic {
		return ""
	}
	reason, ok := intrinsics[a.Name]
	if !ok {
		return "it is not a known intrinsic"
	}
	return reason
}
