package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/tracegate/tracegate"
	"github.com/tracegate/tracegate/gen/api"
)

// GetHealth implements api.StrictServerInterface.
func (s *Server) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Status: api.Ok}, nil
}

// GetOpenAPI implements api.StrictServerInterface.
func (s *Server) GetOpenAPI(context.Context, api.GetOpenAPIRequestObject) (api.GetOpenAPIResponseObject, error) {
	return api.GetOpenAPI200ApplicationyamlResponse{
		Body: bytes.NewReader(tracegate.OpenAPI), ContentLength: int64(len(tracegate.OpenAPI)),
	}, nil
}

// GetReference implements api.StrictServerInterface.
func (s *Server) GetReference(context.Context, api.GetReferenceRequestObject) (api.GetReferenceResponseObject, error) {
	return api.GetReference200TexthtmlResponse{
		Body:          bytes.NewReader(tracegate.Reference),
		ContentLength: int64(len(tracegate.Reference)),
		Headers:       api.GetReference200ResponseHeaders{ContentSecurityPolicy: tracegate.ReferenceCSP()},
	}, nil
}

// GetMetrics implements api.StrictServerInterface.
func (s *Server) GetMetrics(context.Context, api.GetMetricsRequestObject) (api.GetMetricsResponseObject, error) {
	text, err := s.metrics.Text()
	if err != nil {
		return nil, err
	}
	return api.GetMetrics200TextResponse(text), nil
}

// Check is the outcome of one readiness check.
type Check struct {
	Name string
	// OK is false when tracegate cannot serve because of this dependency.
	OK bool
	// Degraded is true when it serves, but not as it should (e.g. stale keys).
	Degraded bool
	Detail   string
}

// Checker is one dependency behind the readiness probe: internal/auth's
// Verifier (the signing keys) and internal/tempo's Client (Tempo) are.
type Checker interface {
	// Check reports whether tracegate can serve as far as this dependency
	// goes (ok), whether it serves but not as it should (degraded), and, for
	// the log only, why.
	Check(ctx context.Context) (ok, degraded bool, detail string)
}

// ReadinessOf returns an Options.Readiness that runs every checker, each
// as the check of its name, in the order of the names.
func ReadinessOf(checkers map[string]Checker) func(context.Context) []Check {
	names := slices.Sorted(maps.Keys(checkers))
	return func(ctx context.Context) []Check {
		checks := make([]Check, len(names))
		for i, name := range names {
			checks[i].Name = name
			checks[i].OK, checks[i].Degraded, checks[i].Detail = checkers[name].Check(ctx)
		}
		return checks
	}
}

// notReadyError is answered 503 by the readiness probe; it is not logged as
// a failure: the probe's answer is the report.
type notReadyError struct{ detail string }

func (e *notReadyError) Error() string { return "not ready: " + e.detail }

// GetReadiness implements api.StrictServerInterface. It answers check names
// and outcomes only: details can name addresses, users and files, and the
// probe needs no token, so they go to the log, once per change.
func (s *Server) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	var checks []Check
	if s.readiness != nil {
		checks = s.readiness(ctx)
	}
	s.logReadiness(ctx, checks)
	res := api.Readiness{Status: api.Ready, Checks: make([]api.ReadinessCheck, 0, len(checks))}
	var failing []string
	for _, c := range checks {
		res.Checks = append(res.Checks, api.ReadinessCheck{Name: c.Name, Ok: c.OK})
		switch {
		case !c.OK:
			failing = append(failing, c.Name)
		case c.Degraded:
			res.Status = api.Degraded
		}
	}
	if len(failing) > 0 {
		return nil, &notReadyError{detail: strings.Join(failing, ", ")}
	}
	return api.GetReadiness200JSONResponse(res), nil
}

// logReadiness logs each check whose outcome changed since the last probe,
// with its detail: a warning when it fails or is degraded.
func (s *Server) logReadiness(ctx context.Context, checks []Check) {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if s.lastReady == nil {
		s.lastReady = map[string]Check{}
	}
	for _, c := range checks {
		last, seen := s.lastReady[c.Name]
		s.lastReady[c.Name] = c
		if seen && last.OK == c.OK && last.Degraded == c.Degraded {
			continue
		}
		level := slog.LevelInfo
		if !c.OK || c.Degraded {
			level = slog.LevelWarn
		}
		s.logger.LogAttrs(ctx, level, "readiness check changed", slog.String("check", c.Name),
			slog.Bool("ok", c.OK), slog.Bool("degraded", c.Degraded), slog.String("detail", c.Detail))
	}
}
