package httpapi

import (
	"fmt"
	"math"
	"net"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tracegate/tracegate/internal/limits"
	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/telemetry"
	"github.com/tracegate/tracegate/internal/tenant"
)

// limitError is a request refused by one of tracegate's own limits (429).
type limitError struct {
	limit      string // client_ip, tenant_rate, tenant_concurrency
	retryAfter time.Duration
}

func (e *limitError) Error() string {
	switch e.limit {
	case "client_ip":
		return "too many requests from this client address"
	case "tenant_rate":
		return "too many requests for this tenant"
	}
	return "too many concurrent requests for this tenant"
}

// retryAfterSeconds is the Retry-After value: whole seconds, at least 1.
func (e *limitError) retryAfterSeconds() string {
	return fmt.Sprint(max(1, int(math.Ceil(e.retryAfter.Seconds()))))
}

// limitClientIP applies r per client address before authentication, so that
// spraying bad tokens is not free. The address is the TCP peer's: behind a
// proxy all clients share it, so size the limit for that (or set it to 0).
func limitClientIP(r *limits.Rate, m *telemetry.Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if r == nil {
			return next
		}
		return func(c echo.Context) error {
			ip, _, err := net.SplitHostPort(c.Request().RemoteAddr)
			if err != nil {
				ip = c.Request().RemoteAddr
			}
			if ok, wait := r.Allow(ip, time.Now()); !ok {
				m.RateLimited.WithLabelValues("client_ip").Inc()
				return &limitError{limit: "client_ip", retryAfter: wait}
			}
			return next(c)
		}
	}
}

// limitTenant applies the per-tenant rate and concurrency cap after
// authentication; a federated read counts against its tenant set.
func limitTenant(r *limits.Rate, conc *limits.Concurrency, m *telemetry.Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if r == nil && conc == nil {
			return next
		}
		return func(c echo.Context) error {
			p, ok := principal.FromContext(c.Request().Context())
			if !ok {
				return errNoTenant
			}
			key := p.Tenants.OrgID()
			if p.Tenants.Len() == 0 {
				// whoami without a tenant chosen: count it against every
				// tenant the token grants, not a bucket shared by all callers.
				key = tenant.NewSet(p.Granted...).OrgID()
			}
			if ok, wait := r.Allow(key, time.Now()); !ok {
				m.RateLimited.WithLabelValues("tenant_rate").Inc()
				return &limitError{limit: "tenant_rate", retryAfter: wait}
			}
			release, ok := conc.Acquire(key)
			if !ok {
				m.RateLimited.WithLabelValues("tenant_concurrency").Inc()
				return &limitError{limit: "tenant_concurrency", retryAfter: time.Second}
			}
			defer release()
			return next(c)
		}
	}
}
