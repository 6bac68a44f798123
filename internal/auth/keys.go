package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/httprc/v3/errsink"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/tracegate/tracegate/internal/redact"
)

const (
	// startupWait bounds how long NewVerifier waits for OIDC discovery and
	// the first JWKS fetch; an identity provider that is down must not
	// block start-up.
	startupWait = 10 * time.Second
	// refetchTimeout bounds one discovery or JWKS fetch made outside
	// httprc's schedule (on behalf of a request or a retry), and is the
	// timeout of the HTTP client used when NewVerifier gets none.
	refetchTimeout = 10 * time.Second
	// maxKeyFileSize bounds JWKSFile and HMACSecretFile.
	maxKeyFileSize = 1 << 20
	// maxDiscoverySize bounds an OpenID Connect discovery document.
	maxDiscoverySize = 1 << 20
	// maxRedirects bounds the redirects of a discovery or JWKS fetch.
	maxRedirects = 5
	// maxStatusError bounds the error text Status repeats.
	maxStatusError = 300
)

// errDiscoveryRefused marks an OpenID Connect discovery document that must
// not be used (issuer mix-up, unusable jwks_uri), as opposed to a provider
// that is merely unreachable.
var errDiscoveryRefused = errors.New("OpenID Connect discovery document refused")

// keySet is a loaded key set and when it was loaded.
type keySet struct {
	set    jwk.Set // JWKSURL, OIDCIssuerURL, JWKSFile
	secret []byte  // HMACSecretFile; never logged
	loaded time.Time
}

func (ks *keySet) jwks() jwk.Set {
	if ks == nil {
		return nil
	}
	return ks.set
}

func (ks *keySet) size() int {
	switch {
	case ks.secret != nil:
		return 1
	case ks.set != nil:
		return ks.set.Len()
	}
	return 0
}

// publish makes ks the key set in use and clears the last failure.
func (v *Verifier) publish(ks *keySet) {
	v.keys.Store(ks)
	v.mu.Lock()
	v.fetchErr = nil
	v.mu.Unlock()
	v.loadedOnce.Do(func() { close(v.loaded) })
}

// Degraded reports whether keys are loaded but the last refresh failed: the
// verifier keeps serving with the last good key set.
func (v *Verifier) Degraded() bool {
	if v.keys.Load() == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fetchErr != nil
}

// recordFetchError remembers the failure of a key load for Ready and
// Status. err never holds a token or a secret.
func (v *Verifier) recordFetchError(err error) {
	level := slog.LevelWarn
	if errors.Is(err, errDiscoveryRefused) {
		level = slog.LevelError
	}
	err = redact.Error(err) // a discovered jwks_uri may carry credentials
	v.logger.Log(context.Background(), level, "loading verification keys failed", "source", v.source, "error", err)
	v.mu.Lock()
	v.fetchErr = err
	v.mu.Unlock()
}

// Ready returns nil once a key set has been loaded. After that it stays nil:
// a failed refresh keeps the last good key set in use (see Status).
func (v *Verifier) Ready() error {
	if v.keys.Load() != nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fetchErr != nil {
		return fmt.Errorf("auth: keys not loaded yet: %w", v.fetchErr)
	}
	return errors.New("auth: keys not loaded yet")
}

// KeysAge returns the time since the key set in use was loaded (the last
// successful JWKS fetch or key file read), or 0 before any load.
func (v *Verifier) KeysAge() time.Duration {
	ks := v.keys.Load()
	if ks == nil {
		return 0
	}
	return time.Since(ks.loaded)
}

// Check is the readiness check of the signing keys (httpapi.Checker): ok
// and detail as Status reports them, degraded as Degraded.
func (v *Verifier) Check(context.Context) (ok, degraded bool, detail string) {
	ok, detail = v.Status()
	return ok, v.Degraded(), detail
}

// Status reports whether the Verifier can verify tokens and, for humans, how
// healthy its key source is. ready is true once any key set has been loaded
// and stays true: a failed refresh keeps the last good set. detail says how
// old the keys are and, when the most recent load failed, why, e.g.
// "2 keys from JWKS URL https://idp/jwks, 12m0s old; last refresh failed:
// ...". It never contains a token or a secret.
func (v *Verifier) Status() (ready bool, detail string) {
	ks := v.keys.Load()
	v.mu.Lock()
	fetchErr := v.fetchErr
	v.mu.Unlock()
	var failure string
	if fetchErr != nil {
		failure = fetchErr.Error()
		if len(failure) > maxStatusError {
			failure = failure[:maxStatusError] + "..."
		}
	}
	if ks == nil {
		detail = "no keys loaded yet from " + v.source
		if failure != "" {
			detail += "; last attempt failed: " + failure
		}
		return false, detail
	}
	noun := "keys"
	if ks.size() == 1 {
		noun = "key"
	}
	detail = fmt.Sprintf("%d %s from %s, %s old", ks.size(), noun, v.source, time.Since(ks.loaded).Round(time.Second))
	if failure != "" {
		detail += "; last refresh failed: " + failure
	}
	return true, detail
}

// startRemote sets up a JWKSURL or OIDCIssuerURL source: it discovers the
// JWKS URL if needed, registers it for background refreshes and waits up to
// startupWait for the first key set. A provider that is down is retried in
// the background; only a refused discovery document is an error.
func (v *Verifier) startRemote(ctx context.Context, client *http.Client) error {
	v.client = safeClient(client)
	// Background fetch failures arrive on the error sink only; the first
	// one also ends the start-up wait instead of sitting out startupWait.
	waitCtx, stopWaiting := context.WithTimeout(ctx, startupWait)
	defer stopWaiting()
	sink := errsink.NewFunc(func(_ context.Context, err error) {
		v.recordFetchError(err)
		stopWaiting()
	})
	ctrl, err := httprc.NewClient(httprc.WithErrorSink(sink), httprc.WithWorkers(2)).Start(ctx)
	if err != nil {
		return fmt.Errorf("auth: starting JWKS client: %w", err)
	}
	v.ctrl = ctrl
	v.reload = v.reloadRemote

	jwksURL := v.cfg.JWKSURL
	if v.cfg.OIDCIssuerURL != "" {
		jwksURL, err = v.discover(waitCtx)
		switch {
		case errors.Is(err, errDiscoveryRefused):
			shutdown(ctrl)
			return fmt.Errorf("auth: OIDCIssuerURL: %w", err)
		case err != nil:
			v.recordFetchError(err)
			v.logger.WarnContext(ctx, "OpenID Connect discovery failed at start; rejecting tokens until it succeeds",
				"issuer", v.cfg.OIDCIssuerURL)
			go v.retryUntilLoaded(ctx)
			return nil
		}
	}
	if err := v.register(ctx, jwksURL); err != nil {
		shutdown(ctrl)
		return err
	}
	select {
	case <-v.loaded:
	case <-waitCtx.Done():
	}
	if v.keys.Load() == nil {
		v.logger.WarnContext(ctx, "JWKS not loaded at start; rejecting tokens until it is",
			"source", v.source, "error", v.Ready())
		go v.retryUntilLoaded(ctx)
	}
	return nil
}

// register starts refreshing the JWKS at u in the background.
func (v *Verifier) register(ctx context.Context, u string) error {
	res, err := httprc.NewResource[jwk.Set](u, publishingTransformer{v},
		httprc.WithHTTPClient(v.client),
		httprc.WithConstantInterval(v.cfg.RefreshInterval),
		// httprc retries a failed connection after MinInterval.
		httprc.WithMinInterval(min(v.cfg.MinRefetchInterval, v.cfg.RefreshInterval)),
	)
	if err != nil {
		return fmt.Errorf("auth: JWKS resource: %w", err)
	}
	if err := v.ctrl.Add(ctx, res, httprc.WithWaitReady(false)); err != nil {
		return fmt.Errorf("auth: registering JWKS URL: %w", err)
	}
	v.jwksURL.Store(&u)
	return nil
}

// reloadRemote fetches the JWKS now, discovering its URL first if an
// OIDCIssuerURL provider was down so far.
func (v *Verifier) reloadRemote(ctx context.Context) error {
	u := v.jwksURL.Load()
	if u == nil {
		jwksURL, err := v.discover(ctx)
		if err != nil {
			return err
		}
		if err := v.register(ctx, jwksURL); err != nil {
			return err
		}
		u = &jwksURL
	}
	return v.ctrl.Refresh(ctx, *u)
}

// publishingTransformer parses a JWKS response like jwk.Cache does and
// publishes the set, so that every successful background or on-demand fetch
// is the key set in use and resets KeysAge.
type publishingTransformer struct{ v *Verifier }

func (t publishingTransformer) Transform(ctx context.Context, res *http.Response) (jwk.Set, error) {
	set, err := jwk.Transformer{}.Transform(ctx, res)
	if err != nil {
		return nil, err
	}
	t.v.publish(&keySet{set: set, loaded: time.Now()})
	return set, nil
}

func shutdown(c httprc.Controller) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.ShutdownContext(ctx)
}

// discover fetches the OIDCIssuerURL's discovery document and returns its
// jwks_uri.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, refetchTimeout)
	defer cancel()
	jwksURI, err := discoverJWKS(ctx, v.client, v.cfg.OIDCIssuerURL)
	if err != nil {
		return "", err
	}
	v.logger.InfoContext(ctx, "OpenID Connect discovery succeeded", "issuer", v.cfg.OIDCIssuerURL, "jwks_uri", redact.URL(jwksURI))
	return jwksURI, nil
}

// discoverJWKS implements OpenID Connect Discovery 1.0 §4 for issuer and
// returns the document's jwks_uri. The error wraps errDiscoveryRefused when
// the document answers for another issuer (§4.3, the mix-up attack) or its
// jwks_uri is not https (or http on a loopback host).
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("OpenID Connect discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("OpenID Connect discovery: %w", err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("OpenID Connect discovery: %s answered %d", redact.URL(u), res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDiscoverySize+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("OpenID Connect discovery: reading %s: %w", redact.URL(u), err)
	case len(body) > maxDiscoverySize:
		return "", fmt.Errorf("OpenID Connect discovery: %s is larger than %d bytes", redact.URL(u), maxDiscoverySize)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("OpenID Connect discovery: %s: %w", redact.URL(u), err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("%w: its issuer %.200q is not the configured %q", errDiscoveryRefused, doc.Issuer, issuer)
	}
	ju, err := url.Parse(doc.JWKSURI)
	switch {
	case doc.JWKSURI == "":
		return "", fmt.Errorf("%w: it has no jwks_uri", errDiscoveryRefused)
	case err != nil:
		return "", fmt.Errorf("%w: jwks_uri: %w", errDiscoveryRefused, err)
	case ju.Host == "":
		return "", fmt.Errorf("%w: jwks_uri %.200q is not an absolute URL", errDiscoveryRefused, doc.JWKSURI)
	}
	if err := secureScheme(ju); err != nil {
		return "", fmt.Errorf("%w: jwks_uri: %w", errDiscoveryRefused, err)
	}
	return doc.JWKSURI, nil
}

// safeClient returns a copy of c (or of a client with refetchTimeout when c
// is nil) that follows at most maxRedirects redirects and never one from
// https to anything else, so a redirect cannot downgrade a key fetch.
func safeClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: refetchTimeout}
	}
	cp := *c
	next := c.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if prev := via[len(via)-1]; prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("refusing a redirect from https to %s", req.URL.Scheme)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

// startFile sets up a JWKSFile or HMACSecretFile source: it reads the file
// now, failing when it cannot, and re-reads it every RefreshInterval.
func (v *Verifier) startFile(ctx context.Context, read func() (*keySet, error)) error {
	ks, err := read()
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	v.publish(ks)
	reload := func(context.Context) error {
		ks, err := read()
		if err != nil {
			return err
		}
		v.publish(ks)
		return nil
	}
	go func() {
		tick := time.NewTicker(v.cfg.RefreshInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := reload(ctx); err != nil {
					v.recordFetchError(err)
				}
			}
		}
	}()
	if v.cfg.JWKSFile != "" { // an HMAC secret has no kid to miss
		v.reload = reload
	}
	return nil
}

// readKeyFile reads at most maxKeyFileSize bytes of path. Its errors never
// contain the file's content.
func readKeyFile(name, path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the path is operator configuration
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: reading %s: %w", name, path, err)
	case len(b) > maxKeyFileSize:
		return nil, fmt.Errorf("%s: %s is larger than %d bytes", name, path, maxKeyFileSize)
	}
	return b, nil
}

// readJWKSFile reads a JWKS of public keys.
func readJWKSFile(path string) (*keySet, error) {
	b, err := readKeyFile("JWKSFile", path)
	if err != nil {
		return nil, err
	}
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("JWKSFile: %s is not a valid JWKS: %w", path, err)
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("JWKSFile: %s holds no keys", path)
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		if k.KeyType() == jwa.OctetSeq() {
			return nil, fmt.Errorf("JWKSFile: key %d (kid %.64q) in %s is symmetric; use HMACSecretFile for HMAC", i, kid, path)
		}
		if private, _ := jwk.IsPrivateKey(k); private {
			return nil, fmt.Errorf("JWKSFile: key %d (kid %.64q) in %s is a private key; the file must hold public keys only", i, kid, path)
		}
	}
	return &keySet{set: set, loaded: time.Now()}, nil
}

// readHMACSecret reads a secret of at least minLen bytes after dropping one
// trailing newline. Its errors never contain the secret, nor its length.
func readHMACSecret(path string, minLen int, algs string) (*keySet, error) {
	b, err := readKeyFile("HMACSecretFile", path)
	if err != nil {
		return nil, err
	}
	if b, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		b, _ = bytes.CutSuffix(b, []byte("\r"))
		return checkSecret(b, path, minLen, algs)
	}
	return checkSecret(b, path, minLen, algs)
}

func checkSecret(secret []byte, path string, minLen int, algs string) (*keySet, error) {
	if len(secret) < minLen {
		return nil, fmt.Errorf("HMACSecretFile: the secret in %s is shorter than %d bytes, the minimum for %s",
			path, minLen, algs)
	}
	return &keySet{secret: secret, loaded: time.Now()}, nil
}
