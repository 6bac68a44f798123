package traceql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestPrint(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, q, want string }{
		{"spaces and comments", "{name=\"x\"}//c\n|count()>2/* b */", `{ name = "x" } | count() > 2`},
		{"backtick and escapes", "{ name = `a\"b\\c` && span.y = \"\\u0063\\t\" }", `{ name = "a\"b\\c" && span.y = "c\t" }`},
		{"control characters", `{ name = "\x01\n" }`, `{ name = "\u0001\n" }`},
		{"durations in ns", "{ duration > 1.5ms && duration < 2h } | avg(duration) > -3us", `{ duration > 1500000ns && duration < 7200000000000ns } | avg(duration) > -3000ns`},
		{"floats keep a point", "{ span.a = 1e3 || span.b = .5 || span.c = 2.50 || span.d = 1e30 || span.e = 1.5e-7 }", `{ span.a = 1000.0 || span.b = 0.5 || span.c = 2.5 || span.d = 1e30 || span.e = 1.5e-07 }`},
		{"and/or share one level, left to right", "{ .a = 1 || .b = 2 && .c = 3 }", `{ (.a = 1 || .b = 2) && .c = 3 }`},
		{"right operand parenthesized", "{ .a = 1 && (.b = 2 && .c = 3) }", `{ .a = 1 && (.b = 2 && .c = 3) }`},
		{"redundant parentheses dropped", "{ ((.a = 1)) && (.b = 2) }", `{ .a = 1 && .b = 2 }`},
		{"not", "{ !(.a = 1 || .b = 2) && !(.c = nil) }", `{ !(.a = 1 || .b = 2) && !(.c = nil) }`},
		{"structural binds tighter than &&", "{ .a = 1 } && { .b = 2 } > { .c = 3 }", `{ .a = 1 } && ({ .b = 2 } > { .c = 3 })`},
		{"structural chain", "{ .a = 1 } > { .b = 2 } ~ { } > { }", `(({ .a = 1 } > { .b = 2 }) ~ { }) > { }`},
		{"quoted attribute names", `{ span."http method" = "GET" && span."http.method" = "GET" && ."5xx" = 1 && span.ünï = "x" }`, `{ span."http method" = "GET" && span.http.method = "GET" && ."5xx" = 1 && span.ünï = "x" }`},
		{"intrinsics and enums", "{ span:kind = server && status != error && event:name = \"e\" && trace:id = \"ab\" }", `{ span:kind = server && status != error && event:name = "e" && trace:id = "ab" }`},
		{"pipeline", "{ } | by(resource.service.name) | select(span.a, name) | coalesce() | { status = error } | max(duration) >= min(duration)", `{ } | by(resource.service.name) | select(span.a, name) | coalesce() | { status = error } | max(duration) >= min(duration)`},
		{"metrics with by and topk", "{ status = error } | rate() by (resource.service.name, span.x) | topk(5)", `{ status = error } | rate() by (resource.service.name, span.x) | topk(5)`},
		{"quantiles", "{ } | quantile_over_time(duration, .5, .9, 1) by(name)", `{ } | quantile_over_time(duration, 0.5, 0.9, 1.0) by (name)`},
		{"compare", "{ } | compare({status=error}, 10, 1, 2)", `{ } | compare({ status = error }, 10, 1, 2)`},
		{"hints", "{ } with(most_recent=true, sample=0.5)", `{ } with (most_recent = true, sample = 0.5)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.String(); got != tc.want {
				t.Fatalf("String() = %s\n          want %s", got, tc.want)
			}
			checkRoundTrip(t, q)
		})
	}
}

func TestConfine(t *testing.T) {
	t.Parallel()
	one, two := []string{"acme"}, []string{"acme", "globex"}
	tests := []struct {
		name    string
		q       string
		tenants []string
		kind    Kind
		want    string
	}{
		{"empty filter", "{ }", one, Search, `{ resource.tenant.id = "acme" }`},
		{"single condition", `{ name = "x" }`, one, Search, `{ name = "x" && resource.tenant.id = "acme" }`},
		{"or keeps its parentheses", `{ .a = 1 || .b = 2 }`, one, Search, `{ (.a = 1 || .b = 2) && resource.tenant.id = "acme" }`},
		{"two tenants", `{ .a = 1 || .b = 2 }`, two, Search, `{ (.a = 1 || .b = 2) && (resource.tenant.id = "acme" || resource.tenant.id = "globex") }`},
		{"every filter of a structural query", `{ .a = 1 } > { } && { .b = 2 }`, one, Search,
			`({ .a = 1 && resource.tenant.id = "acme" } > { resource.tenant.id = "acme" }) && { .b = 2 && resource.tenant.id = "acme" }`},
		{"filters in later stages", `{ } | by(span.x) | { status = error } | select(span.y)`, one, Search,
			`{ resource.tenant.id = "acme" } | by(span.x) | { status = error && resource.tenant.id = "acme" } | select(span.y)`},
		{"metrics", `{ status = error } | rate() by (resource.service.name)`, one, Metrics,
			`{ status = error && resource.tenant.id = "acme" } | rate() by (resource.service.name)`},
		{"compare", `{ } | compare({ status = error }, 5)`, two, Metrics,
			`{ resource.tenant.id = "acme" || resource.tenant.id = "globex" } | compare({ status = error && (resource.tenant.id = "acme" || resource.tenant.id = "globex") }, 5)`},
		{"quantile and topk", `{ } | quantile_over_time(duration, .99) | bottomk(3)`, one, Metrics,
			`{ resource.tenant.id = "acme" } | quantile_over_time(duration, 0.99) | bottomk(3)`},
		{"most_recent hint", `{ } with (most_recent = true)`, one, Search, `{ resource.tenant.id = "acme" } with (most_recent = true)`},
		{"tenant is re-quoted", `{ }`, []string{`a"b\c`}, Search, `{ resource.tenant.id = "a\"b\\c" }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			before := q.String()
			saved := cloneQueryForTest(t, q)
			got, err := Confine(q, "tenant.id", tc.tenants, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Fatalf("confined = %s\n      want %s", got.String(), tc.want)
			}
			if q.String() != before || !reflect.DeepEqual(q, saved) {
				t.Fatalf("Confine modified its input: %s", q.String())
			}
			checkRoundTrip(t, got)
			checkConfined(t, got, "tenant.id", tc.tenants)
		})
	}
}

// cloneQueryForTest copies q through the printer (which the round-trip test covers).
func cloneQueryForTest(t *testing.T, q *Query) *Query {
	t.Helper()
	c, err := Parse(q.String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfineRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q         string
		kind      Kind
		construct string
	}{
		{`{ trace:rootService = "x" }`, Search, "trace:rootService"},
		{`{ } | select(trace:rootName)`, Search, "trace:rootName"},
		{`{ } | by(rootServiceName)`, Search, "rootServiceName"},
		{`{ } | avg(traceDuration) > 1s`, Search, "traceDuration"},
		{`{ span:childCount > 2 }`, Search, "span:childCount"},
		{`{ childCount > 2 }`, Search, "childCount"},
		{`{ nestedSetLeft > 2 }`, Search, "nestedSetLeft"},
		{`{ } | rate() by (trace:rootService)`, Metrics, "trace:rootService"},
		{`{ } | histogram_over_time(trace:duration)`, Metrics, "trace:duration"},
		{`{ } | compare({ nestedSetParent = -1 })`, Metrics, "nestedSetParent"},
		{`{ } | { } >> { }`, Search, ">>"},
		{`({ } && { }) << { }`, Search, "<<"},
		{`{ } !<< { }`, Search, "!<<"},
		{`{ } &<< { }`, Search, "&<<"},
		{`{ } with (most_recent = 1)`, Search, "most_recent"},
		{`{ } with (most_recent = true, exemplars = true)`, Search, "exemplars"},
		{`{ } | rate()`, Search, "rate()"},
		{`{ } | count() > 1`, Metrics, "without a metrics function"},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Confine(q, "tenant.id", []string{"acme"}, tc.kind)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Confine = %v, %v; want a *RefusedError", got, err)
			}
			if !strings.Contains(re.Construct, tc.construct) || re.Reason == "" {
				t.Fatalf("refusal %+v does not name %q or gives no reason", re, tc.construct)
			}
			if msg := re.Error(); !strings.Contains(msg, re.Construct) || !strings.Contains(msg, re.Reason) {
				t.Fatalf("Error() = %q does not name both construct and reason", msg)
			}
		})
	}
}

func TestConfineBadArguments(t *testing.T) {
	t.Parallel()
	q, err := Parse("{ }")
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{"", ".x", "x.", "a..b", "a b", `a"`, "a/b", "ä"} {
		if _, err := Confine(q, attr, []string{"acme"}, Search); err == nil {
			t.Errorf("Confine accepted attribute name %q", attr)
		}
	}
	if _, err := Confine(q, "tenant.id", nil, Search); err == nil {
		t.Error("Confine accepted no tenants")
	}
	if _, err := Confine(q, "tenant.id", []string{"acme"}, Kind(0)); err == nil {
		t.Error("Confine accepted an unknown kind")
	}
}

// The four examples of the issue.
func TestAttackExamples(t *testing.T) {
	t.Parallel()
	t.Run("comment hides the appended select", func(t *testing.T) {
		t.Parallel()
		q, err := Parse(`{ span.tenant.id = "acme" } | select(span.globex.secret) //`)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Confine(q, "tenant.id", []string{"acme"}, Search)
		if err != nil {
			t.Fatal(err)
		}
		want := `{ span.tenant.id = "acme" && resource.tenant.id = "acme" } | select(span.globex.secret)`
		if got := c.String(); got != want {
			t.Fatalf("confined = %s, want %s", got, want)
		}
		// Appending text after the printed form can no longer be swallowed by a comment.
		appended, err := Parse(c.String() + " | select(resource.tenant.id)")
		if err != nil || len(appended.Stages) != 3 {
			t.Fatalf("appended stage was lost: %v, %v", appended, err)
		}
	})
	t.Run("limit displacement by a foreign predicate", func(t *testing.T) {
		t.Parallel()
		q, err := Parse(`{ span.partner.secret =~ "G.*" } || { resource.service.name = "shop" }`)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Confine(q, "tenant.id", []string{"acme"}, Search)
		if err != nil {
			t.Fatal(err)
		}
		checkConfined(t, c, "tenant.id", []string{"acme"})
	})
	t.Run("sibling oracle", func(t *testing.T) {
		t.Parallel()
		q, err := Parse(`{ resource.tenant.id != "acme" && span.x =~ "^4.*" } ~ { resource.tenant.id = "acme" }`)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Confine(q, "tenant.id", []string{"acme"}, Search)
		if err != nil {
			t.Fatal(err)
		}
		want := `{ resource.tenant.id != "acme" && span.x =~ "^4.*" && resource.tenant.id = "acme" } ~ { resource.tenant.id = "acme" && resource.tenant.id = "acme" }`
		if got := c.String(); got != want {
			t.Fatalf("confined = %s, want %s", got, want)
		}
	})
	t.Run("trace-level intrinsics", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{`{ trace:rootService = "partner-api" }`, `{ trace:rootName =~ "G.*" }`, `{ trace:duration > 5ms }`, `{ } | select(trace:rootService)`} {
			q, err := Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			var re *RefusedError
			if _, err := Confine(q, "tenant.id", []string{"acme"}, Search); !errors.As(err, &re) {
				t.Errorf("%s: Confine = %v, want a refusal", s, err)
			}
		}
	})
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		"", " ", "// only a comment", "{ } /* unterminated", "{ name = 'x' }",
		"{ parent.name = \"x\" }", "{ foo }", "{ span.x }", "{ 1 = span.x }", "{ span.a = span.b }",
		"{ span.x + 1 = 2 }", "{ !span.x = 1 }", "{ span.x = [1] }", "{ name =~ 1 }", "{ span.x > nil }",
		"{ status > error }", "{ span..x = 1 }", "{ span.x. = 1 }", "{ span.\"a\\\"b\" = 1 }", "{ span.\"\" = 1 }",
		"{ span.x = 1e }", "{ duration > 1e3ms }", "{ duration > 1d }", "{ duration > 1h30m }", "{ span.x = 99999999999999999999 }",
		"{ span.x = \"\\xff\" }", "{ span.x = \"a\nb\" }", "{ span.x = --1 }", "{ span:nosuch = 1 }", "{ trace:name = 1 }",
		"({ } | count() > 1) && { status = error }", "count() > 1", "by(name)", "{ } | count()", "{ } | count() > span.x",
		"{ } | by(name, kind)", "{ } | select()", "{ } | rate() | rate()", "{ } | rate() | count() > 1", "{ } | topk(5)",
		"{ } | rate() | topk(1.5)", "{ } | compare({ }, 1, 2)", "{ } | compare(({ }))", "{ } | quantile_over_time(duration)",
		"{ } | quantile_over_time(duration, \"a\")", "{ } | min_over_time()", "{ } | rate(duration)", "{ } | compare({ }) by (name)",
		"{ } with ()", "{ } with (a)", "{ } with (a = 1) with (b = 2)", "{ } with (most_recent = true) | count() > 1",
		"{ } & { }", "{ } | | { }", "{ } |", "{ } { }", "{ } >>> { }", "\x00", "{ name = \"x\" } \u00a0",
		strings.Repeat("(", 200) + "{ }" + strings.Repeat(")", 200),
		"{ " + strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200) + " }",
		"{ name = \"" + strings.Repeat("a", MaxQueryBytes) + "\" }",
	} {
		if got, err := Parse(q); err == nil {
			t.Errorf("Parse(%.60q) = %s, want an error", q, got)
		} else if se := (*SyntaxError)(nil); !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "parse error at line ") {
			t.Errorf("Parse(%.60q) error %v is not a *SyntaxError", q, err)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	_, err := Parse("{\n  name = }")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Col != 10 {
		t.Fatalf("error = %#v, want line 2 col 10", err)
	}
	if want := "parse error at line 2, col 10: "; !strings.HasPrefix(se.Error(), want) {
		t.Fatalf("Error() = %q, want prefix %q", se.Error(), want)
	}
}

func TestIsMetricsAndCheckKind(t *testing.T) {
	t.Parallel()
	for q, metrics := range map[string]bool{
		"{ } | rate()": true, "{ } | count_over_time() by (name)": true, "{ } | quantile_over_time(duration, .5, .9)": true,
		"{ } | histogram_over_time(duration)": true, "{ } | min_over_time(duration)": true, "{ } | max_over_time(duration)": true,
		"{ } | avg_over_time(duration)": true, "{ } | sum_over_time(span.size)": true, "{ } | compare({ status = error })": true,
		"{ } | rate() | topk(5)": true, "{ } | count() > 1": false, "{ } | select(name)": false, "{ } > { }": false,
	} {
		p, err := Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if p.IsMetrics() != metrics {
			t.Errorf("%s: IsMetrics() = %v", q, p.IsMetrics())
		}
		errSearch, errMetrics := CheckKind(p, Search), CheckKind(p, Metrics)
		if (errSearch == nil) == metrics || (errMetrics == nil) != metrics {
			t.Errorf("%s: CheckKind(Search) = %v, CheckKind(Metrics) = %v", q, errSearch, errMetrics)
		}
	}
}

func TestTagFilter(t *testing.T) {
	t.Parallel()
	tenantOnly := `{ resource.tenant.id = "acme" }`
	tests := []struct{ q, want string }{
		{`{ resource.tenant.id = "acme" } // x`, `{ resource.tenant.id = "acme" && resource.tenant.id = "acme" }`},
		{`{ status = error && span.x = "y" }`, `{ status = error && span.x = "y" && resource.tenant.id = "acme" }`},
		{`{ .a =~ "x.*" && (.b > 1 && .c != 2) }`, `{ .a =~ "x.*" && .b > 1 && .c != 2 && resource.tenant.id = "acme" }`},
		{`{ nosuch syntax`, tenantOnly},
		{`{ a } || { b }`, tenantOnly},
		{`{ .a = 1 } || { .b = 2 }`, tenantOnly},
		{`{ .a = 1 } > { .b = 2 }`, tenantOnly},
		{`{ x = 1 || y = 2 }`, tenantOnly},
		{`{ .x = 1 || .y = 2 }`, tenantOnly},
		{`{ .x = 1 && !(.y = 2) }`, tenantOnly},
		{`{ .x = nil }`, tenantOnly},
		{`{ .x = 1e30 }`, tenantOnly},
		{`{ status = 1 }`, tenantOnly},
		{`{ status = "error" }`, tenantOnly},
		{`{ kind = error }`, tenantOnly},
		{`{ duration > 5 }`, tenantOnly},
		{`{ name = 1 }`, tenantOnly},
		{`{ name > "a" }`, tenantOnly},
		{`{ span.x = error }`, tenantOnly},
		{`{ span.x =~ "(" }`, tenantOnly},
		{`{ span:id = "ab" && .x = true && .y >= -2 && kind != server && .z !~ "^a" && event:timeSinceStart < 1s }`,
			`{ span:id = "ab" && .x = true && .y >= -2 && kind != server && .z !~ "^a" && event:timeSinceStart < 1000000000ns && resource.tenant.id = "acme" }`},
		{`{ .x = 1.5 && duration > 1ms }`, `{ .x = 1.5 && duration > 1000000ns && resource.tenant.id = "acme" }`},
		{`{ name = "` + strings.Repeat("a", MaxQueryBytes-20) + `" }`, tenantOnly},
		{`{ true }`, tenantOnly},
		{`{ } `, tenantOnly},
		{``, tenantOnly},
		{`{ .x = 1 } | count() > 1`, tenantOnly},
		{`{ .x = 1 } with (most_recent = true)`, tenantOnly},
		{`{ .x = 1 } | rate()`, tenantOnly},
		{`{ trace:rootService = "x" }`, tenantOnly},
		{`{ name = "a" /* comment */ }`, `{ name = "a" && resource.tenant.id = "acme" }`},
	}
	for _, tc := range tests {
		if got := TagFilter(tc.q, "tenant.id", "acme"); got != tc.want {
			t.Errorf("TagFilter(%q) = %s, want %s", tc.q, got, tc.want)
		}
	}
	if got := TagFilter(`{ name = "a" }`, "bad attr", "acme"); got != "{ false }" {
		t.Errorf("TagFilter with an invalid attribute = %s, want { false }", got)
	}
	// The result always parses, carries no comment and is confined.
	for _, tc := range tests {
		out := TagFilter(tc.q, "tenant.id", `ac"me`)
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("TagFilter(%q) = %s does not parse: %v", tc.q, out, err)
		}
		checkNoComment(t, out)
		checkConfined(t, &Query{Stages: []Stage{&SpansetStage{Expr: q.Stages[0].(*SpansetStage).Expr}}}, "tenant.id", []string{`ac"me`})
	}
}

func TestParseIdentifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, printed string
		confinable  bool
	}{
		{"resource.service.name", "resource.service.name", true},
		{".service.name", ".service.name", true},
		{`span."http method"`, `span."http method"`, true},
		{"event.exception.message", "event.exception.message", true},
		{"link.x", "link.x", true},
		{"instrumentation.x", "instrumentation.x", true},
		{"name", "name", true},
		{"span:name", "span:name", true},
		{"status", "status", true},
		{"trace:id", "trace:id", true},
		{"event:name", "event:name", true},
		{"trace:rootService", "trace:rootService", false},
		{"trace:rootName", "trace:rootName", false},
		{"trace:duration", "trace:duration", false},
		{"rootServiceName", "rootServiceName", false},
		{"rootName", "rootName", false},
		{"traceDuration", "traceDuration", false},
		{"span:childCount", "span:childCount", false},
		{"nestedSetLeft", "nestedSetLeft", false},
		{"nestedSetRight", "nestedSetRight", false},
		{"nestedSetParent", "nestedSetParent", false},
	}
	for _, tc := range tests {
		id, err := ParseIdentifier(tc.in)
		if err != nil {
			t.Errorf("ParseIdentifier(%q): %v", tc.in, err)
			continue
		}
		ok, reason := id.Confinable()
		if id.String() != tc.printed || ok != tc.confinable || ok == (reason != "") {
			t.Errorf("ParseIdentifier(%q) = %s, confinable %v (%q)", tc.in, id, ok, reason)
		}
		if IsUnconfinableTag(tc.in) == tc.confinable && id.Attribute.Scope == ScopeIntrinsic {
			t.Errorf("IsUnconfinableTag(%q) = %v", tc.in, IsUnconfinableTag(tc.in))
		}
	}
	for _, bad := range []string{"", "service.name", "foo", "span.", "parent.name", "name = 1", "{ }", "span.a span.b", "trace:nosuch"} {
		if id, err := ParseIdentifier(bad); err == nil {
			t.Errorf("ParseIdentifier(%q) = %v, want an error", bad, id)
		}
	}
	if IsUnconfinableTag("service.name") || IsUnconfinableTag("trace:id") || !IsUnconfinableTag("trace:rootService") {
		t.Error("IsUnconfinableTag misclassifies")
	}
}

// A query under Tempo's size limit can exceed it once confined: Parse refuses the
// printed form, so the caller must check the length before sending it.
func TestConfineCanExceedTheSizeLimit(t *testing.T) {
	t.Parallel()
	q, err := Parse(strings.Repeat("{ } && ", 10000) + "{ }")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Confine(q, "tenant.id", []string{"acme"}, Search)
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	if len(s) <= MaxQueryBytes {
		t.Fatalf("confined length %d, want more than %d", len(s), MaxQueryBytes)
	}
	if _, err := Parse(s); err == nil {
		t.Fatal("Parse accepted a query over MaxQueryBytes")
	}
	checkRoundTrip(t, c)
	checkConfined(t, c, "tenant.id", []string{"acme"})
}
