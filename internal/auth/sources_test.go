package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/testkit"
)

// reasonOf returns the audit reason in err's chain, or "" when there is none.
func reasonOf(err error) string {
	var r interface{ AuditReason() string }
	if errors.As(err, &r) {
		return r.AuditReason()
	}
	return ""
}

func startVerifier(t *testing.T, cfg auth.Config, client *http.Client) (*auth.Verifier, *testkit.Buffer, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logs := &testkit.Buffer{}
	v, err := auth.NewVerifier(ctx, cfg, client, newTestLogger(logs))
	return v, logs, err
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func oidcConfig(p *idp) auth.Config {
	return auth.Config{
		OIDCIssuerURL:      p.srv.URL,
		Audience:           testAudience,
		RefreshInterval:    time.Hour,
		MinRefetchInterval: time.Hour,
	}
}

// issuedBy returns valid claims from iss.
func issuedBy(iss string) map[string]any { return claims(map[string]any{"iss": iss}) }

func TestOIDCDiscovery(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newOIDC(t, true, k.rsa, k.ec)
	v, _, err := startVerifier(t, oidcConfig(p), p.srv.Client())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if ready, detail := v.Status(); !ready {
		t.Fatalf("Status = not ready (%s)", detail)
	}
	// Issuer defaults to the OIDC issuer.
	got, err := v.Verify(context.Background(), sign(t, k.ec, "ES256", issuedBy(p.srv.URL), nil))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Tenants.OrgID() != "acme" {
		t.Errorf("tenant = %q; want acme", got.Tenants)
	}
	_, err = v.Verify(context.Background(), sign(t, k.rsa, "RS256", issuedBy(testIssuer), nil))
	if !errors.Is(err, auth.ErrInvalidToken) || reasonOf(err) != "wrong_issuer" {
		t.Errorf("token from another issuer: error = %v (reason %q); want wrong_issuer", err, reasonOf(err))
	}
	if n := p.discoveries.Load(); n != 1 {
		t.Errorf("%d discovery fetches; want 1", n)
	}
}

func TestOIDCIssuerWithPath(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newOIDC(t, true, k.rsa)
	issuer := p.srv.URL + "/realms/acme/" // the trailing slash is part of the issuer
	p.set(func(p *idp) { p.docIssuer = issuer })
	cfg := oidcConfig(p)
	cfg.OIDCIssuerURL = issuer
	v, _, err := startVerifier(t, cfg, p.srv.Client())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", issuedBy(issuer), nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Exact match: without the slash it is another issuer.
	_, err = v.Verify(context.Background(), sign(t, k.rsa, "RS256", issuedBy(strings.TrimSuffix(issuer, "/")), nil))
	if reasonOf(err) != "wrong_issuer" {
		t.Errorf("error = %v; want wrong_issuer", err)
	}
}

func TestOIDCRefusedDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		modify  func(p *idp)
		wantErr string
	}{
		{"issuer mismatch (mix-up)", func(p *idp) { p.docIssuer = "https://evil.example" }, `its issuer "https://evil.example" is not the configured`},
		{"issuer with a trailing slash", func(p *idp) { p.docIssuer += "/" }, "is not the configured"},
		{"issuer in another case", func(p *idp) { p.docIssuer = strings.ToUpper(p.docIssuer) }, "is not the configured"},
		{"no issuer", func(p *idp) { p.docIssuer = "" }, "is not the configured"},
		{"jwks_uri on plain http, not loopback", func(p *idp) { p.jwksURI = "http://idp.example/jwks.json" }, "plain http"},
		{"jwks_uri on plain http, private address", func(p *idp) { p.jwksURI = "http://10.0.0.1/jwks.json" }, "plain http"},
		{"jwks_uri file", func(p *idp) { p.jwksURI = "file:///etc/passwd" }, "jwks_uri"},
		{"jwks_uri relative", func(p *idp) { p.jwksURI = "/jwks.json" }, "not an absolute URL"},
		{"no jwks_uri", func(p *idp) { p.jwksURI = "" }, "no jwks_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newOIDC(t, false, keys().rsa)
			p.set(tc.modify)
			_, _, err := startVerifier(t, oidcConfig(p), p.srv.Client())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "OIDCIssuerURL") {
				t.Fatalf("NewVerifier error = %v; want one naming OIDCIssuerURL and containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestOIDCJWKSOnLoopbackHTTP(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newOIDC(t, false, k.rsa) // http://127.0.0.1:port: loopback
	v, _, err := startVerifier(t, oidcConfig(p), p.srv.Client())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", issuedBy(p.srv.URL), nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestOIDCDownAtStart(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newOIDC(t, false, k.rsa)
	p.setDown(true)
	cfg := oidcConfig(p)
	cfg.MinRefetchInterval = 20 * time.Millisecond
	start := time.Now()
	v, logs, err := startVerifier(t, cfg, p.srv.Client())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("NewVerifier took %v with the provider down", d)
	}
	ready, detail := v.Status()
	if ready || !strings.Contains(detail, "no keys loaded yet") || !strings.Contains(detail, "503") {
		t.Errorf("Status = %v, %q; want not ready, naming the 503", ready, detail)
	}
	tok := sign(t, k.rsa, "RS256", issuedBy(p.srv.URL), nil)
	if _, err := v.Verify(context.Background(), tok); reasonOf(err) != "keys_unavailable" {
		t.Fatalf("Verify with the provider down: error = %v; want keys_unavailable", err)
	}

	p.setDown(false)
	waitReady(t, v)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify after the provider came up: %v", err)
	}
	assertNoLeak(t, logs.String(), tok)
}

func TestOIDCMixUpAfterStart(t *testing.T) {
	t.Parallel()
	p := newOIDC(t, false, keys().rsa)
	p.setDown(true)
	cfg := oidcConfig(p)
	cfg.MinRefetchInterval = 10 * time.Millisecond
	v, logs, err := startVerifier(t, cfg, p.srv.Client())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	// The provider comes back answering for another issuer: still refused.
	p.set(func(p *idp) { p.down, p.docIssuer = false, "https://evil.example" })
	deadline := time.Now().Add(2 * time.Second)
	for {
		ready, detail := v.Status()
		if ready {
			t.Fatalf("Status = ready (%s) after a mismatched discovery document", detail)
		}
		if strings.Contains(detail, "discovery document refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status detail %q never reported the refusal", detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("refused discovery not logged as an error:\n%s", logs)
	}
}

func TestOIDCRedirectDowngradeRefused(t *testing.T) {
	t.Parallel()
	plain := newOIDC(t, false, keys().rsa)
	// An https issuer whose discovery redirects to plain http.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.srv.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)
	plain.set(func(p *idp) { p.docIssuer = tlsSrv.URL })
	cfg := oidcConfig(plain)
	cfg.OIDCIssuerURL = tlsSrv.URL
	v, _, err := startVerifier(t, cfg, tlsSrv.Client())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if ready, detail := v.Status(); ready || !strings.Contains(detail, "redirect from https") {
		t.Errorf("Status = %v, %q; want not ready after a downgrading redirect", ready, detail)
	}
	if n := plain.discoveries.Load(); n != 0 {
		t.Errorf("plain-http discovery fetched %d times", n)
	}
}

// waitReady waits up to 2s for v to load keys.
func waitReady(t *testing.T, v *auth.Verifier) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for v.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 2s: %v", v.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeFile replaces path atomically, so that a concurrent re-read never
// sees half a file.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	must(t, os.WriteFile(tmp, data, 0o600))
	must(t, os.Rename(tmp, path))
}

func jwksJSON(t testing.TB, published ...testKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range published {
		must(t, set.AddKey(k.pub))
	}
	b, err := json.Marshal(set)
	must(t, err)
	return b
}

func fileConfig(path string) auth.Config {
	return auth.Config{
		JWKSFile:           path,
		Issuer:             testIssuer,
		Audience:           testAudience,
		RefreshInterval:    time.Hour,
		MinRefetchInterval: time.Hour,
	}
}

func TestJWKSFile(t *testing.T) {
	t.Parallel()
	k := keys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, path, jwksJSON(t, k.rsa, k.ed))
	v, _, err := startVerifier(t, fileConfig(path), nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	for _, tok := range []string{
		sign(t, k.rsa, "RS256", validClaims(), nil),
		sign(t, k.ed, "EdDSA", validClaims(), nil),
	} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if _, err := v.Verify(context.Background(), sign(t, k.ec, "ES256", validClaims(), nil)); reasonOf(err) != "unknown_key" {
		t.Errorf("key not in the file: error = %v; want unknown_key", err)
	}
	if ready, detail := v.Status(); !ready || !strings.Contains(detail, "2 keys from JWKS file") {
		t.Errorf("Status = %v, %q", ready, detail)
	}
}

func TestJWKSFileUnknownKidRereads(t *testing.T) {
	t.Parallel()
	k := keys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, path, jwksJSON(t, k.rsa))
	cfg := fileConfig(path)
	cfg.MinRefetchInterval = 10 * time.Millisecond
	v, _, err := startVerifier(t, cfg, nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	writeFile(t, path, jwksJSON(t, k.rsa, k.rotated))
	if _, err := v.Verify(context.Background(), sign(t, k.rotated, "RS256", validClaims(), nil)); err != nil {
		t.Fatalf("key added to the file: %v", err)
	}
}

func TestKeySourceConfig(t *testing.T) {
	t.Parallel()
	k := keys()
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		must(t, os.WriteFile(path, data, 0o600))
		return path
	}
	secret32 := strings.Repeat("s", 32)
	privRSA, err := jwk.Import(k.rsa.priv)
	must(t, err)
	privSet := jwk.NewSet()
	must(t, privSet.AddKey(privRSA))
	privJSON, err := json.Marshal(privSet)
	must(t, err)
	var (
		goodJWKS   = file("good.json", jwksJSON(t, k.rsa))
		badJWKS    = file("bad.json", []byte(`{"keys": [`))
		emptyJWKS  = file("empty.json", []byte(`{"keys": []}`))
		octJWKS    = file("oct.json", []byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`))
		privJWKS   = file("priv.json", privJSON)
		missing    = filepath.Join(dir, "missing")
		secretLF   = file("secret-lf", []byte(secret32+"\n"))
		secretCRLF = file("secret-crlf", []byte(secret32+"\r\n"))
		secretRaw  = file("secret-raw", []byte(secret32))
		secret64   = file("secret-64", []byte(strings.Repeat("x", 64)))
		short      = file("short", []byte(strings.Repeat("s", 31)+"\n"))
		shortTwoLF = file("short-two-lf", []byte(strings.Repeat("s", 31)+"\n\n"))
		empty      = file("empty", nil)
	)
	const url = "https://idp.example/jwks.json"

	tests := []struct {
		name    string
		cfg     auth.Config
		wantErr string // empty: valid
	}{
		{"no source", auth.Config{}, "no key source configured: set exactly one of JWKSURL, OIDCIssuerURL, JWKSFile, HMACSecretFile"},
		{"URL and file", auth.Config{JWKSURL: url, JWKSFile: goodJWKS}, "2 key sources configured (JWKSURL, JWKSFile): set exactly one of"},
		{"OIDC and HMAC", auth.Config{OIDCIssuerURL: "https://idp.example", HMACSecretFile: secretLF}, "(OIDCIssuerURL, HMACSecretFile)"},
		{"all four", auth.Config{JWKSURL: url, OIDCIssuerURL: "https://idp.example", JWKSFile: goodJWKS, HMACSecretFile: secretLF},
			"4 key sources configured (JWKSURL, OIDCIssuerURL, JWKSFile, HMACSecretFile)"},

		{"JWKS URL with user info", auth.Config{JWKSURL: "https://user:hunter2@idp.example/jwks.json"}, "JWKSURL must not contain user info"},
		{"OIDC issuer on plain http", auth.Config{OIDCIssuerURL: "http://idp.example"}, "OIDCIssuerURL: \"http://idp.example\" uses plain http"},
		{"OIDC issuer with query", auth.Config{OIDCIssuerURL: "https://idp.example/?x=1"}, "query or fragment"},
		{"OIDC issuer with fragment", auth.Config{OIDCIssuerURL: "https://idp.example/#x"}, "query or fragment"},
		{"OIDC issuer with user info", auth.Config{OIDCIssuerURL: "https://u:p@idp.example/"}, "user info"},
		{"OIDC issuer relative", auth.Config{OIDCIssuerURL: "idp.example"}, "not an absolute URL"},
		{"OIDC issuer ftp", auth.Config{OIDCIssuerURL: "ftp://idp.example"}, "not an http(s) URL"},

		{"JWKS file", auth.Config{JWKSFile: goodJWKS}, ""},
		{"JWKS file missing", auth.Config{JWKSFile: missing}, "JWKSFile: open"},
		{"JWKS file invalid", auth.Config{JWKSFile: badJWKS}, "is not a valid JWKS"},
		{"JWKS file without keys", auth.Config{JWKSFile: emptyJWKS}, "holds no keys"},
		{"JWKS file with a symmetric key", auth.Config{JWKSFile: octJWKS}, "is symmetric; use HMACSecretFile"},
		{"JWKS file with a private key", auth.Config{JWKSFile: privJWKS}, "is a private key"},
		{"JWKS file with HS256", auth.Config{JWKSFile: goodJWKS, Algorithms: []string{"HS256"}}, "symmetric"},

		{"HMAC secret with LF", auth.Config{HMACSecretFile: secretLF}, ""},
		{"HMAC secret with CRLF", auth.Config{HMACSecretFile: secretCRLF}, ""},
		{"HMAC secret without newline", auth.Config{HMACSecretFile: secretRaw}, ""},
		{"HMAC secret of 31 bytes", auth.Config{HMACSecretFile: short}, "shorter than 32 bytes, the minimum for HS256"},
		{"HMAC secret of 31 bytes and two newlines", auth.Config{HMACSecretFile: shortTwoLF}, ""}, // 32 bytes: only one newline is dropped
		{"HMAC secret empty", auth.Config{HMACSecretFile: empty}, "shorter than 32 bytes"},
		{"HMAC secret missing", auth.Config{HMACSecretFile: missing}, "HMACSecretFile: open"},
		{"HMAC with RS256", auth.Config{HMACSecretFile: secretLF, Algorithms: []string{"HS256", "RS256"}}, `algorithm "RS256" is asymmetric`},
		{"HMAC with EdDSA", auth.Config{HMACSecretFile: secretLF, Algorithms: []string{"EdDSA"}}, "asymmetric"},
		{"HMAC with none", auth.Config{HMACSecretFile: secretLF, Algorithms: []string{"none"}}, `"none" is never allowed`},
		{"HMAC with lower-case hs256", auth.Config{HMACSecretFile: secretLF, Algorithms: []string{"hs256"}}, "unsupported algorithm"},
		{"HMAC HS512 with 32 bytes", auth.Config{HMACSecretFile: secretLF, Algorithms: []string{"HS256", "HS512"}}, "shorter than 64 bytes, the minimum for HS256, HS512"},
		{"HMAC HS512 with 64 bytes", auth.Config{HMACSecretFile: secret64, Algorithms: []string{"HS384", "HS512"}}, ""},

		{"bad Type", auth.Config{JWKSFile: goodJWKS, Type: "at jwt"}, "Type"},
		{"Type application/ only", auth.Config{JWKSFile: goodJWKS, Type: "application/"}, "Type"},
		{"RequiredScope with a quote", auth.Config{JWKSFile: goodJWKS, RequiredScope: `a"b`}, "RequiredScope"},
		{"RequiredScope with a space", auth.Config{JWKSFile: goodJWKS, RequiredScope: "a b"}, "RequiredScope"},
		{"empty client id", auth.Config{JWKSFile: goodJWKS, AllowedClientIDs: []string{"a", ""}}, "AllowedClientIDs"},
		{"tenant claim with an empty segment", auth.Config{JWKSFile: goodJWKS, TenantClaim: "org..tenant"}, "TenantClaim"},
		{"tenant claim with a stray bracket", auth.Config{JWKSFile: goodJWKS, TenantClaim: `org["a.b"`}, "TenantClaim"},
		{"tenant claim pointer with a bad escape", auth.Config{JWKSFile: goodJWKS, TenantClaim: "/a~2b"}, "TenantClaim: JSON Pointer \"/a~2b\": '~' must be followed by 0 or 1"},
		{"tenant claim pointer ending in ~", auth.Config{JWKSFile: goodJWKS, TenantClaim: "/a~"}, "'~' must be followed by 0 or 1"},
		{"tenant claim pointer with an empty token", auth.Config{JWKSFile: goodJWKS, TenantClaim: "/realm_access//roles"}, "empty reference token 2"},
		{"tenant claim pointer /", auth.Config{JWKSFile: goodJWKS, TenantClaim: "/"}, "empty reference token 1"},
		{"tenant claim pointer", auth.Config{JWKSFile: goodJWKS, TenantClaim: "/realm_access/roles"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, logs, err := startVerifier(t, tc.cfg, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				if ready, detail := v.Status(); !ready {
					t.Fatalf("Status = not ready: %s", detail)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewVerifier error = %v; want one containing %q", err, tc.wantErr)
			}
			for _, text := range []string{err.Error(), logs.String()} {
				if strings.Contains(text, strings.Repeat("s", 31)) {
					t.Errorf("secret echoed: %s", text)
				}
			}
		})
	}
}

func hmacConfig(path string, algs ...string) auth.Config {
	return auth.Config{
		HMACSecretFile:     path,
		Algorithms:         algs,
		Issuer:             testIssuer,
		Audience:           testAudience,
		RefreshInterval:    time.Hour,
		MinRefetchInterval: time.Hour,
	}
}

func TestHMACSecret(t *testing.T) {
	t.Parallel()
	k := keys()
	secret := []byte("correct-horse-battery-staple-0123456789")
	other := []byte("another-secret-of-enough-length-0123456789")
	long := []byte(strings.Repeat("0123456789abcdef", 4))
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	writeFile(t, path, append(secret, '\n'))
	v, logs, err := startVerifier(t, hmacConfig(path), nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	longPath := filepath.Join(dir, "long")
	writeFile(t, longPath, long)
	vLong, _, err := startVerifier(t, hmacConfig(longPath, "HS256", "HS512"), nil)
	if err != nil {
		t.Fatalf("NewVerifier HS512: %v", err)
	}

	tests := []struct {
		name       string
		v          *auth.Verifier
		token      string
		wantReason string // "": accepted
	}{
		{"HS256", v, signWith(t, jwa.HS256(), secret, "", validClaims(), nil), ""},
		{"HS256 with a kid", v, signWith(t, jwa.HS256(), secret, "whatever", validClaims(), nil), ""},
		{"HS256 keyed with the trailing newline", v, signWith(t, jwa.HS256(), append(secret, '\n'), "", validClaims(), nil), "bad_signature"},
		{"HS256 with another secret", v, signWith(t, jwa.HS256(), other, "", validClaims(), nil), "bad_signature"},
		{"HS384 not allowed", v, signWith(t, jwa.HS384(), secret, "", validClaims(), nil), "disallowed_alg"},
		{"RS256", v, sign(t, k.rsa, "RS256", validClaims(), nil), "disallowed_alg"},
		{"alg none", v, unsigned(`{"alg":"none"}`, validClaims(), ""), "disallowed_alg"},
		{"HS256 expired", v, signWith(t, jwa.HS256(), secret, "", claims(map[string]any{
			"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(),
		}), nil), "expired"},
		{"HS512", vLong, signWith(t, jwa.HS512(), long, "", validClaims(), nil), ""},
		{"HS256 with a 64-byte secret", vLong, signWith(t, jwa.HS256(), long, "", validClaims(), nil), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.v.Verify(context.Background(), tc.token)
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, auth.ErrInvalidToken) || reasonOf(err) != tc.wantReason {
				t.Fatalf("Verify error = %v (reason %q); want ErrInvalidToken with %q", err, reasonOf(err), tc.wantReason)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Errorf("error contains the secret: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		_, detail := v.Status()
		for _, text := range []string{logs.String(), detail} {
			if strings.Contains(text, string(secret)) {
				t.Errorf("secret leaked: %s", text)
			}
		}
	})
}

func TestHMACSecretRereadFailureKeepsSecret(t *testing.T) {
	t.Parallel()
	secret := []byte("correct-horse-battery-staple-0123456789")
	path := filepath.Join(t.TempDir(), "secret")
	writeFile(t, path, secret)
	cfg := hmacConfig(path)
	cfg.RefreshInterval = 10 * time.Millisecond
	v, logs, err := startVerifier(t, cfg, nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	writeFile(t, path, []byte("too-short-secret"))
	deadline := time.Now().Add(2 * time.Second)
	for {
		ready, detail := v.Status()
		if !ready {
			t.Fatalf("Status = not ready after a failed re-read: %s", detail)
		}
		if strings.Contains(detail, "last refresh failed") {
			if !strings.Contains(detail, "shorter than 32 bytes") || strings.Contains(detail, "too-short-secret") {
				t.Fatalf("Status detail = %q", detail)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status detail %q never reported the failed re-read", detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), signWith(t, jwa.HS256(), secret, "", validClaims(), nil)); err != nil {
		t.Errorf("Verify with the last good secret: %v", err)
	}
	if strings.Contains(logs.String(), "too-short-secret") || strings.Contains(logs.String(), string(secret)) {
		t.Errorf("log contains a secret:\n%s", logs)
	}
}

func TestKeysAgeAndStatus(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	cfg := baseConfig(p)
	cfg.MinRefetchInterval = 10 * time.Millisecond
	v, _ := newVerifier(t, p, cfg)

	if age := v.KeysAge(); age <= 0 || age > 5*time.Second {
		t.Fatalf("KeysAge = %v after start", age)
	}
	ready, detail := v.Status()
	if !ready || !strings.Contains(detail, "1 key from JWKS URL "+p.srv.URL+"/jwks.json") || strings.Contains(detail, "failed") || v.Degraded() {
		t.Fatalf("Status = %v, %q, degraded %v", ready, detail, v.Degraded())
	}

	// A failed refresh degrades the detail but not readiness.
	p.setDown(true)
	unknownKid := func() { _, _ = v.Verify(context.Background(), sign(t, k.attacker, "RS256", validClaims(), nil)) }
	time.Sleep(cfg.MinRefetchInterval)
	unknownKid()
	ready, detail = v.Status()
	if !ready || !strings.Contains(detail, "old; last refresh failed:") || !strings.Contains(detail, "503") {
		t.Fatalf("Status after a failed refresh = %v, %q", ready, detail)
	}
	if v.Ready() != nil || !v.Degraded() {
		t.Errorf("after a failed refresh: Ready %v, Degraded %v", v.Ready(), v.Degraded())
	}

	// A successful refresh resets the age and clears the failure.
	time.Sleep(100 * time.Millisecond)
	before := v.KeysAge()
	p.setDown(false)
	unknownKid()
	if after := v.KeysAge(); after >= before || after > 100*time.Millisecond {
		t.Errorf("KeysAge %v before the refresh, %v after; want it reset", before, after)
	}
	if ready, detail = v.Status(); !ready || strings.Contains(detail, "failed") || v.Degraded() {
		t.Errorf("Status after recovery = %v, %q, degraded %v", ready, detail, v.Degraded())
	}
}

func TestKeysAgeZeroBeforeLoad(t *testing.T) {
	t.Parallel()
	p := newIDP(t, keys().rsa)
	p.setDown(true)
	v, _ := newVerifier(t, p, baseConfig(p))
	if age := v.KeysAge(); age != 0 || v.Degraded() {
		t.Errorf("KeysAge = %v, Degraded %v before any load; want 0, false (not ready is not degraded)", age, v.Degraded())
	}
	ready, detail := v.Status()
	if ready || !strings.Contains(detail, "no keys loaded yet from JWKS URL") || !strings.Contains(detail, "last attempt failed") {
		t.Errorf("Status = %v, %q", ready, detail)
	}
}

// TestRemovedKeyStopsVerifying: a key the provider stops publishing stops
// verifying after the next refresh, for each refreshing source.
func TestRemovedKeyStopsVerifying(t *testing.T) {
	t.Parallel()
	k := keys()
	check := func(t *testing.T, v *auth.Verifier, remove func()) {
		t.Helper()
		removed := sign(t, k.rotated, "RS256", validClaims(), nil)
		kept := sign(t, k.rsa, "RS256", validClaims(), nil)
		if _, err := v.Verify(context.Background(), removed); err != nil {
			t.Fatalf("before removal: %v", err)
		}
		remove()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := v.Verify(context.Background(), removed)
			if err != nil {
				if reasonOf(err) != "unknown_key" || !errors.Is(err, auth.ErrInvalidToken) {
					t.Fatalf("removed key: error = %v; want unknown_key", err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("removed key still verifies 5s after removal")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := v.Verify(context.Background(), kept); err != nil {
			t.Errorf("kept key after removal: %v", err)
		}
	}

	t.Run("JWKS URL, background refresh", func(t *testing.T) {
		t.Parallel()
		p := newIDP(t, k.rsa, k.rotated)
		cfg := baseConfig(p)
		cfg.RefreshInterval = time.Second // httprc's smallest tick
		v, _ := newVerifier(t, p, cfg)
		check(t, v, func() { p.publish(t, k.rsa) })
	})
	t.Run("JWKS URL, refresh by an unknown kid", func(t *testing.T) {
		t.Parallel()
		p := newIDP(t, k.rsa, k.rotated)
		cfg := baseConfig(p)
		cfg.MinRefetchInterval = 10 * time.Millisecond
		v, _ := newVerifier(t, p, cfg)
		check(t, v, func() {
			p.publish(t, k.rsa)
			time.Sleep(cfg.MinRefetchInterval)
			_, _ = v.Verify(context.Background(), sign(t, k.attacker, "RS256", validClaims(), nil))
		})
	})
	t.Run("OIDC", func(t *testing.T) {
		t.Parallel()
		p := newOIDC(t, false, k.rsa, k.rotated)
		cfg := oidcConfig(p)
		cfg.Issuer = testIssuer
		cfg.RefreshInterval = time.Second
		v, _, err := startVerifier(t, cfg, p.srv.Client())
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}
		check(t, v, func() { p.publish(t, k.rsa) })
	})
	t.Run("JWKS file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "jwks.json")
		writeFile(t, path, jwksJSON(t, k.rsa, k.rotated))
		cfg := fileConfig(path)
		cfg.RefreshInterval = 20 * time.Millisecond
		v, _, err := startVerifier(t, cfg, nil)
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}
		check(t, v, func() { writeFile(t, path, jwksJSON(t, k.rsa)) })
	})
}
