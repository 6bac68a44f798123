package auth

import (
	"errors"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Reason codes: the fixed vocabulary of Denial.Reason. Reasons lists them.
const (
	reasonMissingToken       = "missing_token"       // no Authorization header, or no token in it
	reasonDuplicateHeader    = "duplicate_header"    // several Authorization or X-Tenant header lines
	reasonWrongScheme        = "wrong_scheme"        // Authorization is not "Bearer <token>"
	reasonTokenTooLarge      = "token_too_large"     // over MaxTokenSize
	reasonMalformed          = "malformed"           // not a compact JWS, bad JSON, bad header, missing exp, malformed scope...
	reasonDisallowedAlg      = "disallowed_alg"      // alg not on the allow-list, or not fit for the key its kid names
	reasonUnknownKey         = "unknown_key"         // no usable key for the kid (also: ambiguous without kid, key not for signing)
	reasonBadSignature       = "bad_signature"       // the key did not verify the signature
	reasonExpired            = "expired"             // exp passed (beyond Leeway)
	reasonNotYetValid        = "not_yet_valid"       // nbf or iat in the future (beyond Leeway)
	reasonWrongIssuer        = "wrong_issuer"        // iss missing or not Config.Issuer
	reasonWrongAudience      = "wrong_audience"      // aud missing or without Config.Audience
	reasonWrongType          = "wrong_type"          // header typ missing or not Config.Type
	reasonWrongClient        = "wrong_client"        // azp/client_id missing or not in Config.AllowedClientIDs
	reasonKeysUnavailable    = "keys_unavailable"    // no key set has loaded yet
	reasonNoTenant           = "no_tenant"           // the tenant claim is missing
	reasonInvalidTenant      = "invalid_tenant"      // the tenant claim or X-Tenant is not a valid tenant id (list)
	reasonChooseTenant       = "choose_tenant"       // several tenants granted and no X-Tenant
	reasonTenantNotGranted   = "tenant_not_granted"  // X-Tenant names a tenant the token does not grant
	reasonFederationDisabled = "federation_disabled" // X-Tenant names several tenants, federation off
	reasonInsufficientScope  = "insufficient_scope"  // Config.RequiredScope missing from the token
)

var reasons = []string{
	reasonMissingToken, reasonDuplicateHeader, reasonWrongScheme, reasonTokenTooLarge,
	reasonMalformed, reasonDisallowedAlg, reasonUnknownKey, reasonBadSignature,
	reasonExpired, reasonNotYetValid, reasonWrongIssuer, reasonWrongAudience,
	reasonWrongType, reasonWrongClient, reasonKeysUnavailable, reasonNoTenant,
	reasonInvalidTenant, reasonChooseTenant, reasonTenantNotGranted,
	reasonFederationDisabled, reasonInsufficientScope,
}

// Reasons returns every reason code a Denial may carry, e.g. to pre-register
// the label values of a metric. The list is fixed; callers may modify the
// returned slice.
func Reasons() []string { return slices.Clone(reasons) }

// Denial is why a request or token was refused. Verify returns its errors
// as *Denial, and every *echo.HTTPError the Middleware returns has one in
// its Internal chain, so that another package can read the reason without
// importing auth:
//
//	var r interface{ AuditReason() string }
//	if errors.As(err, &r) { reason = r.AuditReason() }
//
// Err wraps the sentinel (ErrInvalidToken, ErrForbidden,
// ErrInsufficientScope or ErrTenantSelection), so errors.Is keeps working.
// Neither Reason nor Err ever contains the token or a secret.
type Denial struct {
	// Reason is one of Reasons().
	Reason string
	// Err is the cause.
	Err error
}

// Error returns the cause's text.
func (d *Denial) Error() string {
	if d.Err == nil {
		return d.Reason
	}
	return d.Err.Error()
}

// Unwrap returns the cause.
func (d *Denial) Unwrap() error { return d.Err }

// AuditReason returns Reason.
func (d *Denial) AuditReason() string { return d.Reason }

func deny(reason string, err error) *Denial { return &Denial{Reason: reason, Err: err} }

// Sentinels that fetchKeys's errors wrap, so that classify can tell them
// apart once jws has wrapped them.
var (
	// errNoKey means the key set has no key for the token; only this error
	// may trigger a JWKS refetch, so a known kid with a bad signature cannot.
	errNoKey = errors.New("no matching key in JWKS")
	// errUnusableKey means a key matches the kid but is not for signatures,
	// or several keys fit a token without kid.
	errUnusableKey = errors.New("no usable key")
	// errKeyMismatch means the key the kid names does not fit the token's alg.
	errKeyMismatch = errors.New("key does not fit the algorithm")
	// errDisallowedAlg means the token's alg is not on the allow-list.
	errDisallowedAlg = errors.New("algorithm not allowed")
	// errKeysUnavailable means no key set has been loaded yet.
	errKeysUnavailable = errors.New("no keys loaded")
	// errBadHeader means the protected header is unusable (no alg, crit).
	errBadHeader = errors.New("unacceptable JWS header")
)

// classify maps an error of jwt.ParseString (with fetchKeys as key
// provider) to a reason code. Key errors come first: when no key was
// found, jws never got to verify anything.
func classify(err error) string {
	switch {
	case errors.Is(err, errKeysUnavailable):
		return reasonKeysUnavailable
	case errors.Is(err, errDisallowedAlg), errors.Is(err, errKeyMismatch):
		return reasonDisallowedAlg
	case errors.Is(err, errBadHeader):
		return reasonMalformed
	case errors.Is(err, errNoKey), errors.Is(err, errUnusableKey):
		return reasonUnknownKey
	case errors.Is(err, jws.VerificationError()):
		return reasonBadSignature
	case errors.Is(err, jwt.TokenExpiredError()):
		return reasonExpired
	case errors.Is(err, jwt.TokenNotYetValidError()), errors.Is(err, jwt.InvalidIssuedAtError()):
		return reasonNotYetValid
	case errors.Is(err, jwt.InvalidIssuerError()):
		return reasonWrongIssuer
	case errors.Is(err, jwt.InvalidAudienceError()):
		return reasonWrongAudience
	default:
		return reasonMalformed
	}
}
