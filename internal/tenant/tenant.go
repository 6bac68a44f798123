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
)

// MaxLength is Tempo's maximum tenant id length in bytes (dskit MaxTenantIDLength).
const MaxLength = 150

// ErrInvalid is returned by Parse for a string that Tempo would not accept as a
// single tenant id.
var ErrInvalid = errors.New("invalid tenant id")

// ID is a validated Tempo tenant id.
type ID string

// String returns the id as sent to Tempo.
func (id ID) String() string { return string(id) }

// Parse validates s with Tempo's rules: 1 to 150 bytes out of
// [A-Za-z0-9!-_.*'()], and not "." or "..". It returns an error wrapping
// ErrInvalid otherwise; the error text never repeats more than a bounded
// prefix of s.
func Parse(s string) (ID, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	case len(s) > MaxLength:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLength)
	case s == "." || s == "..":
		return "", fmt.Errorf("%w: %q is not allowed", ErrInvalid, s)
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return "", fmt.Errorf("%w: unsupported character at byte %d", ErrInvalid, i)
		}
	}
	return ID(s), nil
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

type ctxKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id ID) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the tenant stored by NewContext. ok is false when no
// tenant is present; callers must then fail closed.
func FromContext(ctx context.Context) (id ID, ok bool) {
	id, ok = ctx.Value(ctxKey{}).(ID)
	return id, ok && id != ""
}
