// Package auth verifies the bearer JWT of every /api/v1 request and turns it
// into a principal.Principal whose tenants select the Tempo tenant
// (X-Scope-OrgID) the request reads.
//
// A token grants one tenant or several (its tenant claim is a string or an
// array of strings). When it grants several, the request chooses one with the
// X-Tenant header, or several separated by commas when Config.AllowFederation
// is set; tracegate builds Tempo's "a|b" form itself and never accepts '|'
// from the caller. Anything ambiguous or not granted is refused.
//
// Keys come only from the configured JWKS URL (never from jku, x5u, jwk or x5c
// header parameters), and the token's "alg" must be on an allow-list of
// asymmetric algorithms and fit the type of the key it names (RFC 8725).
package auth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ErrInvalidToken marks a missing, malformed, unverifiable, expired or
// otherwise unacceptable token; callers answer 401.
var ErrInvalidToken = errors.New("invalid token")

// ErrForbidden marks a valid token that grants no usable tenant, or a request
// whose X-Tenant header asks for a tenant the token does not grant (or for
// several while federation is off); callers answer 403.
var ErrForbidden = errors.New("token grants no usable tenant")

// ErrTenantSelection marks a request whose X-Tenant header is malformed
// (repeated, empty, with an empty entry, too long), or absent although the
// token grants several tenants; callers answer 400.
var ErrTenantSelection = errors.New("ambiguous tenant selection")

// TenantHeader is the request header that selects the tenants a request
// reads among those its token grants.
const TenantHeader = "X-Tenant"

// MaxTenantHeaderSize is the longest X-Tenant value accepted, in bytes (the
// API contract's maxLength).
const MaxTenantHeaderSize = 2048

// MaxTokenSize is the largest token Verify parses, in bytes; anything larger
// is refused before decoding so an attacker cannot make us decode megabytes.
const MaxTokenSize = 16 << 10

// Defaults for zero Config fields.
const (
	defaultTenantClaim        = "tenant_id"
	defaultLeeway             = 30 * time.Second
	defaultRefreshInterval    = 5 * time.Minute
	defaultMinRefetchInterval = 30 * time.Second
)

var defaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Config configures a Verifier. Zero values take the documented defaults.
type Config struct {
	// JWKSURL is the identity provider's JWKS endpoint (required).
	JWKSURL string
	// Algorithms is the allow-list of JWS algorithms (default RS256, PS256,
	// ES256, EdDSA). "none" and HS* are refused: the keys are public, so an
	// HMAC "secret" would be known to everyone.
	Algorithms []string
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must be the token's "aud" or one of its entries.
	Audience string
	// TenantClaim names the claim holding the tenant id (default
	// "tenant_id"): a string granting one tenant, or an array of strings
	// granting each of them.
	TenantClaim string
	// AllowFederation lets one request read several granted tenants at once
	// (X-Tenant: a,b, sent to Tempo as "a|b"). Off by default: a
	// comma-separated X-Tenant is then answered 403.
	AllowFederation bool
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// RefreshInterval is how often the JWKS is refreshed in the background
	// (default 5m).
	RefreshInterval time.Duration
	// MinRefetchInterval bounds the extra JWKS fetches that tokens with an
	// unknown kid may trigger to one per interval (default 30s).
	MinRefetchInterval time.Duration
}

// keyFamily names the key a JWS algorithm needs, in the form keyFamilyOf
// produces. It doubles as the list of algorithms Config may allow.
var keyFamily = map[string]string{
	"RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
	"PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
	"ES256": "EC P-256", "ES384": "EC P-384", "ES512": "EC P-521",
	"EdDSA": "OKP Ed25519",
}

// withDefaults validates c and fills in defaults. It returns the allow-list
// as a set.
func (c Config) withDefaults() (Config, map[string]bool, error) {
	u, err := url.Parse(c.JWKSURL)
	switch {
	case c.JWKSURL == "":
		return c, nil, errors.New("auth: JWKSURL is required")
	case err != nil:
		return c, nil, fmt.Errorf("auth: JWKSURL: %w", err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return c, nil, fmt.Errorf("auth: JWKSURL %q is not an absolute http(s) URL", c.JWKSURL)
	}

	if len(c.Algorithms) == 0 {
		c.Algorithms = defaultAlgorithms
	}
	c.Algorithms = slices.Clone(c.Algorithms)
	allowed := make(map[string]bool, len(c.Algorithms))
	for _, a := range c.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			return c, nil, errors.New(`auth: algorithm "none" is never allowed`)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			return c, nil, fmt.Errorf("auth: algorithm %q is symmetric; keys from a public JWKS cannot be HMAC secrets", a)
		case keyFamily[a] == "":
			return c, nil, fmt.Errorf("auth: unsupported algorithm %q (supported: %s)", a, strings.Join(supportedAlgorithms(), ", "))
		}
		allowed[a] = true
	}

	if c.TenantClaim == "" {
		c.TenantClaim = defaultTenantClaim
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Leeway", &c.Leeway, defaultLeeway},
		{"RefreshInterval", &c.RefreshInterval, defaultRefreshInterval},
		{"MinRefetchInterval", &c.MinRefetchInterval, defaultMinRefetchInterval},
	} {
		switch {
		case *d.v < 0:
			return c, nil, fmt.Errorf("auth: %s must not be negative", d.name)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	return c, allowed, nil
}

func supportedAlgorithms() []string {
	names := make([]string, 0, len(keyFamily))
	for a := range keyFamily {
		names = append(names, a)
	}
	slices.Sort(names)
	return names
}
