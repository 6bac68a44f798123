package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/redact"
	"github.com/tracegate/tracegate/internal/tenant"
)

// Verifier verifies bearer tokens against the keys of its key source, which
// it keeps fresh in the background. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	allowed map[string]bool
	tenants claimPath
	typ     string          // normalized Config.Type; "" when unchecked
	clients map[string]bool // Config.AllowedClientIDs; nil when unchecked
	logger  *slog.Logger
	opts    []jwt.ParseOption // without the key provider, which is per call
	stopped <-chan struct{}   // the NewVerifier ctx's Done: background work is gone
	source  string            // the key source, for logs and Status; no secrets

	// reload loads the keys now, publishing them on success; nil when an
	// unknown kid cannot be helped by reloading (HMACSecretFile).
	reload     func(context.Context) error
	client     *http.Client           // remote sources
	ctrl       httprc.Controller      // remote sources
	jwksURL    atomic.Pointer[string] // remote sources, once registered
	keys       atomic.Pointer[keySet] // the key set in use; nil until loaded
	cache      tokenCache             // verified tokens, for the key set in use
	loaded     chan struct{}          // closed by the first publish
	loadedOnce sync.Once

	mu          sync.Mutex
	lastRefetch time.Time
	inflight    chan struct{} // closed when the running refetch ends
	fetchErr    error         // last key load failure, nil after a success
}

// NewVerifier validates cfg and loads the keys of its key source, then keeps
// them fresh in the background until ctx ends, which also stops every
// goroutine it started. client (used for JWKSURL and OIDCIssuerURL) may be
// nil for one with a 10s timeout; logger may be nil.
//
// It returns an error for an invalid Config, an unusable JWKSFile or
// HMACSecretFile, and an OpenID Connect discovery document it refuses.
// An unreachable JWKS or OpenID Connect provider is not an error: NewVerifier
// waits for it at most 10s, then the Verifier rejects all tokens with
// ErrInvalidToken (reason keys_unavailable), and Ready and Status report
// why, until a background retry succeeds.
func NewVerifier(ctx context.Context, cfg Config, client *http.Client, logger *slog.Logger) (*Verifier, error) {
	cfg, allowed, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tenants, err := parseClaimPath(cfg.TenantClaim)
	if err != nil {
		return nil, fmt.Errorf("auth: TenantClaim: %w", err) // checked by withDefaults
	}
	if deprecatedSyntax(cfg.TenantClaim, tenants) {
		logger.WarnContext(ctx, "the tenant claim uses the deprecated dot-and-bracket path syntax; set it to the JSON Pointer in json_pointer",
			"tenant_claim", cfg.TenantClaim, "json_pointer", tenants.pointer())
	}
	v := &Verifier{
		cfg: cfg, allowed: allowed, tenants: tenants, logger: logger,
		stopped: ctx.Done(), loaded: make(chan struct{}),
	}
	if cfg.Type != "" {
		v.typ = normalizeType(cfg.Type)
	}
	if len(cfg.AllowedClientIDs) > 0 {
		v.clients = make(map[string]bool, len(cfg.AllowedClientIDs))
		for _, id := range cfg.AllowedClientIDs {
			v.clients[id] = true
		}
	}
	v.opts = []jwt.ParseOption{
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithAcceptableSkew(cfg.Leeway),
	}
	// iss and aud are checked in verify, which can say what it expected
	// and what it got.

	switch {
	case cfg.JWKSFile != "":
		v.source = "JWKS file " + cfg.JWKSFile
		err = v.startFile(ctx, func() (*keySet, error) { return readJWKSFile(cfg.JWKSFile) })
	case cfg.HMACSecretFile != "":
		v.source = "HMAC secret file " + cfg.HMACSecretFile
		minLen, algs := 0, strings.Join(cfg.Algorithms, ", ")
		for _, a := range cfg.Algorithms {
			minLen = max(minLen, hmacMinSecret[a])
		}
		err = v.startFile(ctx, func() (*keySet, error) { return readHMACSecret(cfg.HMACSecretFile, minLen, algs) })
	case cfg.OIDCIssuerURL != "":
		v.source = "OpenID Connect issuer " + redact.URL(cfg.OIDCIssuerURL)
		err = v.startRemote(ctx, client)
	default:
		v.source = "JWKS URL " + redact.URL(cfg.JWKSURL)
		err = v.startRemote(ctx, client)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// retryUntilLoaded reloads the keys every MinRefetchInterval until a key set
// loads. Without it, a readiness probe on Ready that holds traffic back
// would wait for httprc's next scheduled refresh, up to RefreshInterval, and
// an OpenID Connect provider down at start would never be discovered.
func (v *Verifier) retryUntilLoaded(ctx context.Context) {
	tick := time.NewTicker(v.cfg.MinRefetchInterval)
	defer tick.Stop()
	for v.keys.Load() == nil {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			v.refetch(ctx)
		}
	}
}

// Verify checks the signature and claims of the compact JWS raw and returns
// the principal it grants.
//
// The tenant claim (Config.TenantClaim) is either a string, granting that
// one tenant, or an array of strings, granting each of them. Principal.Granted
// lists the granted tenants sorted and without duplicates. Principal.Tenants
// is the granted tenant when exactly one is granted and empty when several
// are: Middleware then selects the tenants per request (see selectTenants).
//
// Every error is a *Denial (see Reasons) wrapping ErrInvalidToken when the
// token cannot be trusted (size, format, algorithm, key, signature,
// exp/nbf/iat, iss, aud, typ, azp/client_id, malformed scopes),
// ErrInsufficientScope when it lacks Config.RequiredScope, and ErrForbidden
// when it is valid but its tenant claim is missing, neither a string nor an
// array of strings, an empty array, or holds any entry that is not a valid
// tenant id: a claim is accepted whole or refused whole, never in part.
// Error texts never contain the token; at most a truncated, quoted alg, kid,
// typ or client id from it.
func (v *Verifier) Verify(ctx context.Context, raw string) (principal.Principal, error) {
	if len(raw) > MaxTokenSize {
		return principal.Principal{}, deny(reasonTokenTooLarge, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenSize))
	}
	// Bearer JWTs are compact JWS; refusing anything else keeps jwx's
	// JSON-serialization and unsigned-JSON paths out of reach.
	if strings.Count(raw, ".") != 2 {
		return principal.Principal{}, deny(reasonMalformed, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken))
	}
	keys := v.keys.Load()
	if p, ok := v.cache.get(raw, keys, time.Now()); ok && keys != nil {
		return p, nil
	}
	p, err := v.verify(ctx, raw)
	// Cache only what the key set still in use verified.
	if err == nil && keys != nil && v.keys.Load() == keys {
		v.cache.put(raw, keys, p)
	}
	return p, err
}

// verify is Verify without the cache.
func (v *Verifier) verify(ctx context.Context, raw string) (principal.Principal, error) {
	var hdr jws.Headers // the protected header, for the typ check
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, msg *jws.Message) error {
		hdr = sig.ProtectedHeaders()
		return v.fetchKeys(ctx, sink, sig, msg)
	})
	opts := make([]jwt.ParseOption, 0, len(v.opts)+2)
	opts = append(opts, v.opts...)
	opts = append(opts, jwt.WithKeyProvider(provider), jwt.WithContext(ctx))
	tok, err := jwt.ParseString(raw, opts...)
	if err != nil {
		return principal.Principal{}, deny(classify(err), fmt.Errorf("%w: %w", ErrInvalidToken, err))
	}

	if err := v.checkIssuerAudience(tok); err != nil {
		return principal.Principal{}, err
	}
	if v.typ != "" {
		var typ string
		if hdr != nil {
			typ, _ = hdr.Type()
		}
		if normalizeType(typ) != v.typ {
			return principal.Principal{}, deny(reasonWrongType,
				fmt.Errorf("%w: header typ %.40q, expected %q", ErrInvalidToken, typ, v.cfg.Type))
		}
	}
	if v.clients != nil {
		id, ok := clientOf(tok)
		switch {
		case !ok:
			return principal.Principal{}, deny(reasonWrongClient,
				fmt.Errorf(`%w: no string "azp" or "client_id" claim`, ErrInvalidToken))
		case !v.clients[id]:
			return principal.Principal{}, deny(reasonWrongClient,
				fmt.Errorf("%w: client %.64q, expected one of %s", ErrInvalidToken, id, quotedList(v.cfg.AllowedClientIDs)))
		}
	}
	scopes, err := scopesOf(tok)
	if err != nil {
		return principal.Principal{}, deny(reasonMalformed, fmt.Errorf("%w: %w", ErrInvalidToken, err))
	}
	if v.cfg.RequiredScope != "" && !slices.Contains(scopes, v.cfg.RequiredScope) {
		return principal.Principal{}, deny(reasonInsufficientScope,
			fmt.Errorf("%w: token lacks scope %q", ErrInsufficientScope, v.cfg.RequiredScope))
	}
	granted, err := tenantsOf(tok, v.tenants, v.cfg.TenantClaim, v.cfg.TenantClaimPrefix)
	if err != nil {
		return principal.Principal{}, err
	}
	var tenants tenant.Set // several granted: chosen per request
	if len(granted) == 1 {
		tenants = tenant.NewSet(granted[0])
	}
	sub, _ := tok.Subject()
	exp, _ := tok.Expiration()
	return principal.Principal{
		Subject:   sub,
		Tenants:   tenants,
		Granted:   granted,
		Scopes:    scopes,
		ExpiresAt: exp,
	}, nil
}

// fetchKeys is the jws.KeyProvider: it is the only place keys come from,
// so header parameters like jku, x5u, jwk and x5c are never consulted.
// Its errors wrap the sentinels classify looks for.
func (v *Verifier) fetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	hdr := sig.ProtectedHeaders()
	if hdr == nil {
		return fmt.Errorf("%w: no protected header", errBadHeader)
	}
	alg, ok := hdr.Algorithm()
	if !ok {
		return fmt.Errorf(`%w: protected header has no "alg"`, errBadHeader)
	}
	if !v.allowed[alg.String()] {
		return fmt.Errorf("%w: %.16q, expected one of %s", errDisallowedAlg, alg.String(), quotedList(v.cfg.Algorithms))
	}
	// jws.Verify ignores "crit" unless told otherwise, while RFC 7515
	// requires rejecting extensions we do not understand: we know none.
	if _, ok := hdr.Critical(); ok {
		return fmt.Errorf(`%w: "crit" header parameter is not supported`, errBadHeader)
	}

	if v.cfg.HMACSecretFile != "" {
		// The only key; a kid names nothing. alg is HS* (allow-list).
		ks := v.keys.Load()
		if ks == nil || ks.secret == nil {
			return fmt.Errorf("%w: HMAC secret not loaded", errKeysUnavailable)
		}
		sink.Key(alg, ks.secret)
		return nil
	}

	kid, _ := hdr.KeyID()
	key, err := selectKey(v.keys.Load().jwks(), kid, alg.String())
	if errors.Is(err, errNoKey) && v.refetch(ctx) {
		key, err = selectKey(v.keys.Load().jwks(), kid, alg.String())
	}
	if err != nil {
		return err
	}
	// Passing the header's own alg means jws verifies with exactly the
	// algorithm we just checked.
	sink.Key(alg, key)
	return nil
}

// refetch reloads the keys unless that was done less than
// MinRefetchInterval ago, so random kids cannot turn into a flood of JWKS
// requests. Callers arriving during a reload wait for it. It reports whether
// a reload ran.
func (v *Verifier) refetch(ctx context.Context) bool {
	if v.reload == nil {
		return false
	}
	select {
	case <-v.stopped:
		return false // nobody would answer: the background goroutines have ended
	default:
	}
	v.mu.Lock()
	if running := v.inflight; running != nil {
		v.mu.Unlock()
		select {
		case <-running:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !v.lastRefetch.IsZero() && time.Since(v.lastRefetch) < v.cfg.MinRefetchInterval {
		v.mu.Unlock()
		return false
	}
	done := make(chan struct{})
	v.inflight, v.lastRefetch = done, time.Now()
	v.mu.Unlock()

	defer func() {
		v.mu.Lock()
		v.inflight = nil
		v.mu.Unlock()
		close(done)
	}()
	v.logger.DebugContext(ctx, "reloading verification keys", "source", v.source)
	fetchCtx, cancel := context.WithTimeout(ctx, refetchTimeout)
	defer cancel()
	if err := v.reload(fetchCtx); err != nil {
		if ctx.Err() == nil { // a caller giving up is not a key source failure
			v.recordFetchError(err)
		}
		return false
	}
	return true
}

// selectKey returns the key of set for a token with the given kid and alg.
// Without a kid, the key must be the only one in the set that fits alg.
// The error wraps errNoKey when a fresher set might have the key (and
// errKeysUnavailable as well when there is no set yet), errKeyMismatch when
// the key the kid names does not fit alg, and errUnusableKey otherwise.
func selectKey(set jwk.Set, kid, alg string) (jwk.Key, error) {
	if set == nil {
		return nil, fmt.Errorf("%w: %w", errKeysUnavailable, errNoKey)
	}
	var found jwk.Key
	var unfit error
	for i := range set.Len() {
		k, _ := set.Key(i)
		if id, _ := k.KeyID(); kid != "" && id != kid {
			continue
		}
		if err := fits(k, alg); err != nil {
			unfit = err
			continue
		}
		if kid != "" {
			return k, nil
		}
		if found != nil {
			return nil, fmt.Errorf("%w: token has no kid and several JWKS keys fit %s", errUnusableKey, alg)
		}
		found = k
	}
	switch {
	case found != nil:
		return found, nil
	case unfit != nil:
		return nil, unfit
	case kid == "":
		return nil, fmt.Errorf("%w: no key for %s", errNoKey, alg)
	default:
		var kids []string
		for i := range set.Len() {
			k, _ := set.Key(i)
			if id, ok := k.KeyID(); ok {
				kids = append(kids, id)
			}
		}
		return nil, fmt.Errorf("%w: kid %.64q, expected one of %s", errNoKey, kid, quotedList(kids))
	}
}

// checkIssuerAudience checks iss and aud against Config.Issuer and
// Config.Audience (when set). Its errors are *Denial (wrong_issuer,
// wrong_audience) saying what was expected and what the token holds.
func (v *Verifier) checkIssuerAudience(tok jwt.Token) error {
	if v.cfg.Issuer != "" {
		if iss, ok := tok.Issuer(); !ok {
			return deny(reasonWrongIssuer, fmt.Errorf("%w: no iss claim, expected %q", ErrInvalidToken, v.cfg.Issuer))
		} else if iss != v.cfg.Issuer {
			return deny(reasonWrongIssuer, fmt.Errorf("%w: iss %.200q, expected %q", ErrInvalidToken, iss, v.cfg.Issuer))
		}
	}
	if v.cfg.Audience != "" {
		if aud, ok := tok.Audience(); !ok || len(aud) == 0 {
			return deny(reasonWrongAudience, fmt.Errorf("%w: no aud claim, expected %q", ErrInvalidToken, v.cfg.Audience))
		} else if !slices.Contains(aud, v.cfg.Audience) {
			return deny(reasonWrongAudience, fmt.Errorf("%w: aud %s, expected %q", ErrInvalidToken, quotedList(aud), v.cfg.Audience))
		}
	}
	return nil
}

// quotedList renders values for an error text: quoted, each cut to 64
// bytes, at most 8 of them.
func quotedList(values []string) string {
	const maxValues = 8
	parts := make([]string, 0, min(len(values), maxValues)+1)
	for i, s := range values {
		if i == maxValues {
			parts = append(parts, fmt.Sprintf("(%d more)", len(values)-maxValues))
			break
		}
		parts = append(parts, fmt.Sprintf("%.64q", s))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fits reports why k cannot verify alg. JWKS keys often lack "alg" (Entra
// publishes such keys), so the key type and curve must match the algorithm;
// a key that does name its alg must name this one.
func fits(k jwk.Key, alg string) error {
	if use, ok := k.KeyUsage(); ok && use != string(jwk.ForSignature) {
		return fmt.Errorf("%w: key is for %q, not signatures", errUnusableKey, use)
	}
	if ka, ok := k.Algorithm(); ok && ka.String() != alg {
		return fmt.Errorf("%w: key is for %s, token uses %s", errKeyMismatch, ka.String(), alg)
	}
	if got, want := keyFamilyOf(k), keyFamily[alg]; got != want {
		return fmt.Errorf("%w: token uses %s, which needs an %s key, not %s", errKeyMismatch, alg, want, got)
	}
	return nil
}

func keyFamilyOf(k jwk.Key) string {
	kty := k.KeyType().String()
	if c, ok := k.(interface {
		Crv() (jwa.EllipticCurveAlgorithm, bool)
	}); ok {
		if crv, ok := c.Crv(); ok {
			return kty + " " + crv.String()
		}
	}
	return kty
}
