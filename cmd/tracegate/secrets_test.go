package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Bad URL settings are refused at startup, one line each, without echoing
// credentials; a JWKS URL may carry a query (Azure AD B2C).
func TestConfigURLs(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"TRACEGATE_TEMPO_URL": "http://tempo:3200",
		"TRACEGATE_JWKS_URL":  "https://idp.test/jwks",
	}
	tests := []struct {
		name   string
		change map[string]string
		want   []string // lines of the error; none: accepted
	}{
		{"space in the Tempo URL", map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200/ extra"},
			[]string{`TRACEGATE_TEMPO_URL: "http://tempo:3200/ extra" contains a space or control character`}},
		{"tab in the JWKS URL", map[string]string{"TRACEGATE_JWKS_URL": "https://idp.test/jwks\t"},
			[]string{`TRACEGATE_JWKS_URL: "https://idp.test/jwks\t" contains a space or control character`}},
		{"newline", map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200\n"}, []string{"TRACEGATE_TEMPO_URL", "control character"}},
		{"both bad, one line each", map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200?x=1", "TRACEGATE_JWKS_URL": "https://idp.test/ jwks"},
			[]string{"TRACEGATE_TEMPO_URL: \"http://tempo:3200?x=1\" must not have a query", "TRACEGATE_JWKS_URL: \"https://idp.test/ jwks\" contains a space"}},
		{"Tempo URL with a query", map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200/?orgId=1"}, []string{"TRACEGATE_TEMPO_URL", "must not have a query"}},
		{"Tempo URL with an empty query", map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200/?"}, []string{"TRACEGATE_TEMPO_URL", "must not have a query"}},
		{"Tempo URL with a fragment", map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200/#x"}, []string{"TRACEGATE_TEMPO_URL", "fragment"}},
		{"JWKS URL with a fragment", map[string]string{"TRACEGATE_JWKS_URL": "https://idp.test/jwks#k"}, []string{"TRACEGATE_JWKS_URL", "fragment"}},
		{"credentials are not echoed", map[string]string{"TRACEGATE_TEMPO_URL": "http://alice:s3cret@tempo:3200/ x"},
			[]string{`TRACEGATE_TEMPO_URL: "http://redacted@tempo:3200/ x"`}},
		{"Azure AD B2C keys with a policy query", map[string]string{
			"TRACEGATE_JWKS_URL": "https://tenant.b2clogin.com/tenant.onmicrosoft.com/discovery/v2.0/keys?p=b2c_1_signin",
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			environ := map[string]string{}
			for k, v := range base {
				environ[k] = v
			}
			for k, v := range tc.change {
				environ[k] = v
			}
			_, err := parseConfig(environ)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "alice") {
				t.Errorf("the error echoes credentials: %v", err)
			}
			if lines := strings.Count(err.Error(), "\n"); lines != len(tc.change) {
				t.Errorf("%d lines for %d bad settings:\n%v", lines, len(tc.change), err)
			}
		})
	}
}

// Credentials in TRACEGATE_TEMPO_URL never reach a log line or a response:
// not the startup line, not the errors of an unreachable Tempo (net/http
// quotes the URL with the user name), not /readyz.
func TestTempoCredentialsNotLogged(t *testing.T) {
	iss, jwksURL := newIssuer(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	tempoURL := strings.Replace(dead.URL, "http://", "http://alice:s3cret-pw@", 1)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR": "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":   tempoURL,
		"TRACEGATE_JWKS_URL":    jwksURL,
		"TRACEGATE_LOG_LEVEL":   "debug",
	})
	tok := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))
	var bodies []string
	for _, path := range []string{"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", "/api/v1/traces", "/readyz", "/metrics"} {
		_, _, body := get(t, base+path, tok, nil)
		bodies = append(bodies, string(body))
	}
	out := logs.String()
	for _, secret := range []string{"alice", "s3cret-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
		for _, b := range bodies {
			if strings.Contains(b, secret) {
				t.Errorf("a response holds %q: %s", secret, b)
			}
		}
	}
	for _, want := range []string{`"tempo_url":"http://redacted@127.0.0.1:`, `"msg":"readiness check changed","check":"tempo","ok":false`, `redacted@127.0.0.1:`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(bodies[2], `"detail":"not ready: tempo"`) || strings.Contains(bodies[2], "127.0.0.1") {
		t.Errorf("/readyz tells more than check names: %s", bodies[2])
	}
}

// Startup warns, one line each, when tokens are not pinned to an audience
// or an issuer, and not when they are.
func TestStartupWarnsUnpinnedTokens(t *testing.T) {
	_, jwksURL := newIssuer(t)
	tempoSrv, _ := newTempo(t)
	warnings := func(extra map[string]string) []string {
		environ := map[string]string{
			"TRACEGATE_LISTEN_ADDR": "127.0.0.1:0",
			"TRACEGATE_TEMPO_URL":   tempoSrv.URL,
			"TRACEGATE_JWKS_URL":    jwksURL,
		}
		for k, v := range extra {
			environ[k] = v
		}
		_, out := startTracegate(t, environ) // the warnings come before the listening line
		var warns []string
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var line struct{ Level, Msg string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Level == "WARN" {
				warns = append(warns, line.Msg)
			}
		}
		return warns
	}
	got := warnings(nil)
	if len(got) != 2 || !strings.HasPrefix(got[0], "TRACEGATE_JWT_AUDIENCE is not set: ") || !strings.Contains(got[0], "ID tokens") ||
		!strings.HasPrefix(got[1], "TRACEGATE_JWT_ISSUER is not set: ") {
		t.Errorf("warnings without audience and issuer: %q", got)
	}
	if got := warnings(map[string]string{"TRACEGATE_JWT_AUDIENCE": "tracegate", "TRACEGATE_JWT_ISSUER": "http://idp.test"}); len(got) != 0 {
		t.Errorf("warnings with both set: %q", got)
	}
}

// With TRACEGATE_ADMIN_LISTEN_ADDR, /metrics, /healthz and /readyz are
// served there and are 404 on the API listener, which serves the rest.
func TestAdminListener(t *testing.T) {
	iss, jwksURL := newIssuer(t)
	tempoSrv, _ := newTempo(t)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":       "127.0.0.1:0",
		"TRACEGATE_ADMIN_LISTEN_ADDR": "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":         tempoSrv.URL,
		"TRACEGATE_JWKS_URL":          jwksURL,
	})
	var line struct {
		AdminAddr string `json:"admin_addr"`
	}
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"listening"`) {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if line.AdminAddr == "" {
		t.Fatalf("no admin_addr in the listening line:\n%s", logs)
	}
	admin := "http://" + line.AdminAddr
	tok := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if status, _, body := get(t, base+path, "", nil); status != http.StatusNotFound || strings.Contains(string(body), "tracegate_") {
			t.Errorf("API listener %s: %d %.100s", path, status, body)
		}
		if status, _, _ := get(t, base+path, tok, nil); status != http.StatusNotFound {
			t.Errorf("API listener %s with a token: %d", path, status)
		}
		if status, _, _ := get(t, admin+path, "", nil); status != http.StatusOK {
			t.Errorf("admin listener %s: %d", path, status)
		}
	}
	if status, _, _ := get(t, base+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", tok, nil); status != http.StatusOK {
		t.Errorf("API listener, a trace: %d", status)
	}
	if status, _, _ := get(t, admin+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", tok, nil); status != http.StatusNotFound {
		t.Errorf("admin listener, a trace: %d", status)
	}
	// The admin listener's /metrics counts the API listener's requests.
	_, _, body := get(t, admin+"/metrics", "", nil)
	if !strings.Contains(string(body), `tracegate_http_requests_total{method="GET",route="/api/v1/traces/:trace_id",status="200"} 1`) {
		t.Errorf("admin /metrics does not count the API's requests:\n%s", body)
	}
	// The healthcheck command probes the admin listener when there is one.
	var out strings.Builder
	if err := run(context.Background(), []string{"healthcheck"}, map[string]string{
		"TRACEGATE_LISTEN_ADDR": strings.TrimPrefix(base, "http://"), "TRACEGATE_ADMIN_LISTEN_ADDR": line.AdminAddr,
	}, &out); err != nil {
		t.Errorf("healthcheck: %v %s", err, out.String())
	}
}

// scrape returns every series of /metrics that is not about time or the
// Go runtime (durations' buckets and sums, key age, go_*, process_*), by
// name and labels.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	_, _, body := get(t, url, "", nil)
	series := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "go_") || strings.HasPrefix(line, "process_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		name := line[:i]
		metric, _, _ := strings.Cut(name, "{")
		if strings.HasSuffix(metric, "_bucket") || strings.HasSuffix(metric, "_sum") || metric == "tracegate_keys_age_seconds" {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		series[name] = v
	}
	return series
}

func delta(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok {
			d[k] = -v
		}
	}
	return d
}

// The public /metrics must not tell a trace hidden by the tenant-attribute
// check (mis-routed into the caller's Tempo tenant, so Tempo answers 200)
// from a trace that does not exist (Tempo answers 404): both are 404 to the
// caller, and every counter moves the same for both.
func TestMetricsDoNotTellHiddenFromMissing(t *testing.T) {
	iss, jwksURL := newIssuer(t)
	tempoSrv, _ := newTempo(t)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwksURL,
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
	})
	acme := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))
	const misrouted, missing = "d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60", "0123456789abcdef0123456789abcdef"
	probe := func(id string) map[string]float64 {
		before := scrape(t, base+"/metrics")
		for range 3 {
			if status, _, body := get(t, base+"/api/v1/traces/"+id, acme, nil); status != http.StatusNotFound {
				t.Fatalf("%s: %d %s", id, status, body)
			}
		}
		return delta(before, scrape(t, base+"/metrics"))
	}
	hidden, absent := probe(misrouted), probe(missing)
	if len(hidden) == 0 {
		t.Fatal("no counter moved: the scrape is broken")
	}
	if diff := cmp.Diff(absent, hidden); diff != "" {
		t.Errorf("/metrics tells a mis-routed trace from a missing one (-missing +mis-routed):\n%s", diff)
	}
	if !strings.Contains(logs.String(), `"reason":"tenant_attribute_mismatch"`) {
		t.Error("the hidden trace is not in the audit log")
	}
}
