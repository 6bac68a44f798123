package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/devseed"
	"github.com/tracegate/tracegate/internal/standin"
	"github.com/tracegate/tracegate/internal/telemetry"
	"github.com/tracegate/tracegate/web"
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
	corsDefault, corsFromEnv := environ[envPrefix+"CORS_ORIGINS"]
	if !corsFromEnv {
		corsDefault = devCORSOrigins
	}
	corsOrigins := fs.String("cors-origin", corsDefault, "comma-separated origins allowed to call the API from a browser (default: Vite's dev server; a set "+
		envPrefix+"CORS_ORIGINS replaces that default; \"\" turns CORS off)")
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
	env[envPrefix+"CORS_ORIGINS"] = *corsOrigins
	env[envPrefix+"UI"] = "true"
	cfg, err := parseConfig(env)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// The gateway fetches its keys from its own listener, so that listener
	// serves the JWKS before the gateway exists.
	var gateway atomic.Pointer[http.Handler]
	jwks := issuer.JWKS()
	devTokens := devTokenHandler(issuer, *tokenTTL)
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dev/jwks.json" {
			jwks.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/dev/tokens" || r.URL.Path == "/dev/token" || r.URL.Path == "/ui/"+web.DevTokensFile {
			devTokens.ServeHTTP(w, r)
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

	if err := printWelcome(stdout, base, tempoLn.Addr(), otlpLn.Addr(), issuer, *tokenTTL, cfg.TenantAttribute, cfg.TempoTenant, cfg.CORSOrigins); err != nil {
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

func printWelcome(w io.Writer, base string, tempoAddr, otlpAddr net.Addr, issuer *devauth.Issuer, ttl time.Duration, attribute, sharedTenant string, cors []string) error {
	tokens := map[string]string{}
	for _, tenant := range devTenants {
		tok, err := devToken(issuer, ttl, tenant)
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
	corsLine := "off (set --cors-origin)"
	if len(cors) > 0 {
		corsLine = strings.Join(cors, ", ") + "   (--cors-origin; " + envPrefix + "CORS_ORIGINS replaces the default)"
	}
	_, err := fmt.Fprintf(w, `
%s

  Trace explorer  %[2]s/ui/   (signed in as a dev tenant: %[2]s/ui/?tenant=acme)
  API             %[2]s/api/v1
  API reference   %[2]s/docs
  CORS origins    %[11]s
  Tempo API       http://%[3]s        (in-memory stand-in; X-Scope-OrgID required)
  OTLP/HTTP       http://%[4]s/v1/traces   (send your app's traces; header X-Scope-OrgID: %[12]s)
  Dev JWKS        %[2]s/dev/jwks.json  (issuer %[2]s/dev, audience tracegate)
  Dev tokens      %[2]s/dev/tokens  (one per dev tenant; mint others: %[2]s/dev/token?tenant=acme&tenant=globex&ttl=1h)
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

`, devBanner, base, tempoAddr, otlpAddr, check, ttl, tokens["acme"], tokens["globex"], devseed.AcmeCheckout, devseed.GlobexReport, corsLine, ingestTenant)
	return err
}

// devCORSOrigins are the default of --cors-origin: Vite's dev server, where a
// frontend under development usually runs.
const devCORSOrigins = "http://localhost:5173,http://127.0.0.1:5173"

// devTenants are the tenants of the seeded traces, in the order shown.
var devTenants = []string{"acme", "globex"}

// devToken signs a token for the dev user of one tenant (a string claim) or
// of several (an array claim: X-Tenant chooses).
func devToken(issuer *devauth.Issuer, ttl time.Duration, tenants ...string) (string, error) {
	var claim any = tenants
	if len(tenants) == 1 {
		claim = tenants[0]
	}
	return issuer.Token("dev-user@"+strings.Join(tenants, "+"), ttl, map[string]any{"tenant_id": claim, "scope": "traces:read"})
}

// devTokenHandler serves dev tokens, for the trace explorer's dev sign-in and
// for tests (dev mode only; `serve` has no such route):
//
//	GET /dev/tokens, /ui/dev.json                {"tokens":[{"tenant":"acme","token":"…"},…]}
//	GET /dev/token?tenant=a[&tenant=b][&ttl=1h]  {"token":"…"}; a negative ttl mints an expired one
//
// It answers only requests addressed to a loopback host name, so that a web
// page cannot fetch tokens through DNS rebinding, and sends no CORS headers,
// so that no other origin can read them.
func devTokenHandler(issuer *devauth.Issuer, ttl time.Duration) http.Handler {
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, status int, msg string) {
		writeJSON(w, status, map[string]any{"status": status, "detail": msg})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			fail(w, http.StatusMethodNotAllowed, "GET only")
			return
		}
		if loopbackOnly(r.Host) != nil {
			fail(w, http.StatusForbidden, "dev tokens are served to loopback host names only")
			return
		}
		if r.URL.Path != "/dev/token" { // the list, also where the explorer looks for it
			type entry struct {
				Tenant string `json:"tenant"`
				Token  string `json:"token"`
			}
			out := struct {
				Tokens []entry `json:"tokens"`
			}{}
			for _, t := range devTenants {
				tok, err := devToken(issuer, ttl, t)
				if err != nil {
					fail(w, http.StatusInternalServerError, err.Error())
					return
				}
				out.Tokens = append(out.Tokens, entry{t, tok})
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
		q := r.URL.Query()
		tenants := q["tenant"]
		if len(tenants) == 0 {
			fail(w, http.StatusBadRequest, "give at least one tenant parameter")
			return
		}
		d := ttl
		if s := q.Get("ttl"); s != "" {
			var err error
			if d, err = time.ParseDuration(s); err != nil {
				fail(w, http.StatusBadRequest, "ttl: "+err.Error())
				return
			}
		}
		tok, err := devToken(issuer, d, tenants...)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	})
}
