// Package httpapi is tracegate's HTTP surface: it implements the strict-server
// interface generated from openapi.yaml, wires authentication and the OpenAPI
// request validator in front of it, and renders every error as RFC 9457
// problem+json in one place.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	oapimw "github.com/oapi-codegen/echo-middleware"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/limits"
	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/telemetry"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// TraceReader is what the handlers need; traces.Repository implements it
// and documents the error contracts.
type TraceReader interface {
	WithTrace(ctx context.Context, t tenant.Set, id traces.ID, r traces.TimeRange, fn func(traces.Trace) error) error
	Search(ctx context.Context, t tenant.Set, q traces.SearchQuery) ([]traces.TraceSummary, error)
	Tags(ctx context.Context, t tenant.Set, scope string, r traces.TimeRange) ([]traces.TagScope, error)
	TagValues(ctx context.Context, t tenant.Set, tag, q string, r traces.TimeRange) ([]traces.TagValue, error)
}

// Server implements api.StrictServerInterface.
type Server struct {
	traces    TraceReader
	tempo     TempoReader
	metrics   *telemetry.Metrics
	readiness func(context.Context) []Check
	logger    *slog.Logger

	readyMu   sync.Mutex
	lastReady map[string]Check // by name, as last logged
}

// Options are the optional settings of New.
type Options struct {
	// CORSOrigins lists the origins allowed to call the API from a browser;
	// empty means no cross-origin access.
	CORSOrigins []string
	// Readiness runs the checks behind GET /readyz; nil means always ready.
	Readiness func(context.Context) []Check
	// ClientIPRate limits requests per client address before authentication;
	// TenantRate and TenantConcurrency limit each tenant after it. nil: no limit.
	ClientIPRate      *limits.Rate
	TenantRate        *limits.Rate
	TenantConcurrency *limits.Concurrency
	// LogQueries puts the TraceQL query (capped) into access log lines;
	// otherwise only its length is logged.
	LogQueries bool
	// Tempo serves the Tempo-compatible mount (/tempo); nil answers its
	// routes 500 (a wiring bug).
	Tempo TempoReader
	// UI, when set, serves the trace explorer under /ui/ (a public route: the
	// page holds no data; it calls the API with the user's token).
	UI http.Handler
	// WriteTimeout is how long a client may take to receive a response,
	// from its first byte; 0 means no limit.
	WriteTimeout time.Duration
	// Routes selects what the handler serves (default: everything).
	Routes Routes
}

// Routes selects the routes a handler serves; the others answer 404.
type Routes int

const (
	// AllRoutes serves the API and the operations routes.
	AllRoutes Routes = iota
	// APIRoutes serves everything but the operations routes, which another
	// handler (OperationsRoutes) serves on a listener of their own.
	APIRoutes
	// OperationsRoutes serves only /metrics, /healthz and /readyz.
	OperationsRoutes
)

// operationsRoutes are the paths of the operations routes (any method).
var operationsRoutes = map[string]bool{"/metrics": true, "/healthz": true, "/readyz": true}

// only answers 404 for the routes that routes does not serve, before CORS
// or authentication see the request.
func only(routes Routes) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if routes == AllRoutes {
			return next
		}
		return func(c echo.Context) error {
			if operationsRoutes[c.Path()] != (routes == OperationsRoutes) {
				return echo.ErrNotFound
			}
			return next(c)
		}
	}
}

var _ api.StrictServerInterface = (*Server)(nil)

// errNoTenant means the authentication middleware did not run for a route that
// needs a tenant: a wiring bug, answered 500 (fail closed).
var errNoTenant = errors.New("no tenant in request context")

// New returns the HTTP handler of tracegate. authenticate runs on every route
// whose operation in openapi.yaml does not declare `security: []`, before the
// request is validated against the spec, so an unauthenticated request is
// answered 401 whatever its parameters. Every access decision is counted in
// m and every denial written to logger as an audit event.
func New(tr TraceReader, authenticate echo.MiddlewareFunc, m *telemetry.Metrics, logger *slog.Logger, opts Options) (*echo.Echo, error) {
	spec, err := api.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	public := publicRoutes(spec)
	if opts.UI != nil {
		public[http.MethodGet+" "+uiPath] = true
		public[http.MethodGet+" "+uiPath+"/*"] = true
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(logger, m)

	// observe runs before routing too, so that it sees every request (405s
	// included); the route template is known once next returns.
	e.Pre(writeDeadline(opts.WriteTimeout, logger), requestID, securityHeaders, observe(m, logger, opts.LogQueries), readOnly)
	// Traces are megabytes of JSON: compress for clients that accept it.
	e.Use(only(opts.Routes), attachTimer, middleware.Recover(), middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}))
	if len(opts.CORSOrigins) > 0 {
		// Before authentication: a browser's preflight carries no token.
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  opts.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodHead, http.MethodOptions},
			AllowHeaders:  []string{echo.HeaderAuthorization, "X-Tenant", echo.HeaderXRequestID},
			ExposeHeaders: []string{echo.HeaderXRequestID, echo.HeaderWWWAuthenticate, "Retry-After"},
			MaxAge:        600,
		}))
	}
	e.Use(skip(public, limitClientIP(opts.ClientIPRate, m)), skip(public, whoamiChoosesLater(authenticate)), skip(public, countAllowed(m)),
		skip(public, limitTenant(opts.TenantRate, opts.TenantConcurrency, m)))
	e.Use(tempoParams(spec, logger))
	validator, err := requestValidator(spec, &oapimw.Options{
		// Authentication already ran (tracegate's own middleware above).
		Options:      openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		ErrorHandler: validationError(emptyLastParams(spec)),
	})
	if err != nil {
		return nil, fmt.Errorf("request validator: %w", err)
	}
	e.Use(skip(public, validator))

	api.RegisterHandlers(e, api.NewStrictHandler(&Server{traces: tr, tempo: opts.Tempo, metrics: m, readiness: opts.Readiness, logger: logger}, nil))
	if opts.UI != nil {
		e.GET(uiPath, func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, uiPath+"/") })
		e.GET(uiPath+"/*", echo.WrapHandler(http.StripPrefix(uiPath, opts.UI)))
	}
	return e, nil
}

// uiPath is where Options.UI is served.
const uiPath = "/ui"

// publicRoutes lists, as Echo route keys, the operations that openapi.yaml
// marks `security: []`. Everything else requires a token (fail closed).
func publicRoutes(spec *openapi3.T) map[string]bool {
	public := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				public[method+" "+echoPath(path)] = true
			}
		}
	}
	return public
}

// echoPath turns an OpenAPI path template into Echo's form: {id} -> :id.
func echoPath(p string) string {
	p = strings.ReplaceAll(p, "{", ":")
	return strings.ReplaceAll(p, "}", "")
}

// skip runs mw except on the routes in public. It keys on the matched route,
// not on a path prefix, so an unknown route is never public.
func skip(public map[string]bool, mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withMW := mw(next)
		return func(c echo.Context) error {
			if public[c.Request().Method+" "+c.Path()] {
				return next(c)
			}
			return withMW(c)
		}
	}
}

// whoamiRoute is the one route a token granting several tenants may call
// without choosing one: a frontend builds its tenant picker from the answer.
const whoamiRoute = "/api/v1/whoami"

// whoamiChoosesLater runs authenticate and, for GET /api/v1/whoami only, lets
// a valid token that grants several tenants through without X-Tenant: the
// principal then has no tenant selected, so nothing can read as anyone.
// Every other route, and every other authentication failure, keeps its error.
func whoamiChoosesLater(authenticate echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withAuth := authenticate(next)
		return func(c echo.Context) error {
			err := withAuth(c)
			if err == nil || c.Path() != whoamiRoute {
				return err
			}
			var he *echo.HTTPError
			var r auditReason
			if !errors.As(err, &he) || he.Code != http.StatusBadRequest || !errors.As(err, &r) || r.AuditReason() != "choose_tenant" {
				return err
			}
			p, ok := principal.FromContext(c.Request().Context())
			if !ok || p.Tenants.Len() != 0 || len(p.Granted) < 2 {
				return err
			}
			return next(c)
		}
	}
}

// countAllowed counts the requests authentication let through.
func countAllowed(m *telemetry.Metrics) echo.MiddlewareFunc {
	allowed := m.AuthDecisions.WithLabelValues(telemetry.Allow, "ok")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			allowed.Inc()
			return next(c)
		}
	}
}

// readOnly runs before routing: tracegate only reads, so any method but GET,
// HEAD and OPTIONS is answered 405 before authentication or routing see it,
// and HEAD is served as GET (net/http sends no body for HEAD).
func readOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch req := c.Request(); req.Method {
		case http.MethodGet, http.MethodOptions:
		case http.MethodHead:
			req.Method = http.MethodGet
		default:
			if req.URL.Path+"/" == tempoPrefix || strings.HasPrefix(req.URL.Path, tempoPrefix) {
				// The mount offers Tempo's read paths only: its write paths
				// (and any other method) do not exist here.
				return echo.ErrNotFound
			}
			c.Response().Header().Set(echo.HeaderAllow, "GET, HEAD, OPTIONS")
			return &echo.HTTPError{Code: http.StatusMethodNotAllowed, Message: "method not allowed: the API is read-only"}
		}
		return next(c)
	}
}

// requestID honours a well-formed incoming X-Request-Id and otherwise makes one.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case r == '-', r == '_', r == '.', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// securityHeaders marks every response as private to the token that asked.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Vary", "Authorization")
		h.Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// validationError turns the OpenAPI validator's error into a short message
// naming the parameter, without echoing the caller's value. emptyLast maps a
// path such as "/api/v1/traces/" to the parameter its empty last segment
// stands for ("trace_id"): such a request is a malformed one (400), not an
// unknown route.
func validationError(emptyLast map[string]string) func(echo.Context, *echo.HTTPError) error {
	return func(c echo.Context, err *echo.HTTPError) error {
		if name, ok := emptyLast[c.Request().URL.Path]; ok && err.Code == http.StatusNotFound {
			return &echo.HTTPError{
				Code:     http.StatusBadRequest,
				Message:  fmt.Sprintf("invalid path parameter %q: must not be empty", name),
				Internal: err,
			}
		}
		return parameterError(err)
	}
}

// emptyLastParams lists, for every spec path ending in a parameter, the path
// with that segment empty.
func emptyLastParams(spec *openapi3.T) map[string]string {
	m := map[string]string{}
	for path := range spec.Paths.Map() {
		i := strings.LastIndex(path, "/{")
		if i >= 0 && strings.HasSuffix(path, "}") {
			m[path[:i+1]] = path[i+2 : len(path)-1]
		}
	}
	return m
}

// parameterError names the parameter of a validator error.
func parameterError(err *echo.HTTPError) error {
	var re *openapi3filter.RequestError
	if !errors.As(err.Internal, &re) || re.Parameter == nil {
		return err
	}
	reason := re.Reason
	var se *openapi3.SchemaError
	switch {
	case errors.As(re.Err, &se):
		reason = se.Reason
	case re.Err != nil:
		reason = re.Err.Error()
	}
	return &echo.HTTPError{
		Code:     http.StatusBadRequest,
		Message:  fmt.Sprintf("invalid %s parameter %q: %s", re.Parameter.In, re.Parameter.Name, reason),
		Internal: err,
	}
}
