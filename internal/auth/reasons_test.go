package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/tracegate/tracegate/internal/auth"
)

// signedPayload signs arbitrary bytes as an at+jwt JWS.
func signedPayload(t testing.TB, key testKey, payload []byte) string {
	t.Helper()
	hdrs := jws.NewHeaders()
	must(t, hdrs.Set(jws.KeyIDKey, key.kid))
	must(t, hdrs.Set(jws.TypeKey, "at+jwt"))
	b, err := jws.Sign(payload, jws.WithKey(jwa.RS256(), key.priv, jws.WithProtectedHeaders(hdrs)))
	must(t, err)
	return string(b)
}

func TestReasons(t *testing.T) {
	t.Parallel()
	r := auth.Reasons()
	if len(r) != 21 {
		t.Errorf("Reasons has %d entries; want 21", len(r))
	}
	sorted := slices.Clone(r)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(r) {
		t.Errorf("Reasons has duplicates: %v", r)
	}
	for _, s := range r {
		if s == "" || strings.ToLower(s) != s || strings.ContainsAny(s, " -.") {
			t.Errorf("reason %q is not a snake_case label value", s)
		}
	}
	r[0] = "changed"
	if auth.Reasons()[0] == "changed" {
		t.Error("Reasons returns its internal slice")
	}
}

// TestMiddlewareAuditReasons runs one request per refusal through the
// middleware and checks the reason another package would read from the
// returned error, without importing auth.
func TestMiddlewareAuditReasons(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	cfg.Type = "at+jwt"
	cfg.RequiredScope = "traces:read"
	cfg.AllowedClientIDs = []string{"tracegate-ui"}
	v, logs := newVerifier(t, p, cfg)

	down := newIDP(t, k.rsa)
	down.setDown(true)
	vDown, _ := newVerifier(t, down, baseConfig(down))

	now := time.Now()
	at := map[string]any{"typ": "at+jwt"}
	strict := func(changes map[string]any) map[string]any {
		c := claims(map[string]any{"azp": "tracegate-ui"})
		for k, v := range changes {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	good := sign(t, k.rsa, "RS256", strict(nil), at)
	gh, gp, gs := segments(t, good)
	tampered := gh + "." + b64(strict(map[string]any{"tenant_id": "globex"})) + "." + gs
	several := sign(t, k.rsa, "RS256", strict(map[string]any{"tenant_id": []string{"acme", "globex"}}), at)
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }

	tests := []struct {
		name          string
		v             *auth.Verifier
		authorization []string
		xTenant       []string
		wantCode      int
		wantReason    string
	}{
		{"no Authorization", v, nil, nil, 401, "missing_token"},
		{"empty Authorization", v, []string{" "}, nil, 401, "missing_token"},
		{"Bearer without token", v, []string{"Bearer  "}, nil, 401, "missing_token"},
		{"two Authorization headers", v, []string{"Bearer " + good, "Bearer " + good}, nil, 401, "duplicate_header"},
		{"Basic", v, []string{"Basic YWxpY2U6c2VjcmV0"}, nil, 401, "wrong_scheme"},
		{"token without scheme", v, []string{good}, nil, 401, "wrong_scheme"},
		{"token too large", v, bearer(strings.Repeat("a", auth.MaxTokenSize+1)), nil, 401, "token_too_large"},
		{"not a JWT", v, bearer("not-a-jwt"), nil, 401, "malformed"},
		{"three garbage segments", v, bearer("a.b.c"), nil, 401, "malformed"},
		{"signed payload not JSON", v, bearer(signedPayload(t, k.rsa, []byte("not json"))), nil, 401, "malformed"},
		{"payload not JSON, signature of another", v, bearer(gh + "." + b64("not json") + "." + gs), nil, 401, "bad_signature"},
		{"missing exp", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"exp": nil}), at)), nil, 401, "malformed"},
		{"no alg", v, bearer(unsigned(`{"kid":"rsa-1","typ":"at+jwt"}`, strict(nil), gs)), nil, 401, "malformed"},
		{"crit header", v, bearer(sign(t, k.rsa, "RS256", strict(nil), map[string]any{
			"typ": "at+jwt", "crit": []string{"x-ext"}, "x-ext": true,
		})), nil, 401, "malformed"},
		{"alg none", v, bearer(unsigned(`{"alg":"none","kid":"rsa-1","typ":"at+jwt"}`, strict(nil), "")), nil, 401, "disallowed_alg"},
		{"HS256", v, bearer(signWith(t, jwa.HS256(), []byte(strings.Repeat("k", 32)), "rsa-1", strict(nil), at)), nil, 401, "disallowed_alg"},
		{"RS384 not allowed", v, bearer(sign(t, k.rsaNoAlg, "RS384", strict(nil), at)), nil, 401, "disallowed_alg"},
		{"ES256 with an RSA kid", v, bearer(signWith(t, jwa.ES256(), k.ec.priv, "rsa-1", strict(nil), at)), nil, 401, "disallowed_alg"},
		{"unknown kid", v, bearer(sign(t, k.attacker, "RS256", strict(nil), at)), nil, 401, "unknown_key"},
		{"key for encryption", v, bearer(sign(t, k.rsaEnc, "RS256", strict(nil), at)), nil, 401, "unknown_key"},
		{"no kid, several keys fit", v, bearer(sign(t, k.ec, "ES256", strict(nil), map[string]any{"typ": "at+jwt", "kid": ""})), nil, 401, "unknown_key"},
		{"known kid, other key", v, bearer(signWith(t, jwa.RS256(), k.attacker.priv, "rsa-1", strict(nil), at)), nil, 401, "bad_signature"},
		{"tampered payload", v, bearer(tampered), nil, 401, "bad_signature"},
		{"stripped signature", v, bearer(gh + "." + gp + "."), nil, 401, "malformed"},
		{"signature of another token", v, bearer(gh + "." + gp + "." + func() string {
			_, _, s := segments(t, sign(t, k.rsa, "RS256", strict(map[string]any{"sub": "mallory"}), at))
			return s
		}()), nil, 401, "bad_signature"},
		{"expired", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{
			"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(),
		}), at)), nil, 401, "expired"},
		{"nbf in the future", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"nbf": now.Add(time.Hour).Unix()}), at)), nil, 401, "not_yet_valid"},
		{"iat in the future", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"iat": now.Add(time.Hour).Unix()}), at)), nil, 401, "not_yet_valid"},
		{"wrong iss", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"iss": "https://evil.example"}), at)), nil, 401, "wrong_issuer"},
		{"missing iss", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"iss": nil}), at)), nil, 401, "wrong_issuer"},
		{"wrong aud", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"aud": "other"}), at)), nil, 401, "wrong_audience"},
		{"missing aud", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"aud": nil}), at)), nil, 401, "wrong_audience"},
		{"typ JWT", v, bearer(sign(t, k.rsa, "RS256", strict(nil), nil)), nil, 401, "wrong_type"},
		{"wrong azp", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"azp": "evil"}), at)), nil, 401, "wrong_client"},
		{"no azp", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"azp": nil}), at)), nil, 401, "wrong_client"},
		{"malformed scope", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"scope": 1}), at)), nil, 401, "malformed"},
		{"keys unavailable", vDown, bearer(sign(t, k.rsa, "RS256", validClaims(), nil)), nil, 401, "keys_unavailable"},
		{"no scope", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"scope": "openid"}), at)), nil, 403, "insufficient_scope"},
		{"no tenant claim", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"tenant_id": nil}), at)), nil, 403, "no_tenant"},
		{"invalid tenant claim", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"tenant_id": "acme|globex"}), at)), nil, 403, "invalid_tenant"},
		{"tenant claim not a string", v, bearer(sign(t, k.rsa, "RS256", strict(map[string]any{"tenant_id": 7}), at)), nil, 403, "invalid_tenant"},
		{"X-Tenant with a pipe", v, bearer(several), []string{"acme|globex"}, 403, "invalid_tenant"},
		{"X-Tenant empty", v, bearer(several), []string{""}, 400, "invalid_tenant"},
		{"X-Tenant empty entry", v, bearer(several), []string{"acme,"}, 400, "invalid_tenant"},
		{"X-Tenant too long", v, bearer(several), []string{strings.Repeat("a", auth.MaxTenantHeaderSize+1)}, 400, "invalid_tenant"},
		{"two X-Tenant headers", v, bearer(several), []string{"acme", "globex"}, 400, "duplicate_header"},
		{"several tenants, no X-Tenant", v, bearer(several), nil, 400, "choose_tenant"},
		{"X-Tenant not granted", v, bearer(several), []string{"umbrella"}, 403, "tenant_not_granted"},
		{"X-Tenant list, federation off", v, bearer(several), []string{"acme,globex"}, 403, "federation_disabled"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.wantReason] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil)
			for _, a := range tc.authorization {
				req.Header.Add(echo.HeaderAuthorization, a)
			}
			for _, x := range tc.xTenant {
				req.Header.Add(auth.TenantHeader, x)
			}
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(req, rec)
			var ran bool
			err := tc.v.Middleware()(func(echo.Context) error { ran = true; return nil })(c)
			if ran {
				t.Fatal("handler ran although the middleware rejected the request")
			}
			he, ok := err.(*echo.HTTPError) //nolint:errorlint // deliberately not errors.As: it must be bare
			if !ok {
				t.Fatalf("error is %T (%v); want a bare *echo.HTTPError", err, err)
			}
			// What an audit logger in another package does.
			var r interface{ AuditReason() string }
			if !errors.As(err, &r) {
				t.Fatalf("no AuditReason in the chain of %v", err)
			}
			if he.Code != tc.wantCode || r.AuditReason() != tc.wantReason {
				t.Errorf("code %d, reason %q; want %d, %q (Internal: %v)", he.Code, r.AuditReason(), tc.wantCode, tc.wantReason, he.Internal)
			}
			var d *auth.Denial
			if !errors.As(he.Internal, &d) || d.AuditReason() != d.Reason {
				t.Errorf("Internal %T is no *auth.Denial", he.Internal)
			}
			wantSentinel := map[int]error{401: auth.ErrInvalidToken, 403: auth.ErrForbidden, 400: auth.ErrTenantSelection}[tc.wantCode]
			if tc.wantReason == "insufficient_scope" {
				wantSentinel = auth.ErrInsufficientScope
			}
			if !errors.Is(err, wantSentinel) {
				t.Errorf("error %v does not wrap %v", err, wantSentinel)
			}
			if !slices.Contains(auth.Reasons(), r.AuditReason()) {
				t.Errorf("reason %q is not in Reasons()", r.AuditReason())
			}
			for _, a := range tc.authorization {
				assertNoLeak(t, he.Error(), strings.TrimPrefix(a, "Bearer "))
			}
		})
	}
	// Every reason of the vocabulary is reachable, and tested.
	for _, r := range auth.Reasons() {
		if !seen[r] {
			t.Errorf("reason %q not covered", r)
		}
	}
	if len(seen) < 20 {
		t.Errorf("%d distinct reasons covered; want at least 20", len(seen))
	}
	t.Cleanup(func() {
		for _, tc := range tests {
			for _, a := range tc.authorization {
				assertNoLeak(t, logs.String(), strings.TrimPrefix(a, "Bearer "))
			}
		}
	})
}
