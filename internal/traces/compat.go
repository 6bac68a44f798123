package traces

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-logfmt/logfmt"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traceql"
)

// Answer is one answer of the Tempo-compatible mount, in Tempo's own format:
// Tempo's bytes passed on, or bytes tracegate built in that format.
type Answer struct {
	Status int
	// ContentType is empty for a body-less answer (Tempo's v1 404).
	ContentType string
	Body        []byte
}

// Tempo's content types.
const (
	ContentTypeJSON     = "application/json"
	ContentTypeProtobuf = "application/protobuf"
	ContentTypeText     = "text/plain; charset=utf-8"
)

// CompatUpstream is what the Tempo-compatible mount needs from Tempo besides
// Upstream; internal/tempo implements it. Every method rebuilds the request
// from the parsed values it gets. A 200 and Tempo's own answers about the
// request (400, 422, 429, and a v1 trace's 404) come back as an Answer with
// Tempo's status and (bounded) bytes; any other failure is one of the errors
// of Upstream (ErrUpstream, ErrUnavailable, ErrTimeout).
type CompatUpstream interface {
	Echo(ctx context.Context) (Answer, error)
	BuildInfo(ctx context.Context) (Answer, error)
	TraceAnswer(ctx context.Context, t tenant.Set, q TraceQuery) (Answer, error)
	SearchAnswer(ctx context.Context, t tenant.Set, q NativeSearch) (Answer, error)
	TagsAnswer(ctx context.Context, t tenant.Set, v2 bool, scope, q string, r TimeRange) (Answer, error)
	TagValuesAnswer(ctx context.Context, t tenant.Set, v2 bool, tag, q string, r TimeRange) (Answer, error)
	MetricsAnswer(ctx context.Context, t tenant.Set, q MetricsQuery) (Answer, error)
}

// TraceQuery is a trace-by-id request of the mount.
type TraceQuery struct {
	ID       ID
	V2       bool
	Protobuf bool
	Range    TimeRange
	// Span filtering (v2 only): a spanset filter and how much hierarchy to keep.
	Filter        string
	KeepHierarchy *bool
	MatchDepth    *int
	AncestorDepth *int
}

// Filtering reports whether the request asks Tempo to filter spans.
func (q TraceQuery) Filtering() bool {
	return q.Filter != "" || q.KeepHierarchy != nil || q.MatchDepth != nil || q.AncestorDepth != nil
}

// NativeSearch is a search request of the mount, in Tempo's terms.
type NativeSearch struct {
	Q string
	// Tags is the legacy logfmt tag search (`service.name=cart http.url="/a b"`).
	Tags                     string
	MinDuration, MaxDuration time.Duration
	Limit, SpansPerSet       *int
	Range                    TimeRange
}

// MetricsQuery is a TraceQL metrics request of the mount. Start and End are
// unix seconds or nanoseconds, as Tempo accepts them.
type MetricsQuery struct {
	Instant    bool
	Q          string
	Start, End *int64
	Since      time.Duration
	Step       string
	Exemplars  *int
}

// Compat serves the Tempo-compatible mount (/tempo): Tempo's endpoints with
// Tempo's formats, read as the caller's tenants (never none: an empty
// tenant.Set is ErrNoTenant). Without the attribute layer
// it passes Tempo's answers on as they are (requests rebuilt from parsed
// values, TraceQL printed from its tree). With it, every query is confined as
// Repository confines /api/v1's, trace by id is checked on the whole trace,
// what cannot be confined is refused, and Tempo's `metrics` blocks are left
// out (they count bytes and traces of every tenant).
type Compat struct {
	repo *Repository
	up   CompatUpstream
	// confineMetrics is traceql.Confine for metrics, except in the oracle
	// tests, which switch it off to show that each of their cases catches a leak.
	confineMetrics func(q *traceql.Query, t tenant.Set) (*traceql.Query, error)
}

// NewCompat returns the mount's domain, reading through repo and up.
func NewCompat(repo *Repository, up CompatUpstream) *Compat {
	c := &Compat{repo: repo, up: up}
	c.confineMetrics = func(q *traceql.Query, t tenant.Set) (*traceql.Query, error) {
		return traceql.Confine(q, repo.cfg.TenantAttribute, tenantStrings(t), traceql.Metrics)
	}
	return c
}

func (c *Compat) confined() bool { return c.repo.cfg.TenantAttribute != "" }

// Echo returns Tempo's echo answer.
func (c *Compat) Echo(ctx context.Context) (Answer, error) { return c.up.Echo(ctx) }

// BuildInfo returns Tempo's version information.
func (c *Compat) BuildInfo(ctx context.Context) (Answer, error) { return c.up.BuildInfo(ctx) }

// Trace answers trace by id in Tempo's v1 or v2 format. A trace that does
// not exist or is not t's is ErrNotFound (a *MismatchError when the attribute
// check hid it): the caller answers it with MissingTrace, so both give the
// same bytes. With the attribute layer on, span filtering is refused
// (ancestors kept by keep_hierarchy, and the spans a filter matches, may be
// another tenant's) and the trace is checked whole, as Repository.Trace does.
func (c *Compat) Trace(ctx context.Context, t tenant.Set, q TraceQuery) (Answer, error) {
	if err := requireTenants(t); err != nil {
		return Answer{}, err
	}
	if !c.confined() {
		if q.Filter != "" {
			parsed, err := traceql.Parse(q.Filter)
			if err != nil {
				return Answer{}, &QueryError{Reason: "q: " + err.Error()}
			}
			q.Filter = parsed.String()
		}
		a, err := c.up.TraceAnswer(ctx, t, q)
		if err != nil {
			return Answer{}, fmt.Errorf("get trace %s: %w", q.ID, err)
		}
		return a, nil
	}
	if q.Filtering() {
		return Answer{}, &QueryError{Reason: "span filtering (q, keep_hierarchy, match_depth, ancestor_depth) is not available: the spans it keeps can belong to other tenants"}
	}
	var a Answer
	err := c.repo.WithTrace(ctx, t, q.ID, q.Range, func(tr Trace) error {
		var err error
		a, err = encodeTrace(tr, q.V2, q.Protobuf)
		return err
	})
	return a, err
}

// MissingTrace is Tempo's answer for a trace it does not have: v1 404 with
// an empty body, v2 200 with an empty trace, in JSON or protobuf.
func MissingTrace(v2, protobuf bool) Answer {
	switch {
	case !v2:
		return Answer{Status: http.StatusNotFound}
	case protobuf:
		return Answer{Status: http.StatusOK, ContentType: ContentTypeProtobuf, Body: []byte{0x0a, 0x00, 0x12, 0x00}}
	default:
		return Answer{Status: http.StatusOK, ContentType: ContentTypeJSON, Body: []byte(`{"trace":{},"metrics":{}}`)}
	}
}

// Search answers /api/search. Without the attribute layer q is printed from
// its tree and the rest passed on. With it, a logfmt tags search becomes the
// equivalent TraceQL (a case-insensitive substring match of each attribute,
// as Tempo's), the query is confined and run as Repository.Search runs it,
// and the summaries (of the caller's spans only) are written in Tempo's
// format. minDuration and maxDuration are refused there: they filter on the
// duration of the whole trace, other tenants' spans included.
func (c *Compat) Search(ctx context.Context, t tenant.Set, q NativeSearch) (Answer, error) {
	if err := requireTenants(t); err != nil {
		return Answer{}, err
	}
	if q.Q != "" && q.Tags != "" {
		return Answer{}, &QueryError{Reason: "give q or tags, not both"}
	}
	if q.MinDuration < 0 || q.MaxDuration < 0 || q.MaxDuration > 0 && q.MinDuration > q.MaxDuration {
		return Answer{}, &QueryError{Reason: "minDuration and maxDuration must be positive, minDuration at most maxDuration"}
	}
	tags, err := parseLogfmtTags(q.Tags)
	if err != nil {
		return Answer{}, err
	}
	if !c.confined() {
		if q.Q != "" {
			parsed, err := traceql.Parse(q.Q)
			if err != nil {
				return Answer{}, &QueryError{Reason: "q: " + err.Error()}
			}
			if err := traceql.CheckKind(parsed, traceql.Search); err != nil {
				return Answer{}, &QueryError{Reason: "q: " + err.Error()}
			}
			q.Q = parsed.String()
		}
		q.Tags = formatLogfmt(tags)
		a, err := c.up.SearchAnswer(ctx, t, q)
		if err != nil {
			return Answer{}, fmt.Errorf("search: %w", err)
		}
		return a, nil
	}
	if q.MinDuration != 0 || q.MaxDuration != 0 {
		return Answer{}, &QueryError{Reason: "minDuration and maxDuration filter on the duration of the whole trace, which includes spans of other tenants; use duration in q instead"}
	}
	sq := SearchQuery{Q: q.Q, Range: q.Range, Limit: 20, SpansPerSet: 3}
	if len(tags) > 0 {
		sq.Q = tagsQuery(tags)
	}
	if q.Limit != nil {
		sq.Limit = *q.Limit
	}
	if q.SpansPerSet != nil {
		sq.SpansPerSet = *q.SpansPerSet
	}
	found, err := c.repo.Search(ctx, t, sq)
	if err != nil {
		return Answer{}, err
	}
	return jsonAnswer(tempoSearchResult(found))
}

type logfmtTag struct{ key, value string }

var tagKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./-]*$`)

// parseLogfmtTags reads a logfmt tags search: key=value pairs, values quoted
// when they hold spaces.
func parseLogfmtTags(s string) ([]logfmtTag, error) {
	var tags []logfmtTag
	d := logfmt.NewDecoder(strings.NewReader(s))
	for d.ScanRecord() {
		for d.ScanKeyval() {
			k := string(d.Key())
			if !tagKey.MatchString(k) {
				return nil, &QueryError{Reason: fmt.Sprintf("tags: %q is not an attribute name", k)}
			}
			if !utf8.Valid(d.Value()) {
				return nil, &QueryError{Reason: fmt.Sprintf("tags: the value of %s is not UTF-8", k)}
			}
			tags = append(tags, logfmtTag{key: k, value: string(d.Value())})
		}
	}
	if err := d.Err(); err != nil {
		return nil, &QueryError{Reason: "tags: " + err.Error()}
	}
	return tags, nil
}

func formatLogfmt(tags []logfmtTag) string {
	var b bytes.Buffer
	e := logfmt.NewEncoder(&b)
	for _, tag := range tags {
		_ = e.EncodeKeyval(tag.key, tag.value) // keys are checked names, values strings
	}
	return b.String()
}

// tagsQuery is the TraceQL for a tags search: every tag's attribute (any
// scope) holds its value, case-insensitively, as Tempo's tags search does.
func tagsQuery(tags []logfmtTag) string {
	conds := make([]string, len(tags))
	for i, tag := range tags {
		conds[i] = fmt.Sprintf(".%s =~ %s", quoteAttrName(tag.key), strconv.Quote("(?i).*"+regexp.QuoteMeta(tag.value)+".*"))
	}
	return "{ " + strings.Join(conds, " && ") + " }"
}

// plainAttrName is an attribute name TraceQL takes unquoted.
var plainAttrName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)

// quoteAttrName quotes an attribute name that is not a plain dotted name.
func quoteAttrName(k string) string {
	if plainAttrName.MatchString(k) {
		return k
	}
	return strconv.Quote(k)
}

// Tags answers the tag-name endpoints (v2 in scopes, v1 as one list). With
// the attribute layer, Tempo is asked per tenant with tracegate's filter (and
// the caller's q, when it can be confined), and trace-level intrinsics are
// left out, as Repository.Tags does.
func (c *Compat) Tags(ctx context.Context, t tenant.Set, v2 bool, scope, q string, r TimeRange) (Answer, error) {
	if err := requireTenants(t); err != nil {
		return Answer{}, err
	}
	if !c.confined() {
		a, err := c.up.TagsAnswer(ctx, t, v2, scope, traceql.TagQuery(q), r)
		if err != nil {
			return Answer{}, fmt.Errorf("tags: %w", err)
		}
		return a, nil
	}
	scopes, err := c.repo.tags(ctx, t, scope, q, r)
	if err != nil {
		return Answer{}, err
	}
	if v2 {
		out := struct {
			Scopes []tempoScope `json:"scopes"`
		}{Scopes: []tempoScope{}}
		for _, s := range scopes {
			out.Scopes = append(out.Scopes, tempoScope{Name: s.Name, Tags: nonNilStrings(s.Tags)})
		}
		return jsonAnswer(out)
	}
	var names []string
	for _, s := range scopes {
		if s.Name == "intrinsic" && scope != "intrinsic" {
			continue
		}
		for _, tag := range s.Tags {
			if !slices.Contains(names, tag) {
				names = append(names, tag)
			}
		}
	}
	slices.Sort(names)
	return jsonAnswer(struct {
		TagNames []string `json:"tagNames"`
	}{nonNilStrings(names)})
}

type tempoScope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// TagValues answers the tag-value endpoints. v1 names an attribute without
// a scope (service.name); with the attribute layer it is read as the
// any-scope attribute .service.name, or an intrinsic.
func (c *Compat) TagValues(ctx context.Context, t tenant.Set, v2 bool, tag, q string, r TimeRange) (Answer, error) {
	if err := requireTenants(t); err != nil {
		return Answer{}, err
	}
	if !c.confined() {
		a, err := c.up.TagValuesAnswer(ctx, t, v2, tag, traceql.TagQuery(q), r)
		if err != nil {
			return Answer{}, fmt.Errorf("tag values of %s: %w", tag, err)
		}
		return a, nil
	}
	name := tag
	if !v2 {
		if _, err := traceql.ParseIdentifier(tag); err != nil {
			name = "." + quoteAttrName(tag)
		}
	}
	values, err := c.repo.TagValues(ctx, t, name, q, r)
	if err != nil {
		return Answer{}, err
	}
	if v2 {
		out := struct {
			TagValues []tempoTagValue `json:"tagValues"`
		}{TagValues: []tempoTagValue{}}
		for _, v := range values {
			out.TagValues = append(out.TagValues, tempoTagValue(v))
		}
		return jsonAnswer(out)
	}
	names := []string{}
	for _, v := range values {
		names = append(names, v.Value)
	}
	return jsonAnswer(struct {
		TagValues []string `json:"tagValues"`
	}{names})
}

type tempoTagValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Metrics answers the TraceQL metrics endpoints. q must end in a metrics
// function; it is printed from its tree, and confined with the attribute
// layer on (every spanset filter, compare()'s included), so every series
// aggregates the caller's spans only.
func (c *Compat) Metrics(ctx context.Context, t tenant.Set, q MetricsQuery) (Answer, error) {
	if err := requireTenants(t); err != nil {
		return Answer{}, err
	}
	parsed, err := traceql.Parse(q.Q)
	if err != nil {
		return Answer{}, &QueryError{Reason: "q: " + err.Error()}
	}
	if !c.confined() {
		if err := traceql.CheckKind(parsed, traceql.Metrics); err != nil {
			return Answer{}, &QueryError{Reason: "q: " + err.Error()}
		}
		q.Q = parsed.String()
		a, err := c.up.MetricsAnswer(ctx, t, q)
		if err != nil {
			return Answer{}, fmt.Errorf("metrics: %w", err)
		}
		return a, nil
	}
	confined, err := c.confineMetrics(parsed, t)
	if err != nil {
		return Answer{}, &QueryError{Reason: "q: " + err.Error()}
	}
	if q.Q = confined.String(); len(q.Q) > MaxQueryBytes {
		return Answer{}, &QueryError{Reason: fmt.Sprintf("q is too long: with tracegate's tenant filter it must stay within %d bytes", MaxQueryBytes)}
	}
	a, err := c.up.MetricsAnswer(ctx, c.repo.upstreamTenants(t), q)
	if err != nil {
		return Answer{}, fmt.Errorf("metrics: %w", err)
	}
	if a.Status != http.StatusOK {
		return a, nil
	}
	return stripMetrics(a)
}

// stripMetrics removes the top-level `metrics` member (inspected bytes and
// traces, jobs) of a JSON answer: with a shared Tempo tenant it describes
// other tenants' data too.
func stripMetrics(a Answer) (Answer, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(a.Body, &m); err != nil {
		return Answer{}, fmt.Errorf("%w: decode: %w", ErrUpstream, err)
	}
	delete(m, "metrics")
	return jsonAnswer(m)
}

func jsonAnswer(v any) (Answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Answer{}, err
	}
	return Answer{Status: http.StatusOK, ContentType: ContentTypeJSON, Body: b}, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
