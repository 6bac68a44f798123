package tempo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/testkit"
	"github.com/tracegate/tracegate/internal/traces"
)

const tempoURL = "http://tempo.test:3200"

// replay answers with f's recorded response.
func replay(t testing.TB, f testkit.Fixture) httpmock.Responder {
	body := f.Body(t)
	return func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewBytesResponse(f.Response.Status, body)
		for k, v := range f.Response.Headers {
			resp.Header.Set(k, v)
		}
		return resp, nil
	}
}

// newTestClient returns a Client whose transport is a fresh httpmock transport
// (never the global one), so tests can run in parallel.
func newTestClient(t testing.TB, timeout time.Duration, maxBytes int64) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	c, err := New(tempoURL, &http.Client{Transport: mock}, timeout, maxBytes, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c, mock
}

const checkoutID = traces.ID("4bf92f3577b34da6a3ce929d0e0e4736")

func TestTraceFound(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	f := testkit.LoadFixture(t, "trace-v2-protobuf-found")
	var got *http.Request
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(),
		func(req *http.Request) (*http.Response, error) {
			got = req
			return replay(t, f)(req)
		})

	tr, err := readTrace(context.Background(), c, tenant.MustSet("acme"), checkoutID, traces.TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	// The request is built fresh: exactly our tenant, protobuf, no query.
	if h := got.Header.Get("X-Scope-OrgID"); h != "acme" {
		t.Errorf("X-Scope-OrgID = %q, want acme", h)
	}
	if n := len(got.Header.Values("X-Scope-OrgID")); n != 1 {
		t.Errorf("%d X-Scope-OrgID headers, want 1", n)
	}
	if h := got.Header.Get("Accept"); h != "application/protobuf" {
		t.Errorf("Accept = %q", h)
	}
	if h := got.Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q sent to Tempo", h)
	}
	if got.URL.RawQuery != "" {
		t.Errorf("query %q, want none", got.URL.RawQuery)
	}

	if tr.ID != checkoutID || tr.Partial || len(tr.Warnings) != 0 {
		t.Errorf("got id %q partial %v warnings %v", tr.ID, tr.Partial, tr.Warnings)
	}
	shown := spansOf(t, tr)
	if n := shown.SpanCount(); n != 9 {
		t.Fatalf("%d spans, want 9 (index.json)", n)
	}
	services := map[string]bool{}
	rss := shown.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		svc, _ := rs.Resource().Attributes().Get("service.name")
		services[svc.Str()] = true
		tid, _ := rs.Resource().Attributes().Get("tenant.id")
		if tid.Str() != "acme" {
			t.Errorf("resource tenant.id = %q", tid.Str())
		}
		spans := rs.ScopeSpans().At(0).Spans()
		for j := range spans.Len() {
			if id := spans.At(j).TraceID(); fmt.Sprintf("%x", id[:]) != checkoutID.String() {
				t.Errorf("span trace id %x", id[:])
			}
		}
	}
	for _, s := range []string{"frontend", "checkout", "payments"} {
		if !services[s] {
			t.Errorf("service %s missing (got %v)", s, services)
		}
	}
}

func TestTraceTimeRangeForwarded(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	mock.RegisterResponderWithQuery(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(),
		"start=1795694609&end=1795698269", replay(t, testkit.LoadFixture(t, "trace-v2-protobuf-found")))
	if _, err := readTrace(context.Background(), c, tenant.MustSet("acme"), checkoutID, traces.TimeRange{Start: 1795694609, End: 1795698269}); err != nil {
		t.Fatal(err)
	}
}

func TestTraceErrors(t *testing.T) {
	t.Parallel()
	text := func(status int, body string) httpmock.Responder {
		return func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(status, body)
			r.Header.Set("Content-Type", "text/plain; charset=utf-8")
			return r, nil
		}
	}
	proto := func(body string) httpmock.Responder {
		return func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(http.StatusOK, body)
			r.Header.Set("Content-Type", "application/protobuf")
			return r, nil
		}
	}
	hang := func(req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	refused := httpmock.NewErrorResponder(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	tests := []struct {
		name      string
		responder httpmock.Responder
		wantErr   error
		wantText  string // for ErrInvalidQuery: the reason shown to the caller
		wantMsg   string // a part of the error text
	}{
		{name: "other tenant: v2 empty trace", responder: replay(t, testkit.LoadFixture(t, "trace-v2-protobuf-other-tenant")), wantErr: traces.ErrNotFound},
		{name: "v2 404 from a redactor", responder: text(404, ""), wantErr: traces.ErrNotFound},
		{name: "bad time range", responder: replay(t, testkit.LoadFixture(t, "trace-v2-bad-time-range")), wantErr: traces.ErrInvalidQuery,
			wantText: "http parameter start must be before end. received start=1795698209 end=1795698149"},
		{name: "missing org id is our bug", responder: replay(t, testkit.LoadFixture(t, "trace-v2-missing-org")), wantErr: traces.ErrUpstream},
		{name: "rate limited", responder: text(429, "job queue full"), wantErr: traces.ErrRateLimited},
		{name: "internal error", responder: text(500, "querier: boom"), wantErr: traces.ErrUpstream},
		{name: "too large for v1", responder: text(422, "trace exceeds max size (max bytes: 5000000)"), wantErr: traces.ErrUpstream},
		{name: "tempo api_timeout", responder: text(503, apiTimeoutBody), wantErr: traces.ErrTimeout},
		{name: "tempo not ready", responder: text(503, "Query Frontend not ready"), wantErr: traces.ErrUnavailable},
		{name: "gateway timeout", responder: text(504, "context deadline exceeded"), wantErr: traces.ErrTimeout},
		{name: "garbage protobuf", responder: proto("\xff\xff\xff\xff"), wantErr: traces.ErrUpstream},
		{name: "truncated protobuf", responder: proto("\x0a\x10\x0a"), wantErr: traces.ErrUpstream},
		{name: "span name of the wrong wire type", responder: proto("\x0a\x08\x0a\x06\x12\x04\x12\x02\x28\x01"), wantErr: traces.ErrUpstream},
		{name: "span id of one byte", responder: proto("\x0a\x09\x0a\x07\x12\x05\x12\x03\x12\x01\x00"), wantErr: traces.ErrUpstream},
		{name: "json instead of protobuf", responder: replay(t, testkit.LoadFixture(t, "trace-v2-json-found")), wantErr: traces.ErrUpstream},
		{name: "oversized body", responder: replay(t, testkit.LoadFixture(t, "trace-v2-protobuf-found")), wantErr: traces.ErrUpstream, wantMsg: "larger than 1024 bytes"},
		{name: "connection refused", responder: refused, wantErr: traces.ErrUnavailable},
		{name: "slow tempo", responder: hang, wantErr: traces.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mock := newTestClient(t, 50*time.Millisecond, 1024)
			mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(), tc.responder)
			_, err := readTrace(context.Background(), c, tenant.MustSet("acme"), checkoutID, traces.TimeRange{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(fmt.Sprint(err), tc.wantMsg) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantMsg)
			}
			var qe *traces.QueryError
			if tc.wantText != "" && (!errors.As(err, &qe) || qe.Reason != tc.wantText) {
				t.Errorf("reason = %v, want %q", err, tc.wantText)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"invalid start: x\nsecond line": "invalid start: x",
		"ctl\x00\x1b[31mred":            "ctl[31mred",
		strings.Repeat("a", 300):        strings.Repeat("a", 200),
		"  padded  ":                    "padded",
		"bad utf8 \xff here":            "bad utf8  here",
	} {
		if got := oneLine([]byte(in)); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	mock.RegisterResponder(http.MethodGet, tempoURL+"/ready", replay(t, testkit.LoadFixture(t, "ready")))
	if err := c.Ready(context.Background()); err != nil {
		t.Errorf("ready Tempo: %v", err)
	}
	mock.RegisterResponder(http.MethodGet, tempoURL+"/ready", httpmock.NewStringResponder(503, "Query Frontend not ready: no querier\n"))
	if err := c.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "503: Query Frontend not ready") {
		t.Errorf("not ready Tempo: %v", err)
	}
	mock.RegisterResponder(http.MethodGet, tempoURL+"/ready", httpmock.NewErrorResponder(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}))
	if err := c.Ready(context.Background()); !errors.Is(err, traces.ErrUnavailable) {
		t.Errorf("unreachable Tempo: %v", err)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	found := testkit.LoadFixture(t, "trace-v2-protobuf-found")
	tests := []struct {
		name      string
		failures  []httpmock.Responder // answers before the fixture
		wantCalls int
		wantErr   error
	}{
		{"503 twice, then the trace", []httpmock.Responder{httpmock.NewStringResponder(503, "not ready"), httpmock.NewStringResponder(503, "not ready")}, 3, nil},
		{"connection refused, then the trace", []httpmock.Responder{httpmock.NewErrorResponder(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})}, 2, nil},
		{"502 three times gives up", []httpmock.Responder{httpmock.NewStringResponder(502, "x"), httpmock.NewStringResponder(502, "x"), httpmock.NewStringResponder(502, "x")}, 3, traces.ErrUpstream},
		{"500 is not retried", []httpmock.Responder{httpmock.NewStringResponder(500, "boom")}, 1, traces.ErrUpstream},
		{"Tempo's api_timeout is not retried", []httpmock.Responder{httpmock.NewStringResponder(503, apiTimeoutBody)}, 1, traces.ErrTimeout},
		{"429 is not retried", []httpmock.Responder{httpmock.NewStringResponder(429, "job queue full")}, 1, traces.ErrRateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mock := newTestClient(t, 2*time.Second, 1<<20)
			calls := 0
			mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(), func(req *http.Request) (*http.Response, error) {
				calls++
				if calls <= len(tc.failures) {
					return tc.failures[calls-1](req)
				}
				return replay(t, found)(req)
			})
			_, err := readTrace(context.Background(), c, tenant.MustSet("acme"), checkoutID, traces.TimeRange{})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// The conversion budget lets at most its size of trace bodies be converted at
// once: a second trace waits until the first one's WithTrace returns.
func TestConversionBudget(t *testing.T) {
	t.Parallel()
	mock := httpmock.NewMockTransport()
	f := testkit.LoadFixture(t, "trace-v2-protobuf-found") // 2,376 bytes
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(), replay(t, f))
	c, err := New(tempoURL, &http.Client{Transport: mock}, 300*time.Millisecond, 1<<20, 3000)
	if err != nil {
		t.Fatal(err)
	}
	acme := tenant.MustSet("acme")
	release := holdTrace(t, context.Background(), c, acme)
	if got := c.ConversionBytes(); got != 1500 {
		t.Errorf("%d conversion bytes held by one trace, want its tenant's whole share, 1500", got)
	}
	// The budget is taken: the next trace cannot be converted within the timeout.
	if _, err := readTrace(context.Background(), c, acme, checkoutID, traces.TimeRange{}); !errors.Is(err, traces.ErrTimeout) {
		t.Fatalf("second trace while the first holds the budget: %v, want ErrTimeout", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := readTrace(context.Background(), c, acme, checkoutID, traces.TimeRange{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	release()
	if err := <-done; err != nil {
		t.Fatalf("after release: %v", err)
	}
	// Not-found answers give their reservation back at once.
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(), replay(t, testkit.LoadFixture(t, "trace-v2-protobuf-other-tenant")))
	for range 3 {
		if _, err := readTrace(context.Background(), c, acme, checkoutID, traces.TimeRange{}); !errors.Is(err, traces.ErrNotFound) {
			t.Fatalf("not found: %v", err)
		}
	}
	if got := c.ConversionBytes(); got != 0 {
		t.Errorf("%d conversion bytes held after every trace was answered, want 0", got)
	}
}

// readTrace reads trace id as ts through c.WithTrace and returns it. Outside
// the callback its memory is given back, but the bytes stay readable here.
func readTrace(ctx context.Context, c *Client, ts tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error) {
	var got traces.Trace
	err := c.WithTrace(ctx, ts, id, r, func(tr traces.Trace) error {
		got = tr
		return nil
	})
	return got, err
}

// holdTrace reads checkoutID as ts and stays inside WithTrace's callback,
// holding the trace's conversion memory, until release is called.
func holdTrace(t *testing.T, ctx context.Context, c *Client, ts tenant.Set) (release func()) {
	t.Helper()
	inside, leave, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- c.WithTrace(ctx, ts, checkoutID, traces.TimeRange{}, func(traces.Trace) error {
			close(inside)
			<-leave
			return nil
		})
	}()
	select {
	case <-inside:
	case err := <-done:
		t.Fatalf("holding a trace: %v", err)
	}
	return func() {
		close(leave)
		if err := <-done; err != nil {
			t.Errorf("holding a trace: %v", err)
		}
	}
}

// spansOf reads back what tr shows, through its JSON.
func spansOf(t testing.TB, tr traces.Trace) ptrace.Traces {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.WriteJSON(&buf, nil); err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return td
}

// One tenant holding its share of the budget, with more of its traces
// waiting, does not hold up another tenant's trace: the old single
// first-come queue made globex wait behind acme's waiting request.
func TestConversionBudgetIsFairBetweenTenants(t *testing.T) {
	t.Parallel()
	mock := httpmock.NewMockTransport()
	f := testkit.LoadFixture(t, "trace-v2-protobuf-found") // 2,376 bytes
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(), replay(t, f))
	c, err := New(tempoURL, &http.Client{Transport: mock}, 2*time.Second, 1<<20, 6000)
	if err != nil {
		t.Fatal(err)
	}
	acme, globex := tenant.MustSet("acme"), tenant.MustSet("globex")
	defer holdTrace(t, context.Background(), c, acme)() // acme's whole share (3000)
	waiting := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // queued behind acme's first, never granted while it is held
		_, err := readTrace(ctx, c, acme, checkoutID, traces.TimeRange{})
		waiting <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if _, err := readTrace(context.Background(), c, globex, checkoutID, traces.TimeRange{}); err != nil {
		t.Fatalf("globex while acme holds its share and waits for more: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("globex waited %v", d)
	}
	select {
	case err := <-waiting:
		t.Fatalf("acme's second trace got beyond its share: %v", err)
	default:
	}
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("acme's waiting trace: %v, want canceled", err)
	}
}
