package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/redact"
	"github.com/tracegate/tracegate/internal/tenant"
)

// config is tracegate's whole configuration, read from TRACEGATE_* variables.
// These are the only env tags in the repository. Every setting has a desc
// tag: its one-line description for "tracegate config --list".
type config struct {
	ListenAddr string `env:"LISTEN_ADDR" envDefault:":8080" desc:"address of the API (and of /healthz, /readyz, /metrics without an admin address)"`
	// AdminListenAddr, when set, serves /metrics, /healthz and /readyz there
	// instead of on ListenAddr.
	AdminListenAddr string        `env:"ADMIN_LISTEN_ADDR" desc:"address for /metrics, /healthz and /readyz only (404 on the API listener)"`
	WriteTimeout    time.Duration `env:"WRITE_TIMEOUT" envDefault:"30s" desc:"time a client may take to receive one response, from its first byte (0 = no limit)"`
	LogLevel        slog.Level    `env:"LOG_LEVEL" envDefault:"info" desc:"debug, info, warn or error (JSON logs on stdout)"`
	LogQueries      bool          `env:"LOG_QUERIES" envDefault:"false" desc:"put the TraceQL query (first 256 bytes) into access-log lines"`

	TLSCertFile string `env:"TLS_CERT_FILE" desc:"PEM certificate (chain) to serve HTTPS with; with TLS_KEY_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE" desc:"private key of TLS_CERT_FILE"`

	TempoURL                   string        `env:"TEMPO_URL,required" desc:"Tempo's query frontend, e.g. http://tempo:3200 (no query, no fragment)"`
	TempoCAFile                string        `env:"TEMPO_CA_FILE" desc:"PEM CA bundle to verify Tempo's certificate"`
	TempoClientCertFile        string        `env:"TEMPO_CLIENT_CERT_FILE" desc:"client certificate toward Tempo (mTLS); with TEMPO_CLIENT_KEY_FILE"`
	TempoClientKeyFile         string        `env:"TEMPO_CLIENT_KEY_FILE" desc:"private key of TEMPO_CLIENT_CERT_FILE"`
	TempoBasicAuthUser         string        `env:"TEMPO_BASIC_AUTH_USER" desc:"basic-auth user toward Tempo; with TEMPO_BASIC_AUTH_PASSWORD_FILE"`
	TempoBasicAuthPasswordFile string        `env:"TEMPO_BASIC_AUTH_PASSWORD_FILE" desc:"file holding the basic-auth password toward Tempo"`
	TempoBearerTokenFile       string        `env:"TEMPO_BEARER_TOKEN_FILE" desc:"file holding a bearer token sent to Tempo"`
	TempoTimeout               time.Duration `env:"TEMPO_TIMEOUT" envDefault:"10s" desc:"deadline for one Tempo call (exceeded: 504)"`
	TempoMaxResponseBytes      int64         `env:"TEMPO_MAX_RESPONSE_BYTES" envDefault:"67108864" desc:"largest decompressed Tempo answer read (larger: 502)"`
	MaxConversionBytes         int64         `env:"MAX_CONVERSION_BYTES" envDefault:"67108864" desc:"bytes held at once by trace answers being converted and written (protobuf body + 128 KiB buffer each), per replica (0 = no bound)"`
	TempoCompression           bool          `env:"TEMPO_COMPRESSION" envDefault:"false" desc:"ask Tempo for gzip-compressed answers"`

	// Key sources: exactly one.
	JWKSURL        string `env:"JWKS_URL" desc:"key source: the identity provider's JWKS URL"`
	OIDCIssuerURL  string `env:"OIDC_ISSUER_URL" desc:"key source: OpenID Connect discovery at this issuer (also the default JWT_ISSUER)"`
	JWKSFile       string `env:"JWKS_FILE" desc:"key source: a static JWKS file, re-read every refresh interval"`
	HMACSecretFile string `env:"JWT_HMAC_SECRET_FILE" desc:"key source: a file holding a shared HMAC secret (at least 32 bytes)"`

	JWKSRefreshInterval    time.Duration `env:"JWKS_REFRESH_INTERVAL" envDefault:"5m" desc:"background key refresh interval"`
	JWKSMinRefetchInterval time.Duration `env:"JWKS_MIN_REFETCH_INTERVAL" envDefault:"30s" desc:"at most one extra key fetch per interval for an unknown kid"`

	JWTAlgorithms       []string      `env:"JWT_ALGORITHMS" desc:"accepted signature algorithms (unset: RS256,PS256,ES256,EdDSA; HS256 with an HMAC secret)"`
	JWTIssuer           string        `env:"JWT_ISSUER" desc:"iss must equal this exactly (set it in production)"`
	JWTAudience         string        `env:"JWT_AUDIENCE" desc:"aud must contain this (set it in production)"`
	JWTLeeway           time.Duration `env:"JWT_LEEWAY" envDefault:"30s" desc:"clock skew tolerated on exp, nbf and iat"`
	JWTType             string        `env:"JWT_TYPE" desc:"the header typ must match this, e.g. at+jwt"`
	JWTAllowedClientIDs []string      `env:"JWT_ALLOWED_CLIENT_IDS" desc:"azp (or client_id) must be one of these"`
	RequiredScope       string        `env:"REQUIRED_SCOPE" desc:"scope or scp must include this (else 403)"`
	TenantClaim         string        `env:"TENANT_CLAIM" envDefault:"tenant_id" desc:"claim holding the tenant id(s): a name, or a JSON Pointer such as /realm_access/roles"`
	TenantClaimPrefix   string        `env:"TENANT_CLAIM_PREFIX" desc:"only claim entries with this prefix grant a tenant (prefix stripped)"`
	TenantAttribute     string        `env:"TENANT_ATTRIBUTE" desc:"resource attribute every resource of a trace must carry the caller's tenant in"`
	TempoTenant         string        `env:"TEMPO_TENANT" desc:"read every caller's traces from this one Tempo tenant (needs TENANT_ATTRIBUTE)"`
	AllowFederation     bool          `env:"ALLOW_FEDERATION" envDefault:"false" desc:"allow X-Tenant: a,b to read several granted tenants at once"`

	SearchRecentWindow time.Duration `env:"SEARCH_RECENT_WINDOW" envDefault:"1h" desc:"search window when a request gives no start/end"`
	SearchMaxRange     time.Duration `env:"SEARCH_MAX_RANGE" envDefault:"168h" desc:"largest end - start of a search"`

	CORSOrigins []string `env:"CORS_ORIGINS" desc:"origins allowed to call the API from a browser (comma-separated)"`
	UI          bool     `env:"UI" envDefault:"false" desc:"serve the trace explorer at /ui/"`

	// Limits, per replica; 0 turns one off.
	RateLimitClientIP      float64 `env:"RATE_LIMIT_CLIENT_IP" envDefault:"100" desc:"requests per second per client address, before authentication (0 = off)"`
	RateLimitClientIPBurst int     `env:"RATE_LIMIT_CLIENT_IP_BURST" envDefault:"200" desc:"burst of RATE_LIMIT_CLIENT_IP"`
	RateLimitTenant        float64 `env:"RATE_LIMIT_TENANT" envDefault:"50" desc:"requests per second per tenant (0 = off)"`
	RateLimitTenantBurst   int     `env:"RATE_LIMIT_TENANT_BURST" envDefault:"100" desc:"burst of RATE_LIMIT_TENANT"`
	TenantMaxConcurrency   int     `env:"TENANT_MAX_CONCURRENCY" envDefault:"16" desc:"requests in progress per tenant (0 = off)"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s" desc:"how long in-flight requests may finish after SIGTERM"`
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

// setting is one TRACEGATE_* variable of config.
type setting struct {
	Name        string // with the TRACEGATE_ prefix
	Default     string
	HasDefault  bool
	Required    bool
	Description string // the field's desc tag
}

// settings returns every setting of config in the struct's order, as
// caarlos0/env itself reads the tags. It fails on a setting without a
// description.
func settings() ([]setting, error) {
	params, err := env.GetFieldParamsWithOptions(&config{}, env.Options{Prefix: envPrefix, Environment: map[string]string{}})
	if err != nil {
		return nil, err
	}
	desc := map[string]string{} // env name -> desc tag (config is flat)
	for _, f := range reflect.VisibleFields(reflect.TypeFor[config]()) {
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		desc[name] = f.Tag.Get("desc")
	}
	out := make([]setting, 0, len(params))
	for _, p := range params {
		if desc[p.OwnKey] == "" {
			return nil, fmt.Errorf("config: %s has no desc tag", p.Key)
		}
		out = append(out, setting{Name: p.Key, Default: p.DefaultValue, HasDefault: p.HasDefaultValue,
			Required: p.Required, Description: desc[p.OwnKey]})
	}
	return out, nil
}

// configCommand is "tracegate config": --list prints every setting as a
// commented env file (description, then #NAME=default), --check validates
// the TRACEGATE_* variables of environ as serve reads them.
func configCommand(args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, "usage: tracegate config --list | --check\n\n")
		fs.PrintDefaults()
	}
	list := fs.Bool("list", false, "print every setting: description (\"required: \" first when it has no default), then #NAME=default")
	check := fs.Bool("check", false, "check the "+envPrefix+"* environment as serve reads it (not the files it names); exit 1 with every problem")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 || *list == *check {
		fs.Usage()
		return errors.New("config: give --list or --check")
	}
	all, err := settings()
	if err != nil {
		return err
	}
	if *check {
		return checkEnviron(all, environ, stdout)
	}
	fmt.Fprint(stdout, "# tracegate's settings: tracegate serve reads them from the environment.\n"+
		"# Each is shown with its default, commented out; uncomment a line to set it.\n")
	for _, s := range all {
		required := ""
		if s.Required {
			required = "required: "
		}
		if _, err := fmt.Fprintf(stdout, "\n# %s%s\n#%s=%s\n", required, s.Description, s.Name, s.Default); err != nil {
			return err
		}
	}
	return nil
}

// checkEnviron reports every problem of the TRACEGATE_* variables in
// environ: what parseConfig refuses, and names tracegate does not read (a
// typo would otherwise leave a setting at its default).
func checkEnviron(all []setting, environ map[string]string, stdout io.Writer) error {
	var unknown []string
	for name := range environ {
		if strings.HasPrefix(name, envPrefix) && !slices.ContainsFunc(all, func(s setting) bool { return s.Name == name }) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	_, err := parseConfig(environ)
	if len(unknown) > 0 {
		err = errors.Join(err, fmt.Errorf("not a tracegate setting: %s", strings.Join(unknown, ", ")))
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "configuration ok (files, keys and Tempo are checked when serve starts)")
	return err
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
	if err := auth.CheckTenantClaim(c.TenantClaim); err != nil {
		bad = append(bad, fmt.Sprintf("%sTENANT_CLAIM: %v", envPrefix, err))
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
