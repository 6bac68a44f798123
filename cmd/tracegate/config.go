package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"

	"github.com/tracegate/tracegate/internal/redact"
	"github.com/tracegate/tracegate/internal/tenant"
)

// config is tracegate's whole configuration, read from TRACEGATE_* variables.
// These are the only env tags in the repository.
type config struct {
	ListenAddr string `env:"LISTEN_ADDR" envDefault:":8080"`
	// AdminListenAddr, when set, serves /metrics, /healthz and /readyz there
	// instead of on ListenAddr.
	AdminListenAddr string        `env:"ADMIN_LISTEN_ADDR"`
	WriteTimeout    time.Duration `env:"WRITE_TIMEOUT" envDefault:"30s"`
	LogLevel        slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogQueries      bool          `env:"LOG_QUERIES" envDefault:"false"`

	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`

	TempoURL                   string        `env:"TEMPO_URL,required"`
	TempoCAFile                string        `env:"TEMPO_CA_FILE"`
	TempoClientCertFile        string        `env:"TEMPO_CLIENT_CERT_FILE"`
	TempoClientKeyFile         string        `env:"TEMPO_CLIENT_KEY_FILE"`
	TempoBasicAuthUser         string        `env:"TEMPO_BASIC_AUTH_USER"`
	TempoBasicAuthPasswordFile string        `env:"TEMPO_BASIC_AUTH_PASSWORD_FILE"`
	TempoBearerTokenFile       string        `env:"TEMPO_BEARER_TOKEN_FILE"`
	TempoTimeout               time.Duration `env:"TEMPO_TIMEOUT" envDefault:"10s"`
	TempoMaxResponseBytes      int64         `env:"TEMPO_MAX_RESPONSE_BYTES" envDefault:"67108864"`
	MaxConversionBytes         int64         `env:"MAX_CONVERSION_BYTES" envDefault:"67108864"`
	TempoCompression           bool          `env:"TEMPO_COMPRESSION" envDefault:"false"`

	// Key sources: exactly one.
	JWKSURL        string `env:"JWKS_URL"`
	OIDCIssuerURL  string `env:"OIDC_ISSUER_URL"`
	JWKSFile       string `env:"JWKS_FILE"`
	HMACSecretFile string `env:"JWT_HMAC_SECRET_FILE"`

	JWKSRefreshInterval    time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"5m"`
	JWKSMinRefetchInterval time.Duration `env:"JWKS_MIN_REFETCH_INTERVAL" envDefault:"30s"`

	JWTAlgorithms       []string      `env:"JWT_ALGORITHMS"`
	JWTIssuer           string        `env:"JWT_ISSUER"`
	JWTAudience         string        `env:"JWT_AUDIENCE"`
	JWTLeeway           time.Duration `env:"JWT_LEEWAY" envDefault:"30s"`
	JWTType             string        `env:"JWT_TYPE"`
	JWTAllowedClientIDs []string      `env:"JWT_ALLOWED_CLIENT_IDS"`
	RequiredScope       string        `env:"REQUIRED_SCOPE"`
	TenantClaim         string        `env:"TENANT_CLAIM" envDefault:"tenant_id"`
	TenantClaimPrefix   string        `env:"TENANT_CLAIM_PREFIX"`
	TenantAttribute     string        `env:"TENANT_ATTRIBUTE"`
	TempoTenant         string        `env:"TEMPO_TENANT"`
	AllowFederation     bool          `env:"ALLOW_FEDERATION" envDefault:"false"`

	SearchRecentWindow time.Duration `env:"SEARCH_RECENT_WINDOW" envDefault:"1h"`
	SearchMaxRange     time.Duration `env:"SEARCH_MAX_RANGE" envDefault:"168h"`

	CORSOrigins []string `env:"CORS_ORIGINS"`
	UI          bool     `env:"UI" envDefault:"false"`

	// Limits, per replica; 0 turns one off.
	RateLimitClientIP      float64 `env:"RATE_LIMIT_CLIENT_IP" envDefault:"100"`
	RateLimitClientIPBurst int     `env:"RATE_LIMIT_CLIENT_IP_BURST" envDefault:"200"`
	RateLimitTenant        float64 `env:"RATE_LIMIT_TENANT" envDefault:"50"`
	RateLimitTenantBurst   int     `env:"RATE_LIMIT_TENANT_BURST" envDefault:"100"`
	TenantMaxConcurrency   int     `env:"TENANT_MAX_CONCURRENCY" envDefault:"16"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
}

const envPrefix = "TRACEGATE_"

// parseConfig reads the configuration from environ. It reports every bad or
// missing setting, one line each.
func parseConfig(environ map[string]string) (config, error) {
	cfg, err := env.ParseAsWithOptions[config](env.Options{Environment: environ, Prefix: envPrefix})
	var lines []string
	var agg env.AggregateError
	if errors.As(err, &agg) {
		for _, e := range agg.Errors {
			lines = append(lines, e.Error())
		}
	} else if err != nil {
		lines = append(lines, err.Error())
	}
	lines = append(lines, cfg.check()...)
	if len(lines) > 0 {
		return config{}, fmt.Errorf("invalid configuration:\n  %s", strings.Join(lines, "\n  "))
	}
	return cfg, nil
}

// check validates what the env library cannot.
func (c config) check() []string {
	var bad []string
	for name, u := range map[string]string{"TEMPO_URL": c.TempoURL, "JWKS_URL": c.JWKSURL, "OIDC_ISSUER_URL": c.OIDCIssuerURL} {
		if msg := checkURL(u, name == "JWKS_URL"); msg != "" {
			bad = append(bad, fmt.Sprintf("%s%s: %q %s", envPrefix, name, redact.URL(u), msg))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad = append(bad, envPrefix+"TLS_CERT_FILE and "+envPrefix+"TLS_KEY_FILE: set both or neither")
	}
	if (c.TempoClientCertFile == "") != (c.TempoClientKeyFile == "") {
		bad = append(bad, envPrefix+"TEMPO_CLIENT_CERT_FILE and "+envPrefix+"TEMPO_CLIENT_KEY_FILE: set both or neither")
	}
	if c.TempoBasicAuthUser != "" && c.TempoBearerTokenFile != "" {
		bad = append(bad, envPrefix+"TEMPO_BASIC_AUTH_USER and "+envPrefix+"TEMPO_BEARER_TOKEN_FILE: choose one way to authenticate to Tempo")
	}
	if (c.TempoBasicAuthUser == "") != (c.TempoBasicAuthPasswordFile == "") {
		bad = append(bad, envPrefix+"TEMPO_BASIC_AUTH_USER and "+envPrefix+"TEMPO_BASIC_AUTH_PASSWORD_FILE: set both or neither")
	}
	var sources []string
	for name, v := range map[string]string{"JWKS_URL": c.JWKSURL, "OIDC_ISSUER_URL": c.OIDCIssuerURL, "JWKS_FILE": c.JWKSFile, "JWT_HMAC_SECRET_FILE": c.HMACSecretFile} {
		if v != "" {
			sources = append(sources, envPrefix+name)
		}
	}
	if len(sources) != 1 {
		slices.Sort(sources)
		bad = append(bad, fmt.Sprintf("key source: set exactly one of %sJWKS_URL, %sOIDC_ISSUER_URL, %sJWKS_FILE, %sJWT_HMAC_SECRET_FILE (set: %d %v)",
			envPrefix, envPrefix, envPrefix, envPrefix, len(sources), sources))
	}
	if c.JWKSRefreshInterval <= 0 || c.JWKSMinRefetchInterval <= 0 || c.JWTLeeway < 0 {
		bad = append(bad, envPrefix+"JWKS_REFRESH_INTERVAL, "+envPrefix+"JWKS_MIN_REFETCH_INTERVAL and "+envPrefix+"JWT_LEEWAY: must not be negative (the intervals positive)")
	}
	if c.RateLimitClientIP < 0 || c.RateLimitTenant < 0 || c.TenantMaxConcurrency < 0 || c.RateLimitClientIPBurst < 0 || c.RateLimitTenantBurst < 0 {
		bad = append(bad, envPrefix+"RATE_LIMIT_* and "+envPrefix+"TENANT_MAX_CONCURRENCY: must not be negative (0 turns a limit off)")
	}
	if c.TempoTimeout <= 0 {
		bad = append(bad, envPrefix+"TEMPO_TIMEOUT: must be positive")
	}
	if c.MaxConversionBytes < 0 {
		bad = append(bad, envPrefix+"MAX_CONVERSION_BYTES: must not be negative (0 = no bound)")
	}
	if c.TempoMaxResponseBytes <= 0 {
		bad = append(bad, envPrefix+"TEMPO_MAX_RESPONSE_BYTES: must be positive")
	}
	if c.SearchRecentWindow <= 0 || c.SearchMaxRange <= 0 {
		bad = append(bad, envPrefix+"SEARCH_RECENT_WINDOW and "+envPrefix+"SEARCH_MAX_RANGE: must be positive")
	}
	if c.TempoTenant != "" {
		if _, err := tenant.Parse(c.TempoTenant); err != nil {
			bad = append(bad, fmt.Sprintf("%sTEMPO_TENANT: %v", envPrefix, err))
		}
		if c.TenantAttribute == "" {
			bad = append(bad, envPrefix+"TEMPO_TENANT needs "+envPrefix+"TENANT_ATTRIBUTE: in a shared Tempo tenant the attribute is the only wall between tenants")
		}
	}
	if c.WriteTimeout < 0 {
		bad = append(bad, envPrefix+"WRITE_TIMEOUT: must not be negative (0 = no limit)")
	}
	if c.AdminListenAddr != "" && c.AdminListenAddr == c.ListenAddr && !strings.HasSuffix(c.ListenAddr, ":0") {
		bad = append(bad, envPrefix+"ADMIN_LISTEN_ADDR: must differ from "+envPrefix+"LISTEN_ADDR")
	}
	if c.ShutdownTimeout <= 0 {
		bad = append(bad, envPrefix+"SHUTDOWN_TIMEOUT: must be positive")
	}
	slices.Sort(bad)
	return bad
}

// checkURL says what is wrong with u as the URL of a setting, or "" when
// nothing is (or u is empty: reported as missing elsewhere, if required).
// It must be an absolute http(s) URL without spaces or control characters;
// a query only when allowQuery (a JWKS URL such as Azure AD B2C's
// ".../keys?p=<policy>"; Tempo's URL is a base that tracegate appends paths
// to, and an OpenID Connect issuer has none), and never a fragment.
func checkURL(u string, allowQuery bool) string {
	if u == "" {
		return ""
	}
	if i := strings.IndexFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return fmt.Sprintf("contains a space or control character (%q at byte %d)", u[i:i+1], i)
	}
	p, err := url.Parse(u)
	switch {
	case err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "":
		return "is not an absolute http(s) URL"
	case p.Fragment != "" || strings.Contains(u, "#"):
		return "must not have a fragment (#...)"
	case !allowQuery && (p.RawQuery != "" || p.ForceQuery):
		return "must not have a query (?...): tracegate builds the query of every request itself"
	}
	return ""
}
