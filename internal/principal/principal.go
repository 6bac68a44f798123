// Package principal describes the verified caller of one request.
//
// The auth middleware creates a Principal from a verified token and stores it
// in the request context; handlers read it back with FromContext and fail
// closed when it is absent.
package principal

import (
	"context"
	"time"

	"github.com/tracegate/tracegate/internal/tenant"
)

// Principal is the identity a verified token grants for one request.
type Principal struct {
	// Subject is the token's "sub" claim (may be empty).
	Subject string
	// Tenants are the tenants this request reads: one of Granted, or several
	// of them for a federated read.
	Tenants tenant.Set
	// Granted lists every tenant the token grants.
	Granted []tenant.ID
	// Scopes are the OAuth scopes of the token ("scope" or "scp").
	Scopes []string
	// ExpiresAt is the token's "exp".
	ExpiresAt time.Time
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p, and p.Tenants via tenant.NewContext.
func NewContext(ctx context.Context, p Principal) context.Context {
	ctx = tenant.NewContext(ctx, p.Tenants)
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the Principal stored by NewContext; ok is false if none is.
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
