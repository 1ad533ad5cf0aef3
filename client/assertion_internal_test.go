package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
)

func TestClientAssertionType(t *testing.T) {
	if clientAssertionTypeJWT != auth.ClientAssertionTypeJWT {
		t.Errorf("clientAssertionTypeJWT = %q, want %q", clientAssertionTypeJWT, auth.ClientAssertionTypeJWT)
	}
}

// hidden hides a key's type, as an HSM's signer does.
type hidden struct{ crypto.Signer }

// TestOpaqueSignerRFC7518: signatures of a crypto.Signer follow RFC 7518:
// ECDSA as R||S of the curve's size (§3.4), RSASSA-PSS with a salt as long
// as the hash (§3.5), which strict verifiers require.
func TestOpaqueSignerRFC7518(t *testing.T) {
	payload := []byte("header.payload")

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	o := &opaqueSigner{key: hidden{rsaKey}, alg: jose.PS256}
	sig, err := o.SignPayload(payload, jose.PS256)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(payload)
	if err := rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		t.Errorf("PS256 signature with a salt other than the hash length: %v", err)
	}

	for _, tc := range []struct {
		curve elliptic.Curve
		alg   jose.SignatureAlgorithm
		size  int
	}{{elliptic.P256(), jose.ES256, 32}, {elliptic.P521(), jose.ES512, 66}} {
		ecKey, _ := ecdsa.GenerateKey(tc.curve, rand.Reader)
		o := &opaqueSigner{key: hidden{ecKey}, alg: tc.alg}
		for range 20 { // R or S with leading zero bytes must keep their size
			sig, err := o.SignPayload(payload, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != 2*tc.size {
				t.Fatalf("%s signature of %d bytes, want %d", tc.alg, len(sig), 2*tc.size)
			}
			var digest []byte
			if tc.alg == jose.ES256 {
				d := sha256.Sum256(payload)
				digest = d[:]
			} else {
				d := sha512.Sum512(payload)
				digest = d[:]
			}
			r, s := new(big.Int).SetBytes(sig[:tc.size]), new(big.Int).SetBytes(sig[tc.size:])
			if !ecdsa.Verify(&ecKey.PublicKey, digest, r, s) {
				t.Fatalf("%s signature does not verify", tc.alg)
			}
		}
	}
}

// TestNewTokenRequestPrivateKeyJWT: the parameters of each encoding.
func TestNewTokenRequestPrivateKeyJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, problems := newAssertionSigner(key, "k1", "", 0)
	if problems != nil {
		t.Fatal(problems)
	}
	for _, enc := range []Encoding{EncodingForm, EncodingJSON} {
		s := settings{clientID: "app 1", scope: "a b", authStyle: AuthPrivateKeyJWT, assertion: signer, encoding: enc}
		r, err := s.newTokenRequest(context.Background(), "https://auth.example/token", s.clientCredentials())
		if err != nil {
			t.Fatal(err)
		}
		p := map[string]string{}
		if enc == EncodingJSON {
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
		} else {
			v, _ := url.ParseQuery(string(r.body))
			for k := range v {
				p[k] = v.Get(k)
			}
		}
		if r.authorization != "" || r.contentType != enc.String() || len(p) != 5 || p["grant_type"] != "client_credentials" ||
			p["scope"] != "a b" || p["client_id"] != "app 1" || p["client_assertion_type"] != auth.ClientAssertionTypeJWT ||
			strings.Count(p["client_assertion"], ".") != 2 {
			t.Errorf("%v: %s %q %s", enc, r.contentType, r.authorization, r.body)
		}
	}
}
