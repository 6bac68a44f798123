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
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/httprc/v3/errsink"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/tenant"
)

const (
	// startupWait bounds how long NewVerifier waits for the first JWKS
	// fetch; an identity provider that is down must not block start-up.
	startupWait = 10 * time.Second
	// refetchTimeout bounds a JWKS fetch made on behalf of one request.
	refetchTimeout = 10 * time.Second
)

// errNoKey means the key set has no key for the token; only this error
// may trigger a JWKS refetch, so a known kid with a bad signature cannot.
var errNoKey = errors.New("no matching key in JWKS")

// Verifier verifies bearer tokens against a JWKS that it keeps fresh in the
// background. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	allowed map[string]bool
	logger  *slog.Logger
	cache   *jwk.Cache
	jwks    *httprc.ResourceBase[jwk.Set]
	opts    []jwt.ParseOption
	stopped <-chan struct{} // the NewVerifier ctx's Done: the cache is gone

	mu          sync.Mutex
	lastRefetch time.Time
	inflight    chan struct{} // closed when the running refetch ends
	fetchErr    error         // last JWKS fetch failure, for Ready
}

// NewVerifier validates cfg and starts fetching the JWKS in the background
// until ctx ends, which also stops every goroutine it started. client may be
// nil for jwx's default fetch client; logger may be nil.
//
// It returns an error only for an invalid Config or when the cache cannot be
// set up. An unreachable JWKS is not an error: the Verifier then rejects all
// tokens with ErrInvalidToken, and Ready reports why, until a fetch succeeds.
func NewVerifier(ctx context.Context, cfg Config, client *http.Client, logger *slog.Logger) (*Verifier, error) {
	cfg, allowed, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{cfg: cfg, allowed: allowed, logger: logger, stopped: ctx.Done()}
	v.opts = []jwt.ParseOption{
		jwt.WithKeyProvider(jws.KeyProviderFunc(v.fetchKeys)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithAcceptableSkew(cfg.Leeway),
	}
	if cfg.Issuer != "" {
		v.opts = append(v.opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		v.opts = append(v.opts, jwt.WithAudience(cfg.Audience))
	}

	// Background fetch failures arrive on the error sink only; the first
	// one also ends the start-up wait instead of sitting out startupWait.
	waitCtx, stopWaiting := context.WithTimeout(ctx, startupWait)
	defer stopWaiting()
	sink := errsink.NewFunc(func(_ context.Context, err error) {
		v.recordFetchError(err)
		stopWaiting()
	})
	cache, err := jwk.NewCache(ctx, httprc.NewClient(httprc.WithErrorSink(sink), httprc.WithWorkers(2)))
	if err != nil {
		return nil, fmt.Errorf("auth: starting JWKS cache: %w", err)
	}
	regOpts := []jwk.RegisterOption{
		jwk.WithWaitReady(false),
		jwk.WithConstantInterval(cfg.RefreshInterval),
		// httprc retries a failed connection after MinInterval.
		jwk.WithMinInterval(min(cfg.MinRefetchInterval, cfg.RefreshInterval)),
	}
	if client != nil {
		regOpts = append(regOpts, jwk.WithHTTPClient(client))
	}
	if err := cache.Register(ctx, cfg.JWKSURL, regOpts...); err != nil {
		shutdown(cache)
		return nil, fmt.Errorf("auth: registering JWKS URL: %w", err)
	}
	if v.jwks, err = cache.LookupResource(ctx, cfg.JWKSURL); err != nil {
		shutdown(cache)
		return nil, fmt.Errorf("auth: looking up JWKS resource: %w", err)
	}
	v.cache = cache

	if v.jwks.Ready(waitCtx) != nil {
		logger.WarnContext(ctx, "JWKS not loaded at start; rejecting tokens until it is",
			"url", cfg.JWKSURL, "error", v.Ready())
		go v.retryUntilLoaded(ctx)
	}
	return v, nil
}

// retryUntilLoaded refetches the JWKS every MinRefetchInterval until a key
// set loads. Without it, a readiness probe on Ready that holds traffic back
// would wait for httprc's next scheduled refresh, up to RefreshInterval.
func (v *Verifier) retryUntilLoaded(ctx context.Context) {
	tick := time.NewTicker(v.cfg.MinRefetchInterval)
	defer tick.Stop()
	for v.jwks.Resource() == nil {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			v.refetch(ctx)
		}
	}
}

func shutdown(c *jwk.Cache) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Shutdown(ctx)
}

// Ready returns nil once a JWKS has been loaded. After that it stays nil:
// a failed refresh keeps the last good key set in use.
func (v *Verifier) Ready() error {
	if v.jwks.Resource() != nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fetchErr != nil {
		return fmt.Errorf("auth: JWKS not loaded yet: %w", v.fetchErr)
	}
	return errors.New("auth: JWKS not loaded yet")
}

func (v *Verifier) recordFetchError(err error) {
	v.logger.Warn("JWKS fetch failed", "url", v.cfg.JWKSURL, "error", err)
	v.mu.Lock()
	v.fetchErr = err
	v.mu.Unlock()
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
// Errors wrap ErrInvalidToken when the token cannot be trusted (size,
// format, algorithm, key, signature, exp/nbf/iat, iss, aud, malformed
// scopes) and ErrForbidden when it is valid but its tenant claim is missing,
// neither a string nor an array of strings, an empty array, or holds any
// entry that is not a valid tenant id: a claim is accepted whole or refused
// whole, never in part. Error texts never contain the token; at most a
// truncated, quoted alg or kid from its header.
func (v *Verifier) Verify(ctx context.Context, raw string) (principal.Principal, error) {
	if len(raw) > MaxTokenSize {
		return principal.Principal{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	// Bearer JWTs are compact JWS; refusing anything else keeps jwx's
	// JSON-serialization and unsigned-JSON paths out of reach.
	if strings.Count(raw, ".") != 2 {
		return principal.Principal{}, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	opts := make([]jwt.ParseOption, 0, len(v.opts)+1)
	opts = append(opts, v.opts...)
	opts = append(opts, jwt.WithContext(ctx))
	tok, err := jwt.ParseString(raw, opts...)
	if err != nil {
		return principal.Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}

	scopes, err := scopesOf(tok)
	if err != nil {
		return principal.Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	granted, err := v.tenantsOf(tok)
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

// tenantsOf returns the tenants the token's tenant claim grants, sorted and
// without duplicates, never none. Any unusable part of the claim refuses the
// whole claim with ErrForbidden.
func (v *Verifier) tenantsOf(tok jwt.Token) ([]tenant.ID, error) {
	name := v.cfg.TenantClaim
	var claim any
	if err := tok.Get(name, &claim); err != nil {
		return nil, fmt.Errorf("%w: no %q claim", ErrForbidden, name)
	}
	switch c := claim.(type) {
	case string:
		id, err := tenant.Parse(c)
		if err != nil {
			return nil, fmt.Errorf("%w: claim %q: %w", ErrForbidden, name, err)
		}
		return []tenant.ID{id}, nil
	case []any:
		if len(c) == 0 {
			return nil, fmt.Errorf("%w: claim %q is an empty array", ErrForbidden, name)
		}
		ids := make([]tenant.ID, 0, len(c))
		for i, e := range c {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: claim %q: entry %d is not a string", ErrForbidden, name, i)
			}
			id, err := tenant.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("%w: claim %q: entry %d: %w", ErrForbidden, name, i, err)
			}
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return slices.Compact(ids), nil
	default:
		return nil, fmt.Errorf("%w: claim %q is neither a string nor an array of strings", ErrForbidden, name)
	}
}

// scopesOf reads "scope" (RFC 8693) or, failing that, "scp" (Entra, Okta);
// both appear as a space-separated string or as an array.
func scopesOf(tok jwt.Token) ([]string, error) {
	for _, name := range []string{"scope", "scp"} {
		var claim any
		if tok.Get(name, &claim) != nil {
			continue
		}
		switch c := claim.(type) {
		case string:
			return strings.Fields(c), nil
		case []any:
			scopes := make([]string, 0, len(c))
			for _, e := range c {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("claim %q has a non-string entry", name)
				}
				scopes = append(scopes, s)
			}
			return scopes, nil
		default:
			return nil, fmt.Errorf("claim %q is neither a string nor an array", name)
		}
	}
	return nil, nil
}

// fetchKeys is the jws.KeyProvider: it is the only place keys come from,
// so header parameters like jku, x5u, jwk and x5c are never consulted.
func (v *Verifier) fetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	hdr := sig.ProtectedHeaders()
	if hdr == nil {
		return errors.New("no protected header")
	}
	alg, ok := hdr.Algorithm()
	if !ok {
		return errors.New(`protected header has no "alg"`)
	}
	if !v.allowed[alg.String()] {
		return fmt.Errorf("algorithm %.16q is not allowed", alg.String())
	}
	// jws.Verify ignores "crit" unless told otherwise, while RFC 7515
	// requires rejecting extensions we do not understand: we know none.
	if _, ok := hdr.Critical(); ok {
		return errors.New(`"crit" header parameter is not supported`)
	}
	kid, _ := hdr.KeyID()

	key, err := selectKey(v.jwks.Resource(), kid, alg.String())
	if errors.Is(err, errNoKey) && v.refetch(ctx) {
		key, err = selectKey(v.jwks.Resource(), kid, alg.String())
	}
	if err != nil {
		return err
	}
	// Passing the header's own alg means jws verifies with exactly the
	// algorithm we just checked.
	sink.Key(alg, key)
	return nil
}

// refetch fetches the JWKS again unless that was done less than
// MinRefetchInterval ago, so random kids cannot turn into a flood of JWKS
// requests. Callers arriving during a fetch wait for it. It reports whether
// a fetch ran.
func (v *Verifier) refetch(ctx context.Context) bool {
	select {
	case <-v.stopped:
		return false // nobody would answer: the cache's goroutines have ended
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
	v.logger.DebugContext(ctx, "refetching JWKS", "url", v.cfg.JWKSURL)
	fetchCtx, cancel := context.WithTimeout(ctx, refetchTimeout)
	defer cancel()
	if _, err := v.cache.Refresh(fetchCtx, v.cfg.JWKSURL); err != nil {
		if ctx.Err() == nil { // a caller giving up is not a JWKS failure
			v.recordFetchError(err)
		}
		return false
	}
	return true
}

// selectKey returns the key of set for a token with the given kid and alg.
// Without a kid, the key must be the only one in the set that fits alg.
// The error wraps errNoKey when a fresher set might have the key.
func selectKey(set jwk.Set, kid, alg string) (jwk.Key, error) {
	if set == nil {
		return nil, fmt.Errorf("%w: JWKS not loaded", errNoKey)
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
			return nil, fmt.Errorf("token has no kid and several JWKS keys fit %s", alg)
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
		return nil, fmt.Errorf("%w: kid %.64q", errNoKey, kid)
	}
}

// fits reports why k cannot verify alg. JWKS keys often lack "alg" (Entra
// publishes such keys), so the key type and curve must match the algorithm;
// a key that does name its alg must name this one.
func fits(k jwk.Key, alg string) error {
	if use, ok := k.KeyUsage(); ok && use != string(jwk.ForSignature) {
		return fmt.Errorf("key is for %q, not signatures", use)
	}
	if ka, ok := k.Algorithm(); ok && ka.String() != alg {
		return fmt.Errorf("key is for %s, token uses %s", ka.String(), alg)
	}
	if got, want := keyFamilyOf(k), keyFamily[alg]; got != want {
		return fmt.Errorf("token uses %s, which needs an %s key, not %s", alg, want, got)
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
