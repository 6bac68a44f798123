package auth

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tracegate/tracegate/internal/tenant"
)

func TestParseClaimPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want claimPath // nil: refused
	}{
		{"tenant_id", claimPath{"tenant_id"}},
		{"org.tenant", claimPath{"org", "tenant"}},
		{"a.b.c", claimPath{"a", "b", "c"}},
		{"https://example.com/tenant", claimPath{"https://example.com/tenant"}},
		{"https://example.com/a.b", claimPath{"https://example.com/a.b"}},
		{`https://example.com/["x"]`, claimPath{`https://example.com/["x"]`}}, // literal: no brackets either
		{"http://example.com/tenant", claimPath{"http://example.com/tenant"}},
		// The literal rule is for the lower-case prefixes only: dots split this.
		{"HTTPS://example.com/tenant", claimPath{"HTTPS://example", "com/tenant"}},
		{`["tenant.id"]`, claimPath{"tenant.id"}},
		{`["https://example.com/org"].tenant`, claimPath{"https://example.com/org", "tenant"}},
		{`org["a.b"]`, claimPath{"org", "a.b"}},
		{`org.["a.b"]`, claimPath{"org", "a.b"}},
		{`org["a.b"]["c"].d`, claimPath{"org", "a.b", "c", "d"}},
		{`["a\"b"]`, claimPath{`a"b`}},
		{`["a\\b"]`, claimPath{`a\b`}},
		{`["\u00e9"]`, claimPath{"é"}},
		{`["]"]`, claimPath{"]"}},
		{"", nil},
		{".", nil},
		{".a", nil},
		{"a.", nil},
		{"a..b", nil},
		{"a]", nil},
		{`a"b`, nil},
		{"[a]", nil},
		{`[""]`, nil},
		{`["a"`, nil},
		{`["a`, nil},
		{`["a\"]`, nil},
		{`["a"]b`, nil},
		{`["a"].`, nil},
		{`["\x"]`, nil},
		{"[", nil},
		// JSON Pointers (RFC 6901).
		{"/tenant_id", claimPath{"tenant_id"}},
		{"/realm_access/roles", claimPath{"realm_access", "roles"}},
		{"/a~1b/c~0d", claimPath{"a/b", "c~d"}},
		{"/~01", claimPath{"~1"}},
		{"/~10", claimPath{"/0"}},
		{"/a.b/[\"c\"]", claimPath{"a.b", `["c"]`}}, // no dot or bracket syntax inside a pointer
		{"/groups/0", claimPath{"groups", "0"}},
		{"/", nil},
		{"/a//b", nil},
		{"/a/", nil},
		{"/a~", nil},
		{"/a~2b", nil},
		{"/~a", nil},
	}
	for _, tc := range tests {
		got, err := parseClaimPath(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseClaimPath(%q) = %q; want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseClaimPath(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseClaimPath(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

// FuzzTenantsOf feeds arbitrary claim sets (decoded as jwt.Parse would) and
// claim paths to the tenant extraction: it must not panic, must grant only
// ids that tenant.Parse accepts, sorted and without duplicates, and must
// refuse with ErrForbidden and a tenant reason otherwise.
func FuzzTenantsOf(f *testing.F) {
	for _, seed := range []struct{ payload, path string }{
		{`{"tenant_id":"acme"}`, "tenant_id"},
		{`{"tenant_id":["globex","acme","acme"]}`, "tenant_id"},
		{`{"tenant_id":[]}`, "tenant_id"},
		{`{"tenant_id":["acme",1]}`, "tenant_id"},
		{`{"tenant_id":null}`, "tenant_id"},
		{`{"tenant_id":"acme|globex"}`, "tenant_id"},
		{`{"tenant_id":".."}`, "tenant_id"},
		{`{"tenant_id":"ac\u0000me"}`, "tenant_id"},
		{`{"org":{"tenant":"acme"}}`, "org.tenant"},
		{`{"org":{"tenant":["a","b"]}}`, "org.tenant"},
		{`{"org":"acme"}`, "org.tenant"},
		{`{"https://example.com/tenant":"acme"}`, "https://example.com/tenant"},
		{`{"a.b":{"c":"x"}}`, `["a.b"].c`},
		{`{"org":{"a.b":"x"}}`, `org["a.b"]`},
		{`{"aud":["acme","globex"]}`, "aud"},
		{`{"sub":"acme"}`, "sub"},
		{`{"exp":1}`, "exp"},
		{`{"t":{"t":{"t":{"t":"deep"}}}}`, "t.t.t.t"},
		{`{"x":"y"}`, `["x`},
		{`{"x":"y"}`, "a..b"},
		{`{"realm_access":{"roles":["acme","globex"]}}`, "/realm_access/roles"},
		{`{"groups":["x","acme"]}`, "/groups/1"},
		{`{"groups":["x","acme"]}`, "/groups/01"},
		{`{"a/b":{"c~d":"acme"}}`, "/a~1b/c~0d"},
		{`{"aud":["acme"]}`, "/aud/0"},
		{`{"x":"y"}`, "/x~2"},
	} {
		f.Add(seed.payload, seed.path)
	}
	f.Fuzz(func(t *testing.T, payload, path string) {
		p, err := parseClaimPath(path)
		if err != nil {
			return
		}
		if len(p) == 0 || slices.Contains(p, "") {
			t.Fatalf("parseClaimPath(%q) = %q: empty path or name", path, p)
		}
		if q, err := parseClaimPath(p.pointer()); err != nil || !slices.Equal(p, q) {
			t.Fatalf("parseClaimPath(%q) = %q, but its pointer %q parses to %q, %v", path, p, p.pointer(), q, err)
		}
		tok := jwt.New()
		if json.Unmarshal([]byte(payload), tok) != nil {
			return
		}
		ids, err := tenantsOf(tok, p, path, "")
		if err != nil {
			var d *Denial
			if !errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalidToken) || !errors.As(err, &d) ||
				(d.Reason != reasonNoTenant && d.Reason != reasonInvalidTenant) {
				t.Fatalf("tenantsOf error = %v; want a no_tenant or invalid_tenant Denial wrapping ErrForbidden", err)
			}
			if ids != nil {
				t.Fatalf("tenantsOf returned %q with an error", ids)
			}
			return
		}
		if len(ids) == 0 {
			t.Fatal("tenantsOf granted nothing without an error")
		}
		for i, id := range ids {
			parsed, err := tenant.Parse(id.String())
			if err != nil || parsed != id {
				t.Fatalf("granted %q, which tenant.Parse refuses: %v", id, err)
			}
			if i > 0 && tenant.Compare(ids[i-1], id) >= 0 {
				t.Fatalf("granted %q: not sorted or with duplicates", ids)
			}
		}
	})
}

func TestDenial(t *testing.T) {
	t.Parallel()
	d := deny(reasonExpired, ErrInvalidToken)
	var err error = d
	if !errors.Is(err, ErrInvalidToken) || err.Error() != ErrInvalidToken.Error() || d.AuditReason() != "expired" {
		t.Errorf("Denial: Is %v, Error %q, AuditReason %q", errors.Is(err, ErrInvalidToken), err.Error(), d.AuditReason())
	}
	if got := (&Denial{Reason: reasonMalformed}).Error(); got != "malformed" {
		t.Errorf("Error without cause = %q", got)
	}
	if !slices.Equal(Reasons(), reasons) {
		t.Error("Reasons differs from the vocabulary")
	}
}
