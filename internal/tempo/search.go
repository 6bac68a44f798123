package tempo

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tracegate/tracegate/gen/tempoapi"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// Search implements traces.Upstream. Only q, start, end, limit and spss are
// sent: Tempo treats unknown parameters as tag filters.
func (c *Client) Search(ctx context.Context, t tenant.Set, q traces.SearchQuery) ([]traces.TraceSummary, error) {
	ctx = as(ctx, t)
	params := &tempoapi.SearchParams{Start: &q.Range.Start, End: &q.Range.End}
	if q.Q != "" {
		params.Q = &q.Q
	}
	if q.Limit > 0 {
		params.Limit = &q.Limit
	}
	if q.SpansPerSet > 0 {
		params.Spss = &q.SpansPerSet
	}
	var res tempoapi.SearchResult
	if err := c.callJSON(ctx, &res, func(ctx context.Context) (*http.Response, error) {
		return c.api.Search(ctx, params)
	}); err != nil {
		return nil, err
	}
	return fromTempoSearch(res)
}

// Tags implements traces.Upstream.
func (c *Client) Tags(ctx context.Context, t tenant.Set, scope, filter string, r traces.TimeRange) ([]traces.TagScope, error) {
	ctx = as(ctx, t)
	params := &tempoapi.SearchTagsV2Params{Start: &r.Start, End: &r.End}
	if scope != "" {
		params.Scope = &scope
	}
	if filter != "" {
		params.Q = &filter
	}
	var res tempoapi.TagsV2Result
	if err := c.callJSON(ctx, &res, func(ctx context.Context) (*http.Response, error) {
		return c.api.SearchTagsV2(ctx, params)
	}); err != nil {
		return nil, err
	}
	var scopes []traces.TagScope
	for _, s := range deref(res.Scopes) {
		scopes = append(scopes, traces.TagScope{Name: deref(s.Name), Tags: deref(s.Tags)})
	}
	return scopes, nil
}

// TagValues implements traces.Upstream.
func (c *Client) TagValues(ctx context.Context, t tenant.Set, tag, filter string, r traces.TimeRange) ([]traces.TagValue, error) {
	ctx = as(ctx, t)
	params := &tempoapi.SearchTagValuesV2Params{Start: &r.Start, End: &r.End}
	if filter != "" {
		params.Q = &filter
	}
	var res tempoapi.TagValuesV2Result
	if err := c.callJSON(ctx, &res, func(ctx context.Context) (*http.Response, error) {
		return c.api.SearchTagValuesV2(ctx, tag, params)
	}); err != nil {
		return nil, err
	}
	var values []traces.TagValue
	for _, v := range deref(res.TagValues) {
		values = append(values, traces.TagValue{Type: deref(v.Type), Value: deref(v.Value)})
	}
	return values, nil
}

// fromTempoSearch converts Tempo's search answer; trace ids come back padded
// to 32 hex characters.
func fromTempoSearch(res tempoapi.SearchResult) ([]traces.TraceSummary, error) {
	var out []traces.TraceSummary
	for _, tr := range deref(res.Traces) {
		id, err := traces.ParseID(deref(tr.TraceID))
		if err != nil {
			return nil, fmt.Errorf("%w: search result: %w", traces.ErrUpstream, err)
		}
		start, err := parseUint(tr.StartTimeUnixNano)
		if err != nil {
			return nil, err
		}
		sum := traces.TraceSummary{
			ID: id, RootService: deref(tr.RootServiceName), RootSpan: deref(tr.RootTraceName),
			StartUnixNano: start, DurationMs: deref(tr.DurationMs),
		}
		for _, set := range deref(tr.SpanSets) {
			ss := traces.SpanSet{Matched: deref(set.Matched)}
			for _, sp := range deref(set.Spans) {
				s, err := fromTempoSpan(sp)
				if err != nil {
					return nil, err
				}
				ss.Spans = append(ss.Spans, s)
			}
			sum.SpanSets = append(sum.SpanSets, ss)
		}
		out = append(out, sum)
	}
	return out, nil
}

func fromTempoSpan(sp tempoapi.Span) (traces.SpanSummary, error) {
	start, err := parseUint(sp.StartTimeUnixNano)
	if err != nil {
		return traces.SpanSummary{}, err
	}
	dur, err := parseUint(sp.DurationNanos)
	if err != nil {
		return traces.SpanSummary{}, err
	}
	s := traces.SpanSummary{SpanID: deref(sp.SpanID), StartUnixNano: start, DurationNanos: dur}
	for _, kv := range deref(sp.Attributes) {
		var v any
		if kv.Value != nil {
			switch a := *kv.Value; {
			case a.StringValue != nil:
				v = *a.StringValue
			case a.IntValue != nil:
				n, err := strconv.ParseInt(*a.IntValue, 10, 64)
				if err != nil {
					return traces.SpanSummary{}, fmt.Errorf("%w: attribute %s: %w", traces.ErrUpstream, deref(kv.Key), err)
				}
				v = n
			case a.DoubleValue != nil:
				v = *a.DoubleValue
			case a.BoolValue != nil:
				v = *a.BoolValue
			}
		}
		s.Attributes = append(s.Attributes, traces.Attribute{Key: deref(kv.Key), Value: v})
	}
	return s, nil
}

// parseUint reads one of Tempo's 64-bit integers, which jsonpb encodes as
// strings; absent means zero.
func parseUint(s *string) (uint64, error) {
	if s == nil {
		return 0, nil
	}
	n, err := strconv.ParseUint(*s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", traces.ErrUpstream, err)
	}
	return n, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
