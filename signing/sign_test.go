package signing_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/signing"
)

var algs = []string{auth.ES256, auth.EdDSA, auth.RS256}

// testKEK and testKeys are shared: RSA key generation is slow.
var (
	testKEK = sync.OnceValue(func() *signing.KEK {
		kek, err := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
		if err != nil {
			panic(err)
		}
		return kek
	})
	keyCache sync.Map // alg → auth.Key
)

func testKey(t testing.TB, alg string) auth.Key {
	t.Helper()
	if k, ok := keyCache.Load(alg); ok {
		return k.(auth.Key)
	}
	k, err := signing.NewKey(alg, testKEK(), time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := keyCache.LoadOrStore(alg, k)
	return k2.(auth.Key)
}

func testSigner(t testing.TB, alg string) *signing.Signer {
	t.Helper()
	s, err := signing.NewSigner(testKey(t, alg), testKEK())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testClaims() auth.Claims {
	return auth.Claims{
		Issuer:   "https://auth.example.com",
		Subject:  "svc-billing",
		Audience: auth.Audience{"https://api.example.com"},
		ClientID: "svc-billing",
		Scope:    "invoices:read invoices:write",
		IssuedAt: 1767225600,
		Expiry:   1767229200,
		JWTID:    "0f8fad5b-d9cb-469f-a165-70867728950e",
	}
}

// TestSignVerifiedByGoJOSE signs with each algorithm and verifies the token
// with go-jose using the key it reads out of our JWKS, as a resource server
// would.
func TestSignVerifiedByGoJOSE(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			key := testKey(t, alg)
			signer := testSigner(t, alg)
			if signer.KeyID() != key.ID || signer.Algorithm() != alg {
				t.Errorf("signer is %s/%s, want %s/%s", signer.KeyID(), signer.Algorithm(), key.ID, alg)
			}
			claims, err := json.Marshal(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			token, err := signer.Sign(claims)
			if err != nil {
				t.Fatal(err)
			}

			// The exact bytes of the header and payload.
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts, want 3: %s", len(parts), token)
			}
			header := decodeSegment(t, parts[0])
			wantHeader := `{"alg":"` + alg + `","typ":"at+jwt","kid":"` + key.ID + `"}`
			if string(header) != wantHeader {
				t.Errorf("header\n %s\nwant\n %s", header, wantHeader)
			}
			if payload := decodeSegment(t, parts[1]); string(payload) != string(claims) {
				t.Errorf("payload %s, want %s", payload, claims)
			}
			sig := decodeSegment(t, parts[2])
			wantSigLen := map[string]int{auth.ES256: 64, auth.EdDSA: 64, auth.RS256: 256}[alg]
			if len(sig) != wantSigLen {
				t.Errorf("signature is %d bytes, want %d", len(sig), wantSigLen)
			}

			// The key, read back out of the JWKS by go-jose.
			jwks, err := signing.JWKS([]auth.Key{key})
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(jwks, &set); err != nil {
				t.Fatalf("go-jose cannot read our JWKS: %v\n%s", err, jwks)
			}
			found := set.Key(key.ID)
			if len(found) != 1 {
				t.Fatalf("JWKS has %d keys with kid %s, want 1:\n%s", len(found), key.ID, jwks)
			}
			jwk := found[0]
			if !jwk.IsPublic() || jwk.Use != "sig" || jwk.Algorithm != alg || !jwk.Valid() {
				t.Errorf("JWK public=%v use=%q alg=%q valid=%v", jwk.IsPublic(), jwk.Use, jwk.Algorithm, jwk.Valid())
			}
			tp, err := jwk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(tp); key.ID != want {
				t.Errorf("kid %s, go-jose's RFC 7638 thumbprint %s", key.ID, want)
			}

			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != alg || h.KeyID != key.ID || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
				t.Errorf("go-jose reads alg=%q kid=%q typ=%v", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType])
			}
			payload, err := jws.Verify(&jwk)
			if err != nil {
				t.Fatalf("go-jose does not verify the token: %v", err)
			}
			var got auth.Claims
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}
			if want := testClaims(); !equalClaims(got, want) {
				t.Errorf("claims %+v, want %+v", got, want)
			}

			// A token signed by another key of the same kind is rejected.
			other, err := signing.NewKey(alg, testKEK(), time.Now(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			otherSigner, err := signing.NewSigner(other, testKEK())
			if err != nil {
				t.Fatal(err)
			}
			forged, _ := otherSigner.Sign(claims)
			forgedJWS, err := jose.ParseSignedCompact(forged, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := forgedJWS.Verify(&jwk); err == nil {
				t.Error("go-jose verified a token signed by another key")
			}
		})
	}
}

func equalClaims(a, b auth.Claims) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func decodeSegment(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		t.Fatalf("segment %q is not unpadded base64url: %v", s, err)
	}
	return b
}

func TestSignWithType(t *testing.T) {
	signer := testSigner(t, auth.EdDSA)
	kid := signer.KeyID()
	for _, tc := range []struct{ typ, want string }{
		{"at+jwt", `{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `"}`},
		{"JWT", `{"alg":"EdDSA","typ":"JWT","kid":"` + kid + `"}`},
		{"", `{"alg":"EdDSA","kid":"` + kid + `"}`},
		{`a"b<c>`, `{"alg":"EdDSA","typ":"a\"b<c>","kid":"` + kid + `"}`},
	} {
		token, err := signer.SignWithType(tc.typ, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeSegment(t, strings.SplitN(token, ".", 2)[0]); string(got) != tc.want {
			t.Errorf("typ %q: header %s, want %s", tc.typ, got, tc.want)
		}
	}
}

// TestES256Signatures checks many ES256 signatures with crypto/ecdsa, so
// that R or S with leading zero bytes (about 1 in 128 signatures) are
// covered by the DER to R||S conversion.
func TestES256Signatures(t *testing.T) {
	key := testKey(t, auth.ES256)
	signer := testSigner(t, auth.ES256)
	pub, err := signing.PublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	n := 2000
	if testing.Short() {
		n = 200
	}
	short := 0
	for i := range n {
		token, err := signer.Sign([]byte(`{"i":` + string(rune('0'+i%10)) + `}`))
		if err != nil {
			t.Fatal(err)
		}
		dot := strings.LastIndexByte(token, '.')
		sig := decodeSegment(t, token[dot+1:])
		if len(sig) != 64 {
			t.Fatalf("signature is %d bytes, want 64", len(sig))
		}
		if sig[0] == 0 || sig[32] == 0 {
			short++
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		digest := sha256.Sum256([]byte(token[:dot]))
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], r, s) {
			t.Fatalf("signature %d does not verify: %s", i, token)
		}
	}
	t.Logf("%d of %d signatures had a short R or S", short, n)
}

func TestSignConcurrently(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			signer := testSigner(t, alg)
			jwks, err := signing.JWKS([]auth.Key{testKey(t, alg)})
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(jwks, &set); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 20 {
						claims := []byte(`{"g":` + string(rune('0'+g)) + `,"i":"` + strings.Repeat("x", i) + `"}`)
						token, err := signer.Sign(claims)
						if err != nil {
							t.Error(err)
							return
						}
						jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
						if err != nil {
							t.Error(err)
							return
						}
						payload, err := jws.Verify(&set.Keys[0])
						if err != nil || string(payload) != string(claims) {
							t.Errorf("Verify = %s, %v; want %s", payload, err, claims)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestNewSignerRejects(t *testing.T) {
	es := testKey(t, auth.ES256)
	ed := testKey(t, auth.EdDSA)

	_, err := signing.NewSigner(es, newKEK(t))
	if !errors.Is(err, signing.ErrWrongKEK) || !strings.Contains(err.Error(), "cannot decrypt signing key: wrong key-encryption key?") || !strings.Contains(err.Error(), es.ID) {
		t.Errorf("wrong KEK: %v, want ErrWrongKEK naming the key", err)
	}

	other, err := signing.NewKey(auth.ES256, testKEK(), time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*auth.Key)
		want string
	}{
		{"public key of another key", func(k *auth.Key) { k.Public = other.Public }, "does not match"},
		{"ID of another key", func(k *auth.Key) { k.ID = other.ID }, "wrong key-encryption key?"},
		{"sealed key of another key", func(k *auth.Key) { k.Sealed = other.Sealed }, "wrong key-encryption key?"},
		{"EdDSA public key under ES256", func(k *auth.Key) { k.Public = ed.Public }, "public key is Ed25519, not usable with ES256"},
		{"algorithm changed", func(k *auth.Key) { k.Algorithm = auth.RS256 }, "public key is ECDSA P-256, not usable with RS256"},
		{"unknown algorithm", func(k *auth.Key) { k.Algorithm = "HS256" }, `unsupported algorithm "HS256"`},
		{"garbage public key", func(k *auth.Key) { k.Public = []byte("junk") }, "public key"},
		{"no sealed key", func(k *auth.Key) { k.Sealed = nil }, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := es
			tc.edit(&k)
			s, err := signing.NewSigner(k, testKEK())
			if err == nil {
				t.Fatalf("NewSigner succeeded: %v", s.KeyID())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := signing.NewSigner(es, nil); err == nil {
		t.Error("NewSigner with a nil KEK succeeded")
	}
}

func TestNewKey(t *testing.T) {
	loc := time.FixedZone("UTC+5", 5*3600)
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, loc)
	from := created.Add(time.Hour)
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			k, err := signing.NewKey(alg, testKEK(), created, from)
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm != alg || k.ID == "" || len(k.Public) == 0 || len(k.Sealed) == 0 {
				t.Errorf("key %+v", k)
			}
			if k.CreatedAt.Location() != time.UTC || !k.CreatedAt.Equal(created) ||
				k.SigningFrom.Location() != time.UTC || !k.SigningFrom.Equal(from) {
				t.Errorf("times %v, %v; want %v, %v in UTC", k.CreatedAt, k.SigningFrom, created, from)
			}
			pub, err := signing.PublicKey(k)
			if err != nil {
				t.Fatal(err)
			}
			if kid, err := signing.Thumbprint(pub); err != nil || kid != k.ID {
				t.Errorf("Thumbprint = %s, %v; want the kid %s", kid, err, k.ID)
			}
			if len(k.ID) != 43 {
				t.Errorf("kid %q is %d characters, want 43 (unpadded base64url of SHA-256)", k.ID, len(k.ID))
			}
		})
	}

	_, err := signing.NewKey("HS256", testKEK(), created, from)
	if err == nil || !strings.Contains(err.Error(), "ES256, EdDSA, RS256") {
		t.Errorf("NewKey(HS256): %v, want an error listing the supported algorithms", err)
	}
	if _, err := signing.NewKey(auth.ES256, nil, created, from); err == nil {
		t.Error("NewKey with a nil KEK succeeded")
	}
}

func BenchmarkSign(b *testing.B) {
	claims, err := json.Marshal(testClaims())
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			signer := testSigner(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signer.Sign(claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
