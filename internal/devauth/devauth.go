// Package devauth is a minimal token issuer for `tracegate dev` and for
// tests: one ES256 key generated in memory, its public JWKS served over HTTP,
// and signed tokens. It is not an identity provider: never use it in
// production.
package devauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Issuer signs tokens with a key that lives only in memory.
type Issuer struct {
	issuer, audience string
	private          jwk.Key
	jwks             []byte
}

// NewIssuer generates a fresh P-256 key. Tokens carry iss = issuer and
// aud = audience.
func NewIssuer(issuer, audience string) (*Issuer, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	private, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	var kid [8]byte
	_, _ = rand.Read(kid[:])
	if err := private.Set(jwk.KeyIDKey, "dev-"+hex.EncodeToString(kid[:])); err != nil {
		return nil, err
	}
	if err := private.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		return nil, err
	}
	public, err := jwk.PublicKeyOf(private)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(public); err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &Issuer{issuer: issuer, audience: audience, private: private, jwks: jwks}, nil
}

// JWKS serves the public key set.
func (i *Issuer) JWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(i.jwks)
	})
}

// Token returns a signed token for subject, valid for ttl, with the given
// extra claims (e.g. "tenant_id"). Extra claims override the standard ones.
func (i *Issuer) Token(subject string, ttl time.Duration, claims map[string]any) (string, error) {
	now := time.Now()
	tok, err := jwt.NewBuilder().
		Issuer(i.issuer).
		Audience([]string{i.audience}).
		Subject(subject).
		IssuedAt(now).
		Expiration(now.Add(ttl)).
		Build()
	if err != nil {
		return "", err
	}
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			return "", fmt.Errorf("claim %s: %w", k, err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), i.private))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return string(signed), nil
}
