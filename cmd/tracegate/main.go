// Command tracegate serves traces from Grafana Tempo to web frontends, one
// tenant at a time, for callers holding a verified JWT.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"golang.org/x/sync/errgroup"

	"github.com/tracegate/tracegate/gen/api"
	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/httpapi"
	"github.com/tracegate/tracegate/internal/limits"
	"github.com/tracegate/tracegate/internal/redact"
	"github.com/tracegate/tracegate/internal/telemetry"
	"github.com/tracegate/tracegate/internal/tempo"
	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
	"github.com/tracegate/tracegate/web"
)

const usage = `usage: tracegate <command>

commands:
  serve     run the gateway (configured by TRACEGATE_* environment variables)
  dev       run a self-contained development setup: gateway, in-memory Tempo
            stand-in, throwaway signing key (NOT FOR PRODUCTION; dev -h for flags)
  healthcheck  probe /readyz of the tracegate on this host (container health checks)
  config    --list: every setting with its default; --check: check the environment
  version   print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], env.ToMap(os.Environ()), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tracegate:", err)
		os.Exit(1)
	}
}

// run is tracegate's whole program, testable: it reads nothing global.
func run(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, environ, stdout)
	case "dev":
		return dev(ctx, args[1:], environ, stdout)
	case "healthcheck":
		return healthcheck(ctx, args[1:], environ, stdout)
	case "config":
		return configCommand(args[1:], environ, stdout)
	case "version":
		_, err := fmt.Fprintln(stdout, "tracegate", version())
		return err
	case "help", "-h", "--help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	fmt.Fprint(stdout, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// version is tracegate's version: the version of the API contract it was
// built from, so the two can never disagree.
func version() string {
	spec, err := api.GetSpec()
	if err != nil {
		return "unknown"
	}
	return spec.Info.Version
}

func serve(ctx context.Context, environ map[string]string, stdout io.Writer) error {
	cfg, err := parseConfig(environ)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tracing, err := telemetry.SetupTracing(ctx, environ, version())
	if err != nil {
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(shutdownCtx); err != nil {
			logger.Warn("flushing traces failed", slog.Any("error", err))
		}
	}()
	warnUnpinned(ctx, cfg, logger)
	gw, err := newHandlers(ctx, cfg, tracing, logger)
	if err != nil {
		return err
	}
	tlsConfig, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	ln, err := listen(ctx, cfg.ListenAddr)
	if err != nil {
		return err
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	var adminLn net.Listener
	if gw.operations != nil {
		if adminLn, err = listen(ctx, cfg.AdminListenAddr); err != nil {
			ln.Close()
			return err
		}
		if tlsConfig != nil {
			adminLn = tls.NewListener(adminLn, tlsConfig)
		}
	}
	attrs := []any{slog.String("addr", ln.Addr().String()), slog.Bool("tls", tlsConfig != nil),
		slog.String("version", version()), slog.String("tempo_url", redact.URL(cfg.TempoURL))}
	if adminLn != nil {
		attrs = append(attrs, slog.String("admin_addr", adminLn.Addr().String()))
	}
	logger.InfoContext(ctx, "listening", attrs...)
	if adminLn == nil {
		return serveHTTP(ctx, ln, gw.api, logger, cfg.ShutdownTimeout)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveHTTP(gctx, ln, gw.api, logger, cfg.ShutdownTimeout) })
	g.Go(func() error { return serveHTTP(gctx, adminLn, gw.operations, logger, cfg.ShutdownTimeout) })
	return g.Wait()
}

// warnUnpinned warns, one line each, when tokens are not pinned to an
// audience or an issuer, and says what that lets through.
func warnUnpinned(ctx context.Context, cfg config, logger *slog.Logger) {
	if cfg.JWTAudience == "" {
		logger.WarnContext(ctx, envPrefix+"JWT_AUDIENCE is not set: any token of the key source is accepted, "+
			"including ID tokens and access tokens issued for other APIs; set it to the audience of tracegate's tokens")
	}
	if cfg.JWTIssuer == "" && cfg.OIDCIssuerURL == "" {
		logger.WarnContext(ctx, envPrefix+"JWT_ISSUER is not set: tokens with any iss (or none) are accepted "+
			"from whoever holds a key of the key source; set it to the identity provider's issuer")
	}
}

// The handlers read through the domain, the only place that filters by
// tenant: the Repository and the /tempo mount's Compat are what they take.
// Nothing below them may be (TestOnlyTheDomainServesTheHandlers).
var (
	_ httpapi.TraceReader = (*traces.Repository)(nil)
	_ httpapi.TempoReader = (*traces.Compat)(nil)
)

// gateway is tracegate's HTTP surface: api serves everything, or, with an
// admin listener, everything but the operations routes, which operations
// then serves. tempo is the Tempo adapter, whose conversion memory the tests
// watch.
type gateway struct {
	api, operations http.Handler
	tempo           *tempo.Client
}

// newGateway wires tracegate's handler from cfg, with every route on it
// (the development setup). Background work (the JWKS refresh) stops when
// ctx ends.
func newGateway(ctx context.Context, cfg config, tracing *telemetry.Tracing, logger *slog.Logger) (http.Handler, error) {
	cfg.AdminListenAddr = ""
	gw, err := newHandlers(ctx, cfg, tracing, logger)
	return gw.api, err
}

// newHandlers wires tracegate's handlers from cfg. Background work (the
// JWKS refresh) stops when ctx ends.
func newHandlers(ctx context.Context, cfg config, tracing *telemetry.Tracing, logger *slog.Logger) (gateway, error) {
	metrics := telemetry.New()
	keyHTTP := &http.Client{Timeout: 10 * time.Second, Transport: metrics.InstrumentKeyFetches(http.DefaultTransport.(*http.Transport).Clone())}
	verifier, err := auth.NewVerifier(ctx, auth.Config{
		JWKSURL:            cfg.JWKSURL,
		OIDCIssuerURL:      cfg.OIDCIssuerURL,
		JWKSFile:           cfg.JWKSFile,
		HMACSecretFile:     cfg.HMACSecretFile,
		Algorithms:         cfg.JWTAlgorithms,
		Issuer:             cfg.JWTIssuer,
		Audience:           cfg.JWTAudience,
		Leeway:             cfg.JWTLeeway,
		Type:               cfg.JWTType,
		RequiredScope:      cfg.RequiredScope,
		AllowedClientIDs:   cfg.JWTAllowedClientIDs,
		TenantClaim:        cfg.TenantClaim,
		TenantClaimPrefix:  cfg.TenantClaimPrefix,
		AllowFederation:    cfg.AllowFederation,
		RefreshInterval:    cfg.JWKSRefreshInterval,
		MinRefetchInterval: cfg.JWKSMinRefetchInterval,
	}, keyHTTP, logger)
	if err != nil {
		return gateway{}, err
	}
	if err := metrics.WatchAuth(auth.Reasons(), verifier.KeysAge); err != nil {
		return gateway{}, err
	}
	tempoTransport, err := tempo.NewTransport(tempo.TransportConfig{
		Compression:           cfg.TempoCompression,
		CAFile:                cfg.TempoCAFile,
		ClientCertFile:        cfg.TempoClientCertFile,
		ClientKeyFile:         cfg.TempoClientKeyFile,
		BasicAuthUser:         cfg.TempoBasicAuthUser,
		BasicAuthPasswordFile: cfg.TempoBasicAuthPasswordFile,
		BearerTokenFile:       cfg.TempoBearerTokenFile,
	})
	if err != nil {
		return gateway{}, fmt.Errorf("%sTEMPO_*: %w", envPrefix, err)
	}
	tempoHTTP := &http.Client{Transport: tracing.Transport(metrics.InstrumentTempo(tempoTransport))}
	upstream, err := tempo.New(cfg.TempoURL, tempoHTTP, cfg.TempoTimeout, cfg.TempoMaxResponseBytes, cfg.MaxConversionBytes)
	if err != nil {
		return gateway{}, err
	}
	tempoTenant, _ := tenant.Parse(cfg.TempoTenant) // checked by parseConfig; the zero ID when unset
	repo, err := traces.NewRepository(upstream, traces.Config{
		TenantAttribute: cfg.TenantAttribute,
		TempoTenant:     tempoTenant,
		RecentWindow:    cfg.SearchRecentWindow,
		MaxRange:        cfg.SearchMaxRange,
	}, logger)
	if err != nil {
		return gateway{}, fmt.Errorf("%sTENANT_ATTRIBUTE: %w", envPrefix, err)
	}
	readiness := httpapi.ReadinessOf(map[string]httpapi.Checker{"keys": verifier, "tempo": upstream})
	var ui http.Handler
	if cfg.UI {
		ui = web.Handler()
	}
	opts := httpapi.Options{
		UI:                ui,
		CORSOrigins:       cfg.CORSOrigins,
		Readiness:         readiness,
		LogQueries:        cfg.LogQueries,
		ClientIPRate:      limits.NewRate(cfg.RateLimitClientIP, cfg.RateLimitClientIPBurst),
		TenantRate:        limits.NewRate(cfg.RateLimitTenant, cfg.RateLimitTenantBurst),
		TenantConcurrency: limits.NewConcurrency(cfg.TenantMaxConcurrency),
		Tempo:             traces.NewCompat(repo, upstream),
		WriteTimeout:      cfg.WriteTimeout,
	}
	if cfg.AdminListenAddr == "" {
		e, err := httpapi.New(repo, verifier.Middleware(), metrics, logger, opts)
		if err != nil {
			return gateway{}, err
		}
		return gateway{api: tracing.Handler(e), tempo: upstream}, nil
	}
	opts.Routes = httpapi.APIRoutes
	e, err := httpapi.New(repo, verifier.Middleware(), metrics, logger, opts)
	if err != nil {
		return gateway{}, err
	}
	// Probes and scrapers: no CORS, no limits (they come from inside).
	ops, err := httpapi.New(repo, verifier.Middleware(), metrics, logger, httpapi.Options{
		Readiness: readiness, Routes: httpapi.OperationsRoutes, WriteTimeout: cfg.WriteTimeout,
	})
	if err != nil {
		return gateway{}, err
	}
	return gateway{api: tracing.Handler(e), operations: ops, tempo: upstream}, nil
}

// serverTLS returns the TLS configuration for serving, or nil for plain HTTP.
func serverTLS(cfg config) (*tls.Config, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%sTLS_CERT_FILE/%sTLS_KEY_FILE: %w", envPrefix, envPrefix, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

func listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serveHTTP serves h on ln until ctx ends, then lets in-flight requests finish
// within shutdownTimeout.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}
