package signing_test

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/signing"
)

// TestThumbprintKnownAnswers uses the examples of RFC 7638 §3.1 (RSA) and
// RFC 8037 Appendix A.3 (Ed25519).
func TestThumbprintKnownAnswers(t *testing.T) {
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsaKey := &rsa.PublicKey{
		N: new(big.Int).SetBytes(b64("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")),
		E: 65537,
	}
	if got, err := signing.Thumbprint(rsaKey); err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("RSA thumbprint %s, %v; want RFC 7638's NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", got, err)
	}
	edKey := ed25519.PublicKey(b64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
	if got, err := signing.Thumbprint(edKey); err != nil || got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("Ed25519 thumbprint %s, %v; want RFC 8037's kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", got, err)
	}
	if _, err := signing.Thumbprint("not a key"); err == nil {
		t.Error("Thumbprint of a string succeeded")
	}
}

func TestJWKS(t *testing.T) {
	keys := []auth.Key{testKey(t, auth.RS256), testKey(t, auth.ES256), testKey(t, auth.EdDSA)}
	raw, err := signing.JWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	var set map[string][]map[string]string
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if len(set) != 1 || len(set["keys"]) != len(keys) {
		t.Fatalf("JWKS %s, want {\"keys\":[3 keys]}", raw)
	}
	wantMembers := map[string][]string{
		auth.RS256: {"alg", "e", "kid", "kty", "n", "use"},
		auth.ES256: {"alg", "crv", "kid", "kty", "use", "x", "y"},
		auth.EdDSA: {"alg", "crv", "kid", "kty", "use", "x"},
	}
	for i, k := range keys {
		j := set["keys"][i]
		members := slices.Sorted(func(yield func(string) bool) {
			for m := range j {
				if !yield(m) {
					return
				}
			}
		})
		if !reflect.DeepEqual(members, wantMembers[k.Algorithm]) {
			t.Errorf("key %d (%s) has members %v, want exactly %v", i, k.Algorithm, members, wantMembers[k.Algorithm])
		}
		if j["kid"] != k.ID || j["alg"] != k.Algorithm || j["use"] != "sig" {
			t.Errorf("key %d: kid=%q alg=%q use=%q, want %s %s sig (input order kept)", i, j["kid"], j["alg"], j["use"], k.ID, k.Algorithm)
		}
		for m, v := range j {
			if strings.ContainsAny(v, "=+/") {
				t.Errorf("key %d: %s=%q is not unpadded base64url", i, m, v)
			}
		}
		switch k.Algorithm {
		case auth.RS256:
			pub, _ := x509.ParsePKIXPublicKey(k.Public)
			if j["kty"] != "RSA" || j["e"] != "AQAB" || j["n"] != base64.RawURLEncoding.EncodeToString(pub.(*rsa.PublicKey).N.Bytes()) {
				t.Errorf("RSA JWK %v", j)
			}
		case auth.ES256:
			if j["kty"] != "EC" || j["crv"] != "P-256" || len(j["x"]) != 43 || len(j["y"]) != 43 {
				t.Errorf("EC JWK %v, want P-256 with 32-byte coordinates", j)
			}
		case auth.EdDSA:
			if j["kty"] != "OKP" || j["crv"] != "Ed25519" || len(j["x"]) != 43 {
				t.Errorf("OKP JWK %v", j)
			}
		}
	}

	if raw, err := signing.JWKS(nil); err != nil || string(raw) != `{"keys":[]}` {
		t.Errorf("JWKS(nil) = %s, %v; want {\"keys\":[]}", raw, err)
	}
	bad := keys[1]
	bad.Algorithm = auth.EdDSA
	if _, err := signing.JWKS([]auth.Key{keys[0], bad}); err == nil || !strings.Contains(err.Error(), bad.ID) {
		t.Errorf("JWKS with a mislabelled key: %v, want an error naming it", err)
	}
}

// TestJWKSECCoordinateLength checks that EC coordinates keep their leading
// zeros (RFC 7518 §6.2.1.2) over many keys.
func TestJWKSECCoordinateLength(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 30
	}
	for range n {
		k, err := signing.NewKey(auth.ES256, testKEK(), time.Now(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := signing.JWKS([]auth.Key{k})
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []struct{ X, Y string } }
		json.Unmarshal(raw, &set)
		if len(set.Keys[0].X) != 43 || len(set.Keys[0].Y) != 43 {
			t.Fatalf("coordinates %q %q are not 32 bytes", set.Keys[0].X, set.Keys[0].Y)
		}
	}
}
