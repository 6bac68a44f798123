package standin

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		q      string
		fields []field // q.fields(): conditions then selects
	}{
		{q: `{}`},
		{q: `{ }`},
		{q: "{\n}"},
		{q: `{ status = error }`, fields: []field{{kind: fieldStatus, name: "status"}}},
		{q: `{status!=ok}`, fields: []field{{kind: fieldStatus, name: "status"}}},
		{q: `{ kind = server }`, fields: []field{{kind: fieldSpanKind, name: "kind"}}},
		{q: `{ duration > 10ms }`, fields: []field{{kind: fieldDuration, name: "duration"}}},
		{q: `{ duration <= 1.5s && duration >= 1h30m }`, fields: []field{{kind: fieldDuration, name: "duration"}}},
		{q: `{ name = "GET /a \"b\"" }`, fields: []field{{kind: fieldName, name: "name"}}},
		{q: "{ name =~ `GET.*` }", fields: []field{{kind: fieldName, name: "name"}}},
		{q: `{ resource.service.name = "payments" }`, fields: []field{{kind: fieldAttr, scope: "resource", name: "service.name"}}},
		{q: `{ span.http.status_code >= 500 }`, fields: []field{{kind: fieldAttr, scope: "span", name: "http.status_code"}}},
		{q: `{ .http.route !~ "/health.*" }`, fields: []field{{kind: fieldAttr, name: "http.route"}}},
		{q: `{ span."foo bar" = "x" }`, fields: []field{{kind: fieldAttr, scope: "span", name: "foo bar"}}},
		{q: `{ .ratio < -0.5 }`, fields: []field{{kind: fieldAttr, name: "ratio"}}},
		{q: `{ .flag = true || .flag = false }`, fields: []field{{kind: fieldAttr, name: "flag"}}},
		{q: `{ (.a = 1 || .b = 2) && status = error }`, fields: []field{
			{kind: fieldAttr, name: "a"}, {kind: fieldAttr, name: "b"}, {kind: fieldStatus, name: "status"}}},
		{q: `{ } | select(resource.tenant.id)`, fields: []field{{kind: fieldAttr, scope: "resource", name: "tenant.id"}}},
		{q: `{ .a = "x" } | select(.a, span.b, name, duration)`, fields: []field{
			{kind: fieldAttr, name: "a"}, {kind: fieldAttr, scope: "span", name: "b"},
			{kind: fieldName, name: "name"}, {kind: fieldDuration, name: "duration"}}},
		{q: `{ span.resource.x = "y" }`, fields: []field{{kind: fieldAttr, scope: "span", name: "resource.x"}}},
		{q: `{ .name = "x" }`, fields: []field{{kind: fieldAttr, name: "name"}}},
		{q: `{ duration > 2d }`, fields: []field{{kind: fieldDuration, name: "duration"}}},
	}
	for _, tt := range tests {
		q, err := parse(tt.q)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.q, err)
			continue
		}
		got := q.fields()
		if len(got) != len(tt.fields) {
			t.Errorf("parse(%q).fields() = %+v, want %+v", tt.q, got, tt.fields)
			continue
		}
		for i := range got {
			if got[i] != tt.fields[i] {
				t.Errorf("parse(%q).fields()[%d] = %+v, want %+v", tt.q, i, got[i], tt.fields[i])
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ q, err string }{
		// recorded from Tempo (search-bad-traceql.json)
		{`foo`, `parse error at line 1, col 1: syntax error: unexpected IDENTIFIER`},
		{``, `parse error at line 1, col 1: syntax error: unexpected $end`},
		{`{`, `parse error at line 1, col 2: syntax error: unexpected $end`},
		{`{ .a = 1`, `parse error at line 1, col 9: syntax error: unexpected $end`},
		{`{ .a = }`, `parse error at line 1, col 8: syntax error: unexpected }`},
		{`{ .a }`, `parse error at line 1, col 6: syntax error: unexpected }`},
		{`{ foo = 1 }`, `parse error at line 1, col 3: unknown identifier: foo`},
		{`{ true }`, `parse error at line 1, col 3: syntax error: unexpected true`},
		{`{ .a = 1 } | count() > 1`, `parse error at line 1, col 14: syntax error: unexpected count`},
		{`{ .a = 1 } >> { .b = 2 }`, `parse error at line 1, col 12: syntax error: unexpected >>`},
		{`{ .a = 1 } && { .b = 2 }`, `parse error at line 1, col 12: syntax error: unexpected &&`},
		{`{ .a = 1 } { }`, `parse error at line 1, col 12: syntax error: unexpected {`},
		{`{ .a = nil }`, `parse error at line 1, col 8: syntax error: unexpected nil`},
		{`{ .a = 1 + 2 }`, `parse error at line 1, col 10: syntax error: unexpected +`},
		{`{ status = "error" }`, `parse error at line 1, col 10: invalid operation: status = string`},
		{`{ status > error }`, `parse error at line 1, col 10: invalid operation: status > status`},
		{`{ kind = error }`, `parse error at line 1, col 8: invalid operation: kind = status`},
		{`{ duration > 10 }`, `parse error at line 1, col 12: invalid operation: duration > int`},
		{`{ name = 1 }`, `parse error at line 1, col 8: invalid operation: name = int`},
		{`{ .a = server }`, `parse error at line 1, col 6: invalid operation: a = kind`},
		{`{ .a =~ 1 }`, `parse error at line 1, col 6: invalid operation: a =~ int`},
		{`{ .a > true }`, `parse error at line 1, col 6: invalid operation: a > bool`},
		{`{ .a =~ "(" }`, "parse error at line 1, col 6: error parsing regexp: missing closing ): `^(?:()$`"},
		{`{ statusMessage = "x" }`, `parse error at line 1, col 3: intrinsic statusMessage is not supported by this stand-in`},
		{`{ event.a = "x" }`, `parse error at line 1, col 3: attribute scope event is not supported by this stand-in`},
		{`{ .a = "x }`, `parse error at line 1, col 12: literal not terminated`},
		{`{ .a = 99999999999999999999 }`, `parse error at line 1, col 8: strconv.ParseInt: parsing "99999999999999999999": value out of range`},
		{`{ } | select()`, `parse error at line 1, col 14: syntax error: unexpected )`},
		{`{ } | select(.a`, `parse error at line 1, col 16: syntax error: unexpected $end`},
		{`{ } | rate()`, `parse error at line 1, col 7: syntax error: unexpected rate`},
		{"{\n  foo = 1 }", `parse error at line 2, col 3: unknown identifier: foo`},
	}
	for _, tt := range tests {
		_, err := parse(tt.q)
		if err == nil {
			t.Errorf("parse(%q): no error, want %q", tt.q, tt.err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("parse(%q):\n got %q\nwant %q", tt.q, err.Error(), tt.err)
		}
	}
}

func TestParseIdentifier(t *testing.T) {
	valid := map[string]string{
		"resource.service.name": "resource", "span.http.route": "span", ".foo": "",
		"event.exception.message": "event", "link.x": "link", "instrumentation.lib": "instrumentation",
		"name": "intrinsic", "status": "intrinsic", "span:name": "intrinsic", "trace:rootService": "intrinsic",
	}
	for tag, scope := range valid {
		_, sc, err := parseIdentifier(tag)
		if err != nil || sc != scope {
			t.Errorf("parseIdentifier(%q) = %q, %v; want scope %q", tag, sc, err, scope)
		}
	}
	invalid := map[string]string{
		// recorded from Tempo (tag-values-v2-bad-tag.json)
		"not a tag":    "parse error at line 1, col 2: unknown identifier: not",
		"service.name": "parse error at line 1, col 2: unknown identifier: service",
		"":             "parse error at line 1, col 2: syntax error: unexpected }",
		"span.":        "parse error at line 1, col 7: syntax error: unexpected END_ATTRIBUTE",
		".a = 1":       "parse error at line 1, col 5: syntax error: unexpected =",
		"true":         "parse error at line 1, col 2: syntax error: unexpected true",
	}
	for tag, want := range invalid {
		_, _, err := parseIdentifier(tag)
		if err == nil || err.Error() != want {
			t.Errorf("parseIdentifier(%q) = %v, want %q", tag, err, want)
		}
	}
}

// testSpan builds a span with the given attributes for evaluation tests.
func testSpan() spanRef {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "payments")
	rs.Resource().Attributes().PutStr("shared", "resource")
	ss := rs.ScopeSpans().AppendEmpty()
	sp := ss.Spans().AppendEmpty()
	sp.SetName("GET /pay")
	sp.SetKind(ptrace.SpanKindServer)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.SetStartTimestamp(pcommon.Timestamp(time.Second))
	sp.SetEndTimestamp(pcommon.Timestamp(time.Second + 25*time.Millisecond))
	a := sp.Attributes()
	a.PutInt("http.status_code", 503)
	a.PutDouble("ratio", 0.25)
	a.PutBool("retry", true)
	a.PutStr("shared", "span")
	sl := a.PutEmptySlice("tags")
	sl.AppendEmpty().SetStr("x")
	sl.AppendEmpty().SetStr("y")
	return spanRef{res: rs.Resource(), scope: ss.Scope(), span: sp}
}

func TestEval(t *testing.T) {
	r := testSpan()
	tests := map[string]bool{
		`{}`:                  true,
		`{ status = error }`:  true,
		`{ status != error }`: false,
		`{ status = ok }`:     false,
		`{ kind = server }`:   true,
		`{ kind != client }`:  true,
		`{ duration > 20ms }`: true,
		`{ duration >= 25ms && duration <= 25ms }`:           true,
		`{ duration < 25ms }`:                                false,
		`{ name = "GET /pay" }`:                              true,
		`{ name =~ "GET.*" }`:                                true,
		`{ name =~ "GET" }`:                                  false, // anchored
		`{ name !~ "POST.*" }`:                               true,
		`{ name > "A" }`:                                     true,
		`{ resource.service.name = "payments" }`:             true,
		`{ span.service.name = "payments" }`:                 false,
		`{ .service.name = "payments" }`:                     true,
		`{ .shared = "span" }`:                               true, // span attribute wins
		`{ resource.shared = "resource" }`:                   true,
		`{ span.http.status_code >= 500 }`:                   true,
		`{ span.http.status_code = 503.0 }`:                  true,
		`{ span.http.status_code = "503" }`:                  false, // type mismatch
		`{ .ratio < 0.5 && .ratio > -1 }`:                    true,
		`{ .retry = true }`:                                  true,
		`{ .retry != true }`:                                 false,
		`{ .missing != "x" }`:                                false,
		`{ .tags = "y" }`:                                    true,
		`{ .tags = "z" }`:                                    false,
		`{ .missing = 1 || status = error }`:                 true,
		`{ (.missing = 1 || status = ok) || kind = server }`: true,
	}
	for q, want := range tests {
		pq, err := parse(q)
		if err != nil {
			t.Errorf("parse(%q): %v", q, err)
			continue
		}
		if got := r.matches(pq.filter); got != want {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `foo`, `{ status = error }`, `{ resource.service.name = "payments" }`,
		`{ .a = 1 && (.b =~ "x.*" || duration > 10ms) } | select(span.c, name)`,
		`{ span."a \" b" != -1.5 }`, "{ name = `raw` }", `{ kind = server } | select(resource.tenant.id)`,
		`{ .a = "unterminated`, `{ duration > 1h30m }`, `not a tag`, `{ µ = 1 }`, `{ .x = 1µs }`,
	} {
		f.Add(s)
	}
	r := testSpan()
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parse(s)
		if err != nil {
			if _, ok := err.(*parseError); !ok { //nolint:errorlint // parse returns its own type, unwrapped
				t.Fatalf("parse(%q) returned %T, want *parseError", s, err)
			}
			if !strings.HasPrefix(err.Error(), "parse error at line ") {
				t.Fatalf("parse(%q) error %q", s, err)
			}
		} else {
			_ = q.fields()
			_ = r.matches(q.filter)
			for _, fl := range q.fields() {
				_, _ = r.outputAttr(fl)
			}
		}
		_, _, _ = parseIdentifier(s)
	})
}
