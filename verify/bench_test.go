package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/gooclaim/gooclaim-auth/internal/testserver"
)

// BenchmarkVerify verifies a real token whose key is cached: header checks,
// go-jose parsing and signature verification, claims.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			s := newServer(b, testserver.Options{Algorithm: alg})
			id, secret := s.CreateClient(b, []string{"claims:read", "claims:write"})
			v := newVerifier(b, s, nil)
			tok := fetchToken(b, s, id, secret)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefuse measures what junk costs: a token refused by its header
// and one refused for its unknown kid (the refetch throttled).
func BenchmarkRefuse(b *testing.B) {
	ctx := context.Background()
	s := newServer(b, testserver.Options{})
	v := newVerifier(b, s, nil)
	now := time.Now()
	for _, tc := range []struct{ name, token string }{
		{"alg none", forge(b, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k"}, claims(s, now), func([]byte) []byte { return []byte("x") })},
		{"unknown kid", forge(b, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "k"}, claims(s, now), signer(b, "ES256", newPrivateKey(b, "ES256")))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tc.token); err == nil {
					b.Fatal("verified")
				}
			}
		})
	}
}
