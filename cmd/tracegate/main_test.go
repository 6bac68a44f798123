package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestEndToEnd drives the whole binary path: config from an environ map, JWKS
// over HTTP, tokens really signed, Tempo over HTTP.
func TestEndToEnd(t *testing.T) {
	iss, jwksURL := newIssuer(t)
	tempoSrv, ft := newTempo(t)

	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwksURL,
		"TRACEGATE_JWT_ISSUER":       "http://idp.test",
		"TRACEGATE_JWT_AUDIENCE":     "tracegate",
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
	})
	token := func(tenant string) string {
		tok, err := iss.Token("user@"+tenant, time.Hour, map[string]any{"tenant_id": tenant})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	acme, globex := token("acme"), token("globex")

	t.Run("own trace is returned whole", func(t *testing.T) {
		status, _, body := get(t, base+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", acme, nil)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		if err != nil || td.SpanCount() != 9 {
			t.Fatalf("spans %d, err %v", td.SpanCount(), err)
		}
	})
	t.Run("short upper-case id", func(t *testing.T) {
		status, _, body := get(t, base+"/api/v1/traces/A1B2C3D4E5F6071", acme, nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"traceId":"00000000000000000a1b2c3d4e5f6071"`) {
			t.Fatalf("status %d: %.200s", status, body)
		}
	})
	t.Run("another tenant's trace is 404", func(t *testing.T) {
		status, _, body := get(t, base+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", globex, nil)
		if status != http.StatusNotFound {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	t.Run("mis-routed trace is caught by the attribute check", func(t *testing.T) {
		status, _, body := get(t, base+"/api/v1/traces/d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60", acme, nil)
		if status != http.StatusNotFound {
			t.Fatalf("status %d: %s", status, body)
		}
		if l := logs.String(); !strings.Contains(l, `"reason":"tenant_attribute_mismatch"`) || !strings.Contains(l, `"trace_id":"d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60","found":"globex"`) {
			t.Errorf("no audit event for the mis-routed trace:\n%s", logs)
		}
	})
	t.Run("unknown id is 404", func(t *testing.T) {
		status, _, _ := get(t, base+"/api/v1/traces/0123456789abcdef0123456789abcdef", acme, nil)
		if status != http.StatusNotFound {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("client X-Scope-OrgID is not forwarded", func(t *testing.T) {
		ft.mu.Lock()
		ft.requests = nil
		ft.mu.Unlock()
		status, _, _ := get(t, base+"/api/v1/traces/5b8efff798038103d269b633813fc700", acme,
			map[string]string{"X-Scope-OrgID": "globex", "X-Forwarded-For": "1.2.3.4", "Cookie": "s=1"})
		if status != http.StatusNotFound {
			t.Fatalf("globex's trace with acme's token and a globex header: status %d", status)
		}
		ft.mu.Lock()
		defer ft.mu.Unlock()
		if len(ft.requests) != 1 {
			t.Fatalf("%d Tempo requests", len(ft.requests))
		}
		r := ft.requests[0]
		if got := r.Header.Values("X-Scope-Orgid"); len(got) != 1 || got[0] != "acme" {
			t.Errorf("Tempo got X-Scope-OrgID %q", got)
		}
		for _, h := range []string{"Authorization", "X-Forwarded-For", "Cookie"} {
			if r.Header.Get(h) != "" {
				t.Errorf("client header %s reached Tempo", h)
			}
		}
	})
	t.Run("no token is 401", func(t *testing.T) {
		status, h, _ := get(t, base+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", "", nil)
		if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Bearer realm="tracegate"` {
			t.Fatalf("status %d, WWW-Authenticate %q", status, h.Get("WWW-Authenticate"))
		}
	})
	t.Run("healthz", func(t *testing.T) {
		if status, _, _ := get(t, base+"/healthz", "", nil); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		status, _, body := get(t, base+"/readyz", "", nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"status":"ready"`) || !strings.Contains(string(body), `"name":"tempo","ok":true`) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		status, _, body := get(t, base+"/metrics", "", nil)
		for _, want := range []string{`tracegate_auth_decisions_total{decision="deny",reason="missing_token"} 1`, "tracegate_keys_age_seconds "} {
			if status != http.StatusOK || !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	if strings.Contains(logs.String(), acme) {
		t.Error("a token was logged")
	}
}

func TestTempoDown(t *testing.T) {
	iss, jwksURL := newIssuer(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens there any more
	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR": "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":   dead.URL,
		"TRACEGATE_JWKS_URL":    jwksURL,
	})
	tok, _ := iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"})
	if status, _, body := get(t, base+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", tok, nil); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d: %s", status, body)
	}
	if status, _, body := get(t, base+"/readyz", "", nil); status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"detail":"not ready: tempo"`) {
		t.Errorf("readyz with Tempo down: %d %s", status, body)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ map[string]string
		want    []string
	}{
		{"nothing set", map[string]string{}, []string{"TRACEGATE_TEMPO_URL", "TRACEGATE_JWKS_URL"}},
		{"bad values", map[string]string{
			"TRACEGATE_TEMPO_URL":     "tempo:3200",
			"TRACEGATE_JWKS_URL":      "https://idp.test/jwks",
			"TRACEGATE_TEMPO_TIMEOUT": "soon",
		}, []string{"TRACEGATE_TEMPO_URL", "TRACEGATE_TEMPO_TIMEOUT"}},
		{"two key sources", map[string]string{
			"TRACEGATE_TEMPO_URL": "http://tempo:3200",
			"TRACEGATE_JWKS_URL":  "https://idp.test/jwks",
			"TRACEGATE_JWKS_FILE": "/etc/jwks.json",
		}, []string{"exactly one", "TRACEGATE_JWKS_FILE"}},
		{"none algorithm", map[string]string{
			"TRACEGATE_TEMPO_URL":      "http://tempo:3200",
			"TRACEGATE_JWKS_URL":       "https://idp.test/jwks",
			"TRACEGATE_JWT_ALGORITHMS": "none",
		}, []string{"none"}},
		{"shared Tempo without a tenant attribute", map[string]string{
			"TRACEGATE_TEMPO_URL":    "http://tempo:3200",
			"TRACEGATE_JWKS_URL":     "https://idp.test/jwks",
			"TRACEGATE_TEMPO_TENANT": "single-tenant",
		}, []string{"TRACEGATE_TEMPO_TENANT needs TRACEGATE_TENANT_ATTRIBUTE"}},
		{"shared Tempo tenant Tempo would refuse", map[string]string{
			"TRACEGATE_TEMPO_URL":        "http://tempo:3200",
			"TRACEGATE_JWKS_URL":         "https://idp.test/jwks",
			"TRACEGATE_TEMPO_TENANT":     "a|b",
			"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
		}, []string{"TRACEGATE_TEMPO_TENANT: invalid tenant id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), []string{"serve"}, tc.environ, io.Discard)
			if err == nil {
				t.Fatal("run succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, nil, &out); err != nil || !strings.HasPrefix(out.String(), "tracegate ") {
		t.Errorf("version: %q, %v", out.String(), err)
	}
	if err := run(context.Background(), nil, nil, io.Discard); err == nil {
		t.Error("no command accepted")
	}
	if err := run(context.Background(), []string{"launch"}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "launch") {
		t.Errorf("unknown command: %v", err)
	}
}

// The binary's version is openapi.yaml's info.version, also for builds
// without linker flags (go run, go test).
func TestVersionIsTheSpecVersion(t *testing.T) {
	t.Parallel()
	spec, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if want := "tracegate " + spec.Info.Version + "\n"; out.String() != want || spec.Info.Version == "" {
		t.Errorf("version printed %q, openapi.yaml says %q", out.String(), want)
	}
	changelog, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil || !strings.Contains(string(changelog), "## "+spec.Info.Version) {
		t.Errorf("CHANGELOG.md has no section for %s", spec.Info.Version)
	}
}

// With federation on, a token granting two tenants reads both at once, and
// the attribute check accepts either tenant; without X-Tenant it must choose.
func TestFederation(t *testing.T) {
	iss, jwksURL := newIssuer(t)
	tempoSrv, rt := newTempo(t)
	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwksURL,
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
		"TRACEGATE_ALLOW_FEDERATION": "true",
	})
	both, _ := iss.Token("u", time.Hour, map[string]any{"tenant_id": []string{"acme", "globex"}})
	acmeOnly, _ := iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"})
	fed := map[string]string{"X-Tenant": "acme, globex"}
	for _, id := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "5b8efff798038103d269b633813fc700"} {
		if status, _, body := get(t, base+"/api/v1/traces/"+id, both, fed); status != http.StatusOK {
			t.Errorf("federated read of %s: %d %s", id, status, body)
		}
	}
	rt.mu.Lock()
	org := rt.requests[len(rt.requests)-1].Header.Get("X-Scope-OrgID")
	rt.mu.Unlock()
	if org != "acme|globex" {
		t.Errorf("Tempo asked as %q, want acme|globex", org)
	}
	if status, _, _ := get(t, base+"/api/v1/traces/5b8efff798038103d269b633813fc700", both, nil); status != http.StatusBadRequest {
		t.Errorf("two tenants, no X-Tenant: %d, want 400", status)
	}
	if status, _, _ := get(t, base+"/api/v1/traces/5b8efff798038103d269b633813fc700", both, map[string]string{"X-Tenant": "acme"}); status != http.StatusNotFound {
		t.Errorf("globex's trace read as acme: %d, want 404", status)
	}
	if status, _, _ := get(t, base+"/api/v1/traces/5b8efff798038103d269b633813fc700", acmeOnly, fed); status != http.StatusForbidden {
		t.Errorf("federating a tenant the token does not grant: %d, want 403", status)
	}
}
