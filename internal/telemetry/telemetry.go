// Package telemetry holds tracegate's Prometheus metrics. Only cmd and
// httpapi use it; label values come from small fixed vocabularies so no
// label is unbounded.
package telemetry

import (
	"bytes"
	"fmt"

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
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.AuthDecisions)
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
