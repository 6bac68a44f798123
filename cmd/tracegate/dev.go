package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/devseed"
	"github.com/tracegate/tracegate/internal/standin"
	"github.com/tracegate/tracegate/internal/telemetry"
)

const devBanner = "tracegate dev: NOT FOR PRODUCTION (in-memory Tempo stand-in, throwaway signing key, loopback only)"

// dev runs the gateway, an in-memory Tempo stand-in seeded with two tenants'
// traces, and a dev token issuer, all on loopback, and prints how to use them.
func dev(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "%s\n\nusage: tracegate dev [flags]\n\n", devBanner)
		fs.PrintDefaults()
	}
	listenAddr := fs.String("listen", "127.0.0.1:8080", "gateway address (also serves the dev JWKS under /dev/)")
	tempoAddr := fs.String("tempo-listen", "127.0.0.1:3200", "address of the Tempo stand-in's query API")
	otlpAddr := fs.String("otlp-listen", "127.0.0.1:4318", "address of the Tempo stand-in's OTLP/HTTP receiver")
	tokenTTL := fs.Duration("token-ttl", 12*time.Hour, "lifetime of the printed tokens")
	attrCheck := fs.Bool("attribute-check", false, "require every resource of a trace to carry "+devseed.TenantAttribute+" = the caller's tenant")
	sharedTempo := fs.Bool("shared-tempo", false, "store every tenant's traces in one Tempo tenant ("+devSharedTenant+") and tell tenants apart by "+devseed.TenantAttribute+" only, like a Tempo without multitenancy (implies --attribute-check)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	for _, a := range []string{*listenAddr, *tempoAddr, *otlpAddr} {
		if err := loopbackOnly(a); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gwLn, err := listen(ctx, *listenAddr)
	if err != nil {
		return err
	}
	tempoLn, err := listen(ctx, *tempoAddr)
	if err != nil {
		return err
	}
	otlpLn, err := listen(ctx, *otlpAddr)
	if err != nil {
		return err
	}

	tempo := standin.New(nil)
	for tenant, tds := range devseed.Traces(time.Now()) {
		if *sharedTempo {
			tenant = devSharedTenant
		}
		for _, td := range tds {
			if err := tempo.Ingest(tenant, td); err != nil {
				return fmt.Errorf("seed %s: %w", tenant, err)
			}
		}
	}

	base := "http://" + gwLn.Addr().String()
	issuer, err := devauth.NewIssuer(base+"/dev", "tracegate")
	if err != nil {
		return err
	}
	env := maps.Clone(environ)
	if env == nil {
		env = map[string]string{}
	}
	env[envPrefix+"TEMPO_URL"] = "http://" + tempoLn.Addr().String()
	env[envPrefix+"JWKS_URL"] = base + "/dev/jwks.json"
	env[envPrefix+"JWT_ISSUER"] = base + "/dev"
	env[envPrefix+"JWT_AUDIENCE"] = "tracegate"
	if *attrCheck || *sharedTempo {
		env[envPrefix+"TENANT_ATTRIBUTE"] = devseed.TenantAttribute
	}
	if *sharedTempo {
		env[envPrefix+"TEMPO_TENANT"] = devSharedTenant
	}
	cfg, err := parseConfig(env)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// The gateway fetches its keys from its own listener, so that listener
	// serves the JWKS before the gateway exists.
	var gateway atomic.Pointer[http.Handler]
	jwks := issuer.JWKS()
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dev/jwks.json" {
			jwks.ServeHTTP(w, r)
			return
		}
		if h := gateway.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	g, gctx := errgroup.WithContext(ctx)
	for ln, h := range map[net.Listener]http.Handler{gwLn: front, tempoLn: tempo.Handler(), otlpLn: tempo.OTLPHandler()} {
		g.Go(func() error { return serveHTTP(gctx, ln, h, logger, cfg.ShutdownTimeout) })
	}
	h, err := newGateway(gctx, cfg, &telemetry.Tracing{}, logger)
	if err != nil {
		cancel()
		return errors.Join(err, g.Wait())
	}
	gateway.Store(&h)

	if err := printWelcome(stdout, base, tempoLn.Addr(), otlpLn.Addr(), issuer, *tokenTTL, cfg.TenantAttribute, cfg.TempoTenant); err != nil {
		cancel()
		return errors.Join(err, g.Wait())
	}
	return g.Wait()
}

// loopbackOnly refuses addresses that are not on the loopback interface: dev
// mode hands out tokens to anyone who can reach it.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dev: %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dev: %q is not a loopback address; dev mode only listens on loopback", addr)
	}
	return nil
}

// devSharedTenant is the one Tempo tenant of `tracegate dev --shared-tempo`:
// what a Tempo without multitenancy calls every request's tenant.
const devSharedTenant = "single-tenant"

func printWelcome(w io.Writer, base string, tempoAddr, otlpAddr net.Addr, issuer *devauth.Issuer, ttl time.Duration, attribute, sharedTenant string) error {
	tokens := map[string]string{}
	for _, tenant := range []string{"acme", "globex"} {
		tok, err := issuer.Token("dev-user@"+tenant, ttl, map[string]any{"tenant_id": tenant, "scope": "traces:read"})
		if err != nil {
			return err
		}
		tokens[tenant] = tok
	}
	check := "off (turn on with --attribute-check)"
	if attribute != "" {
		check = "on: every resource must carry " + attribute + " = the caller's tenant"
	}
	ingestTenant := "acme"
	if sharedTenant != "" {
		check = "shared Tempo tenant " + sharedTenant + ": tenants are told apart by " + attribute + " only;\n" +
			"                  a trace shows only the caller's resources (partial when it has others)"
		ingestTenant = sharedTenant + ", stamp " + attribute + " on every resource"
	}
	_, err := fmt.Fprintf(w, `
%s

  API             %[2]s/api/v1
  API reference   %[2]s/docs
  Tempo API       http://%[3]s        (in-memory stand-in; X-Scope-OrgID required)
  OTLP/HTTP       http://%[4]s/v1/traces   (send your app's traces; header X-Scope-OrgID: %[11]s)
  Dev JWKS        %[2]s/dev/jwks.json  (issuer %[2]s/dev, audience tracegate)
  Attribute check %[5]s

Tokens (valid %[6]s):
  acme    %[7]s
  globex  %[8]s

Try:
  # acme reads its own trace (200, OTLP/JSON)
  curl -s -H 'Authorization: Bearer %[7]s' %[2]s/api/v1/traces/%[9]s

  # acme asks for globex's trace (404, as if it did not exist)
  curl -s -H 'Authorization: Bearer %[7]s' %[2]s/api/v1/traces/%[10]s

  # acme searches its traces with TraceQL (200: the failed login)
  curl -s -H 'Authorization: Bearer %[7]s' '%[2]s/api/v1/traces?q=%%7B%%20status%%20%%3D%%20error%%20%%7D'

`, devBanner, base, tempoAddr, otlpAddr, check, ttl, tokens["acme"], tokens["globex"], devseed.AcmeCheckout, devseed.GlobexReport, ingestTenant)
	return err
}
