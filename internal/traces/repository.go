package traces

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
)

// Upstream is what Repository needs from Tempo; internal/tempo implements it.
type Upstream interface {
	// Trace reads trace id as tenant t (Tempo's X-Scope-OrgID), optionally
	// narrowed to r. It returns ErrNotFound when Tempo has no such trace for t,
	// ErrInvalidQuery when Tempo rejects the request, and ErrRateLimited,
	// ErrUpstream, ErrUnavailable or ErrTimeout when Tempo fails.
	Trace(ctx context.Context, t tenant.Set, id ID, r TimeRange) (Trace, error)
}

// Repository reads traces on behalf of one tenant at a time. It is the only
// place in tracegate that applies tenant filtering.
type Repository struct {
	upstream Upstream
	// attribute is the resource attribute that must equal the caller's tenant
	// on every resource of a trace; empty turns the check off.
	attribute string
	logger    *slog.Logger
}

// NewRepository returns a Repository reading from upstream. When
// tenantAttribute is not empty (e.g. "tenant.id"), every resource of a trace
// must carry that attribute with one of the caller's tenants as its string value.
func NewRepository(upstream Upstream, tenantAttribute string, logger *slog.Logger) *Repository {
	return &Repository{upstream: upstream, attribute: tenantAttribute, logger: logger}
}

// Trace returns trace id if it belongs to the tenants t. It returns ErrNotFound if
// the trace does not exist, belongs to another tenant (Tempo isolates it), or
// fails the tenant-attribute check (mis-routed ingestion; logged as a warning
// naming both tenants). Other errors are those of Upstream.Trace.
func (r *Repository) Trace(ctx context.Context, t tenant.Set, id ID, tr TimeRange) (Trace, error) {
	trace, err := r.upstream.Trace(ctx, t, id, tr)
	if err != nil {
		return Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	if trace.Spans == (ptrace.Traces{}) || trace.Spans.ResourceSpans().Len() == 0 {
		return Trace{}, fmt.Errorf("get trace %s: %w", id, ErrNotFound)
	}
	if r.attribute != "" {
		if foreign := r.foreignValues(trace, t); len(foreign) > 0 {
			r.logger.WarnContext(ctx, "trace failed the tenant attribute check; answering not found",
				slog.String("trace_id", id.String()),
				slog.String("tenant", t.OrgID()),
				slog.String("attribute", r.attribute),
				slog.String("found", joinValues(foreign)))
			return Trace{}, fmt.Errorf("get trace %s: tenant attribute mismatch: %w", id, ErrNotFound)
		}
	}
	trace.ID = id
	return trace, nil
}

// foreignValues returns, for every resource whose tenant attribute is not t,
// the value it carries ("<missing>" when absent or not a string). An empty
// result means the whole trace belongs to t.
func (r *Repository) foreignValues(trace Trace, t tenant.Set) []string {
	var foreign []string
	rss := trace.Spans.ResourceSpans()
	for i := range rss.Len() {
		v, ok := rss.At(i).Resource().Attributes().Get(r.attribute)
		got := "<missing>"
		if ok {
			got = v.AsString()
			if v.Type() == pcommon.ValueTypeStr && t.Contains(v.Str()) {
				continue
			}
		}
		if !slices.Contains(foreign, got) {
			foreign = append(foreign, got)
		}
	}
	return foreign
}
