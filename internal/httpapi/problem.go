package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/telemetry"
	"github.com/tracegate/tracegate/internal/traces"
)

// retryAfterSeconds is sent with every 429.
const retryAfterSeconds = "5"

// problemFor maps an error to a status and a detail that is safe to show: the
// one table of tracegate's error contract.
func problemFor(err error) (status int, detail string) {
	var (
		qe *traces.QueryError
		he *echo.HTTPError
		nr *notReadyError
		le *limitError
	)
	switch {
	case errors.As(err, &le):
		return http.StatusTooManyRequests, le.Error()
	case errors.As(err, &nr):
		return http.StatusServiceUnavailable, nr.Error()
	case errors.Is(err, traces.ErrInvalidID):
		return http.StatusBadRequest, "invalid trace id: must be 1 to 32 hexadecimal characters"
	case errors.As(err, &qe):
		return http.StatusBadRequest, qe.Error()
	case errors.Is(err, traces.ErrNotFound):
		return http.StatusNotFound, "trace not found"
	case errors.Is(err, traces.ErrRateLimited):
		return http.StatusTooManyRequests, "Tempo is overloaded; retry later"
	case errors.Is(err, traces.ErrUpstream):
		return http.StatusBadGateway, "Tempo answered with an error"
	case errors.Is(err, traces.ErrUnavailable):
		return http.StatusServiceUnavailable, "Tempo is unreachable"
	case errors.Is(err, traces.ErrTimeout):
		return http.StatusGatewayTimeout, "Tempo did not answer in time"
	case errors.As(err, &he): // auth middleware, request validator, router
		if msg, ok := he.Message.(string); ok && he.Code < http.StatusInternalServerError {
			return he.Code, msg
		}
		return he.Code, http.StatusText(he.Code)
	}
	return http.StatusInternalServerError, "internal error"
}

// hiddenTraceReason audits a trace that the tenant-attribute check hid
// (mis-routed into the caller's Tempo tenant). It is logged, never counted:
// the caller was answered 404 just as for a trace that does not exist, and
// a public counter that rose for one and not the other would tell them apart.
const hiddenTraceReason = "tenant_attribute_mismatch"

// auditReason is implemented by authentication errors (internal/auth) and
// names why access was denied from a fixed vocabulary.
type auditReason interface{ AuditReason() string }

// denialReason returns the audit reason of a denial (401, 403, or a trace
// hidden by the tenant-attribute check), and false for any other error.
func denialReason(status int, err error) (string, bool) {
	var r auditReason
	switch {
	case errors.Is(err, traces.ErrTenantMismatch):
		return hiddenTraceReason, true
	case status != http.StatusUnauthorized && status != http.StatusForbidden &&
		!(status == http.StatusBadRequest && errors.As(err, &r)):
		return "", false
	case errors.As(err, &r):
		return r.AuditReason(), true
	case status == http.StatusUnauthorized:
		return "unauthenticated", true
	}
	return "forbidden", true
}

// audit writes one structured event per denied request and counts it
// (except a hidden trace, see hiddenTraceReason). It
// never logs the token: only the route, the reason code, the tenants and a
// hash of the subject when they are known, and the request id.
func audit(c echo.Context, logger *slog.Logger, m *telemetry.Metrics, status int, reason string, err error) {
	if reason != hiddenTraceReason {
		m.AuthDecisions.WithLabelValues(telemetry.Deny, reason).Inc()
	}
	attrs := []slog.Attr{
		slog.String("route", c.Path()),
		slog.Int("status", status),
		slog.String("reason", reason),
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
	}
	if p, ok := principal.FromContext(c.Request().Context()); ok {
		sum := sha256.Sum256([]byte(p.Subject))
		tenants := p.Tenants.OrgID()
		if tenants == "" { // refused before a tenant was selected: what the token grants
			granted := make([]string, len(p.Granted))
			for i, id := range p.Granted {
				granted[i] = id.String()
			}
			tenants = strings.Join(granted, ",")
		}
		attrs = append(attrs,
			slog.String("tenant", tenants),
			slog.String("subject_hash", hex.EncodeToString(sum[:8])))
	}
	var mismatch *traces.MismatchError
	if errors.As(err, &mismatch) {
		attrs = append(attrs, slog.String("trace_id", mismatch.TraceID.String()), slog.String("found", mismatch.Found))
	}
	if ctx := c.Request().Context(); logger.Enabled(ctx, slog.LevelDebug) {
		if detail, ok := denialDetail(c.Request(), err); ok {
			attrs = append(attrs, slog.String("detail", detail))
		}
	}
	logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "access denied", attrs...)
}

// detailedDenial is implemented by authentication errors (internal/auth):
// their text is the verifier's detailed reason, such as the issuer it
// expected and the one the token names.
type detailedDenial interface {
	AuditReason() string
	error
}

// denialDetail returns the verifier's detailed reason for a denial, for
// debug-level audit events. The verifier never quotes the token; as a second
// line of defence a detail holding any part of the request's token is
// withheld.
func denialDetail(req *http.Request, err error) (string, bool) {
	var d detailedDenial
	if !errors.As(err, &d) {
		return "", false
	}
	detail := d.Error()
	_, token, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	for part := range strings.SplitSeq(strings.TrimSpace(token), ".") {
		if len(part) >= 8 && strings.Contains(detail, part) {
			return "(withheld: it quotes the token)", true
		}
	}
	return detail, true
}

// errorHandler is Echo's HTTPErrorHandler: every error of every route is
// rendered here as application/problem+json, denials are audited here, and
// errors worth an operator's attention (5xx) are logged here, once.
func errorHandler(logger *slog.Logger, m *telemetry.Metrics) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		req, res := c.Request(), c.Response()
		status, detail := problemFor(err)
		if reason, ok := denialReason(status, err); ok {
			audit(c, logger, m, status, reason, err)
		}
		// A client that went away is not an operator's problem.
		var nr *notReadyError
		if status >= http.StatusInternalServerError && req.Context().Err() == nil && !errors.As(err, &nr) {
			logger.ErrorContext(req.Context(), "request failed",
				slog.String("route", c.Path()),
				slog.Int("status", status),
				slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
				slog.Any("error", err))
		}
		if res.Committed {
			return
		}
		var missing *missingTrace
		if errors.As(err, &missing) {
			_ = tempoAnswer(missing.answer).write(res)
			return
		}
		if status == http.StatusTooManyRequests {
			retry := retryAfterSeconds
			var le *limitError
			if errors.As(err, &le) {
				retry = le.retryAfterSeconds()
			}
			res.Header().Set("Retry-After", retry)
		}
		instance := res.Header().Get(echo.HeaderXRequestID)
		problem := api.Problem{
			Type:     "about:blank",
			Title:    http.StatusText(status),
			Status:   status,
			Detail:   &detail,
			Instance: &instance,
		}
		if strings.HasPrefix(req.URL.Path, tempoPrefix) {
			problem.Message = &detail // what Grafana shows of an error
		}
		body, mErr := json.Marshal(problem)
		if mErr != nil {
			body = fmt.Appendf(nil, `{"type":"about:blank","title":%q,"status":%d}`, http.StatusText(status), status)
		}
		res.Header().Set(echo.HeaderContentType, "application/problem+json")
		res.WriteHeader(status)
		if req.Method != http.MethodHead {
			_, _ = res.Write(body)
		}
	}
}
