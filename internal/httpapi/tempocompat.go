package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// This file is the Tempo-compatible mount (/tempo): Tempo's read API with
// Tempo's formats, for Grafana's Tempo data source and tempo-cli. It goes
// through the same middleware as /api/v1 (limits, authentication, audit,
// metrics, access logs, the request validator); traces.Compat does the rest.

// TempoReader is what the /tempo handlers need; traces.Compat implements it
// and documents the error contracts.
type TempoReader interface {
	Echo(ctx context.Context) (traces.Answer, error)
	BuildInfo(ctx context.Context) (traces.Answer, error)
	Trace(ctx context.Context, t tenant.Set, q traces.TraceQuery) (traces.Answer, error)
	Search(ctx context.Context, t tenant.Set, q traces.NativeSearch) (traces.Answer, error)
	Tags(ctx context.Context, t tenant.Set, v2 bool, scope, q string, r traces.TimeRange) (traces.Answer, error)
	TagValues(ctx context.Context, t tenant.Set, v2 bool, tag, q string, r traces.TimeRange) (traces.Answer, error)
	Metrics(ctx context.Context, t tenant.Set, q traces.MetricsQuery) (traces.Answer, error)
}

// tempoPrefix is where the mount lives.
const tempoPrefix = "/tempo/"

// errNoTempo means the mount was called but New got no TempoReader.
var errNoTempo = errors.New("the Tempo-compatible mount is not configured")

// tempoAnswer writes a traces.Answer as it is: Tempo's status, content type
// and bytes.
type tempoAnswer traces.Answer

func (a tempoAnswer) write(w http.ResponseWriter) error {
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	if a.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	w.WriteHeader(a.Status)
	if len(a.Body) == 0 {
		return nil
	}
	_, err := w.Write(a.Body)
	return err
}

func (a tempoAnswer) VisitTempoEchoResponse(w http.ResponseWriter) error      { return a.write(w) }
func (a tempoAnswer) VisitTempoBuildInfoResponse(w http.ResponseWriter) error { return a.write(w) }
func (a tempoAnswer) VisitTempoGetTraceV1Response(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoGetTraceV2Response(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoSearchResponse(w http.ResponseWriter) error { return a.write(w) }
func (a tempoAnswer) VisitTempoSearchTagsV1Response(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoSearchTagsV2Response(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoSearchTagValuesV1Response(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoSearchTagValuesV2Response(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoMetricsQueryRangeResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a tempoAnswer) VisitTempoMetricsQueryInstantResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// missingTrace is a trace the mount answers as Tempo answers a missing one
// (the same bytes for a trace of another tenant). It wraps why, so that the
// error handler audits a trace hidden by the tenant-attribute check.
type missingTrace struct {
	err    error
	answer traces.Answer
}

func (e *missingTrace) Error() string { return e.err.Error() }
func (e *missingTrace) Unwrap() error { return e.err }

// TempoEcho implements api.StrictServerInterface.
func (s *Server) TempoEcho(ctx context.Context, _ api.TempoEchoRequestObject) (api.TempoEchoResponseObject, error) {
	if _, err := s.tempoTenant(ctx); err != nil {
		return nil, err
	}
	a, err := s.tempo.Echo(ctx)
	return tempoAnswer(a), err
}

// TempoBuildInfo implements api.StrictServerInterface.
func (s *Server) TempoBuildInfo(ctx context.Context, _ api.TempoBuildInfoRequestObject) (api.TempoBuildInfoResponseObject, error) {
	if _, err := s.tempoTenant(ctx); err != nil {
		return nil, err
	}
	a, err := s.tempo.BuildInfo(ctx)
	return tempoAnswer(a), err
}

// TempoGetTraceV1 implements api.StrictServerInterface.
func (s *Server) TempoGetTraceV1(ctx context.Context, req api.TempoGetTraceV1RequestObject) (api.TempoGetTraceV1ResponseObject, error) {
	a, err := s.tempoTrace(ctx, req.TraceID, req.Params.Start, req.Params.End, traces.TraceQuery{})
	return tempoAnswer(a), err
}

// TempoGetTraceV2 implements api.StrictServerInterface.
func (s *Server) TempoGetTraceV2(ctx context.Context, req api.TempoGetTraceV2RequestObject) (api.TempoGetTraceV2ResponseObject, error) {
	p := req.Params
	q := traces.TraceQuery{V2: true, KeepHierarchy: p.KeepHierarchy, MatchDepth: p.MatchDepth, AncestorDepth: p.AncestorDepth}
	if p.Q != nil {
		q.Filter = *p.Q
	}
	a, err := s.tempoTrace(ctx, req.TraceID, p.Start, p.End, q)
	return tempoAnswer(a), err
}

func (s *Server) tempoTrace(ctx context.Context, rawID string, start, end *int64, q traces.TraceQuery) (traces.Answer, error) {
	t, err := s.tempoTenant(ctx)
	if err != nil {
		return traces.Answer{}, err
	}
	if q.Range, err = traces.NewTimeRange(start, end); err != nil {
		return traces.Answer{}, err
	}
	if q.ID, err = traces.ParseID(rawID); err != nil {
		return traces.Answer{}, err
	}
	q.Protobuf = wantsProtobuf(ctx)
	a, err := s.tempo.Trace(ctx, t, q)
	if errors.Is(err, traces.ErrNotFound) {
		return traces.Answer{}, &missingTrace{err: err, answer: traces.MissingTrace(q.V2, q.Protobuf)}
	}
	return a, err
}

// TempoSearch implements api.StrictServerInterface.
func (s *Server) TempoSearch(ctx context.Context, req api.TempoSearchRequestObject) (api.TempoSearchResponseObject, error) {
	t, err := s.tempoTenant(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	q := traces.NativeSearch{Q: deref(p.Q), Tags: deref(p.Tags), Limit: p.Limit, SpansPerSet: p.Spss}
	if q.Range, err = traces.NewTimeRange(p.Start, p.End); err != nil {
		return nil, err
	}
	if q.MinDuration, err = parseDuration("minDuration", p.MinDuration); err != nil {
		return nil, err
	}
	if q.MaxDuration, err = parseDuration("maxDuration", p.MaxDuration); err != nil {
		return nil, err
	}
	a, err := s.tempo.Search(ctx, t, q)
	return tempoAnswer(a), err
}

// TempoSearchTagsV1 implements api.StrictServerInterface.
func (s *Server) TempoSearchTagsV1(ctx context.Context, req api.TempoSearchTagsV1RequestObject) (api.TempoSearchTagsV1ResponseObject, error) {
	a, err := s.tempoTags(ctx, false, (*string)(req.Params.Scope), nil, req.Params.Start, req.Params.End)
	return tempoAnswer(a), err
}

// TempoSearchTagsV2 implements api.StrictServerInterface.
func (s *Server) TempoSearchTagsV2(ctx context.Context, req api.TempoSearchTagsV2RequestObject) (api.TempoSearchTagsV2ResponseObject, error) {
	a, err := s.tempoTags(ctx, true, (*string)(req.Params.Scope), req.Params.Q, req.Params.Start, req.Params.End)
	return tempoAnswer(a), err
}

func (s *Server) tempoTags(ctx context.Context, v2 bool, scope, q *string, start, end *int64) (traces.Answer, error) {
	t, r, err := s.tempoScope(ctx, start, end)
	if err != nil {
		return traces.Answer{}, err
	}
	return s.tempo.Tags(ctx, t, v2, deref(scope), deref(q), r)
}

// TempoSearchTagValuesV1 implements api.StrictServerInterface.
func (s *Server) TempoSearchTagValuesV1(ctx context.Context, req api.TempoSearchTagValuesV1RequestObject) (api.TempoSearchTagValuesV1ResponseObject, error) {
	t, r, err := s.tempoScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	a, err := s.tempo.TagValues(ctx, t, false, req.TagName, "", r)
	return tempoAnswer(a), err
}

// TempoSearchTagValuesV2 implements api.StrictServerInterface.
func (s *Server) TempoSearchTagValuesV2(ctx context.Context, req api.TempoSearchTagValuesV2RequestObject) (api.TempoSearchTagValuesV2ResponseObject, error) {
	t, r, err := s.tempoScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	a, err := s.tempo.TagValues(ctx, t, true, req.TagName, deref(req.Params.Q), r)
	return tempoAnswer(a), err
}

// TempoMetricsQueryRange implements api.StrictServerInterface.
func (s *Server) TempoMetricsQueryRange(ctx context.Context, req api.TempoMetricsQueryRangeRequestObject) (api.TempoMetricsQueryRangeResponseObject, error) {
	p := req.Params
	q := traces.MetricsQuery{Q: p.Q, Start: p.Start, End: p.End, Exemplars: p.Exemplars}
	step, err := parseStep(p.Step)
	if err != nil {
		return nil, err
	}
	q.Step = step
	a, err := s.tempoMetrics(ctx, q, p.Since)
	return tempoAnswer(a), err
}

// TempoMetricsQueryInstant implements api.StrictServerInterface.
func (s *Server) TempoMetricsQueryInstant(ctx context.Context, req api.TempoMetricsQueryInstantRequestObject) (api.TempoMetricsQueryInstantResponseObject, error) {
	p := req.Params
	a, err := s.tempoMetrics(ctx, traces.MetricsQuery{Instant: true, Q: p.Q, Start: p.Start, End: p.End}, p.Since)
	return tempoAnswer(a), err
}

func (s *Server) tempoMetrics(ctx context.Context, q traces.MetricsQuery, since *string) (traces.Answer, error) {
	t, err := s.tempoTenant(ctx)
	if err != nil {
		return traces.Answer{}, err
	}
	if q.Since, err = parseDuration("since", since); err != nil {
		return traces.Answer{}, err
	}
	return s.tempo.Metrics(ctx, t, q)
}

// tempoTenant returns the caller's tenants, failing closed when the
// authentication middleware did not run or the mount is not configured.
func (s *Server) tempoTenant(ctx context.Context) (tenant.Set, error) {
	t, ok := tenant.FromContext(ctx)
	switch {
	case !ok:
		return tenant.Set{}, errNoTenant
	case s.tempo == nil:
		return tenant.Set{}, errNoTempo
	}
	return t, nil
}

func (s *Server) tempoScope(ctx context.Context, start, end *int64) (tenant.Set, traces.TimeRange, error) {
	t, err := s.tempoTenant(ctx)
	if err != nil {
		return tenant.Set{}, traces.TimeRange{}, err
	}
	r, err := traces.NewTimeRange(start, end)
	return t, r, err
}

// parseDuration reads one of Tempo's Go-duration parameters.
func parseDuration(name string, v *string) (time.Duration, error) {
	if v == nil || *v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil || d < 0 {
		return 0, &traces.QueryError{Reason: fmt.Sprintf("%s: not a duration such as 100ms or 1h", name)}
	}
	return d, nil
}

// parseStep reads a step as Tempo does (a Go duration, or seconds) and
// returns it in canonical form.
func parseStep(v *string) (string, error) {
	if v == nil || *v == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(*v); err == nil && d > 0 {
		return d.String(), nil
	}
	if f, err := strconv.ParseFloat(*v, 64); err == nil && f > 0 && f < 1e9 {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return "", &traces.QueryError{Reason: "step: not a duration such as 60s, or seconds"}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

type protobufKey struct{}

// wantsProtobuf reports whether the request asked for protobuf (Tempo's
// rule: Accept contains application/protobuf).
func wantsProtobuf(ctx context.Context) bool {
	v, _ := ctx.Value(protobufKey{}).(bool)
	return v
}

// tempoParams prepares requests to the mount: it drops (and logs at debug
// level) query parameters the operation does not know, since Grafana adds
// parameters between versions and Tempo would read unknown ones as tags;
// drops empty ones, which Tempo reads as absent; refuses a known parameter
// given twice (which value Tempo would read is not ours to guess); and
// records whether Accept asks for protobuf.
func tempoParams(spec *openapi3.T, logger *slog.Logger) echo.MiddlewareFunc {
	known := map[string]map[string]bool{} // echo route -> query parameter names
	for path, item := range spec.Paths.Map() {
		if !strings.HasPrefix(path, tempoPrefix) || item.Get == nil {
			continue
		}
		names := map[string]bool{}
		for _, p := range item.Get.Parameters {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				names[p.Value.Name] = true
			}
		}
		known[echoPath(path)] = names
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			names, ok := known[c.Path()]
			if !ok {
				return next(c)
			}
			req := c.Request()
			query := req.URL.Query()
			for name, values := range query {
				switch {
				case len(values) == 1 && values[0] == "":
					// Tempo reads an empty parameter as an absent one
					// (tempo-cli sends scope= and q=).
					query.Del(name)
				case !names[name]:
					logger.DebugContext(req.Context(), "dropped an unknown query parameter", slog.String("route", c.Path()), slog.String("parameter", truncate(name, 64)))
					query.Del(name)
				case len(values) > 1:
					return &echo.HTTPError{Code: http.StatusBadRequest, Message: fmt.Sprintf("query parameter %q is given more than once", name)}
				}
			}
			req.URL.RawQuery = query.Encode()
			ctx := context.WithValue(req.Context(), protobufKey{}, strings.Contains(req.Header.Get(echo.HeaderAccept), traces.ContentTypeProtobuf))
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}
