// Package tempo is the adapter between tracegate's domain and Grafana Tempo's
// HTTP API. It implements traces.Upstream with the generated gen/tempoapi
// client, sets X-Scope-OrgID from the tenants of the call on every request
// it builds, in one place (setOrgID; nothing of the incoming request is
// forwarded), and turns Tempo's statuses into traces sentinels.
package tempo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/tracegate/tracegate/gen/tempoapi"
	"github.com/tracegate/tracegate/internal/otlpjson"
	"github.com/tracegate/tracegate/internal/redact"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

var _ traces.Upstream = (*Client)(nil)

// Client reads from one Tempo query frontend.
type Client struct {
	api      *tempoapi.Client
	timeout  time.Duration
	maxBytes int64
	// budget bounds the bytes of Tempo answers being converted at once,
	// fairly shared between tenants; nil when unbounded.
	budget *budget
}

// New returns a Client for the Tempo at baseURL (e.g. http://tempo:3200).
// Every call is bounded by timeout, and a response body larger than maxBytes
// (after decompression) is refused. At most conversionBytes of trace bodies
// are held at once (0: no bound): each trace reserves what its request
// holds, its protobuf body plus the transcoder's fixed-size output buffer
// (held), until its Trace is released after the last byte is written, so
// memory stays bounded at any concurrency. One tenant (one X-Scope-OrgID)
// holds at most half of conversionBytes, so a tenant whose responses are
// stuck on slow clients cannot starve the others; a trace larger than that
// share reserves the whole share and runs alone within its tenant.
//
// httpClient's transport is used as it is (see NewTransport); redirects are
// never followed, whatever httpClient says: every Tempo path tracegate
// calls is one it built.
func New(baseURL string, httpClient *http.Client, timeout time.Duration, maxBytes, conversionBytes int64) (*Client, error) {
	hc := *httpClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c, err := tempoapi.NewClient(baseURL, tempoapi.WithHTTPClient(&hc), tempoapi.WithRequestEditorFn(setOrgID))
	if err != nil {
		return nil, fmt.Errorf("tempo client: %w", err)
	}
	cl := &Client{api: c, timeout: timeout, maxBytes: maxBytes}
	if conversionBytes > 0 {
		cl.budget = newBudget(conversionBytes, max(conversionBytes/2, 1))
	}
	return cl, nil
}

// orgIDHeader is Tempo's tenant header.
const orgIDHeader = "X-Scope-OrgID"

type (
	tenantsKey  struct{}
	unscopedKey struct{}
)

// as returns ctx for requests to Tempo as the tenants t.
func as(ctx context.Context, t tenant.Set) context.Context {
	return context.WithValue(ctx, tenantsKey{}, t)
}

// unscoped returns ctx for a request that reads no tenant's data (/ready,
// echo, build info): it goes without X-Scope-OrgID.
func unscoped(ctx context.Context) context.Context {
	return context.WithValue(ctx, unscopedKey{}, true)
}

// setOrgID is the client's request editor and the one place that sets
// X-Scope-OrgID: from the tenants of the call (see as). A request that
// carries none and is not unscoped is refused before it is sent (fail
// closed: a Tempo without multitenancy would read it as its one tenant).
func setOrgID(ctx context.Context, req *http.Request) error {
	if t, ok := ctx.Value(tenantsKey{}).(tenant.Set); ok && t.Len() > 0 {
		req.Header.Set(orgIDHeader, t.OrgID())
		return nil
	}
	if ctx.Value(unscopedKey{}) != nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, traces.ErrNoTenant)
}

// reserve takes n bytes of tenant's share of the conversion budget, waiting
// while they are in use; the returned func gives them back.
func (c *Client) reserve(ctx context.Context, tenant string, n int64) (func(), error) {
	if c.budget == nil {
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	release, err := c.budget.acquire(ctx, tenant, n)
	if err != nil {
		return nil, fmt.Errorf("%w: waiting for conversion memory: %w", traces.ErrTimeout, err)
	}
	return release, nil
}

// ConversionBytes returns the bytes of the conversion budget held now by
// traces being read or written (0 without a budget): when no trace is in
// flight, it must be 0.
func (c *Client) ConversionBytes() int64 {
	if c.budget == nil {
		return 0
	}
	return c.budget.inUse()
}

// held is what a request for a trace body of n bytes holds until its answer
// is written: the buffer the body is read into (the transcoder reads it in
// place) and the output buffer.
func (c *Client) held(n int64) int64 {
	return int64(bodySize(int(min(n, c.maxBytes)))) + otlpjson.BufferSize
}

// WithTrace implements traces.Upstream. It asks Tempo's v2 endpoint for
// protobuf (measured about 2.5× cheaper for Tempo than its JSON, and
// decoded here without an intermediate JSON step) and maps Tempo's
// empty-trace 200 to traces.ErrNotFound.
//
// The trace's conversion memory is reserved before the body is read when
// Tempo says how long it is (identity encoding), else right after reading,
// and given back in one place, when WithTrace returns: whatever fn does,
// fails or panics.
func (c *Client) WithTrace(ctx context.Context, t tenant.Set, id traces.ID, r traces.TimeRange, fn func(traces.Trace) error) error {
	ctx = as(ctx, t)
	params := &tempoapi.GetTraceV2Params{}
	if !r.IsZero() {
		params.Start, params.End = &r.Start, &r.End
	}
	var (
		release  func()
		recycled []byte // the buffer the body was read into, if recycled
	)
	defer func() {
		if release != nil {
			release()
		}
		putBody(recycled)
	}()
	body, err := c.call(ctx, "application/protobuf", &recycled, func(ctx context.Context) (*http.Response, error) {
		resp, err := c.api.GetTraceV2(ctx, id.String(), params, acceptProtobuf)
		if err == nil && resp.StatusCode == http.StatusOK && resp.ContentLength > 0 && release == nil {
			if release, err = c.reserve(ctx, t.OrgID(), c.held(resp.ContentLength)); err != nil {
				resp.Body.Close()
				return nil, err
			}
		}
		return resp, err
	})
	if err != nil {
		return err
	}
	if release == nil {
		if release, err = c.reserve(ctx, t.OrgID(), c.held(int64(len(body)))); err != nil {
			return err
		}
	}
	tr, err := decodeTraceByID(body)
	if err != nil {
		return fmt.Errorf("%w: decode trace: %w", traces.ErrUpstream, err)
	}
	if tr.Data.Len() == 0 {
		return traces.ErrNotFound
	}
	tr.ID = id
	return fn(tr)
}

// maxRetries bounds the retries of one call (all are idempotent reads).
const maxRetries = 2

// call runs one request bounded by the client's timeout, reads its body
// (bounded) and maps a non-200 status or a body of another content type than
// wantType to a domain error. A connection failure or a 502/503 from Tempo
// (but not its api_timeout) is retried up to maxRetries times after a short
// jittered pause, within the same timeout. When the time runs out during a
// retry, the error is the failure that caused the retries (Tempo unavailable,
// say), not the deadline that cut the retry short.
//
// With recycled set, a 200 answer of announced length is read into a
// recycled buffer (getBody), stored in *recycled for the caller to give back
// (putBody) once nothing uses the body any more.
func (c *Client) call(ctx context.Context, wantType string, recycled *[]byte, do func(context.Context) (*http.Response, error)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var first error
	for attempt := 0; ; attempt++ {
		body, retryable, err := c.once(ctx, wantType, recycled, do)
		if err != nil && first != nil && ctx.Err() != nil {
			return nil, first
		}
		if !retryable || attempt == maxRetries {
			return body, err
		}
		if first == nil {
			first = err
		}
		// 25–75 ms, then 50–150 ms: spread the retries of many requests.
		pause := time.Duration(25+rand.IntN(50)) * time.Millisecond << attempt //nolint:gosec // jitter, not security
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
	}
}

// once makes one attempt of call and says whether a failure may be retried.
func (c *Client) once(ctx context.Context, wantType string, recycled *[]byte, do func(context.Context) (*http.Response, error)) (body []byte, retryable bool, err error) {
	resp, err := do(ctx)
	if err != nil {
		return nil, retryableFailure(ctx, err), transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			return nil, false, fmt.Errorf("%w: unexpected content type %q", traces.ErrUpstream, ct)
		}
		if recycled != nil && resp.ContentLength > 0 && resp.ContentLength <= c.maxBytes {
			return readRecycled(ctx, resp, recycled)
		}
		body, err = c.readBody(ctx, resp)
		return body, false, err
	}
	if body, err = c.readBody(ctx, resp); err != nil {
		return nil, false, err
	}
	err = statusError(resp.StatusCode, body)
	return nil, resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable && !errors.Is(err, traces.ErrTimeout), err
}

// readRecycled reads a body of announced length into a recycled buffer,
// stored in *recycled; the body handed on is cut to its length and
// capacity. A failed read gives the buffer back at once.
func readRecycled(ctx context.Context, resp *http.Response, recycled *[]byte) ([]byte, bool, error) {
	n := int(resp.ContentLength)
	buf := getBody(n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		putBody(buf)
		return nil, false, readError(ctx, err)
	}
	*recycled = buf
	return buf[:n:n], false, nil
}

// callJSON is call for a JSON answer decoded into v.
func (c *Client) callJSON(ctx context.Context, v any, do func(context.Context) (*http.Response, error)) error {
	body, err := c.call(ctx, "application/json", nil, do)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: decode: %w", traces.ErrUpstream, err)
	}
	return nil
}

func acceptProtobuf(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "application/protobuf")
	return nil
}

// readBody reads at most maxBytes of the (already decompressed) body. A body
// that cannot be read to its end is an unreadable answer (ErrUpstream), or a
// timeout when our deadline cut it off.
func (c *Client) readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= c.maxBytes {
		// bytes.Buffer.ReadFrom wants MinRead bytes of room before each read,
		// the last one (which finds the end) included: without them, a body
		// of exactly the announced length is copied into a buffer twice its
		// size.
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBytes+1))
	switch {
	case err != nil:
		return nil, readError(ctx, err)
	case n > c.maxBytes:
		return nil, fmt.Errorf("%w: response larger than %d bytes", traces.ErrUpstream, c.maxBytes)
	}
	return buf.Bytes(), nil
}

// readError classifies a failure to read an answer to its end: a timeout
// when our deadline cut it off, else an unreadable answer.
func readError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: reading the answer: %w", traces.ErrTimeout, err)
	}
	return fmt.Errorf("%w: reading the answer: %w", traces.ErrUpstream, err)
}

// retryableFailure reports whether a request that failed with err before Tempo
// answered may be tried again: not after our deadline, nor a request that
// was refused before it was sent.
func retryableFailure(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, traces.ErrNoTenant)
}

// transportError classifies an error that happened before or while reading a
// response: our deadline is a timeout, a request without tenants was refused
// here, anything else means Tempo is unreachable.
func transportError(ctx context.Context, err error) error {
	if errors.Is(err, traces.ErrNoTenant) {
		return err
	}
	err = redact.Error(err) // the URL of Tempo may carry credentials
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", traces.ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", traces.ErrUnavailable, err)
}

// apiTimeoutBody is what Tempo's query frontend answers (503) when its own
// api_timeout expires.
const apiTimeoutBody = "unable to process request in the configured timeout"

// statusError maps a non-200 Tempo status to a domain error. Only Tempo's 400
// text is kept for the caller (as one sanitised line): it explains what was
// wrong with the query. Every other body is kept for logs only.
func statusError(code int, body []byte) error {
	text := oneLine(body)
	switch {
	case code == http.StatusBadRequest:
		return &traces.QueryError{Reason: text}
	case code == http.StatusNotFound:
		return traces.ErrNotFound
	case code == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s", traces.ErrRateLimited, text)
	case code == http.StatusGatewayTimeout,
		code == http.StatusServiceUnavailable && strings.HasPrefix(text, apiTimeoutBody):
		return fmt.Errorf("%w: status %d: %s", traces.ErrTimeout, code, text)
	case code == http.StatusServiceUnavailable:
		return fmt.Errorf("%w: status %d: %s", traces.ErrUnavailable, code, text)
	default:
		return fmt.Errorf("%w: status %d: %s", traces.ErrUpstream, code, text)
	}
}

// oneLine returns the first line of a plain-text body, printable characters
// only, at most 200 bytes.
func oneLine(b []byte) string {
	const maxLen = 200
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	return strings.TrimSpace(s)
}

// readyTimeout bounds the readiness probe of Tempo.
const readyTimeout = 2 * time.Second

// Check is the readiness check of Tempo (httpapi.Checker): ok when Ready
// says so, detail "ready" or why not.
func (c *Client) Check(ctx context.Context) (ok, degraded bool, detail string) {
	if err := c.Ready(ctx); err != nil {
		return false, false, err.Error()
	}
	return true, false, "ready"
}

// Ready returns nil when Tempo's /ready answers 200 within a short timeout,
// and otherwise an error saying what Tempo answered (one sanitised line).
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(readyTimeout, c.timeout))
	defer cancel()
	resp, err := c.api.GetReady(unscoped(ctx))
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := c.readBody(ctx, resp)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("tempo /ready answered %d: %s", resp.StatusCode, oneLine(body))
	}
	return nil
}
