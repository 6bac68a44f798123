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
// Keys come only from the one configured key source (a JWKS URL, an OpenID
// Connect issuer's discovered JWKS, a JWKS file or an HMAC secret file), never
// from jku, x5u, jwk or x5c header parameters, and the token's "alg" must be
// on an allow-list and fit the type of the key it names (RFC 8725).
//
// Every error the Middleware returns carries a reason code from a small fixed
// vocabulary (see Denial and Reasons) for audit logs and metrics.
package auth

import (
	"errors"
	"fmt"
	"net"
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

// ErrInsufficientScope marks a valid token that lacks Config.RequiredScope;
// callers answer 403 with an RFC 6750 insufficient_scope challenge. It wraps
// neither ErrInvalidToken nor ErrForbidden.
var ErrInsufficientScope = errors.New("insufficient scope")

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

var (
	defaultAlgorithms     = []string{"RS256", "PS256", "ES256", "EdDSA"}
	defaultHMACAlgorithms = []string{"HS256"}
)

// Config configures a Verifier. Zero values take the documented defaults.
//
// Exactly one key source must be set: JWKSURL, OIDCIssuerURL, JWKSFile or
// HMACSecretFile. NewVerifier refuses none or several.
type Config struct {
	// JWKSURL is the identity provider's JWKS endpoint (http or https,
	// without user info). It is fetched at start and refreshed in the
	// background.
	JWKSURL string
	// OIDCIssuerURL is an OpenID Connect issuer. At start tracegate fetches
	// <OIDCIssuerURL>/.well-known/openid-configuration (a trailing "/" of
	// the issuer is dropped first), refuses the document unless its
	// "issuer" equals OIDCIssuerURL exactly (the mix-up attack) and its
	// "jwks_uri" is https (or http on a loopback host), then uses that
	// jwks_uri exactly like JWKSURL. OIDCIssuerURL itself must be https (or
	// http on a loopback host) without user info, query or fragment. A
	// provider that is down at start is retried in the background. Issuer
	// defaults to OIDCIssuerURL.
	OIDCIssuerURL string
	// JWKSFile is a file holding a JWKS of public keys, read at start (an
	// unreadable or invalid file, one without keys, or one holding private
	// or symmetric keys is a NewVerifier error) and re-read every
	// RefreshInterval and, at most once per MinRefetchInterval, when a
	// token names an unknown kid. A failed re-read keeps the last good set.
	JWKSFile string
	// HMACSecretFile is a file holding a shared HMAC secret; one trailing
	// newline ("\n" or "\r\n") is dropped. The secret must have at least as
	// many bytes as the hash of every allowed algorithm (32 for HS256, 48
	// for HS384, 64 for HS512; RFC 7518 §3.2). With it, Algorithms defaults
	// to HS256 and may only hold HS256, HS384 and HS512. It is re-read every
	// RefreshInterval; a failed re-read keeps the last good secret. The
	// secret is never logged nor part of any error.
	HMACSecretFile string
	// Algorithms is the allow-list of JWS algorithms. With JWKSURL,
	// OIDCIssuerURL or JWKSFile it defaults to RS256, PS256, ES256, EdDSA
	// and may not hold HS*: those keys are public, so an HMAC "secret"
	// would be known to everyone. With HMACSecretFile it defaults to HS256
	// and may hold only HS*. "none" is never allowed.
	Algorithms []string
	// Issuer, when set, must equal the token's "iss". It defaults to
	// OIDCIssuerURL when that is set (setting both to different values is
	// allowed, for providers whose tokens name another issuer).
	Issuer string
	// Audience, when set, must be the token's "aud" or one of its entries.
	Audience string
	// Type, when set (e.g. "at+jwt" for RFC 9068 access tokens), must equal
	// the JWS header "typ", compared case-insensitively and with an
	// optional "application/" prefix on either side; a token without "typ"
	// is then refused.
	Type string
	// RequiredScope, when set, must be one of the token's scopes ("scope"
	// or "scp", a space-separated string or an array). A token without it
	// is answered 403 with an insufficient_scope challenge. It must be a
	// single RFC 6749 scope-token (printable ASCII without space, '"' or
	// '\').
	RequiredScope string
	// AllowedClientIDs, when set, must contain the token's "azp" or, when
	// the token has no "azp", its "client_id" (RFC 9068). A token with
	// neither is refused.
	AllowedClientIDs []string
	// TenantClaim locates the claim holding the tenant ids (default
	// "tenant_id"): a string granting one tenant, or an array of strings
	// granting each of them. It is one of:
	//
	//   - an RFC 6901 JSON Pointer into the token's claims, when it starts
	//     with '/': "/tenant_id" is the top-level claim tenant_id,
	//     "/realm_access/roles" the member roles of the object realm_access,
	//     "/groups/0" the first entry of the array groups; "~1" stands for
	//     '/' and "~0" for '~' in a name ("/https:~1~1example.com~1tenant");
	//   - a claim name without '.', '[', ']' or '"' ("tenant_id", "groups"),
	//     or one starting with "http://" or "https://", taken literally
	//     ("https://example.com/tenant");
	//   - deprecated, still read, with a warning at NewVerifier naming the
	//     JSON Pointer to write instead: the dot-and-bracket path, where dots
	//     separate the members of nested objects ("org.tenant" is
	//     "/org/tenant") and a name with '.', '[', ']' or '"' is written as a
	//     JSON string in brackets (`["tenant.id"]` is "/tenant.id",
	//     `["https://example.com/org"].tenant` and `org["a.b"]` (or
	//     `org.["a.b"]`) nest the same way).
	//
	// A value that does not parse (an empty segment or reference token, a
	// '~' not followed by 0 or 1, a stray bracket or quote) is a NewVerifier
	// error (CheckTenantClaim). A token in which the path is missing at any
	// level, or leads through something that is neither an object nor an
	// array, grants no tenant (ErrForbidden).
	TenantClaim string
	// TenantClaimPrefix, when set, makes the tenant claim a list of groups
	// of which only some name tenants: only the entries that start with the
	// prefix grant a tenant, the rest of the entry (e.g. "acme" of
	// "/tenants/acme" with the prefix "/tenants/"), and every other entry is
	// ignored rather than refusing the token. A token without any such
	// entry grants no tenant (no_tenant); an entry with the prefix whose
	// rest is not a valid tenant id still refuses the whole claim.
	TenantClaimPrefix string
	// AllowFederation lets one request read several granted tenants at once
	// (X-Tenant: a,b, sent to Tempo as "a|b"). Off by default: a
	// comma-separated X-Tenant is then answered 403.
	AllowFederation bool
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// RefreshInterval is how often the JWKS (or the key file) is refreshed
	// in the background (default 5m).
	RefreshInterval time.Duration
	// MinRefetchInterval bounds the extra JWKS fetches that tokens with an
	// unknown kid may trigger to one per interval (default 30s); it is also
	// the retry interval while no key set has loaded yet.
	MinRefetchInterval time.Duration
}

// keyFamily names the key an asymmetric JWS algorithm needs, in the form
// keyFamilyOf produces. It doubles as the list of asymmetric algorithms
// Config may allow.
var keyFamily = map[string]string{
	"RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
	"PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
	"ES256": "EC P-256", "ES384": "EC P-384", "ES512": "EC P-521",
	"EdDSA": "OKP Ed25519",
}

// hmacMinSecret is the shortest secret, in bytes, each HMAC algorithm
// accepts (the size of its hash, RFC 7518 §3.2). It doubles as the list of
// algorithms Config may allow with HMACSecretFile.
var hmacMinSecret = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// keySourceNames lists the Config fields that name a key source.
const keySourceNames = "JWKSURL, OIDCIssuerURL, JWKSFile, HMACSecretFile"

// CheckTenantClaim returns the error NewVerifier would return for
// Config.TenantClaim s ("" is the default, and fine).
func CheckTenantClaim(s string) error {
	if s == "" {
		return nil
	}
	_, err := parseClaimPath(s)
	return err
}

// withDefaults validates c and fills in defaults. It returns the allow-list
// as a set.
func (c Config) withDefaults() (Config, map[string]bool, error) {
	var set []string
	for _, s := range []struct{ name, value string }{
		{"JWKSURL", c.JWKSURL},
		{"OIDCIssuerURL", c.OIDCIssuerURL},
		{"JWKSFile", c.JWKSFile},
		{"HMACSecretFile", c.HMACSecretFile},
	} {
		if s.value != "" {
			set = append(set, s.name)
		}
	}
	switch len(set) {
	case 0:
		return c, nil, fmt.Errorf("auth: no key source configured: set exactly one of %s", keySourceNames)
	case 1:
	default:
		return c, nil, fmt.Errorf("auth: %d key sources configured (%s): set exactly one of %s",
			len(set), strings.Join(set, ", "), keySourceNames)
	}

	switch {
	case c.JWKSURL != "":
		u, err := url.Parse(c.JWKSURL)
		switch {
		case err != nil:
			return c, nil, fmt.Errorf("auth: JWKSURL: %w", err)
		case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			return c, nil, fmt.Errorf("auth: JWKSURL %q is not an absolute http(s) URL", u.Redacted())
		case u.User != nil:
			// Fetch errors quote the URL: credentials would reach logs.
			return c, nil, errors.New("auth: JWKSURL must not contain user info")
		}
	case c.OIDCIssuerURL != "":
		if err := checkIssuerURL(c.OIDCIssuerURL); err != nil {
			return c, nil, fmt.Errorf("auth: OIDCIssuerURL: %w", err)
		}
		if c.Issuer == "" {
			c.Issuer = c.OIDCIssuerURL
		}
	}

	allowed, err := c.allowList()
	if err != nil {
		return c, nil, err
	}

	if c.TenantClaim == "" {
		c.TenantClaim = defaultTenantClaim
	}
	if _, err := parseClaimPath(c.TenantClaim); err != nil {
		return c, nil, fmt.Errorf("auth: TenantClaim: %w", err)
	}
	if c.Type != "" && (!isScopeToken(c.Type) || normalizeType(c.Type) == "") {
		return c, nil, fmt.Errorf("auth: Type %q is not a media type such as at+jwt", c.Type)
	}
	if c.RequiredScope != "" && !isScopeToken(c.RequiredScope) {
		return c, nil, fmt.Errorf("auth: RequiredScope %q is not a single scope token", c.RequiredScope)
	}
	c.AllowedClientIDs = slices.Clone(c.AllowedClientIDs)
	if slices.Contains(c.AllowedClientIDs, "") {
		return c, nil, errors.New("auth: AllowedClientIDs has an empty entry")
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

// allowList validates Algorithms against the key source, fills in the
// default and returns the allow-list as a set.
func (c *Config) allowList() (map[string]bool, error) {
	hmac := c.HMACSecretFile != ""
	if len(c.Algorithms) == 0 {
		c.Algorithms = defaultAlgorithms
		if hmac {
			c.Algorithms = defaultHMACAlgorithms
		}
	}
	c.Algorithms = slices.Clone(c.Algorithms)
	allowed := make(map[string]bool, len(c.Algorithms))
	for _, a := range c.Algorithms {
		_, isHMAC := hmacMinSecret[a]
		switch {
		case strings.EqualFold(a, "none"):
			return nil, errors.New(`auth: algorithm "none" is never allowed`)
		case hmac && isHMAC:
		case hmac && keyFamily[a] != "":
			return nil, fmt.Errorf("auth: algorithm %q is asymmetric; with HMACSecretFile only HS256, HS384 and HS512 are allowed", a)
		case hmac:
			return nil, fmt.Errorf("auth: unsupported algorithm %q (with HMACSecretFile: HS256, HS384, HS512)", a)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			return nil, fmt.Errorf("auth: algorithm %q is symmetric; keys from a public JWKS cannot be HMAC secrets (use HMACSecretFile)", a)
		case keyFamily[a] == "":
			return nil, fmt.Errorf("auth: unsupported algorithm %q (supported: %s)", a, strings.Join(supportedAlgorithms(), ", "))
		}
		allowed[a] = true
	}
	return allowed, nil
}

func supportedAlgorithms() []string {
	names := make([]string, 0, len(keyFamily))
	for a := range keyFamily {
		names = append(names, a)
	}
	slices.Sort(names)
	return names
}

// checkIssuerURL accepts an OpenID Connect issuer: https, or http on a
// loopback host, with a host and without user info, query or fragment
// (OpenID Connect Discovery 1.0 §3).
func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%.200q is not an absolute URL", s)
	case u.User != nil:
		return errors.New("must not contain user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%.200q must not have a query or fragment", s)
	}
	return secureScheme(u)
}

// secureScheme accepts https, and http only on a loopback host.
func secureScheme(u *url.URL) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%.200q uses plain http on a host that is not loopback", u.Redacted())
	default:
		return fmt.Errorf("%.200q is not an http(s) URL", u.Redacted())
	}
}

// isLoopback reports whether host is "localhost" or a loopback IP literal.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
