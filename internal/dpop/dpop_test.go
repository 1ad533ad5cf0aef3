package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth/internal/dpop"
)

const tokenURL = "https://auth.example.com/oauth2/token"

var now = time.Unix(1_800_000_000, 0)

func params() dpop.Params {
	return dpop.Params{Method: "POST", URL: tokenURL, Now: now, MaxAge: time.Minute, Leeway: 5 * time.Second}
}

var b64 = base64.RawURLEncoding

// craft signs a proof of any header and claims with an ES256 key, so that
// every field can be wrong on purpose.
func craft(t testing.TB, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

func publicJWK(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: pub})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

func goodParts(t testing.TB, key *ecdsa.PrivateKey) (map[string]any, map[string]any) {
	return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(t, &key.PublicKey)},
		map[string]any{"jti": "j-1", "htm": "POST", "htu": tokenURL, "iat": now.Unix()}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyAccepts(t *testing.T) {
	ec := newKey(t)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		alg    string
		signer crypto.Signer
	}{{"ES256", ec}, {"EdDSA", ed}, {"PS256", rs}, {"RS256", rs}} {
		proof, err := dpop.NewProof(tc.signer, tc.alg, "POST", tokenURL+"?x=1", "", "", now)
		if err != nil {
			t.Fatal(err)
		}
		p, err := dpop.Verify(proof, params())
		if err != nil {
			t.Fatalf("%s: %v", tc.alg, err)
		}
		want, _ := dpop.Thumbprint(tc.signer.Public())
		if p.JKT != want || p.JTI == "" || !p.IssuedAt.Equal(now) {
			t.Errorf("%s: got %+v, want jkt %s", tc.alg, p, want)
		}
	}
	// RFC 7638 §3.1's example key and thumbprint.
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := dpop.Thumbprint(jwk.Key); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("Thumbprint of RFC 7638's key = %s", got)
	}
}

// TestVerifyRefuses has a row per check of RFC 9449 §4.3: each proof is
// good but for one thing, so removing a check fails its row.
func TestVerifyRefuses(t *testing.T) {
	key := newKey(t)
	other := newKey(t)
	ns, err := dpop.NewNonceSource(make([]byte, 32), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	type mut func(h, c map[string]any)
	rows := []struct {
		name   string
		mut    mut
		params func(*dpop.Params)
		proof  func(string) string
		want   string
		nonce  bool
	}{
		{name: "no typ", mut: func(h, c map[string]any) { delete(h, "typ") }, want: "typ"},
		{name: "typ JWT", mut: func(h, c map[string]any) { h["typ"] = "JWT" }, want: "typ"},
		{name: "alg RS256 for an EC key", mut: func(h, c map[string]any) { h["alg"] = "RS256" }, want: "not a key for its alg"},
		{name: "alg none", mut: func(h, c map[string]any) { h["alg"] = "none" }, want: "alg none"},
		{name: "alg HS256", mut: func(h, c map[string]any) { h["alg"] = "HS256" }, want: "HMAC"},
		{name: "alg ES256K", mut: func(h, c map[string]any) { h["alg"] = "ES256K" }, want: "not one of"},
		{name: "no jwk", mut: func(h, c map[string]any) { delete(h, "jwk") }, want: "no jwk"},
		{name: "jwk with d", mut: func(h, c map[string]any) {
			h["jwk"].(map[string]any)["d"] = b64.EncodeToString(mustBytes(t, key))
		}, want: `member "d"`},
		{name: "symmetric jwk", mut: func(h, c map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} }, want: `member "k"`},
		{name: "another key's jwk", mut: func(h, c map[string]any) { h["jwk"] = publicJWK(t, &other.PublicKey) }, want: "signature"},
		{name: "bad signature", proof: func(p string) string {
			i := strings.LastIndexByte(p, '.')
			sig, _ := b64.DecodeString(p[i+1:])
			sig[5] ^= 1
			return p[:i+1] + b64.EncodeToString(sig)
		}, want: "signature"},
		{name: "no jti", mut: func(h, c map[string]any) { delete(c, "jti") }, want: "jti"},
		{name: "long jti", mut: func(h, c map[string]any) { c["jti"] = strings.Repeat("j", dpop.MaxJTILength+1) }, want: "jti"},
		{name: "htm GET", mut: func(h, c map[string]any) { c["htm"] = "GET" }, want: "htm"},
		{name: "no htm", mut: func(h, c map[string]any) { delete(c, "htm") }, want: "htm"},
		{name: "htu another path", mut: func(h, c map[string]any) { c["htu"] = "https://auth.example.com/oauth2/introspect" }, want: "htu"},
		{name: "htu another host", mut: func(h, c map[string]any) { c["htu"] = "https://evil.example.com/oauth2/token" }, want: "htu"},
		{name: "htu http", mut: func(h, c map[string]any) { c["htu"] = "http://auth.example.com/oauth2/token" }, want: "htu"},
		{name: "htu userinfo", mut: func(h, c map[string]any) { c["htu"] = "https://u@auth.example.com/oauth2/token" }, want: "htu"},
		{name: "no htu", mut: func(h, c map[string]any) { delete(c, "htu") }, want: "htu"},
		{name: "no iat", mut: func(h, c map[string]any) { delete(c, "iat") }, want: "iat"},
		{name: "stale iat", mut: func(h, c map[string]any) { c["iat"] = now.Add(-time.Minute - 6*time.Second).Unix() }, want: "ago"},
		{name: "future iat", mut: func(h, c map[string]any) { c["iat"] = now.Add(6 * time.Second).Unix() }, want: "future"},
		{name: "nonce missing", params: func(p *dpop.Params) { p.Nonce = func(n string) bool { return ns.Valid(n, now) } }, want: "no nonce", nonce: true},
		{name: "nonce forged", mut: func(h, c map[string]any) { c["nonce"] = strings.Repeat("A", 24) },
			params: func(p *dpop.Params) { p.Nonce = func(n string) bool { return ns.Valid(n, now) } }, want: "not valid", nonce: true},
		{name: "nonce expired", mut: func(h, c map[string]any) { c["nonce"] = ns.Nonce(now.Add(-2 * time.Minute)) },
			params: func(p *dpop.Params) { p.Nonce = func(n string) bool { return ns.Valid(n, now) } }, want: "not valid", nonce: true},
		{name: "ath missing", params: func(p *dpop.Params) { p.AccessToken = "tok" }, want: "ath"},
		{name: "ath of another token", mut: func(h, c map[string]any) { c["ath"] = dpop.AccessTokenHash("other") },
			params: func(p *dpop.Params) { p.AccessToken = "tok" }, want: "ath"},
		{name: "JSON serialization", proof: func(string) string { return `{"payload":"x"}` }, want: "compact"},
		{name: "two parts", proof: func(string) string { return "a.b" }, want: "parts"},
		{name: "too big", proof: func(string) string { return strings.Repeat("a", dpop.MaxSize+1) }, want: "bytes"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			h, c := goodParts(t, key)
			if row.mut != nil {
				row.mut(h, c)
			}
			proof := craft(t, key, h, c)
			if row.proof != nil {
				proof = row.proof(proof)
			}
			p := params()
			if row.params != nil {
				row.params(&p)
			}
			got, err := dpop.Verify(proof, p)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !strings.Contains(err.Error(), row.want) {
				t.Errorf("error %q does not mention %q", err, row.want)
			}
			if errors.Is(err, dpop.ErrNonce) != row.nonce {
				t.Errorf("errors.Is(ErrNonce) = %v for %q", !row.nonce, err)
			}
		})
	}
}

// TestVerifyGoodCrafted holds the crafted proof of TestVerifyRefuses
// accepted as it is, so that the rows fail for their one change, and the
// claims the rows make optional accepted when right.
func TestVerifyGoodCrafted(t *testing.T) {
	key := newKey(t)
	ns, _ := dpop.NewNonceSource(make([]byte, 32), time.Minute)
	h, c := goodParts(t, key)
	c["nonce"] = ns.Nonce(now.Add(-time.Minute)) // the previous window's
	c["ath"] = dpop.AccessTokenHash("tok")
	c["htu"] = "HTTPS://Auth.Example.COM:443/oauth2/./x/../%74oken"
	c["iat"] = now.Add(-time.Minute - 4*time.Second).Unix()
	p := params()
	p.Nonce = func(n string) bool { return ns.Valid(n, now) }
	p.AccessToken = "tok"
	got, err := dpop.Verify(craft(t, key, h, c), p)
	if err != nil {
		t.Fatal(err)
	}
	if got.JTI != "j-1" || got.ReplayKey() == "" || !got.ReplayUntil(p).After(now) {
		t.Errorf("got %+v", got)
	}
	c["iat"] = now.Add(4 * time.Second).Unix()
	if _, err := dpop.Verify(craft(t, key, h, c), p); err != nil {
		t.Errorf("iat within the leeway in the future: %v", err)
	}
}

func TestVerifyRSAKeySize(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	proof, err := dpop.NewProof(small, "RS256", "POST", tokenURL, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dpop.Verify(proof, params()); err == nil || !strings.Contains(err.Error(), "bits") {
		t.Errorf("RSA-1024: %v", err)
	}
}

func TestVerifyHMACProof(t *testing.T) {
	// An HS256 proof whose "jwk" is the MAC key: the confusion RFC 8725
	// §2.1 describes, refused for the alg before any key is looked at.
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}})
	c, _ := json.Marshal(map[string]any{"jti": "j", "htm": "POST", "htu": tokenURL, "iat": now.Unix()})
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte(input))
	if _, err := dpop.Verify(input+"."+b64.EncodeToString(m.Sum(nil)), params()); err == nil {
		t.Fatal("HS256 proof accepted")
	}
}

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://a.example/t":            "https://a.example/t",
		"HTTPS://A.Example:443/t?q#f":    "https://a.example/t",
		"http://a.example:80":            "http://a.example/",
		"https://a.example:8443/%7euser": "https://a.example:8443/~user",
		"https://a.example/%2f/./b/../c": "https://a.example/%2F/c",
		"https://a.example:/t":           "https://a.example/t",
		"https://a.example/t/..":         "https://a.example/",
		"https://a.example/a%c3%a9":      "https://a.example/a%C3%A9",
	} {
		got, err := dpop.NormalizeURL(in)
		if err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/oauth2/token", "ftp://a.example/t", "https:///t", "mailto:x@y", "https://a.example/%zz"} {
		if got, err := dpop.NormalizeURL(bad); err == nil {
			t.Errorf("NormalizeURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestNonceSource(t *testing.T) {
	secret := make([]byte, 32)
	a, _ := dpop.NewNonceSource(secret, time.Minute)
	b, _ := dpop.NewNonceSource(secret, time.Minute) // another node
	n := a.Nonce(now)
	if !b.Valid(n, now) || !b.Valid(n, now.Add(time.Minute)) {
		t.Error("a nonce of another node with the same secret refused in its window or the next")
	}
	if b.Valid(n, now.Add(2*time.Minute)) {
		t.Error("a nonce two windows old accepted")
	}
	if b.Valid(n, now.Add(-time.Minute)) {
		t.Error("a nonce of the next window accepted")
	}
	secret[0] = 1
	c, _ := dpop.NewNonceSource(secret, time.Minute)
	if c.Valid(n, now) {
		t.Error("a nonce of another secret accepted")
	}
	if a.Valid("", now) || a.Valid(n+"A", now) || a.Valid(strings.ToLower(n), now) {
		t.Error("a malformed nonce accepted")
	}
	if _, err := dpop.NewNonceSource(make([]byte, 16), 0); err == nil {
		t.Error("a short secret accepted")
	}
	// The key is derived, not the secret itself: a nonce is not the plain
	// HMAC of the window under the secret.
	m := hmac.New(sha256.New, make([]byte, 32))
	var msg [8]byte
	new(big.Int).SetInt64(now.UnixNano() / int64(time.Minute)).FillBytes(msg[:])
	m.Write(msg[:])
	if b64.EncodeToString(m.Sum(nil)[:18]) == n {
		t.Error("the nonce key is the secret itself, not derived")
	}
}

func FuzzVerify(f *testing.F) {
	key := newKey(f)
	ed := ed25519.NewKeyFromSeed(make([]byte, 32))
	for _, s := range []crypto.Signer{key, ed} {
		p, err := dpop.NewProof(s, "", "POST", tokenURL, "", "", now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Add("")
	f.Add("a.b.c")
	h, c := goodParts(f, key)
	h["jwk"].(map[string]any)["d"] = "AA"
	f.Add(craft(f, key, h, c))
	ns, _ := dpop.NewNonceSource(make([]byte, 32), 0)
	f.Fuzz(func(t *testing.T, proof string) {
		p := params()
		p.Nonce = func(n string) bool { return ns.Valid(n, now) }
		got, err := dpop.Verify(proof, p)
		if err == nil && (got.JKT == "" || got.JTI == "") {
			t.Fatalf("accepted without jkt or jti: %+v", got)
		}
		p.Nonce = nil
		got, err = dpop.Verify(proof, p)
		if err == nil && (got.JKT == "" || got.JTI == "" || len(got.JTI) > dpop.MaxJTILength) {
			t.Fatalf("accepted: %+v", got)
		}
	})
}

// mustBytes is key's private scalar, for a jwk that leaks it.
func mustBytes(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
