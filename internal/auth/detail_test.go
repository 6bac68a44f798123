package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/tenant"
)

// Every denial of a check against configured values says what was expected
// and what the token holds, so that an operator can fix a trailing slash in
// the issuer without guessing; never the token nor its signature.
func TestDenialDetails(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa, k.ec)
	cfg := baseConfig(p)
	cfg.Issuer = testIssuer + "/" // the trailing slash of the issue
	cfg.Type = "at+jwt"
	cfg.AllowedClientIDs = []string{"tracegate-ui"}
	cfg.Algorithms = []string{"RS256"}
	v, _ := newVerifier(t, p, cfg)
	at := map[string]any{"typ": "at+jwt"}
	good := map[string]any{"iss": testIssuer + "/", "azp": "tracegate-ui"}
	with := func(changes map[string]any) map[string]any {
		c := claims(good)
		for k, v := range changes {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}

	tests := []struct {
		name, token, reason string
		want                []string
	}{
		{"iss", sign(t, k.rsa, "RS256", with(map[string]any{"iss": testIssuer}), at), "wrong_issuer",
			[]string{`iss "https://idp.example"`, `expected "https://idp.example/"`}},
		{"no iss", sign(t, k.rsa, "RS256", with(map[string]any{"iss": nil}), at), "wrong_issuer",
			[]string{"no iss claim", `expected "https://idp.example/"`}},
		{"aud", sign(t, k.rsa, "RS256", with(map[string]any{"aud": []string{"account", "grafana"}}), at), "wrong_audience",
			[]string{`aud ["account", "grafana"]`, `expected "tracegate"`}},
		{"typ", sign(t, k.rsa, "RS256", with(nil), map[string]any{"typ": "JWT"}), "wrong_type",
			[]string{`typ "JWT"`, `expected "at+jwt"`}},
		{"azp", sign(t, k.rsa, "RS256", with(map[string]any{"azp": "other-app"}), at), "wrong_client",
			[]string{`client "other-app"`, `expected one of ["tracegate-ui"]`}},
		{"alg", sign(t, k.ec, "ES256", with(nil), at), "disallowed_alg",
			[]string{`"ES256"`, `expected one of ["RS256"]`}},
		{"kid", sign(t, k.rsa, "RS256", with(nil), map[string]any{"typ": "at+jwt", "kid": "gone-1"}), "unknown_key",
			[]string{`kid "gone-1"`, `expected one of ["rsa-1", "ec-1"]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, auth.ErrInvalidToken) || reasonOf(err) != tc.reason {
				t.Fatalf("Verify = %v (reason %q), want %s", err, reasonOf(err), tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %s", err, w)
				}
			}
			for _, part := range strings.Split(tc.token, ".") {
				if strings.Contains(err.Error(), part) {
					t.Errorf("the error holds a part of the token: %q", err)
				}
			}
		})
	}
	if _, err := v.Verify(context.Background(), sign(t, k.rsa, "RS256", with(nil), at)); err != nil {
		t.Fatalf("the token the cases vary: %v", err)
	}
}

// With TenantClaimPrefix, a groups claim grants the tenants of its prefixed
// entries and ignores the rest (Keycloak "/tenants/acme" group paths, mixed
// arrays of groups).
func TestTenantClaimPrefix(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, k.rsa)
	verifier := func(claim, prefix string) *auth.Verifier {
		cfg := baseConfig(p)
		cfg.TenantClaim, cfg.TenantClaimPrefix = claim, prefix
		v, _ := newVerifier(t, p, cfg)
		return v
	}
	keycloak := verifier("groups", "/tenants/")
	custom := verifier("https://tracegate.example/groups", "tempo-tenant:")
	plain := verifier("groups", "")

	tests := []struct {
		name        string
		v           *auth.Verifier
		claim       string
		value       any
		wantGranted []tenant.ID
		wantReason  string
	}{
		{"keycloak paths", keycloak, "groups", []string{"/tenants/acme", "/admins", "/tenants/globex/ops", "/tenants/globex"}, nil, "invalid_tenant"},
		{"keycloak, one tenant among groups", keycloak, "groups", []string{"/admins", "/tenants/acme", "/staff"}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"keycloak, two tenants", keycloak, "groups", []string{"/tenants/globex", "/tenants/acme", "/tenants/acme"}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex")}, ""},
		{"keycloak, no tenant group", keycloak, "groups", []string{"/admins", "/staff"}, nil, "no_tenant"},
		{"keycloak, bare name is not a tenant", keycloak, "groups", []string{"acme", "/acme"}, nil, "no_tenant"},
		{"keycloak, a single string", keycloak, "groups", "/tenants/acme", []tenant.ID{tenant.MustParse("acme")}, ""},
		{"keycloak, empty after the prefix", keycloak, "groups", []string{"/tenants/", "/tenants/acme"}, nil, "invalid_tenant"},
		{"keycloak, a pipe smuggled", keycloak, "groups", []string{"/tenants/acme|globex"}, nil, "invalid_tenant"},
		{"mixed entries", custom, "https://tracegate.example/groups", []any{"admins", 7, map[string]any{"x": 1}, "tempo-tenant:acme", nil}, []tenant.ID{tenant.MustParse("acme")}, ""},
		{"prefix is case-sensitive", custom, "https://tracegate.example/groups", []string{"Tempo-Tenant:acme"}, nil, "no_tenant"},
		{"no claim", keycloak, "roles", []string{"/tenants/acme"}, nil, "no_tenant"},
		// Without a prefix the claim is used whole, as before.
		{"no prefix: admins is a tenant", plain, "groups", []string{"acme", "admins"}, []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("admins")}, ""},
		{"no prefix: a path refuses the claim", plain, "groups", []string{"/tenants/acme"}, nil, "invalid_tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claims(map[string]any{"tenant_id": nil, tc.claim: tc.value})
			got, err := tc.v.Verify(context.Background(), sign(t, k.rsa, "RS256", c, nil))
			if tc.wantReason != "" {
				if !errors.Is(err, auth.ErrForbidden) || reasonOf(err) != tc.wantReason {
					t.Fatalf("Verify = %v (reason %q); want ErrForbidden with %s", err, reasonOf(err), tc.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.wantGranted, got.Granted); diff != "" {
				t.Errorf("Granted (-want +got):\n%s", diff)
			}
		})
	}
}
