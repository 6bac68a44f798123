package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/tenant"
)

// signNoTyp signs payload with no "typ" header at all (jwt.Sign adds
// "typ":"JWT" by itself).
func signNoTyp(t testing.TB, key testKey, payload map[string]any) string {
	t.Helper()
	body, err := json.Marshal(payload)
	must(t, err)
	hdrs := jws.NewHeaders()
	must(t, hdrs.Set(jws.KeyIDKey, key.kid))
	b, err := jws.Sign(body, jws.WithKey(jwa.RS256(), key.priv, jws.WithProtectedHeaders(hdrs)))
	must(t, err)
	return string(b)
}

func TestVerifyType(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	cfg.Type = "at+jwt"
	v, _ := newVerifier(t, p, cfg)
	cfg.Type = "Application/AT+JWT"
	vPrefixed, _ := newVerifier(t, p, cfg)
	vNone, _ := newVerifier(t, p, baseConfig(p))

	typ := func(s string) string { return sign(t, k.rsa, "RS256", validClaims(), map[string]any{"typ": s}) }
	tests := []struct {
		name   string
		token  string
		accept bool
	}{
		{"at+jwt", typ("at+jwt"), true},
		{"upper case", typ("AT+JWT"), true},
		{"application/ prefix", typ("application/at+jwt"), true},
		{"mixed case prefix", typ("Application/At+Jwt"), true},
		{"JWT", typ("JWT"), false},
		{"prefix only", typ("application/"), false},
		{"other type with the suffix", typ("dpop+jwt"), false},
		{"at+jwt with a suffix", typ("at+jwt2"), false},
		{"leading space", typ(" at+jwt"), false},
		{"missing", signNoTyp(t, k.rsa, validClaims()), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for name, v := range map[string]*auth.Verifier{"Type at+jwt": v, "Type Application/AT+JWT": vPrefixed} {
				_, err := v.Verify(context.Background(), tc.token)
				if tc.accept && err != nil {
					t.Errorf("%s: Verify: %v", name, err)
				}
				if !tc.accept && (!errors.Is(err, auth.ErrInvalidToken) || reasonOf(err) != "wrong_type") {
					t.Errorf("%s: Verify error = %v (reason %q); want wrong_type", name, err, reasonOf(err))
				}
			}
			// Without Type, typ is not checked.
			if _, err := vNone.Verify(context.Background(), tc.token); err != nil {
				t.Errorf("without Type: Verify: %v", err)
			}
		})
	}
}

func TestVerifyRequiredScope(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	cfg.RequiredScope = "traces:read"
	v, _ := newVerifier(t, p, cfg)

	scope := func(changes map[string]any) string { return sign(t, k.rsa, "RS256", claims(changes), nil) }
	tests := []struct {
		name       string
		token      string
		wantReason string // "": accepted
	}{
		{"scope string", scope(map[string]any{"scope": "openid traces:read"}), ""},
		{"scope string, only it", scope(map[string]any{"scope": "traces:read"}), ""},
		{"scope array", scope(map[string]any{"scope": []string{"openid", "traces:read"}}), ""},
		{"scp string", scope(map[string]any{"scope": nil, "scp": "traces:read profile"}), ""},
		{"scp array", scope(map[string]any{"scope": nil, "scp": []string{"traces:read"}}), ""},
		{"no scope", scope(map[string]any{"scope": nil}), "insufficient_scope"},
		{"other scopes", scope(map[string]any{"scope": "openid profile"}), "insufficient_scope"},
		{"prefix", scope(map[string]any{"scope": "traces:reader"}), "insufficient_scope"},
		{"case differs", scope(map[string]any{"scope": "TRACES:READ"}), "insufficient_scope"},
		{"comma-separated", scope(map[string]any{"scope": "openid,traces:read"}), "insufficient_scope"},
		{"array entry with spaces", scope(map[string]any{"scope": []string{"openid traces:read"}}), "insufficient_scope"},
		{"empty array", scope(map[string]any{"scope": []string{}}), "insufficient_scope"},
		// scope wins over scp.
		{"scope without it, scp with it", scope(map[string]any{"scope": "openid", "scp": "traces:read"}), "insufficient_scope"},
		{"malformed scope", scope(map[string]any{"scope": 7}), "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), tc.token)
			switch tc.wantReason {
			case "":
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.Tenants.OrgID() != "acme" {
					t.Errorf("tenant = %q", got.Tenants)
				}
			case "insufficient_scope":
				if !errors.Is(err, auth.ErrInsufficientScope) || errors.Is(err, auth.ErrInvalidToken) ||
					errors.Is(err, auth.ErrForbidden) || reasonOf(err) != tc.wantReason {
					t.Fatalf("Verify error = %v (reason %q); want ErrInsufficientScope only", err, reasonOf(err))
				}
			default:
				if !errors.Is(err, auth.ErrInvalidToken) || reasonOf(err) != tc.wantReason {
					t.Fatalf("Verify error = %v (reason %q); want ErrInvalidToken with %q", err, reasonOf(err), tc.wantReason)
				}
			}
		})
	}

	t.Run("middleware challenge", func(t *testing.T) {
		t.Parallel()
		e := echo.New()
		e.Use(v.Middleware())
		e.GET("/api/v1/ping", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
		req := httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil)
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+scope(map[string]any{"scope": "openid"}))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var body struct{ Message string }
		must(t, json.Unmarshal(rec.Body.Bytes(), &body))
		if diff := cmp.Diff(
			[]any{403, `Bearer realm="tracegate", error="insufficient_scope", scope="traces:read"`, "insufficient scope"},
			[]any{rec.Code, rec.Header().Get(echo.HeaderWWWAuthenticate), body.Message},
		); diff != "" {
			t.Errorf("status, WWW-Authenticate, message mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("scope is checked before the tenant", func(t *testing.T) {
		t.Parallel()
		_, err := v.Verify(context.Background(), scope(map[string]any{"scope": nil, "tenant_id": nil}))
		if reasonOf(err) != "insufficient_scope" {
			t.Errorf("error = %v; want insufficient_scope", err)
		}
	})
}

func TestVerifyAllowedClientIDs(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	cfg.AllowedClientIDs = []string{"tracegate-ui", "grafana"}
	v, _ := newVerifier(t, p, cfg)
	vAny, _ := newVerifier(t, p, baseConfig(p))

	client := func(changes map[string]any) string { return sign(t, k.rsa, "RS256", claims(changes), nil) }
	tests := []struct {
		name   string
		token  string
		accept bool
	}{
		{"azp allowed", client(map[string]any{"azp": "tracegate-ui"}), true},
		{"client_id allowed", client(map[string]any{"client_id": "grafana"}), true},
		{"azp and client_id allowed", client(map[string]any{"azp": "grafana", "client_id": "tracegate-ui"}), true},
		{"azp allowed, client_id not", client(map[string]any{"azp": "grafana", "client_id": "evil"}), true},
		{"azp not allowed", client(map[string]any{"azp": "evil"}), false},
		{"azp not allowed, client_id allowed", client(map[string]any{"azp": "evil", "client_id": "grafana"}), false},
		{"client_id not allowed", client(map[string]any{"client_id": "evil"}), false},
		{"neither", client(nil), false},
		{"azp of another case", client(map[string]any{"azp": "Grafana"}), false},
		{"azp empty", client(map[string]any{"azp": ""}), false},
		{"azp not a string", client(map[string]any{"azp": []string{"grafana"}}), false},
		{"client_id not a string", client(map[string]any{"client_id": 1}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tc.token)
			if tc.accept && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.accept && (!errors.Is(err, auth.ErrInvalidToken) || reasonOf(err) != "wrong_client") {
				t.Fatalf("Verify error = %v (reason %q); want wrong_client", err, reasonOf(err))
			}
			if _, err := vAny.Verify(context.Background(), tc.token); err != nil {
				t.Errorf("without AllowedClientIDs: %v", err)
			}
		})
	}
}

func TestVerifyTenantClaimPaths(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	verifiers := map[string]*auth.Verifier{}
	for _, path := range []string{
		"org.tenant",
		"a.b.c",
		"https://example.com/tenant",
		"http://example.com/tenants",
		`["tenant.id"]`,
		`["https://example.com/org"].tenant`,
		`org["a.b"]`,
		`org.["a.b"]`,
		`["a\"b"]`,
		"/org/tenant",
		"/realm_access/roles",
		"/groups/1",
		"/groups/01",
		"/groups/-",
		"/list/0/id",
		"/a~1b/c~0d",
		"/~01",
		"/https:~1~1example.com~1tenant",
		"/tenant.id",
	} {
		cfg := baseConfig(p)
		cfg.TenantClaim = path
		verifiers[path], _ = newVerifier(t, p, cfg)
	}

	tests := []struct {
		path        string
		claims      map[string]any
		wantGranted []tenant.ID
		wantReason  string // when refused
	}{
		{"org.tenant", map[string]any{"org": map[string]any{"tenant": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"org.tenant", map[string]any{"org": map[string]any{"tenant": []string{"globex", "acme"}}}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex")}, ""},
		{"org.tenant", map[string]any{"org": map[string]any{"tenant": "acme", "other": 1}, "tenant_id": "x"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"org.tenant", map[string]any{"org.tenant": "acme"}, nil, "no_tenant"}, // dots split: no literal match
		{"org.tenant", map[string]any{"org": "acme"}, nil, "no_tenant"},
		{"org.tenant", map[string]any{"org": []string{"acme"}}, nil, "no_tenant"},
		{"org.tenant", map[string]any{"org": map[string]any{}}, nil, "no_tenant"},
		{"org.tenant", map[string]any{"org": map[string]any{"tenant": nil}}, nil, "no_tenant"},
		{"org.tenant", map[string]any{"org": map[string]any{"tenant": "acme|globex"}}, nil, "invalid_tenant"},
		{"org.tenant", map[string]any{"org": map[string]any{"tenant": map[string]any{"id": "acme"}}}, nil, "invalid_tenant"},
		{"org.tenant", map[string]any{}, nil, "no_tenant"},
		{"a.b.c", map[string]any{"a": map[string]any{"b": map[string]any{"c": "acme"}}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"a.b.c", map[string]any{"a": map[string]any{"b": "acme"}}, nil, "no_tenant"},
		{"https://example.com/tenant", map[string]any{"https://example.com/tenant": "acme"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"https://example.com/tenant", map[string]any{"https://example": map[string]any{"com/tenant": "acme"}}, nil, "no_tenant"},
		{"http://example.com/tenants", map[string]any{"http://example.com/tenants": []string{"acme", "globex"}}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex")}, ""},
		{`["tenant.id"]`, map[string]any{"tenant.id": "acme"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{`["tenant.id"]`, map[string]any{"tenant": map[string]any{"id": "acme"}}, nil, "no_tenant"},
		{`["https://example.com/org"].tenant`, map[string]any{"https://example.com/org": map[string]any{"tenant": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{`org["a.b"]`, map[string]any{"org": map[string]any{"a.b": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{`org.["a.b"]`, map[string]any{"org": map[string]any{"a.b": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{`org["a.b"]`, map[string]any{"org": map[string]any{"a": map[string]any{"b": "acme"}}}, nil, "no_tenant"},
		{`["a\"b"]`, map[string]any{`a"b`: "acme"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		// JSON Pointers (RFC 6901).
		{"/org/tenant", map[string]any{"org": map[string]any{"tenant": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"/org/tenant", map[string]any{"org.tenant": "acme"}, nil, "no_tenant"},
		{"/org/tenant", map[string]any{"org": "acme"}, nil, "no_tenant"},
		{"/realm_access/roles", map[string]any{"realm_access": map[string]any{"roles": []string{"globex", "acme"}}}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex")}, ""},
		{"/realm_access/roles", map[string]any{"realm_access": map[string]any{"roles": []any{"acme", 1}}}, nil, "invalid_tenant"},
		{"/groups/1", map[string]any{"groups": []string{"admins", "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"/groups/1", map[string]any{"groups": []string{"acme"}}, nil, "no_tenant"},                                     // past the end
		{"/groups/1", map[string]any{"groups": map[string]any{"1": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""}, // an object member named "1"
		{"/groups/01", map[string]any{"groups": []string{"admins", "acme"}}, nil, "no_tenant"},                          // leading zero: not an index
		{"/groups/-", map[string]any{"groups": []string{"admins", "acme"}}, nil, "no_tenant"},                           // the element after the last
		{"/list/0/id", map[string]any{"list": []any{map[string]any{"id": "acme"}}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"/a~1b/c~0d", map[string]any{"a/b": map[string]any{"c~d": "acme"}}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"/a~1b/c~0d", map[string]any{"a": map[string]any{"b": map[string]any{"c~d": "acme"}}}, nil, "no_tenant"},
		{"/~01", map[string]any{"~1": "acme"}, []tenant.ID{tenant.MustParse("acme")}, ""}, // ~0 first: "~01" is "~1", not "/"
		{"/~01", map[string]any{"/": "acme"}, nil, "no_tenant"},
		{"/https:~1~1example.com~1tenant", map[string]any{"https://example.com/tenant": "acme"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"/tenant.id", map[string]any{"tenant.id": "acme"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"/tenant.id", map[string]any{"tenant": map[string]any{"id": "acme"}}, nil, "no_tenant"},
	}
	for _, tc := range tests {
		name := tc.path + " " + string(must2(json.Marshal(tc.claims)))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := claims(map[string]any{"tenant_id": nil})
			for k, v := range tc.claims {
				c[k] = v
			}
			got, err := verifiers[tc.path].Verify(context.Background(), sign(t, k.rsa, "RS256", c, nil))
			if tc.wantReason != "" {
				if !errors.Is(err, auth.ErrForbidden) || reasonOf(err) != tc.wantReason {
					t.Fatalf("Verify error = %v (reason %q); want ErrForbidden with %q", err, reasonOf(err), tc.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.wantGranted, got.Granted); diff != "" {
				t.Errorf("Granted mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func must2[T any](v T, err error) T {
	check(err)
	return v
}

// TestTenantClaimDeprecation checks the one warning line for the
// dot-and-bracket syntax: logged once by NewVerifier, naming the JSON
// Pointer that reads the same claim, and absent for pointers and names.
func TestTenantClaimDeprecation(t *testing.T) {
	t.Parallel()
	p := newIDP(t, allKeys()...)
	for _, tc := range []struct{ path, wantPointer string }{
		{"org.tenant", "/org/tenant"},
		{`["tenant.id"]`, "/tenant.id"},
		{`["https://example.com/org"].tenant`, "/https:~1~1example.com~1org/tenant"},
		{`org["a/b~c"]`, "/org/a~1b~0c"},
		{"tenant_id", ""},
		{"groups", ""},
		{"https://example.com/tenant", ""},
		{"/org/tenant", ""},
		{"", ""}, // the default, tenant_id
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(p)
			cfg.TenantClaim = tc.path
			_, logs := newVerifier(t, p, cfg)
			n := strings.Count(logs.String(), "deprecated")
			if tc.wantPointer == "" {
				if n != 0 {
					t.Errorf("TenantClaim %q: deprecation logged:\n%s", tc.path, logs)
				}
				return
			}
			if n != 1 || !strings.Contains(logs.String(), "json_pointer="+tc.wantPointer) {
				t.Errorf("TenantClaim %q: want one deprecation line naming json_pointer=%s, logs:\n%s", tc.path, tc.wantPointer, logs)
			}
			if err := auth.CheckTenantClaim(tc.wantPointer); err != nil {
				t.Errorf("the suggested pointer %q is refused: %v", tc.wantPointer, err)
			}
		})
	}
}
