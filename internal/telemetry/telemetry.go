// Package telemetry holds tracegate's Prometheus metrics and the HTTP
// instrumentation that feeds them. Only cmd and httpapi use it; every label
// value comes from a small fixed vocabulary (route templates, operations,
// status codes, reason codes), so no label is unbounded.
package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Decision label values of AuthDecisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Metrics is the set of tracegate's metrics and the registry serving them.
type Metrics struct {
	registry *prometheus.Registry

	// AuthDecisions counts access decisions by decision (allow, deny) and
	// reason (a fixed code such as expired or tenant_not_granted; "ok" for
	// allow).
	AuthDecisions *prometheus.CounterVec
	// Requests and RequestDuration describe API requests by route template
	// ("unmatched" for none), method and status.
	Requests        *prometheus.CounterVec
	RequestDuration *prometheus.HistogramVec
	// InFlight is the number of requests being served.
	InFlight prometheus.Gauge
	// Upstream is the duration of Tempo calls by operation and outcome.
	Upstream *prometheus.HistogramVec
	// KeyFetches counts fetches of signing keys (JWKS, OIDC discovery) by result.
	KeyFetches *prometheus.CounterVec
	// RateLimited counts requests refused by a limit, by limit.
	RateLimited *prometheus.CounterVec
}

// New returns fresh metrics, with the standard Go and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		AuthDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracegate_auth_decisions_total",
			Help: "Access decisions on API requests, by decision and reason.",
		}, []string{"decision", "reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracegate_http_requests_total",
			Help: "HTTP requests served, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tracegate_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route template, method and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "status"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tracegate_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		Upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tracegate_tempo_request_duration_seconds",
			Help:    "Duration of Tempo requests, by operation and outcome (status code, error; ok for a trace_by_id 200 or 404).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation", "outcome"}),
		KeyFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracegate_key_fetches_total",
			Help: "Fetches of signing keys (JWKS, OIDC discovery), by result (status code or error).",
		}, []string{"result"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracegate_rate_limited_total",
			Help: "Requests refused by a limit, by limit (client_ip, tenant_rate, tenant_concurrency).",
		}, []string{"limit"}),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.AuthDecisions, m.Requests, m.RequestDuration, m.InFlight, m.Upstream, m.KeyFetches, m.RateLimited)
	return m
}

// Register adds more collectors (e.g. a gauge owned by another component).
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return fmt.Errorf("register metric: %w", err)
		}
	}
	return nil
}

// WatchAuth exports AuthDecisions for allow and every deny reason from the
// start (at zero, so rates and alerts need no first occurrence), and the
// age of the signing keys in use as keysAge reports it.
func (m *Metrics) WatchAuth(reasons []string, keysAge func() time.Duration) error {
	for _, reason := range reasons {
		m.AuthDecisions.WithLabelValues(Deny, reason)
	}
	m.AuthDecisions.WithLabelValues(Allow, "ok")
	return m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tracegate_keys_age_seconds",
		Help: "Age of the signing keys in use (0 before any were loaded); grows while refreshes fail.",
	}, func() float64 { return keysAge().Seconds() }))
}

// Text renders every metric in the Prometheus text exposition format.
func (m *Metrics) Text() ([]byte, error) {
	families, err := m.registry.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, fmt.Errorf("encode metrics: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// UpstreamTimer adds up the time one request spent waiting for Tempo.
type UpstreamTimer struct{ nanos atomic.Int64 }

// Elapsed returns the time recorded so far.
func (t *UpstreamTimer) Elapsed() time.Duration { return time.Duration(t.nanos.Load()) }

type timerKey struct{}

// WithUpstreamTimer returns ctx carrying a fresh timer that InstrumentTempo
// adds to.
func WithUpstreamTimer(ctx context.Context) (context.Context, *UpstreamTimer) {
	t := &UpstreamTimer{}
	return context.WithValue(ctx, timerKey{}, t), t
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// tempoOperation names a Tempo request by its path (a fixed vocabulary).
func tempoOperation(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/v2/traces/"):
		return "trace_by_id"
	case path == "/api/search":
		return "search"
	case path == "/api/v2/search/tags":
		return "tags"
	case strings.HasPrefix(path, "/api/v2/search/tag/"):
		return "tag_values"
	case path == "/ready":
		return "ready"
	}
	return "other"
}

// InstrumentTempo wraps the transport of the Tempo client: it observes each
// call's duration by operation and outcome, and adds it to the request's
// UpstreamTimer. The duration covers the response headers, not the body.
func (m *Metrics) InstrumentTempo(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		d := time.Since(start)
		op := tempoOperation(r.URL.Path)
		m.Upstream.WithLabelValues(op, tempoOutcome(op, resp, err)).Observe(d.Seconds())
		if t, ok := r.Context().Value(timerKey{}).(*UpstreamTimer); ok {
			t.nanos.Add(int64(d))
		}
		return resp, err
	})
}

// tempoOutcome is the outcome label of a Tempo call: its status code, or
// "error" when no answer came. For trace_by_id, 200 and 404 are both "ok":
// Tempo also answers 200 for a trace stored under the caller's tenant that
// the tenant-attribute check then hides, and the API answers that 404 like
// a trace that does not exist; a public metric must not tell them apart.
func tempoOutcome(op string, resp *http.Response, err error) string {
	switch {
	case err != nil:
		return "error"
	case op == "trace_by_id" && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound):
		return "ok"
	}
	return strconv.Itoa(resp.StatusCode)
}

// InstrumentKeyFetches wraps the transport used to fetch signing keys and
// counts each fetch by result.
func (m *Metrics) InstrumentKeyFetches(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		result := "error"
		if err == nil {
			result = strconv.Itoa(resp.StatusCode)
		}
		m.KeyFetches.WithLabelValues(result).Inc()
		return resp, err
	})
}
