package verify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testserver"
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

// BenchmarkBaselineSignatureOnly is what any verifier must do at the least,
// for comparison with BenchmarkVerify: parse the compact JWS with go-jose
// and check its signature with the right key, already in hand — no header
// policy, no claims, no key lookup.
func BenchmarkBaselineSignatureOnly(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			s := newServer(b, testserver.Options{Algorithm: alg})
			id, secret := s.CreateClient(b, []string{"claims:read", "claims:write"})
			tok := fetchToken(b, s, id, secret)
			resp, err := http.Get(s.Issuer + httpapi.JWKSPath)
			if err != nil {
				b.Fatal(err)
			}
			var set jose.JSONWebKeySet
			err = json.NewDecoder(resp.Body).Decode(&set)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			first, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				b.Fatal(err)
			}
			keys := set.Key(first.Signatures[0].Header.KeyID)
			if len(keys) != 1 {
				b.Fatalf("%d keys for the token's kid", len(keys))
			}
			key := keys[0].Key
			b.ReportAllocs()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
