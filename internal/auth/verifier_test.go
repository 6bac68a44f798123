package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/tenant"
)

// allKeys is the JWKS most tests verify against.
func allKeys() []testKey {
	k := keys()
	return []testKey{k.rsa, k.ec, k.ed, k.rsaNoAlg, k.ecNoAlg, k.rsaEnc}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	v, _ := newVerifier(t, p, baseConfig(p))
	exp := time.Now().Add(5 * time.Minute).Truncate(time.Second)
	past := time.Now().Add(-10 * time.Second).Truncate(time.Second)

	tests := []struct {
		name  string
		token string
		want  principal.Principal
	}{
		{
			name:  "RS256 with scope string",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{"exp": exp.Unix()}), nil),
			want:  want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name: "ES256 with scope array",
			token: sign(t, k.ec, "ES256", claims(map[string]any{
				"exp": exp.Unix(), "sub": "bob", "tenant_id": "globex", "scope": []string{"traces:read", "admin"},
			}), nil),
			want: want("bob", "globex", exp, "traces:read", "admin"),
		},
		{
			name: "EdDSA with scp string",
			token: sign(t, k.ed, "EdDSA", claims(map[string]any{
				"exp": exp.Unix(), "scope": nil, "scp": "a b",
			}), nil),
			want: want("alice", "acme", exp, "a", "b"),
		},
		{
			name: "scp array",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{
				"exp": exp.Unix(), "scope": nil, "scp": []string{"x"},
			}), nil),
			want: want("alice", "acme", exp, "x"),
		},
		{
			name:  "no scopes and no subject",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{"exp": exp.Unix(), "scope": nil, "sub": nil}), nil),
			want:  want("", "acme", exp),
		},
		{
			name:  "RSA key without alg, RS256",
			token: sign(t, k.rsaNoAlg, "RS256", claims(map[string]any{"exp": exp.Unix()}), nil),
			want:  want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name:  "RSA key without alg, PS256",
			token: sign(t, k.rsaNoAlg, "PS256", claims(map[string]any{"exp": exp.Unix()}), nil),
			want:  want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name:  "EC key without alg, ES256",
			token: sign(t, k.ecNoAlg, "ES256", claims(map[string]any{"exp": exp.Unix()}), nil),
			want:  want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name: "aud array containing ours",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{
				"exp": exp.Unix(), "aud": []string{"other", testAudience},
			}), nil),
			want: want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name: "nbf in the future within leeway",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{
				"exp": exp.Unix(), "nbf": time.Now().Add(10 * time.Second).Unix(),
			}), nil),
			want: want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name: "iat in the future within leeway",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{
				"exp": exp.Unix(), "iat": time.Now().Add(10 * time.Second).Unix(),
			}), nil),
			want: want("alice", "acme", exp, "traces:read", "profile"),
		},
		{
			name: "exp passed within leeway",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{
				"exp": past.Unix(), "iat": past.Add(-time.Minute).Unix(),
			}), nil),
			want: want("alice", "acme", past, "traces:read", "profile"),
		},
		{
			name:  "tenant id of 150 bytes",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{"exp": exp.Unix(), "tenant_id": strings.Repeat("a", 150)}), nil),
			want:  want("alice", strings.Repeat("a", 150), exp, "traces:read", "profile"),
		},
		{
			// jku and jwk are ignored, not fatal: keys only come from our JWKS.
			name: "ignored jku header",
			token: sign(t, k.rsa, "RS256", claims(map[string]any{"exp": exp.Unix()}), map[string]any{
				"jku": "https://attacker.example/jwks.json",
			}),
			want: want("alice", "acme", exp, "traces:read", "profile"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), tc.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("principal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// want builds the principal a token with these claims should produce.
func want(sub, tenantID string, exp time.Time, scopes ...string) principal.Principal {
	id := tenant.MustParse(tenantID)
	return principal.Principal{
		Subject:   sub,
		Tenants:   tenant.NewSet(id),
		Granted:   []tenant.ID{id},
		Scopes:    scopes,
		ExpiresAt: exp,
	}
}

func TestVerifyWithoutKid(t *testing.T) {
	t.Parallel()
	k := keys()
	single := newIDP(t, k.ec)
	vSingle, _ := newVerifier(t, single, baseConfig(single))
	multi := newIDP(t, allKeys()...)
	vMulti, _ := newVerifier(t, multi, baseConfig(multi))
	noKid := map[string]any{"kid": ""}

	tests := []struct {
		name   string
		v      *auth.Verifier
		token  string
		accept bool
	}{
		{"only key in the set", vSingle, sign(t, k.ec, "ES256", validClaims(), noKid), true},
		{"only key but wrong type for alg", vSingle, sign(t, k.rsa, "RS256", validClaims(), noKid), false},
		// Both orders, so that picking either of the fitting keys is caught.
		{"several keys fit, signed by the first", vMulti, sign(t, k.ec, "ES256", validClaims(), noKid), false},
		{"several keys fit, signed by the second", vMulti, sign(t, k.ecNoAlg, "ES256", validClaims(), noKid), false},
		{"only EdDSA key in a larger set", vMulti, sign(t, k.ed, "EdDSA", validClaims(), noKid), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.v.Verify(context.Background(), tc.token)
			if tc.accept && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.accept && !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify error = %v; want ErrInvalidToken", err)
			}
		})
	}
}

func TestVerifyRejectsInvalidTokens(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	v, logs := newVerifier(t, p, baseConfig(p))

	// A JWKS the token points at via jku; it must never be fetched.
	var attackerFetches atomic.Int64
	attackerJWKS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attackerFetches.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{k.attacker.pub}})
	}))
	t.Cleanup(attackerJWKS.Close)

	valid := sign(t, k.rsa, "RS256", validClaims(), nil)
	vh, vp, vs := segments(t, valid)

	pubDER, err := x509.MarshalPKIXPublicKey(k.rsa.priv.Public())
	must(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tampered := validClaims()
	tampered["tenant_id"] = "globex"

	now := time.Now()
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not a token"},
		{"two segments", vh + "." + vp},
		{"four segments", valid + ".x"},
		{"JSON serialization", fmt.Sprintf(`{"payload":%q,"protected":%q,"signature":%q}`, vp, vh, vs)},
		{"unsigned JSON claims", `{"sub":"alice","tenant_id":"acme"}`},
		{"expired", sign(t, k.rsa, "RS256", claims(map[string]any{
			"exp": now.Add(-2 * time.Minute).Unix(), "iat": now.Add(-time.Hour).Unix(),
		}), nil)},
		{"nbf beyond leeway", sign(t, k.rsa, "RS256", claims(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), nil)},
		{"iat beyond leeway", sign(t, k.rsa, "RS256", claims(map[string]any{"iat": now.Add(2 * time.Minute).Unix()}), nil)},
		{"missing exp", sign(t, k.rsa, "RS256", claims(map[string]any{"exp": nil}), nil)},
		{"wrong iss", sign(t, k.rsa, "RS256", claims(map[string]any{"iss": "https://evil.example"}), nil)},
		{"missing iss", sign(t, k.rsa, "RS256", claims(map[string]any{"iss": nil}), nil)},
		{"wrong aud", sign(t, k.rsa, "RS256", claims(map[string]any{"aud": "other"}), nil)},
		{"aud array without ours", sign(t, k.rsa, "RS256", claims(map[string]any{"aud": []string{"a", "b"}}), nil)},
		{"missing aud", sign(t, k.rsa, "RS256", claims(map[string]any{"aud": nil}), nil)},
		{"alg none", unsigned(`{"alg":"none","kid":"rsa-1","typ":"JWT"}`, validClaims(), "")},
		{"alg None", unsigned(`{"alg":"None","kid":"rsa-1","typ":"JWT"}`, validClaims(), "")},
		{"alg NONE", unsigned(`{"alg":"NONE","kid":"rsa-1","typ":"JWT"}`, validClaims(), "")},
		{"alg none with a signature", unsigned(`{"alg":"none","kid":"rsa-1"}`, validClaims(), vs)},
		{"no alg", unsigned(`{"kid":"rsa-1"}`, validClaims(), vs)},
		{"HS256 keyed with the RSA public key PEM", signWith(t, jwa.HS256(), pubPEM, "rsa-1", validClaims(), nil)},
		{"HS256 keyed with the RSA public key DER", signWith(t, jwa.HS256(), pubDER, "rsa-1", validClaims(), nil)},
		{"ES256 header with an RSA kid", signWith(t, jwa.ES256(), k.ec.priv, "rsa-1", validClaims(), nil)},
		{"ES256 header with an RSA kid that has no alg", signWith(t, jwa.ES256(), k.ec.priv, "rsa-noalg", validClaims(), nil)},
		{"RS256 header with an EC kid that has no alg", signWith(t, jwa.RS256(), k.rsa.priv, "ec-noalg", validClaims(), nil)},
		{"PS256 with a key published as RS256", sign(t, k.rsa, "PS256", validClaims(), nil)},
		{"RS384 not in default allow-list", sign(t, k.rsaNoAlg, "RS384", validClaims(), nil)},
		{"key published for encryption", sign(t, k.rsaEnc, "RS256", validClaims(), nil)},
		{"unknown kid", sign(t, k.attacker, "RS256", validClaims(), nil)},
		{"known kid, unknown key", signWith(t, jwa.RS256(), k.attacker.priv, "rsa-1", validClaims(), nil)},
		{"tampered payload", vh + "." + b64(tampered) + "." + vs},
		{"stripped signature", vh + "." + vp + "."},
		{"signature of another token", vh + "." + vp + "." + func() string {
			_, _, s := segments(t, sign(t, k.rsa, "RS256", claims(map[string]any{"sub": "mallory"}), nil))
			return s
		}()},
		{"over 16 KiB", sign(t, k.rsa, "RS256", claims(map[string]any{"pad": strings.Repeat("x", auth.MaxTokenSize)}), nil)},
		{"jku to attacker JWKS", sign(t, k.attacker, "RS256", validClaims(), map[string]any{
			"jku": attackerJWKS.URL, "kid": "attacker",
		})},
		{"jku to attacker JWKS with known kid", sign(t, k.attacker, "RS256", validClaims(), map[string]any{
			"jku": attackerJWKS.URL, "kid": "rsa-1",
		})},
		{"x5u to attacker", sign(t, k.attacker, "RS256", validClaims(), map[string]any{
			"x5u": attackerJWKS.URL, "kid": "attacker",
		})},
		{"embedded jwk of attacker", sign(t, k.attacker, "RS256", validClaims(), map[string]any{
			"jwk": k.attacker.pub, "kid": "attacker",
		})},
		{"embedded jwk of attacker with known kid", sign(t, k.attacker, "RS256", validClaims(), map[string]any{
			"jwk": k.attacker.pub, "kid": "rsa-1",
		})},
		{"unknown crit extension", sign(t, k.rsa, "RS256", validClaims(), map[string]any{
			"crit": []string{"exp-ext"}, "exp-ext": true,
		})},
		{"malformed scope", sign(t, k.rsa, "RS256", claims(map[string]any{"scope": 42}), nil)},
		{"scope array with a number", sign(t, k.rsa, "RS256", claims(map[string]any{"scope": []any{"a", 1}}), nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrForbidden) {
				t.Fatalf("Verify error = %v; want ErrInvalidToken only", err)
			}
			if diff := cmp.Diff(principal.Principal{}, p); diff != "" {
				t.Errorf("principal returned with an error:\n%s", diff)
			}
			assertNoLeak(t, err.Error(), tc.token)
		})
	}
	t.Cleanup(func() {
		if n := attackerFetches.Load(); n != 0 {
			t.Errorf("attacker JWKS fetched %d times", n)
		}
		for _, tc := range tests {
			assertNoLeak(t, logs.String(), tc.token)
		}
	})
}

// assertNoLeak fails if text contains the token or its signature.
func assertNoLeak(t *testing.T, text, token string) {
	t.Helper()
	if len(token) > 20 && strings.Contains(text, token) {
		t.Errorf("text contains the token: %.200s", text)
	}
	if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) > 20 && strings.Contains(text, parts[2]) {
		t.Errorf("text contains the token signature: %.200s", text)
	}
}

func TestVerifyAllowList(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	cfg.Algorithms = []string{"ES256"}
	v, _ := newVerifier(t, p, cfg)

	if _, err := v.Verify(context.Background(), sign(t, k.ec, "ES256", validClaims(), nil)); err != nil {
		t.Fatalf("ES256 token rejected: %v", err)
	}
	for _, alg := range []string{"RS256", "PS256"} {
		_, err := v.Verify(context.Background(), sign(t, k.rsaNoAlg, alg, validClaims(), nil))
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s token with allow-list ES256: error = %v; want ErrInvalidToken", alg, err)
		}
	}
}

func TestVerifyForbiddenTenant(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	v, _ := newVerifier(t, p, baseConfig(p))

	tests := []struct {
		name  string
		value any // nil removes the claim
	}{
		{"missing", nil},
		{"empty", ""},
		{"number", 42},
		{"bool", true},
		{"object", map[string]any{"id": "acme"}},
		{"empty array", []string{}},
		{"array with a federation separator", []string{"acme", "acme|globex"}},
		{"array with a metadata separator", []string{"acme", "acme:x"}},
		{"array with dotdot", []string{"acme", ".."}},
		{"array with an empty string", []string{"acme", ""}},
		{"array with non-ASCII", []string{"acme", "acmé"}},
		{"array with 151 bytes", []string{"acme", strings.Repeat("a", 151)}},
		{"array with a number", []any{"acme", 42}},
		{"array with a bool", []any{"acme", true}},
		{"array with null", []any{"acme", nil}},
		{"array with an object", []any{"acme", map[string]any{"id": "globex"}}},
		{"array with an array", []any{"acme", []string{"globex"}}},
		{"federation separator", "acme|globex"},
		{"metadata separator", "acme:x"},
		{"slash", "ac/me"},
		{"dotdot", ".."},
		{"non-ASCII", "acmé"},
		{"151 bytes", strings.Repeat("a", 151)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": tc.value}), nil)
			_, err := v.Verify(context.Background(), tok)
			if !errors.Is(err, auth.ErrForbidden) || errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify error = %v; want ErrForbidden only", err)
			}
		})
	}

	t.Run("null", func(t *testing.T) {
		t.Parallel()
		// jwt.Token.Set cannot store null, so splice it into a signed payload.
		c := validClaims()
		c["tenant_id"] = json.RawMessage("null")
		tok := sign(t, k.rsa, "RS256", c, nil)
		_, err := v.Verify(context.Background(), tok)
		if !errors.Is(err, auth.ErrForbidden) {
			t.Fatalf("Verify error = %v; want ErrForbidden", err)
		}
	})
}

// TestVerifyTenantClaimShapes checks which tenants each accepted shape of the
// tenant claim grants; TestVerifyForbiddenTenant covers the refused ones.
func TestVerifyTenantClaimShapes(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	v, _ := newVerifier(t, p, baseConfig(p))
	long := strings.Repeat("a", tenant.MaxLength)

	tests := []struct {
		name        string
		value       any
		wantGranted []tenant.ID
		wantOrgID   string // Principal.Tenants: empty when several are granted
	}{
		{"string", "acme", []tenant.ID{tenant.MustParse("acme")}, "acme"},
		{"array of one", []string{"acme"}, []tenant.ID{tenant.MustParse("acme")}, "acme"},
		{"array of two", []string{"globex", "acme"}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex")}, ""},
		{"array with duplicates", []string{"globex", "acme", "globex", "acme"}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex")}, ""},
		{"array of one duplicated", []string{"acme", "acme"}, []tenant.ID{tenant.MustParse("acme")}, "acme"},
		{"array of 150-byte ids", []string{long, "initech"}, []tenant.ID{tenant.MustParse(long), tenant.MustParse("initech")}, ""},
		{"array of any-typed strings", []any{"initech", "globex", "acme"}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex"), tenant.MustParse("initech")}, ""},
		{"case-sensitive ids", []string{"acme", "ACME"}, []tenant.ID{tenant.MustParse("ACME"), tenant.MustParse("acme")}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": tc.value}), nil)
			got, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.wantGranted, got.Granted); diff != "" {
				t.Errorf("Granted mismatch (-want +got):\n%s", diff)
			}
			if got.Tenants.OrgID() != tc.wantOrgID {
				t.Errorf("Tenants = %q; want %q", got.Tenants, tc.wantOrgID)
			}
			if got.Subject != "alice" {
				t.Errorf("Subject = %q; want alice", got.Subject)
			}
		})
	}
}

func TestVerifyCustomTenantClaim(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	cfg.TenantClaim = "org"
	v, _ := newVerifier(t, p, cfg)

	got, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", claims(map[string]any{"org": "initech"}), nil))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff([]tenant.ID{tenant.MustParse("initech")}, got.Granted); diff != "" || got.Tenants.OrgID() != "initech" {
		t.Errorf("tenant = %q, granted diff:\n%s", got.Tenants, diff)
	}
	// tenant_id is present but is not the configured claim.
	if _, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", validClaims(), nil)); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("token without org claim: error = %v; want ErrForbidden", err)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	t.Parallel()
	p := newIDP(t, keys().rsa)
	tests := []struct {
		name    string
		modify  func(*auth.Config)
		wantErr string // empty: valid
	}{
		{"defaults", func(*auth.Config) {}, ""},
		{"explicit allow-list", func(c *auth.Config) { c.Algorithms = []string{"RS512", "ES384", "EdDSA"} }, ""},
		{"none", func(c *auth.Config) { c.Algorithms = []string{"RS256", "none"} }, `"none"`},
		{"None", func(c *auth.Config) { c.Algorithms = []string{"None"} }, `"none"`},
		{"HS256", func(c *auth.Config) { c.Algorithms = []string{"HS256"} }, "symmetric"},
		{"hs512", func(c *auth.Config) { c.Algorithms = []string{"ES256", "hs512"} }, "symmetric"},
		{"unknown", func(c *auth.Config) { c.Algorithms = []string{"RS257"} }, `unsupported algorithm "RS257"`},
		{"wrong case", func(c *auth.Config) { c.Algorithms = []string{"rs256"} }, `unsupported algorithm "rs256"`},
		{"ES256K", func(c *auth.Config) { c.Algorithms = []string{"ES256K"} }, "unsupported algorithm"},
		{"missing URL", func(c *auth.Config) { c.JWKSURL = "" }, "no key source configured: set exactly one of JWKSURL, OIDCIssuerURL, JWKSFile, HMACSecretFile"},
		{"relative URL", func(c *auth.Config) { c.JWKSURL = "/jwks.json" }, "not an absolute"},
		{"file URL", func(c *auth.Config) { c.JWKSURL = "file:///etc/passwd" }, "not an absolute"},
		{"negative leeway", func(c *auth.Config) { c.Leeway = -time.Second }, "Leeway"},
		{"negative refetch interval", func(c *auth.Config) { c.MinRefetchInterval = -time.Second }, "MinRefetchInterval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := baseConfig(p)
			tc.modify(&cfg)
			v, err := auth.NewVerifier(ctx, cfg, p.srv.Client(), nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				if err := v.Ready(); err != nil {
					t.Fatalf("Ready: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewVerifier error = %v; want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestUnknownKidFloodIsRateLimited(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	cfg := baseConfig(p)
	cfg.MinRefetchInterval = time.Second
	v, _ := newVerifier(t, p, cfg)
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	// Sign first: under the race detector on a busy machine, signing 50 RSA
	// tokens can outlast MinRefetchInterval, which would rightly allow a
	// second fetch in the middle of the flood.
	toks := make([]string, 50)
	for i := range toks {
		toks[i] = sign(t, k.attacker, "RS256", validClaims(), map[string]any{"kid": fmt.Sprintf("random-%d-%d", i, time.Now().UnixNano())})
	}
	before := p.fetches.Load()
	var wg sync.WaitGroup
	errs := make([]error, len(toks))
	for i, tok := range toks {
		wg.Go(func() { _, errs[i] = v.Verify(context.Background(), tok) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("token %d: error = %v; want ErrInvalidToken", i, err)
		}
	}
	if extra := p.fetches.Load() - before; extra > 1 {
		t.Fatalf("50 unknown kids caused %d JWKS fetches; want at most 1", extra)
	}

	// Once the interval has passed, an unknown kid may refetch again.
	time.Sleep(cfg.MinRefetchInterval + 100*time.Millisecond)
	before = p.fetches.Load()
	_, err := v.Verify(context.Background(), sign(t, k.attacker, "RS256", validClaims(), nil))
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("error = %v; want ErrInvalidToken", err)
	}
	if extra := p.fetches.Load() - before; extra != 1 {
		t.Fatalf("unknown kid after MinRefetchInterval caused %d fetches; want 1", extra)
	}
}

func TestRotatedKeyBecomesUsable(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	v, _ := newVerifier(t, p, baseConfig(p)) // MinRefetchInterval 1h: only the first refetch is allowed
	tok := sign(t, k.rotated, "RS256", validClaims(), nil)

	p.publish(t, k.rsa, k.rotated)
	before := p.fetches.Load()
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("token signed with rotated-in key: %v", err)
	}
	if got.Tenants.OrgID() != "acme" {
		t.Errorf("tenant = %q; want acme", got.Tenants)
	}
	if n := p.fetches.Load() - before; n != 1 {
		t.Errorf("rotation caused %d JWKS fetches; want 1", n)
	}
	// The old key still works from the refreshed set.
	if _, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", validClaims(), nil)); err != nil {
		t.Errorf("old key after rotation: %v", err)
	}
}

func TestFailedRefreshKeepsLastGoodKeySet(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	cfg := baseConfig(p)
	cfg.MinRefetchInterval = 10 * time.Millisecond
	v, _ := newVerifier(t, p, cfg)

	p.setDown(true)
	before := p.fetches.Load()
	// An unknown kid forces a refetch, which fails.
	if _, err := v.Verify(context.Background(), sign(t, k.attacker, "RS256", validClaims(), nil)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("unknown kid: error = %v; want ErrInvalidToken", err)
	}
	if p.fetches.Load() == before {
		t.Fatal("unknown kid did not refetch the JWKS")
	}
	if err := v.Ready(); err != nil {
		t.Errorf("Ready after failed refresh: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", validClaims(), nil)); err != nil {
		t.Errorf("known key after failed refresh: %v", err)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	p.setDown(true)
	cfg := baseConfig(p)
	cfg.MinRefetchInterval = 50 * time.Millisecond
	v, _ := newVerifier(t, p, cfg)

	if err := v.Ready(); err == nil {
		t.Fatal("Ready = nil with the JWKS down")
	}
	tok := sign(t, k.rsa, "RS256", validClaims(), nil)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify with no keys: error = %v; want ErrInvalidToken", err)
	}

	p.setDown(false)
	time.Sleep(cfg.MinRefetchInterval + 20*time.Millisecond)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify after the JWKS came up: %v", err)
	}
	if err := v.Ready(); err != nil {
		t.Errorf("Ready after keys loaded: %v", err)
	}
}

func TestReadyRecoversWithoutTraffic(t *testing.T) {
	t.Parallel()
	p := newIDP(t, keys().rsa)
	p.setDown(true)
	cfg := baseConfig(p)
	cfg.MinRefetchInterval = 20 * time.Millisecond
	v, _ := newVerifier(t, p, cfg)
	if v.Ready() == nil {
		t.Fatal("Ready = nil with the JWKS down")
	}
	p.setDown(false)
	// No Verify calls: a readiness probe may hold all traffic back.
	deadline := time.Now().Add(2 * time.Second)
	for v.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ready still failing 2s after the JWKS came up: %v", v.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewVerifierDoesNotWaitForUnreachableJWKS(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/jwks.json"
	client := dead.Client()
	dead.Close() // connections are now refused

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	v, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: url}, client, nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("NewVerifier took %v with the JWKS host refusing connections", d)
	}
	if err := v.Ready(); err == nil {
		t.Error("Ready = nil with the JWKS host unreachable")
	}
	_, err = v.Verify(context.Background(), sign(t, keys().rsa, "RS256", validClaims(), nil))
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify: error = %v; want ErrInvalidToken", err)
	}
}

// TestGoroutinesStopWithContext is not parallel so that goroutine counts are
// not disturbed by other tests (parallel tests start after it finishes).
func TestGoroutinesStopWithContext(t *testing.T) {
	p := newIDP(t, keys().rsa)
	transport := &http.Transport{}
	client := &http.Client{Transport: transport}
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	v, err := auth.NewVerifier(ctx, baseConfig(p), client, nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if running := runtime.NumGoroutine(); running <= before {
		t.Fatalf("NewVerifier started no goroutines (%d before, %d after)", before, running)
	}
	cancel()
	transport.CloseIdleConnections()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines still running after ctx ended (%d before):\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A verified token is remembered; refusals are never remembered, and a token
// differing from a remembered one is verified in full. (That an entry dies
// with its key is TestRemovedKeyStopsVerifying, which verifies the same token
// before and after the key leaves the JWKS.)
func TestVerifiedTokenCache(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	v, _ := newVerifier(t, p, baseConfig(p))
	c := validClaims()
	c["exp"] = time.Now().Add(1500 * time.Millisecond).Unix()
	c["nbf"] = time.Now().Add(-time.Minute).Unix()
	tok := sign(t, k.rsa, "RS256", c, nil)
	for range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// Refusals are not remembered: an expired token fails every time.
	c2 := validClaims()
	c2["exp"] = time.Now().Add(-time.Hour).Unix()
	expired := sign(t, k.rsa, "RS256", c2, nil)
	for range 2 {
		if _, err := v.Verify(context.Background(), expired); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("expired token: %v", err)
		}
	}
	forged := tok[:len(tok)-4] + "AAAA"
	if _, err := v.Verify(context.Background(), forged); err == nil {
		t.Fatal("a token differing from a cached one in its signature was accepted")
	}
}
