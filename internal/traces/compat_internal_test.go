package traces

import (
	"testing"

	"github.com/tracegate/tracegate/internal/traceql"
)

// FuzzTagsQuery: every logfmt tags search tracegate accepts becomes TraceQL
// that tracegate's parser reads back, with exactly one condition per tag.
func FuzzTagsQuery(f *testing.F) {
	for _, s := range []string{`service.name=cart`, `http.url="/a b" status.code=error`, `a-b=c`, `k="quo\"te"`, `k=é`, `k="\x00"`, `x=.*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseLogfmtTags(s)
		if err != nil || len(tags) == 0 {
			return
		}
		q := tagsQuery(tags)
		parsed, err := traceql.Parse(q)
		if err != nil {
			t.Fatalf("tags %q became %q, which does not parse: %v", s, q, err)
		}
		if _, err := traceql.Confine(parsed, "tenant.id", []string{"acme"}, traceql.Search); err != nil {
			t.Fatalf("tags %q became %q, which cannot be confined: %v", s, q, err)
		}
	})
}
