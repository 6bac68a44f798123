package httpapi

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/telemetry"
)

// maxLoggedQuery caps the TraceQL query an access log line may carry.
const maxLoggedQuery = 256

// observe measures and logs every request: one access log line (request id,
// method, route, status, duration, tenant, time spent in Tempo, bytes; the
// TraceQL query only when logQueries is set, capped, and otherwise just its
// length) and the request metrics. It renders errors itself (c.Error) so
// that it sees the final status.
func observe(m *telemetry.Metrics, logger *slog.Logger, logQueries bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			m.InFlight.Inc()
			defer m.InFlight.Dec()
			// The request itself is replaced only after routing (attachTimer):
			// Echo routes on the original request, which readOnly may adjust.
			ctx, timer := telemetry.WithUpstreamTimer(c.Request().Context())
			c.Set(timerCtxKey, ctx)

			if err := next(c); err != nil {
				c.Error(err)
			}

			req, res := c.Request(), c.Response()
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			status := strconv.Itoa(res.Status)
			if span := trace.SpanFromContext(req.Context()); span.IsRecording() {
				span.SetName(req.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
			d := time.Since(start)
			m.Requests.WithLabelValues(route, req.Method, status).Inc()
			m.RequestDuration.WithLabelValues(route, req.Method, status).Observe(d.Seconds())

			attrs := []slog.Attr{
				slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
				slog.String("method", req.Method),
				slog.String("route", route),
				slog.Int("status", res.Status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.Float64("upstream_ms", float64(timer.Elapsed().Microseconds())/1000),
				slog.Int64("bytes", res.Size),
			}
			if p, ok := principal.FromContext(req.Context()); ok {
				attrs = append(attrs, slog.String("tenant", p.Tenants.OrgID()))
			}
			if q := queryQ(req.URL.RawQuery); q != "" {
				attrs = append(attrs, slog.Int("q_len", len(q)))
				if logQueries {
					attrs = append(attrs, slog.String("q", truncate(q, maxLoggedQuery)))
				}
			}
			logger.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
			return nil
		}
	}
}

// queryQ returns the q parameter of a raw query string, without parsing
// the query of the many requests that have none.
func queryQ(raw string) string {
	if raw == "" {
		return ""
	}
	return (&url.URL{RawQuery: raw}).Query().Get("q")
}

const timerCtxKey = "tracegate.upstreamTimerCtx"

// attachTimer moves the context observe prepared into the request, so the
// Tempo transport can add to the request's upstream timer.
func attachTimer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ctx, ok := c.Get(timerCtxKey).(context.Context); ok {
			c.SetRequest(c.Request().WithContext(ctx))
		}
		return next(c)
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
