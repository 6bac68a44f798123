package auth

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestFits covers the key-type/algorithm matrix directly: jws would also
// refuse most mismatches, so end-to-end tests alone could not tell whether
// fits enforces them.
func TestFits(t *testing.T) {
	t.Parallel()
	mustKey := func(raw any) jwk.Key {
		t.Helper()
		k, err := jwk.Import(raw)
		if err != nil {
			t.Fatalf("jwk.Import(%T): %v", raw, err)
		}
		return k
	}
	ec := func(c elliptic.Curve) jwk.Key {
		t.Helper()
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return mustKey(k.Public())
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var (
		rsaPub = mustKey(rsaKey.Public())
		p256   = ec(elliptic.P256())
		p384   = ec(elliptic.P384())
		p521   = ec(elliptic.P521())
		ed     = mustKey(edPub)
		x25519 = mustKey(x.PublicKey())
	)
	withAlg := func(k jwk.Key, alg string) jwk.Key {
		t.Helper()
		c, err := k.Clone()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Set(jwk.AlgorithmKey, alg); err != nil {
			t.Fatal(err)
		}
		return c
	}

	tests := []struct {
		name string
		key  jwk.Key
		alg  string
		ok   bool
	}{
		{"RSA RS256", rsaPub, "RS256", true},
		{"RSA RS512", rsaPub, "RS512", true},
		{"RSA PS256", rsaPub, "PS256", true},
		{"RSA ES256", rsaPub, "ES256", false},
		{"RSA EdDSA", rsaPub, "EdDSA", false},
		{"RSA HS256", rsaPub, "HS256", false},
		{"P-256 ES256", p256, "ES256", true},
		{"P-256 ES384", p256, "ES384", false},
		{"P-256 RS256", p256, "RS256", false},
		{"P-384 ES384", p384, "ES384", true},
		{"P-384 ES256", p384, "ES256", false},
		{"P-521 ES512", p521, "ES512", true},
		{"P-521 ES384", p521, "ES384", false},
		{"Ed25519 EdDSA", ed, "EdDSA", true},
		{"Ed25519 ES256", ed, "ES256", false},
		{"X25519 EdDSA", x25519, "EdDSA", false},
		{"RSA published as RS256, PS256 token", withAlg(rsaPub, "RS256"), "PS256", false},
		{"RSA published as RS256, RS256 token", withAlg(rsaPub, "RS256"), "RS256", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := fits(tc.key, tc.alg)
			if (err == nil) != tc.ok {
				t.Fatalf("fits(%s key, %s) = %v; want ok=%v", keyFamilyOf(tc.key), tc.alg, err, tc.ok)
			}
		})
	}
}
