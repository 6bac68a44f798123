package traces

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tracegate/tracegate/internal/otlpjson"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traceql"
)

// Upstream is what Repository needs from Tempo; internal/tempo implements it.
// Every method reads as the tenants t (Tempo's X-Scope-OrgID). Each returns
// ErrInvalidQuery (a *QueryError) when Tempo rejects the request, and
// ErrRateLimited, ErrUpstream, ErrUnavailable or ErrTimeout when Tempo fails.
type Upstream interface {
	// WithTrace reads trace id, optionally narrowed to r, and calls fn with
	// it. The trace is only valid during fn: what the Upstream holds for it
	// (internal/tempo's conversion memory) is freed when fn returns or
	// panics. It returns fn's error as it is, and ErrNotFound when Tempo has
	// no such trace for t (fn is then not called).
	WithTrace(ctx context.Context, t tenant.Set, id ID, r TimeRange, fn func(Trace) error) error
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
const MaxQueryBytes = traceql.MaxQueryBytes

// Repository reads traces on behalf of one set of tenants at a time. It is
// the only place in tracegate that applies tenant filtering.
type Repository struct {
	upstream Upstream
	cfg      Config
	logger   *slog.Logger
	// rewrite turns a caller's q into the text Tempo evaluates: searchQuery,
	// except in the oracle tests, which switch confinement off to show that
	// every oracle case catches a leak.
	rewrite func(q string, t tenant.Set) (string, error)
}

// NewRepository returns a Repository reading from upstream. It returns an
// error if cfg.TenantAttribute is not a plain TraceQL attribute name: the
// filters built from it must parse, because Tempo silently ignores a tag
// filter that does not.
func NewRepository(upstream Upstream, cfg Config, logger *slog.Logger) (*Repository, error) {
	if cfg.TenantAttribute != "" {
		if err := traceql.ValidateAttributeName(cfg.TenantAttribute); err != nil {
			return nil, fmt.Errorf("%w: use letters, digits, '_' and '.' only", err)
		}
	}
	if !cfg.TempoTenant.IsZero() && cfg.TenantAttribute == "" {
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
	r := &Repository{upstream: upstream, cfg: cfg, logger: logger}
	r.rewrite = r.searchQuery
	return r, nil
}

// SharedTraceWarning is the one warning of a trace read from a shared Tempo
// tenant (Config.TempoTenant) from which other tenants' resources were left
// out. It deliberately says nothing about what was left out.
const SharedTraceWarning = "only the resources of your tenant are shown; this trace also contains spans you cannot see"

// WithTrace calls fn with trace id if it belongs to the tenants t, and
// returns fn's error as it is. The trace is only valid during fn; whatever
// reading it holds is freed when WithTrace returns, also when fn fails or
// panics. It returns ErrNoTenant for an empty t, and ErrNotFound if the
// trace does not exist, belongs to another tenant (Tempo isolates it), or
// fails the tenant-attribute check: every occurrence of the attribute on
// every resource must be a string naming one of t (a resource carrying it
// twice with different values, or as an array, is foreign). A mis-routed
// trace is a *MismatchError (an ErrNotFound) naming what was found, for the
// audit log.
//
// With a shared Tempo tenant (Config.TempoTenant), traces that mix tenants
// are normal: the trace keeps only t's own resources, with Partial set and
// SharedTraceWarning, and a trace without any of them is a plain
// ErrNotFound. Other errors are those of Upstream.WithTrace; in none of
// these cases is fn called.
func (r *Repository) WithTrace(ctx context.Context, t tenant.Set, id ID, tr TimeRange, fn func(Trace) error) error {
	if err := requireTenants(t); err != nil {
		return fmt.Errorf("get trace %s: %w", id, err)
	}
	called := false
	err := r.upstream.WithTrace(ctx, r.upstreamTenants(t), id, tr, func(trace Trace) error {
		trace, err := r.own(trace, t, id)
		if err != nil {
			return err
		}
		called = true
		return fn(trace)
	})
	var mismatch *MismatchError
	if err == nil || called || errors.As(err, &mismatch) {
		return err
	}
	return fmt.Errorf("get trace %s: %w", id, err)
}

// own returns what of trace t may see (see WithTrace), or the error that
// hides it.
func (r *Repository) own(trace Trace, t tenant.Set, id ID) (Trace, error) {
	if trace.Data == nil || trace.Data.Len() == 0 {
		return Trace{}, ErrNotFound
	}
	switch {
	case r.cfg.TenantAttribute == "":
	case r.shared():
		n := trace.Data.Len()
		keep, kept := make([]bool, n), 0
		for i := range n {
			_, keep[i] = r.resourceTenant(trace.Data.Values(i, r.cfg.TenantAttribute), t)
			if keep[i] {
				kept++
			}
		}
		if kept == 0 {
			return Trace{}, ErrNotFound
		}
		if kept < n {
			trace.keep = keep
			trace.Partial = true
			trace.Warnings = append(trace.Warnings, SharedTraceWarning)
		}
	default:
		if foreign := r.foreignValues(trace, t); len(foreign) > 0 {
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
	for i := range trace.Data.Len() {
		got, own := r.resourceTenant(trace.Data.Values(i, r.cfg.TenantAttribute), t)
		if !own && !slices.Contains(foreign, got) {
			foreign = append(foreign, got)
		}
	}
	return foreign
}

// resourceTenant reports whether a resource whose tenant attribute holds
// values (every occurrence) belongs to t: it carries the attribute at least
// once, and every occurrence is a string naming one of t. Tempo's filters
// match a resource whose attribute is duplicated or an array when any value
// matches, so such a resource is only ours if all of its values are. got
// renders what was found, for logs.
func (r *Repository) resourceTenant(values []otlpjson.Value, t tenant.Set) (got string, own bool) {
	if len(values) == 0 {
		return "<missing>", false
	}
	seen := make([]string, len(values))
	own = true
	for i, v := range values {
		seen[i] = v.Str
		if v.Type != otlpjson.TypeStr || !t.Contains(v.Str) {
			own = false
		}
	}
	return strings.Join(seen, "+"), own
}

// requireTenants refuses the empty set: every read is some tenants' read,
// and nothing may stand for "no tenant" (Tempo without multitenancy would
// take a missing X-Scope-OrgID for its single tenant).
func requireTenants(t tenant.Set) error {
	if t.Len() == 0 {
		return ErrNoTenant
	}
	return nil
}

// shared reports whether every caller reads one shared Tempo tenant.
func (r *Repository) shared() bool { return !r.cfg.TempoTenant.IsZero() }

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

// Search returns the traces of t matching q, newest first (ErrNoTenant for
// an empty t, as every read of the Repository). Without q.Range it
// searches the last RecentWindow. Tempo never receives the caller's text: q
// is parsed and printed back from its syntax tree (see internal/traceql), so
// comments and quoting tricks cannot survive, and a query that does not parse
// is an ErrInvalidQuery.
//
// With the attribute layer on, q is confined before Tempo evaluates it:
// every spanset filter also requires the tenant attribute to name one of t,
// so every condition, structural relation, count, select() and Tempo's own
// limit see only t's spans; what cannot be confined (trace-level intrinsics
// and the like) is refused. As a second line, the tenant attribute is
// selected and a trace whose returned spans are not all t's is dropped and
// logged as an enforcement bug. Summaries then describe t's returned spans
// only: no root service or root span name, start and duration of those spans.
func (r *Repository) Search(ctx context.Context, t tenant.Set, q SearchQuery) ([]TraceSummary, error) {
	if err := requireTenants(t); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	var err error
	if q.Range, err = r.window(q.Range); err != nil {
		return nil, err
	}
	if q.Q, err = r.rewrite(q.Q, t); err != nil {
		return nil, err
	}
	if len(q.Q) > MaxQueryBytes {
		return nil, &QueryError{Reason: fmt.Sprintf("q is too long: with tracegate's tenant filter it must stay within %d bytes", MaxQueryBytes)}
	}
	found, err := r.upstream.Search(ctx, r.upstreamTenants(t), q)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	attr := r.cfg.TenantAttribute
	if attr == "" {
		return found, nil
	}
	kept := make([]TraceSummary, 0, len(found))
	var dropped []string
	for _, tr := range found {
		if r.ownSpans(tr, t) {
			kept = append(kept, ownSummary(tr))
		} else {
			dropped = append(dropped, tr.ID.String())
		}
	}
	if len(dropped) > 0 {
		r.logger.ErrorContext(ctx, "tenant enforcement bug: a confined search returned spans without the caller's tenant; traces dropped",
			slog.String("event", "audit"), slog.String("tenant", t.OrgID()), slog.String("attribute", attr),
			slog.String("trace_ids", joinValues(dropped)))
	}
	return kept, nil
}

// searchQuery is the text Search sends Tempo for the caller's q: q's syntax
// tree printed back, confined to t when the attribute layer is on, with the
// tenant attribute selected for the result check.
func (r *Repository) searchQuery(q string, t tenant.Set) (string, error) {
	attr := r.cfg.TenantAttribute
	if q == "" {
		if attr == "" {
			return "", nil // Tempo's most recent traces
		}
		q = "{ }"
	}
	parsed, err := traceql.Parse(q)
	if err != nil {
		return "", &QueryError{Reason: "q: " + err.Error()}
	}
	if attr == "" {
		if err := traceql.CheckKind(parsed, traceql.Search); err != nil {
			return "", &QueryError{Reason: "q: " + err.Error()}
		}
		return parsed.String(), nil
	}
	confined, err := traceql.Confine(parsed, attr, tenantStrings(t), traceql.Search)
	if err != nil {
		return "", &QueryError{Reason: "q: " + err.Error()}
	}
	return confined.WithSelect(traceql.Attribute{Scope: traceql.ScopeResource, Name: attr}).String(), nil
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

// ownSummary describes tr by the caller's returned spans only. Tempo's root
// service, root span name, start and duration describe the whole trace,
// foreign spans included (in a trace that mixes tenants the root may be
// another tenant's), so they are left out or recomputed.
func ownSummary(tr TraceSummary) TraceSummary {
	tr.RootService, tr.RootSpan = "", ""
	var start, end uint64
	for _, set := range tr.SpanSets {
		for _, sp := range set.Spans {
			if start == 0 || sp.StartUnixNano < start {
				start = sp.StartUnixNano
			}
			end = max(end, sp.StartUnixNano+sp.DurationNanos)
		}
	}
	tr.StartUnixNano = start
	tr.DurationMs = int64((end - start) / uint64(time.Millisecond))
	return tr
}

// Tags returns the attribute names of t's traces (of one scope if scope is
// set). With the attribute layer on, Tempo is asked with a filter on the
// tenant attribute that tracegate builds, once per tenant, the answers are
// merged, and the intrinsics that describe whole traces (trace:rootService,
// …) are not offered: their values cannot be confined.
func (r *Repository) Tags(ctx context.Context, t tenant.Set, scope string, tr TimeRange) ([]TagScope, error) {
	return r.tags(ctx, t, scope, "", tr)
}

// tags is Tags narrowed by the TraceQL filter q (kept as TagValues keeps it).
func (r *Repository) tags(ctx context.Context, t tenant.Set, scope, q string, tr TimeRange) ([]TagScope, error) {
	if err := requireTenants(t); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	tr, err := r.window(tr)
	if err != nil {
		return nil, err
	}
	var merged []TagScope
	for _, filter := range r.tenantFilters(t, q) {
		scopes, err := r.upstream.Tags(ctx, r.upstreamTenants(t), scope, filter, tr)
		if err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		merged = mergeScopes(merged, scopes)
	}
	if r.cfg.TenantAttribute != "" {
		for i, s := range merged {
			if s.Name == "intrinsic" {
				merged[i].Tags = slices.DeleteFunc(s.Tags, traceql.IsUnconfinableTag)
			}
		}
	}
	return merged, nil
}

// TagValues returns the values of tag in t's traces, narrowed by the TraceQL
// filter q when it is set. Tempo silently ignores a tag-values filter that
// does not parse, holds || or a structural operator, and then answers with
// every value of the Tempo tenant; so Tempo gets q's printed tree, and only
// when it is a single spanset of &&-joined conditions (an editor's half-typed
// q is dropped, not refused). With the attribute layer on, the filter is
// that plus the tenant condition, one request per tenant (or the tenant
// condition alone), and a tag whose values describe whole traces is refused.
func (r *Repository) TagValues(ctx context.Context, t tenant.Set, tag, q string, tr TimeRange) ([]TagValue, error) {
	if err := requireTenants(t); err != nil {
		return nil, fmt.Errorf("tag values of %s: %w", tag, err)
	}
	tr, err := r.window(tr)
	if err != nil {
		return nil, err
	}
	var filters []string
	if attr := r.cfg.TenantAttribute; attr != "" {
		id, err := traceql.ParseIdentifier(tag)
		if err != nil {
			return nil, &QueryError{Reason: "tag: " + err.Error()}
		}
		if ok, why := id.Confinable(); !ok {
			return nil, &QueryError{Reason: "tag " + tag + ": " + why}
		}
		for _, id := range t.IDs() {
			filters = append(filters, traceql.TagFilter(q, attr, id.String()))
		}
	} else {
		filters = []string{traceql.TagQuery(q)}
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
// spans by the tenant attribute (and q's conditions, as TagFilter keeps
// them), or q's alone when the attribute layer is off. One filter per tenant, not one with ||: Tempo's tag
// endpoints give up on (and then ignore) filters with ||.
func (r *Repository) tenantFilters(t tenant.Set, q string) []string {
	if r.cfg.TenantAttribute == "" {
		return []string{traceql.TagQuery(q)}
	}
	var filters []string
	for _, id := range t.IDs() {
		filters = append(filters, traceql.TagFilter(q, r.cfg.TenantAttribute, id.String()))
	}
	return filters
}

func tenantStrings(t tenant.Set) []string {
	ids := t.IDs()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
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
