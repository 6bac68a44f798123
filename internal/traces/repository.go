package traces

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
)

// Upstream is what Repository needs from Tempo; internal/tempo implements it.
// Every method reads as the tenants t (Tempo's X-Scope-OrgID). Each returns
// ErrInvalidQuery (a *QueryError) when Tempo rejects the request, and
// ErrRateLimited, ErrUpstream, ErrUnavailable or ErrTimeout when Tempo fails.
type Upstream interface {
	// Trace reads trace id, optionally narrowed to r. It returns ErrNotFound
	// when Tempo has no such trace for t.
	Trace(ctx context.Context, t tenant.Set, id ID, r TimeRange) (Trace, error)
	// Search runs q (q.Range is always set).
	Search(ctx context.Context, t tenant.Set, q SearchQuery) ([]TraceSummary, error)
	// Tags lists attribute names, of one scope if scope is not empty, of
	// spans matching filter if it is not empty.
	Tags(ctx context.Context, t tenant.Set, scope, filter string, r TimeRange) ([]TagScope, error)
	// TagValues lists the values of tag, of spans matching filter if it is
	// not empty.
	TagValues(ctx context.Context, t tenant.Set, tag, filter string, r TimeRange) ([]TagValue, error)
}

// Config tunes a Repository. Zero durations take the defaults.
type Config struct {
	// TenantAttribute is the resource attribute that must hold the caller's
	// tenant (e.g. "tenant.id"); empty turns the attribute layer off. It must
	// be a plain TraceQL attribute name: letters, digits, '_' and '.'.
	TenantAttribute string
	// TempoTenant, when set, is the one Tempo tenant every caller reads (a
	// shared Tempo; "single-tenant" when Tempo runs without multitenancy).
	// The tenant attribute is then the only wall between tenants, so it
	// requires TenantAttribute.
	TempoTenant tenant.ID
	// RecentWindow is the search window when a request gives none (default 1h).
	RecentWindow time.Duration
	// MaxRange caps end-start of searches and tag lookups (default 168h, Tempo's).
	MaxRange time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MaxQueryBytes is Tempo's default limit on a TraceQL expression; tracegate
// checks it after adding its own filter.
const MaxQueryBytes = 128 << 10

// trailingSelect matches a query's final `| select(...)` stage.
var trailingSelect = regexp.MustCompile(`\|\s*select\(([^()]*)\)\s*$`)

// withSelect makes q also select field: into q's own final select() stage
// if it has one, else as a new stage ("{ }" standing in for an empty q).
func withSelect(q, field string) string {
	if q == "" {
		q = "{ }"
	}
	if m := trailingSelect.FindStringSubmatchIndex(q); m != nil {
		return q[:m[3]] + ", " + field + q[m[3]:]
	}
	return q + " | select(" + field + ")"
}

var attributeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)

// Repository reads traces on behalf of one set of tenants at a time. It is
// the only place in tracegate that applies tenant filtering.
type Repository struct {
	upstream Upstream
	cfg      Config
	logger   *slog.Logger
}

// NewRepository returns a Repository reading from upstream. It returns an
// error if cfg.TenantAttribute is not a plain TraceQL attribute name: the
// filters built from it must parse, because Tempo silently ignores a tag
// filter that does not.
func NewRepository(upstream Upstream, cfg Config, logger *slog.Logger) (*Repository, error) {
	if cfg.TenantAttribute != "" && !attributeName.MatchString(cfg.TenantAttribute) {
		return nil, fmt.Errorf("tenant attribute %q: use letters, digits, '_' and '.' only", cfg.TenantAttribute)
	}
	if cfg.TempoTenant != "" && cfg.TenantAttribute == "" {
		return nil, fmt.Errorf("a shared Tempo tenant (%s) needs a tenant attribute: it is the only wall between tenants", cfg.TempoTenant)
	}
	if cfg.RecentWindow <= 0 {
		cfg.RecentWindow = time.Hour
	}
	if cfg.MaxRange <= 0 {
		cfg.MaxRange = 168 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Repository{upstream: upstream, cfg: cfg, logger: logger}, nil
}

// SharedTraceWarning is the one warning of a trace read from a shared Tempo
// tenant (Config.TempoTenant) from which other tenants' resources were left
// out. It deliberately says nothing about what was left out.
const SharedTraceWarning = "only the resources of your tenant are shown; this trace also contains spans you cannot see"

// Trace returns trace id if it belongs to the tenants t. It returns
// ErrNotFound if the trace does not exist, belongs to another tenant (Tempo
// isolates it), or fails the tenant-attribute check: every occurrence of the
// attribute on every resource must be a string naming one of t (a resource
// carrying it twice with different values, or as an array, is foreign). A
// mis-routed trace is a *MismatchError (an ErrNotFound) naming what was
// found, for the audit log.
//
// With a shared Tempo tenant (Config.TempoTenant), traces that mix tenants
// are normal: the trace keeps only t's own resources, with Partial set and
// SharedTraceWarning, and a trace without any of them is a plain
// ErrNotFound. Other errors are those of Upstream.Trace. The caller must
// Release the trace it gets.
func (r *Repository) Trace(ctx context.Context, t tenant.Set, id ID, tr TimeRange) (Trace, error) {
	trace, err := r.upstream.Trace(ctx, r.upstreamTenants(t), id, tr)
	if err != nil {
		return Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	if trace.Spans == (ptrace.Traces{}) || trace.Spans.ResourceSpans().Len() == 0 {
		trace.Release()
		return Trace{}, fmt.Errorf("get trace %s: %w", id, ErrNotFound)
	}
	switch {
	case r.cfg.TenantAttribute == "":
	case r.shared():
		rss := trace.Spans.ResourceSpans()
		before := rss.Len()
		rss.RemoveIf(func(rs ptrace.ResourceSpans) bool {
			_, own := r.resourceTenant(rs.Resource().Attributes(), t)
			return !own
		})
		if rss.Len() == 0 {
			trace.Release()
			return Trace{}, fmt.Errorf("get trace %s: %w", id, ErrNotFound)
		}
		if rss.Len() < before {
			trace.Partial = true
			trace.Warnings = append(trace.Warnings, SharedTraceWarning)
		}
	default:
		if foreign := r.foreignValues(trace, t); len(foreign) > 0 {
			trace.Release()
			return Trace{}, &MismatchError{TraceID: id, Found: joinValues(foreign)}
		}
	}
	trace.ID = id
	return trace, nil
}

// foreignValues returns, for every resource that does not belong to t, what
// its tenant attribute holds ("<missing>" when absent). An empty result
// means the whole trace belongs to t.
func (r *Repository) foreignValues(trace Trace, t tenant.Set) []string {
	var foreign []string
	rss := trace.Spans.ResourceSpans()
	for i := range rss.Len() {
		got, own := r.resourceTenant(rss.At(i).Resource().Attributes(), t)
		if !own && !slices.Contains(foreign, got) {
			foreign = append(foreign, got)
		}
	}
	return foreign
}

// resourceTenant reports whether a resource with attributes attrs belongs to
// t: it carries the tenant attribute at least once, and every occurrence is
// a string naming one of t. Tempo's filters match a resource whose attribute
// is duplicated or an array when any value matches, so such a resource is
// only ours if all of its values are. got renders what was found, for logs.
func (r *Repository) resourceTenant(attrs pcommon.Map, t tenant.Set) (got string, own bool) {
	var seen []string
	own = true
	for k, v := range attrs.All() {
		if k != r.cfg.TenantAttribute {
			continue
		}
		seen = append(seen, v.AsString())
		if v.Type() != pcommon.ValueTypeStr || !t.Contains(v.Str()) {
			own = false
		}
	}
	if len(seen) == 0 {
		return "<missing>", false
	}
	return strings.Join(seen, "+"), own
}

// shared reports whether every caller reads one shared Tempo tenant.
func (r *Repository) shared() bool { return r.cfg.TempoTenant != "" }

// upstreamTenants returns the Tempo tenants a request of t reads: t itself,
// or the shared Tempo tenant.
func (r *Repository) upstreamTenants(t tenant.Set) tenant.Set {
	if r.shared() {
		return tenant.NewSet(r.cfg.TempoTenant)
	}
	return t
}

// window applies the default window to an empty range and caps its length.
func (r *Repository) window(tr TimeRange) (TimeRange, error) {
	if tr.IsZero() {
		now := r.cfg.Now()
		return TimeRange{Start: now.Add(-r.cfg.RecentWindow).Unix(), End: now.Unix() + 1}, nil
	}
	if time.Duration(tr.End-tr.Start)*time.Second > r.cfg.MaxRange {
		return TimeRange{}, &QueryError{Reason: fmt.Sprintf("the range from start to end exceeds %s", r.cfg.MaxRange)}
	}
	return tr, nil
}

// Search returns the traces of t matching q, newest first. Without q.Range it
// searches the last RecentWindow. With the attribute layer on, it adds a
// select() of the tenant attribute to the query and keeps only traces that
// returned at least one span, every returned span carrying one of t in that
// attribute: it checks the spans Tempo returns (at most q.SpansPerSet per
// set), not every span of each trace.
func (r *Repository) Search(ctx context.Context, t tenant.Set, q SearchQuery) ([]TraceSummary, error) {
	var err error
	if q.Range, err = r.window(q.Range); err != nil {
		return nil, err
	}
	attr := r.cfg.TenantAttribute
	if attr != "" {
		q.Q = withSelect(q.Q, "resource."+attr)
		if len(q.Q) > MaxQueryBytes {
			return nil, &QueryError{Reason: fmt.Sprintf("q is too long: with tracegate's tenant filter it must stay within %d bytes", MaxQueryBytes)}
		}
	}
	found, err := r.upstream.Search(ctx, r.upstreamTenants(t), q)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if attr == "" {
		return found, nil
	}
	kept := make([]TraceSummary, 0, len(found))
	dropped := 0
	for _, tr := range found {
		if r.ownSpans(tr, t) {
			kept = append(kept, tr)
		} else {
			dropped++
		}
	}
	if dropped > 0 {
		r.logger.WarnContext(ctx, "search results failed the tenant attribute check and were dropped",
			slog.String("tenant", t.OrgID()), slog.String("attribute", attr), slog.Int("dropped", dropped))
	}
	return kept, nil
}

// ownSpans reports whether tr returned spans and every one carries the tenant
// attribute with a value in t. Every attribute of that name counts (a span
// attribute of the same name as the resource one must not vouch for it).
func (r *Repository) ownSpans(tr TraceSummary, t tenant.Set) bool {
	want := "resource." + r.cfg.TenantAttribute
	spans := 0
	for _, set := range tr.SpanSets {
		for _, sp := range set.Spans {
			spans++
			seen := false
			for _, a := range sp.Attributes {
				if a.Key != r.cfg.TenantAttribute && a.Key != want {
					continue
				}
				if v, isStr := a.Value.(string); !isStr || !t.Contains(v) {
					return false
				}
				seen = true
			}
			if !seen {
				return false
			}
		}
	}
	return spans > 0
}

// Tags returns the attribute names of t's traces (of one scope if scope is
// set). With the attribute layer on, Tempo is asked with a filter on the
// tenant attribute that tracegate builds, once per tenant, and the answers
// are merged.
func (r *Repository) Tags(ctx context.Context, t tenant.Set, scope string, tr TimeRange) ([]TagScope, error) {
	tr, err := r.window(tr)
	if err != nil {
		return nil, err
	}
	var merged []TagScope
	for _, filter := range r.tenantFilters(t) {
		scopes, err := r.upstream.Tags(ctx, r.upstreamTenants(t), scope, filter, tr)
		if err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		merged = mergeScopes(merged, scopes)
	}
	return merged, nil
}

// TagValues returns the values of tag in t's traces, narrowed by the TraceQL
// filter q when it is set. With the attribute layer on, tracegate builds the
// filter itself (Tempo silently ignores a filter it cannot parse, and would
// then answer with every tenant's values), so a caller's q is refused.
func (r *Repository) TagValues(ctx context.Context, t tenant.Set, tag, q string, tr TimeRange) ([]TagValue, error) {
	tr, err := r.window(tr)
	if err != nil {
		return nil, err
	}
	if r.cfg.TenantAttribute != "" && q != "" {
		return nil, &QueryError{Reason: "q is not supported on tag values while tenant-attribute filtering is on"}
	}
	filters := r.tenantFilters(t)
	if r.cfg.TenantAttribute == "" {
		filters = []string{q}
	}
	var merged []TagValue
	for _, filter := range filters {
		values, err := r.upstream.TagValues(ctx, r.upstreamTenants(t), tag, filter, tr)
		if err != nil {
			return nil, fmt.Errorf("tag values of %s: %w", tag, err)
		}
		for _, v := range values {
			if !slices.Contains(merged, v) {
				merged = append(merged, v)
			}
		}
	}
	return merged, nil
}

// tenantFilters returns one TraceQL filter per tenant of t selecting its
// spans by the tenant attribute, or a single empty filter when the attribute
// layer is off. One filter per tenant, not one with ||: Tempo's tag
// endpoints give up on (and then ignore) filters with ||.
func (r *Repository) tenantFilters(t tenant.Set) []string {
	if r.cfg.TenantAttribute == "" {
		return []string{""}
	}
	var filters []string
	for _, id := range t.IDs() {
		filters = append(filters, TenantFilter(r.cfg.TenantAttribute, id))
	}
	return filters
}

// TenantFilter returns the TraceQL spanset filter { resource.<attr> = "<id>" }.
func TenantFilter(attr string, id tenant.ID) string {
	return `{ resource.` + attr + ` = ` + quote(id.String()) + ` }`
}

// quote renders s as a TraceQL string literal.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func mergeScopes(into, more []TagScope) []TagScope {
	for _, s := range more {
		i := slices.IndexFunc(into, func(x TagScope) bool { return x.Name == s.Name })
		if i < 0 {
			into = append(into, TagScope{Name: s.Name, Tags: slices.Clone(s.Tags)})
			continue
		}
		for _, tag := range s.Tags {
			if !slices.Contains(into[i].Tags, tag) {
				into[i].Tags = append(into[i].Tags, tag)
			}
		}
	}
	return into
}
