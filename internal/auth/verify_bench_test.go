package auth_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/tracegate/tracegate/internal/auth"
)

// benchVerifier is newVerifier for benchmarks: the idp's JWKS served over
// HTTP, keys loaded before it returns, no logging.
func benchVerifier(b *testing.B, published ...testKey) *auth.Verifier {
	b.Helper()
	p := newIDP(b, published...)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	v, err := auth.NewVerifier(ctx, baseConfig(p), p.srv.Client(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkVerify measures Verifier.Verify for the same token over and over
// (a browser session: what a verified-token cache would serve) and for a new
// token every iteration (what no cache can help). Tokens are signed before
// the timer starts.
func BenchmarkVerify(b *testing.B) {
	k := keys()
	for _, c := range []struct {
		alg string
		key testKey
	}{{"ES256", k.ec}, {"RS256", k.rsa}} {
		v := benchVerifier(b, k.rsa, k.ec)
		ctx := context.Background()
		b.Run(c.alg+"/repeated", func(b *testing.B) {
			tok := sign(b, c.key, c.alg, validClaims(), nil)
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.alg+"/cold", func(b *testing.B) {
			tokens := make([]string, b.N)
			for i := range tokens {
				tokens[i] = sign(b, c.key, c.alg, claims(map[string]any{"jti": strconv.Itoa(i)}), nil)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Verify(ctx, tokens[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.alg+"/repeated-parallel", func(b *testing.B) {
			tok := sign(b, c.key, c.alg, validClaims(), nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
