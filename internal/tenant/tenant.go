// Package tenant holds the tenant identifier that scopes every read from Tempo.
//
// A tenant.ID is only ever created by Parse, which applies Grafana Tempo's own
// tenant-id rules (dskit tenant.ValidTenantID), so a value of this type can be
// sent to Tempo as X-Scope-OrgID without further checks: it never contains
// Tempo's cross-tenant separator '|' nor the metadata separator ':'.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxLength is Tempo's maximum tenant id length in bytes (dskit MaxTenantIDLength).
const MaxLength = 150

// ErrInvalid is returned by Parse for a string that Tempo would not accept as a
// single tenant id.
var ErrInvalid = errors.New("invalid tenant id")

// ID is a validated Tempo tenant id. It is opaque: outside this package the
// only ways to get one are Parse and MustParse, so a value like "a|b" can
// never become an ID. The zero ID is empty and is no tenant.
type ID struct {
	s string
}

// String returns the id as sent to Tempo.
func (id ID) String() string { return id.s }

// IsZero reports whether id is the zero ID (no tenant).
func (id ID) IsZero() bool { return id.s == "" }

// Equal reports whether id and o are the same tenant (go-cmp uses it).
func (id ID) Equal(o ID) bool { return id == o }

// Compare orders ids by their text, for slices.SortFunc.
func Compare(a, b ID) int { return strings.Compare(a.s, b.s) }

// MarshalText renders the id (as in JSON logs); there is deliberately no
// UnmarshalText: an ID only comes from Parse.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.s), nil }

// MustParse is Parse for ids known to be valid (literals, tests); it panics
// on an invalid one.
func MustParse(s string) ID {
	id, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return id
}

// Parse validates s with Tempo's rules: 1 to 150 bytes out of
// [A-Za-z0-9!-_.*'()], and not "." or "..". It returns an error wrapping
// ErrInvalid otherwise; the error text never repeats more than a bounded
// prefix of s.
func Parse(s string) (ID, error) {
	switch {
	case s == "":
		return ID{}, fmt.Errorf("%w: empty", ErrInvalid)
	case len(s) > MaxLength:
		return ID{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLength)
	case s == "." || s == "..":
		return ID{}, fmt.Errorf("%w: %q is not allowed", ErrInvalid, s)
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return ID{}, fmt.Errorf("%w: unsupported character at byte %d", ErrInvalid, i)
		}
	}
	return ID{s: s}, nil
}

// allowed mirrors dskit's tenant id character table.
func allowed(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '-', '_', '.', '*', '\'', '(', ')':
		return true
	}
	return false
}

// Set is the tenants one request reads: one, or several for a federated
// read. It is sorted and free of duplicates; the zero value is empty and
// must be refused.
type Set struct {
	ids []ID
}

// NewSet returns the set of ids; zero IDs are left out.
func NewSet(ids ...ID) Set {
	ids = slices.DeleteFunc(slices.Clone(ids), ID.IsZero)
	slices.SortFunc(ids, Compare)
	return Set{ids: slices.Compact(ids)}
}

// MustSet is NewSet of MustParse of each id, for literals and tests; it
// panics on an invalid id.
func MustSet(ids ...string) Set {
	parsed := make([]ID, len(ids))
	for i, s := range ids {
		parsed[i] = MustParse(s)
	}
	return NewSet(parsed...)
}

// IDs returns the tenants in order.
func (s Set) IDs() []ID { return slices.Clone(s.ids) }

// Len returns the number of tenants.
func (s Set) Len() int { return len(s.ids) }

// Equal reports whether s and o hold the same tenants.
func (s Set) Equal(o Set) bool { return slices.Equal(s.ids, o.ids) }

// Contains reports whether v names one of the tenants.
func (s Set) Contains(v string) bool { return slices.Contains(s.ids, ID{s: v}) }

// OrgID is the set as Tempo's X-Scope-OrgID: the ids joined by '|', which
// Parse guarantees none of them contains.
func (s Set) OrgID() string {
	parts := make([]string, len(s.ids))
	for i, id := range s.ids {
		parts[i] = id.s
	}
	return strings.Join(parts, "|")
}

// String returns OrgID.
func (s Set) String() string { return s.OrgID() }

type ctxKey struct{}

// NewContext returns a copy of ctx that carries s.
func NewContext(ctx context.Context, s Set) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the set stored by NewContext. ok is false when no
// tenant is present; callers must then fail closed.
func FromContext(ctx context.Context) (s Set, ok bool) {
	s, ok = ctx.Value(ctxKey{}).(Set)
	return s, ok && s.Len() > 0
}
