package jwkset

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func jwk(t *testing.T, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(keys ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

var all = []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

func TestParse(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)

	body := set(
		jwk(t, &ec.PublicKey, "ec", "", ""),                          // 0: ES256 implied
		jwk(t, edPub, "", "", "sig"),                                 // 1: no kid
		jwk(t, &rsaKey.PublicKey, "ps", "PS256", ""),                 // 2
		jwk(t, &rsaKey.PublicKey, "rs", "", ""),                      // 3: RS256 implied
		jwk(t, ec, "private", "", ""),                                // 4: private
		jwk(t, &small.PublicKey, "small", "RS256", ""),               // 5: too small
		jwk(t, &ec384.PublicKey, "mismatch", "ES256", ""),            // 6: alg does not fit
		jwk(t, &ec.PublicKey, "enc", "", "enc"),                      // 7: not for signing
		json.RawMessage(`{"kty":"XYZ","kid":"unknown"}`),             // 8: unknown type
		json.RawMessage(`{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}`), // 9: symmetric
	)
	s, err := Parse(body, Options{Algorithms: all})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range s.Keys {
		got = append(got, k.KID+"/"+k.Alg)
	}
	if want := "ec/ES256 /EdDSA ps/PS256 rs/RS256"; strings.Join(got, " ") != want {
		t.Errorf("keys %q, want %q", strings.Join(got, " "), want)
	}
	want := map[int]string{4: "not a public key", 5: "RSA key of 1024 bits", 6: "does not fit", 7: "use 'enc', not sig", 8: "", 9: "not a public key"}
	if len(s.Ignored) != len(want) {
		t.Fatalf("ignored %v, want %d", s.Ignored, len(want))
	}
	for _, p := range s.Ignored {
		w, ok := want[p.Index]
		if !ok || !strings.Contains(p.String(), w) {
			t.Errorf("ignored %s, want it to say %q", p, w)
		}
	}
	if p := s.Ignored[0]; !errors.Is(p.Err, ErrNotPublic) || p.KID != "private" {
		t.Errorf("%v: want ErrNotPublic for kid private", p)
	}
	if p := s.Ignored[3]; !errors.Is(p.Err, ErrNotForSigning) {
		t.Errorf("%v: want ErrNotForSigning", p)
	}

	// RequireKID drops the key without kid; a narrower allow-list drops more.
	s, err = Parse(body, Options{Algorithms: []string{"EdDSA", "ES256"}, AlgorithmsName: "Config.Algorithms", RequireKID: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Keys) != 1 || s.Keys[0].KID != "ec" {
		t.Errorf("keys %+v, want ec only", s.Keys)
	}
	msgs := ""
	for _, p := range s.Ignored {
		msgs += p.String() + "\n"
	}
	for _, w := range []string{"key 1 (kid ''): no kid, so no token can name it", "key 2 (kid 'ps'): alg PS256 is not in Config.Algorithms"} {
		if !strings.Contains(msgs, w) {
			t.Errorf("ignored:\n%s\nwant %q", msgs, w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`[]`, "not a JWK Set"},
		{`{}`, `no "keys" array`},
		{`{"keys":[]}`, "no usable key (0 in the set)"},
		{`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`, "no usable key (1 in the set): key 0 (kid 'h'): not a public key"},
	} {
		if _, err := Parse([]byte(tc.body), Options{Algorithms: all}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestKeyFits(t *testing.T) {
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		alg  string
		key  any
		fits bool
	}{
		{"ES512", &ec521.PublicKey, true}, {"ES256", &ec521.PublicKey, false},
		{"EdDSA", edPub, true}, {"ES256", edPub, false},
		{"PS384", &rsaKey.PublicKey, true}, {"EdDSA", &rsaKey.PublicKey, false}, {"HS256", &rsaKey.PublicKey, false},
		{"HS256", []byte("secret"), false},
	} {
		if got := KeyFits(tc.alg, tc.key); got != tc.fits {
			t.Errorf("KeyFits(%s, %T) = %v", tc.alg, tc.key, got)
		}
	}
	if a := ImpliedAlgorithm(&ec521.PublicKey); a != "ES512" {
		t.Errorf("ImpliedAlgorithm(P-521) = %s", a)
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("a\"b\\c'd\ne\u00e9"); got != "'a?b?c?d?e?'" {
		t.Errorf("Quote = %s", got)
	}
	if got := Quote(strings.Repeat("x", 100)); got != "'"+strings.Repeat("x", 48)+"...'" {
		t.Errorf("Quote(long) = %s", got)
	}
}
