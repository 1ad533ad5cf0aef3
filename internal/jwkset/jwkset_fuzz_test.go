package jwkset

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"slices"
	"testing"
)

var fuzzAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// FuzzParse: a JWK Set a client registers is untrusted. Every key Parse
// accepts is a public signature key of a type it knows, its alg fits it and
// is one the caller accepts, RSA keys have MinRSABits, a kid is there when
// required; and a failure says why.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","alg":"RS256","kid":"ec"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","kid":"priv"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA","kid":"sym"},{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","use":"enc","key_ops":["encrypt"]}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{"keys":[1,"a",null,{}],"keys":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, opts := range []Options{
			{Algorithms: fuzzAlgorithms},
			{Algorithms: []string{"ES256"}, RequireKID: true},
		} {
			set, err := Parse(body, opts)
			if err != nil {
				if set != nil || err.Error() == "" {
					t.Fatalf("Parse failed (%v) with a set, or without saying why", err)
				}
				continue
			}
			if len(set.Keys) == 0 {
				t.Fatal("Parse succeeded with no usable key")
			}
			for _, k := range set.Keys {
				switch pub := k.Key.(type) {
				case *ecdsa.PublicKey, ed25519.PublicKey:
				case *rsa.PublicKey:
					if pub.N.BitLen() < MinRSABits {
						t.Fatalf("RSA key of %d bits accepted", pub.N.BitLen())
					}
				default:
					t.Fatalf("key %q of type %T accepted: not a public signature key", k.KID, k.Key)
				}
				if !KeyFits(k.Alg, k.Key) {
					t.Fatalf("key %q: alg %q does not fit its %T", k.KID, k.Alg, k.Key)
				}
				if !slices.Contains(opts.Algorithms, k.Alg) {
					t.Fatalf("key %q: alg %q is not among %v", k.KID, k.Alg, opts.Algorithms)
				}
				if opts.RequireKID && k.KID == "" {
					t.Fatal("key without kid accepted though RequireKID")
				}
			}
		}
	})
}
