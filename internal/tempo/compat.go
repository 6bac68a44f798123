package tempo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/tracegate/tracegate/gen/tempoapi"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

var _ traces.CompatUpstream = (*Client)(nil)

// Echo implements traces.CompatUpstream.
func (c *Client) Echo(ctx context.Context) (traces.Answer, error) {
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.GetEcho(unscoped(ctx))
	})
}

// BuildInfo implements traces.CompatUpstream.
func (c *Client) BuildInfo(ctx context.Context) (traces.Answer, error) {
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.GetBuildInfo(unscoped(ctx))
	})
}

// TraceAnswer implements traces.CompatUpstream: v1 or v2, JSON or protobuf,
// with v2's span filtering when q asks for it.
func (c *Client) TraceAnswer(ctx context.Context, t tenant.Set, q traces.TraceQuery) (traces.Answer, error) {
	ctx = as(ctx, t)
	accept := acceptJSON
	if q.Protobuf {
		accept = acceptProtobuf
	}
	var start, end *int64
	if !q.Range.IsZero() {
		start, end = &q.Range.Start, &q.Range.End
	}
	if !q.V2 {
		params := &tempoapi.GetTraceV1Params{Start: start, End: end}
		return c.answer(ctx, true, func(ctx context.Context) (*http.Response, error) {
			return c.api.GetTraceV1(ctx, q.ID.String(), params, accept)
		})
	}
	params := &tempoapi.GetTraceV2Params{
		Start: start, End: end,
		KeepHierarchy: q.KeepHierarchy, MatchDepth: q.MatchDepth, AncestorDepth: q.AncestorDepth,
	}
	if q.Filter != "" {
		params.Q = &q.Filter
	}
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.GetTraceV2(ctx, q.ID.String(), params, accept)
	})
}

// SearchAnswer implements traces.CompatUpstream.
func (c *Client) SearchAnswer(ctx context.Context, t tenant.Set, q traces.NativeSearch) (traces.Answer, error) {
	ctx = as(ctx, t)
	params := &tempoapi.SearchParams{Limit: q.Limit, Spss: q.SpansPerSet}
	if !q.Range.IsZero() {
		params.Start, params.End = &q.Range.Start, &q.Range.End
	}
	params.Q, params.Tags = nonEmpty(q.Q), nonEmpty(q.Tags)
	if q.MinDuration > 0 {
		params.MinDuration = nonEmpty(q.MinDuration.String())
	}
	if q.MaxDuration > 0 {
		params.MaxDuration = nonEmpty(q.MaxDuration.String())
	}
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.Search(ctx, params, acceptJSON)
	})
}

// TagsAnswer implements traces.CompatUpstream.
func (c *Client) TagsAnswer(ctx context.Context, t tenant.Set, v2 bool, scope, q string, r traces.TimeRange) (traces.Answer, error) {
	ctx = as(ctx, t)
	var start, end *int64
	if !r.IsZero() {
		start, end = &r.Start, &r.End
	}
	if !v2 {
		params := &tempoapi.SearchTagsV1Params{Scope: nonEmpty(scope), Start: start, End: end}
		return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
			return c.api.SearchTagsV1(ctx, params, acceptJSON)
		})
	}
	params := &tempoapi.SearchTagsV2Params{Scope: nonEmpty(scope), Q: nonEmpty(q), Start: start, End: end}
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.SearchTagsV2(ctx, params, acceptJSON)
	})
}

// TagValuesAnswer implements traces.CompatUpstream.
func (c *Client) TagValuesAnswer(ctx context.Context, t tenant.Set, v2 bool, tag, q string, r traces.TimeRange) (traces.Answer, error) {
	ctx = as(ctx, t)
	var start, end *int64
	if !r.IsZero() {
		start, end = &r.Start, &r.End
	}
	if !v2 {
		params := &tempoapi.SearchTagValuesV1Params{Start: start, End: end}
		return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
			return c.api.SearchTagValuesV1(ctx, tag, params, acceptJSON)
		})
	}
	params := &tempoapi.SearchTagValuesV2Params{Q: nonEmpty(q), Start: start, End: end}
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.SearchTagValuesV2(ctx, tag, params, acceptJSON)
	})
}

// MetricsAnswer implements traces.CompatUpstream.
func (c *Client) MetricsAnswer(ctx context.Context, t tenant.Set, q traces.MetricsQuery) (traces.Answer, error) {
	ctx = as(ctx, t)
	var since *string
	if q.Since > 0 {
		since = nonEmpty(q.Since.String())
	}
	if q.Instant {
		params := &tempoapi.MetricsQueryInstantParams{Q: &q.Q, Start: q.Start, End: q.End, Since: since}
		return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
			return c.api.MetricsQueryInstant(ctx, params)
		})
	}
	params := &tempoapi.MetricsQueryRangeParams{
		Q: &q.Q, Start: q.Start, End: q.End, Since: since,
		Step: nonEmpty(q.Step), Exemplars: q.Exemplars,
	}
	return c.answer(ctx, false, func(ctx context.Context) (*http.Response, error) {
		return c.api.MetricsQueryRange(ctx, params)
	})
}

// answer runs one request of the mount as call does (bounded by the
// timeout, body read with the size bound, connection failures and 502/503
// retried), but returns Tempo's own answer for a 200 and for what Tempo says
// about the request: 400, 422 and 429 (and 404 when notFound, v1's missing
// trace). Every other status is an error, as for call.
func (c *Client) answer(ctx context.Context, notFound bool, do func(context.Context) (*http.Response, error)) (traces.Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		a, retryable, err := c.answerOnce(ctx, notFound, do)
		if !retryable || attempt == maxRetries {
			return a, err
		}
		pause := time.Duration(25+rand.IntN(50)) * time.Millisecond << attempt //nolint:gosec // jitter, not security
		select {
		case <-ctx.Done():
			return traces.Answer{}, err
		case <-time.After(pause):
		}
	}
}

func (c *Client) answerOnce(ctx context.Context, notFound bool, do func(context.Context) (*http.Response, error)) (traces.Answer, bool, error) {
	resp, err := do(ctx)
	if err != nil {
		return traces.Answer{}, retryableFailure(ctx, err), transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := c.readBody(ctx, resp)
	if err != nil {
		return traces.Answer{}, false, err
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		ct := resp.Header.Get("Content-Type")
		if !knownContentType(ct) {
			return traces.Answer{}, false, fmt.Errorf("%w: unexpected content type %q", traces.ErrUpstream, ct)
		}
		return traces.Answer{Status: code, ContentType: ct, Body: body}, false, nil
	case code == http.StatusBadRequest, code == http.StatusUnprocessableEntity, code == http.StatusTooManyRequests:
		return traces.Answer{Status: code, ContentType: traces.ContentTypeText, Body: body}, false, nil
	case code == http.StatusNotFound && notFound:
		return traces.Answer{Status: code}, false, nil
	case code == http.StatusNotFound:
		// Only a v1 trace is "not found"; elsewhere Tempo lacks the endpoint.
		return traces.Answer{}, false, fmt.Errorf("%w: status 404: %s", traces.ErrUpstream, oneLine(body))
	default:
		err := statusError(code, body)
		return traces.Answer{}, code == http.StatusBadGateway ||
			code == http.StatusServiceUnavailable && !errors.Is(err, traces.ErrTimeout), err
	}
}

// knownContentType reports whether a 200's content type is one of Tempo's
// formats, which the mount passes on.
func knownContentType(ct string) bool {
	for _, known := range []string{traces.ContentTypeJSON, traces.ContentTypeProtobuf, "text/plain"} {
		if strings.HasPrefix(ct, known) {
			return true
		}
	}
	return false
}

func acceptJSON(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "application/json")
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
