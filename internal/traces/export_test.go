package traces

import (
	"regexp"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traceql"
)

// DisableConfinement makes r behave as tracegate did before queries were
// confined: the caller's text goes to Tempo as it is, with a select() of the
// tenant attribute appended, and only the results are checked. The oracle
// tests use it to show that each of their cases catches that leak.
func DisableConfinement(r *Repository) {
	r.rewrite = func(q string, _ tenant.Set) (string, error) {
		return withSelect(q, "resource."+r.cfg.TenantAttribute), nil
	}
}

var trailingSelect = regexp.MustCompile(`\|\s*select\(([^()]*)\)\s*$`)

func withSelect(q, field string) string {
	if q == "" {
		q = "{ }"
	}
	if m := trailingSelect.FindStringSubmatchIndex(q); m != nil {
		return q[:m[3]] + ", " + field + q[m[3]:]
	}
	return q + " | select(" + field + ")"
}

// DisableMetricsConfinement makes c send metrics queries as the caller wrote
// them (printed from the tree), for the oracle tests of the /tempo mount.
func DisableMetricsConfinement(c *Compat) {
	c.confineMetrics = func(q *traceql.Query, _ tenant.Set) (*traceql.Query, error) {
		return q, traceql.CheckKind(q, traceql.Metrics)
	}
}
