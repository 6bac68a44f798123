package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/testkit"
)

const (
	testIssuer   = "https://idp.example"
	testAudience = "tracegate"
)

// testKey is a signing key and the JWK the identity provider publishes for it.
type testKey struct {
	kid  string
	priv crypto.Signer
	pub  jwk.Key
}

// newTestKey wraps priv; alg and use are published in the JWK only when
// non-empty. It panics on error: it only runs on fixed, valid inputs.
func newTestKey(priv crypto.Signer, kid, alg, use string) testKey {
	pub, err := jwk.Import(priv.Public())
	check(err)
	check(pub.Set(jwk.KeyIDKey, kid))
	if alg != "" {
		a, ok := jwa.LookupSignatureAlgorithm(alg)
		if !ok {
			panic("unknown alg " + alg)
		}
		check(pub.Set(jwk.AlgorithmKey, a))
	}
	if use != "" {
		check(pub.Set(jwk.KeyUsageKey, use))
	}
	return testKey{kid: kid, priv: priv, pub: pub}
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func genRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	return k
}

func genEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	return k
}

// keyring holds the test keys. They are generated once because RSA
// generation is slow; they are never modified.
type keyring struct {
	rsa, ec, ed, rsaNoAlg, ecNoAlg, rsaEnc, attacker, rotated testKey
}

var keys = sync.OnceValue(func() *keyring {
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	check(err)
	return &keyring{
		rsa:      newTestKey(genRSA(), "rsa-1", "RS256", "sig"),
		ec:       newTestKey(genEC(), "ec-1", "ES256", "sig"),
		ed:       newTestKey(edPriv, "ed-1", "EdDSA", ""),
		rsaNoAlg: newTestKey(genRSA(), "rsa-noalg", "", "sig"),
		ecNoAlg:  newTestKey(genEC(), "ec-noalg", "", ""),
		rsaEnc:   newTestKey(genRSA(), "rsa-enc", "", "enc"),
		attacker: newTestKey(genRSA(), "attacker", "RS256", "sig"),
		rotated:  newTestKey(genRSA(), "rsa-2", "RS256", "sig"),
	}
})

// idp is the fake identity provider: it serves a JWKS at /jwks.json and an
// OpenID Connect discovery document on any path ending in
// /.well-known/openid-configuration, counts both, and can be taken down.
type idp struct {
	srv         *httptest.Server
	fetches     atomic.Int64 // of the JWKS
	discoveries atomic.Int64

	mu        sync.Mutex
	docIssuer string // "issuer" in the document; the server URL by default
	jwksURI   string // "jwks_uri"; the server's /jwks.json by default
	jwks      []byte
	down      bool
}

// newIDP starts an identity provider over HTTP that publishes the given keys.
func newIDP(t testing.TB, published ...testKey) *idp {
	t.Helper()
	return newOIDC(t, false, published...)
}

// newOIDC is newIDP, over HTTPS when tls is set.
func newOIDC(t testing.TB, tls bool, published ...testKey) *idp {
	t.Helper()
	p := &idp{}
	p.publish(t, published...)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		discovery := strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration")
		switch {
		case discovery:
			p.discoveries.Add(1)
		case r.URL.Path == "/jwks.json":
			p.fetches.Add(1) // also while down: the verifier tried
		default:
			http.NotFound(w, r)
			return
		}
		p.mu.Lock()
		down, doc, jwks := p.down, map[string]any{"issuer": p.docIssuer, "jwks_uri": p.jwksURI}, p.jwks
		p.mu.Unlock()
		if down {
			http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if discovery {
			_ = json.NewEncoder(w).Encode(doc)
			return
		}
		_, _ = w.Write(jwks)
	})
	if tls {
		p.srv = httptest.NewTLSServer(h)
	} else {
		p.srv = httptest.NewServer(h)
	}
	t.Cleanup(p.srv.Close)
	p.docIssuer, p.jwksURI = p.srv.URL, p.srv.URL+"/jwks.json"
	return p
}

func (p *idp) publish(t testing.TB, published ...testKey) {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range published {
		must(t, set.AddKey(k.pub))
	}
	body, err := json.Marshal(set)
	must(t, err)
	p.mu.Lock()
	p.jwks = body
	p.mu.Unlock()
}

func (p *idp) set(f func(p *idp)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *idp) setDown(down bool) { p.set(func(p *idp) { p.down = down }) }

func baseConfig(p *idp) auth.Config {
	return auth.Config{
		JWKSURL:  p.srv.URL + "/jwks.json",
		Issuer:   testIssuer,
		Audience: testAudience,
		// Long intervals keep background refreshes out of fetch counts;
		// tests that need refetches shorten MinRefetchInterval.
		RefreshInterval:    time.Hour,
		MinRefetchInterval: time.Hour,
	}
}

// newVerifier starts a verifier bound to the test's lifetime and returns
// the log it writes.
func newVerifier(t *testing.T, p *idp, cfg auth.Config) (*auth.Verifier, *testkit.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := auth.NewVerifier(ctx, cfg, p.srv.Client(), logger)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v, logs
}

func validClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       "alice",
		"iat":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
		"tenant_id": "acme",
		"scope":     "traces:read profile",
	}
}

// claims returns validClaims with changes applied; a nil value removes the claim.
func claims(changes map[string]any) map[string]any {
	c := validClaims()
	for k, v := range changes {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// sign makes a real JWS with key, alg and the given protected headers; "kid"
// defaults to the key's kid (set it to "" to omit it).
func sign(t testing.TB, key testKey, alg string, payload map[string]any, headers map[string]any) string {
	t.Helper()
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("unknown alg %q", alg)
	}
	return signWith(t, a, key.priv, key.kid, payload, headers)
}

func signWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, kid string, payload map[string]any, headers map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for name, v := range payload {
		must(t, tok.Set(name, v))
	}
	hdrs := jws.NewHeaders()
	if kid != "" {
		must(t, hdrs.Set(jws.KeyIDKey, kid))
	}
	for name, v := range headers {
		if name == jws.KeyIDKey && v == "" {
			must(t, hdrs.Remove(jws.KeyIDKey))
			continue
		}
		must(t, hdrs.Set(name, v))
	}
	b, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdrs)))
	if err != nil {
		t.Fatalf("jwt.Sign: %v", err)
	}
	return string(b)
}

func b64(v any) string {
	var raw []byte
	switch v := v.(type) {
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// unsigned hand-crafts a token with the given raw header JSON and signature.
func unsigned(header string, payload map[string]any, sig string) string {
	return b64(header) + "." + b64(payload) + "." + sig
}

// segments splits a compact token.
func segments(t testing.TB, tok string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}
