package tenant_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tracegate/tracegate/internal/tenant"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		valid bool
	}{
		{"simple", "acme", true},
		{"every allowed punctuation", "a!-_.*'()Z9", true},
		{"max length", strings.Repeat("a", 150), true},
		{"single dot inside", "a.b", true},
		{"three dots", "...", true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 151), false},
		{"dot", ".", false},
		{"dotdot", "..", false},
		{"federation separator", "acme|globex", false},
		{"metadata separator", "acme:x", false},
		{"slash", "ac/me", false},
		{"space", "ac me", false},
		{"non-ascii", "acmé", false},
		{"control character", "acme\n", false},
		{"nul", "acme\x00", false},
		{"comma", "a,b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tenant.Parse(tc.in)
			if tc.valid {
				if err != nil || got.String() != tc.in {
					t.Fatalf("Parse(%q) = %q, %v; want valid", tc.in, got, err)
				}
				return
			}
			if !errors.Is(err, tenant.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %v; want ErrInvalid", tc.in, err)
			}
			if !got.IsZero() {
				t.Fatalf("Parse(%q) returned %q with an error", tc.in, got)
			}
		})
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	s := tenant.MustSet("globex", "acme", "globex")
	if got := s.OrgID(); got != "acme|globex" {
		t.Errorf("OrgID = %q, want acme|globex (sorted, de-duplicated)", got)
	}
	if s.Len() != 2 || !s.Contains("acme") || !s.Contains("globex") || s.Contains("acm") || s.Contains("") {
		t.Errorf("set %v: wrong Len or Contains", s)
	}
	if one := tenant.MustSet("acme"); one.OrgID() != "acme" {
		t.Errorf("single tenant OrgID = %q", one.OrgID())
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if _, ok := tenant.FromContext(context.Background()); ok {
		t.Fatal("empty context reported a tenant")
	}
	ctx := tenant.NewContext(context.Background(), tenant.MustSet("acme"))
	if got, ok := tenant.FromContext(ctx); !ok || got.OrgID() != "acme" {
		t.Fatalf("FromContext = %v, %v; want acme, true", got, ok)
	}
	if _, ok := tenant.FromContext(tenant.NewContext(context.Background(), tenant.NewSet())); ok {
		t.Fatal("empty set reported as present")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"acme", "a|b", "acme:x", "..", ".", "", strings.Repeat("a", 151), "ac/me", "a!-_.*'()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := tenant.Parse(s)
		if err != nil {
			if !errors.Is(err, tenant.ErrInvalid) || !id.IsZero() {
				t.Fatalf("Parse(%q) = %q, %v", s, id, err)
			}
			return
		}
		if id.String() != s || len(s) == 0 || len(s) > tenant.MaxLength || s == "." || s == ".." ||
			strings.ContainsAny(s, "|:/ ,\x00\r\n") || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!-_.*'()") != "" {
			t.Fatalf("Parse accepted %q", s)
		}
		if tenant.NewSet(id).OrgID() != s {
			t.Fatalf("OrgID of %q changed it", s)
		}
	})
}
