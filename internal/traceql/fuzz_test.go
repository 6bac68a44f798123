package traceql

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse holds the package's invariants on arbitrary input: nothing panics; a query
// that parses prints without comments and re-parses to an equal tree; Confine either
// refuses it or returns a tree in which every spanset filter carries the tenant
// condition; TagFilter always returns a confined single filter.
func FuzzParse(f *testing.F) {
	for _, tc := range loadCorpus(f).Search {
		f.Add(tc.Q)
	}
	for _, s := range []string{
		`{ } | rate() by (resource.service.name) | topk(5) with (most_recent = true)`,
		`{ } | compare({ status = error }, 10, 1, 2)`,
		`{ } | quantile_over_time(duration, .5, .99) by (name)`,
		`{ .a = 1 || .b = 2 && !(.c =~ "x") } &~ ({ } !< { span:kind = client }) | by(span.x) | { } | max(duration) > 1s`,
		"{ span.\"a b\" = `raw` } // c\n/* d */ | select(.x, event:name)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tf := TagFilter(s, "tenant.id", "acme")
		tq, err := Parse(tf)
		if err != nil || len(tq.Stages) != 1 || tq.Metrics != nil || tq.Hints != nil {
			t.Fatalf("TagFilter(%q) = %q: not a single filter (%v)", s, tf, err)
		}
		checkNoComment(t, tf)
		checkConfined(t, tq, "tenant.id", []string{"acme"})
		_, _ = ParseIdentifier(s)

		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v is not a *SyntaxError", err)
			}
			return
		}
		checkRoundTrip(t, q)
		before := q.String()
		for _, kind := range []Kind{Search, Metrics} {
			for _, tenants := range [][]string{{"acme"}, {"acme", `glo"bex`}} {
				c, err := Confine(q, "tenant.id", tenants, kind)
				if err != nil {
					var re *RefusedError
					if !errors.As(err, &re) || re.Construct == "" || re.Reason == "" {
						t.Fatalf("Confine error %v is not a complete *RefusedError", err)
					}
					continue
				}
				checkRoundTrip(t, c)
				checkConfined(t, c, "tenant.id", tenants)
				if !strings.Contains(c.String(), `resource.tenant.id = "acme"`) {
					t.Fatalf("confined form %q lacks the tenant condition", c.String())
				}
			}
		}
		if q.String() != before {
			t.Fatalf("Confine modified its input: %q became %q", before, q.String())
		}
	})
}
