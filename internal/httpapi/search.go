package httpapi

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// Defaults of openapi.yaml, applied when a parameter is absent.
const (
	defaultLimit = 20
	defaultSpss  = 3
)

// SearchTraces implements api.StrictServerInterface.
func (s *Server) SearchTraces(ctx context.Context, req api.SearchTracesRequestObject) (api.SearchTracesResponseObject, error) {
	t, r, err := readScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	q := traces.SearchQuery{Range: r, Limit: defaultLimit, SpansPerSet: defaultSpss}
	if req.Params.Q != nil {
		q.Q = *req.Params.Q
	}
	if req.Params.Limit != nil {
		q.Limit = *req.Params.Limit
	}
	if req.Params.Spss != nil {
		q.SpansPerSet = *req.Params.Spss
	}
	found, err := s.traces.Search(ctx, t, q)
	if err != nil {
		return nil, err
	}
	res := api.SearchResult{Traces: make([]api.TraceSummary, 0, len(found))}
	for _, tr := range found {
		res.Traces = append(res.Traces, toAPITraceSummary(tr))
	}
	return api.SearchTraces200JSONResponse(res), nil
}

// ListTags implements api.StrictServerInterface.
func (s *Server) ListTags(ctx context.Context, req api.ListTagsRequestObject) (api.ListTagsResponseObject, error) {
	t, r, err := readScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	var scope string
	if req.Params.Scope != nil {
		scope = string(*req.Params.Scope)
	}
	scopes, err := s.traces.Tags(ctx, t, scope, r)
	if err != nil {
		return nil, err
	}
	res := api.TagScopes{Scopes: make([]api.TagScope, 0, len(scopes))}
	for _, sc := range scopes {
		res.Scopes = append(res.Scopes, api.TagScope{Name: sc.Name, Tags: nonNil(sc.Tags)})
	}
	return api.ListTags200JSONResponse(res), nil
}

// ListTagValues implements api.StrictServerInterface.
func (s *Server) ListTagValues(ctx context.Context, req api.ListTagValuesRequestObject) (api.ListTagValuesResponseObject, error) {
	t, r, err := readScope(ctx, req.Params.Start, req.Params.End)
	if err != nil {
		return nil, err
	}
	var q string
	if req.Params.Q != nil {
		q = *req.Params.Q
	}
	values, err := s.traces.TagValues(ctx, t, req.Tag, q, r)
	if err != nil {
		return nil, err
	}
	res := api.TagValues{Values: make([]api.TagValue, 0, len(values))}
	for _, v := range values {
		res.Values = append(res.Values, api.TagValue{Type: v.Type, Value: v.Value})
	}
	return api.ListTagValues200JSONResponse(res), nil
}

// Whoami implements api.StrictServerInterface.
func (s *Server) Whoami(ctx context.Context, _ api.WhoamiRequestObject) (api.WhoamiResponseObject, error) {
	p, ok := principal.FromContext(ctx)
	// No tenant selected is only possible for a token granting several
	// (see whoamiChoosesLater); anything else is a wiring bug: fail closed.
	if !ok || (p.Tenants.Len() == 0 && len(p.Granted) < 2) {
		return nil, errNoTenant
	}
	var selected, granted []string
	for _, id := range p.Tenants.IDs() {
		selected = append(selected, id.String())
	}
	for _, id := range p.Granted {
		granted = append(granted, id.String())
	}
	res := api.Whoami200JSONResponse{
		Subject:        p.Subject,
		GrantedTenants: nonNil(granted),
		Scopes:         nonNil(p.Scopes),
		ExpiresAt:      p.ExpiresAt.UTC(),
	}
	if len(selected) > 0 {
		t := strings.Join(selected, ",")
		res.Tenant = &t
	}
	return res, nil
}

// readScope returns the tenants a request reads (failing closed when the
// authentication middleware did not set them) and its validated time range.
func readScope(ctx context.Context, start, end *int64) (tenant.Set, traces.TimeRange, error) {
	t, ok := tenant.FromContext(ctx)
	if !ok {
		return tenant.Set{}, traces.TimeRange{}, errNoTenant
	}
	r, err := traces.NewTimeRange(start, end)
	return t, r, err
}

func toAPITraceSummary(tr traces.TraceSummary) api.TraceSummary {
	out := api.TraceSummary{
		TraceId:           tr.ID.String(),
		RootServiceName:   tr.RootService,
		RootSpanName:      tr.RootSpan,
		StartTime:         tr.Start(),
		StartTimeUnixNano: strconv.FormatUint(tr.StartUnixNano, 10),
		DurationMs:        tr.DurationMs,
		SpanSets:          make([]api.SpanSet, 0, len(tr.SpanSets)),
	}
	for _, set := range tr.SpanSets {
		as := api.SpanSet{Matched: set.Matched, Spans: make([]api.SpanSummary, 0, len(set.Spans))}
		for _, sp := range set.Spans {
			as.Spans = append(as.Spans, api.SpanSummary{
				SpanId:            sp.SpanID,
				StartTimeUnixNano: strconv.FormatUint(sp.StartUnixNano, 10),
				DurationNanos:     strconv.FormatUint(sp.DurationNanos, 10),
				Attributes:        toAPIAttributes(sp.Attributes),
			})
		}
		out.SpanSets = append(out.SpanSets, as)
	}
	return out
}

// toAPIAttributes encodes attributes as OTLP/JSON KeyValues.
func toAPIAttributes(attrs []traces.Attribute) []api.KeyValue {
	out := make([]api.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		var v api.AnyValue
		switch x := a.Value.(type) {
		case string:
			v.StringValue = &x
		case int64:
			s := strconv.FormatInt(x, 10)
			v.IntValue = &s
		case float64:
			v.DoubleValue = &x
		case bool:
			v.BoolValue = &x
		case []byte:
			b := []byte(base64.StdEncoding.EncodeToString(x))
			v.BytesValue = &b
		}
		out = append(out, api.KeyValue{Key: a.Key, Value: &v})
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
