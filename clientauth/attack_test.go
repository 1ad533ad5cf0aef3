package clientauth_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
)

// TestAttacks: each attack on private_key_jwt, refused with a description
// of the check that failed.
func TestAttacks(t *testing.T) {
	es := newKey(t, "es", "ES256")
	rs := newKey(t, "rs", "RS256")
	attacker := newKey(t, "es", "ES256")              // the client's kid, another key
	otherClient := newKey(t, "other-client", "ES256") // registered by another client
	ed := newKey(t, "ed", "EdDSA")                    // the client's, declared EdDSA
	rsNoAlg := newKey(t, "rs-no-alg", "RS256", 2)     // registered without alg: RS256 only
	e := newEnv(t, clientauth.Config{})
	now := e.clock.Now()
	set := jwks(t, es, rs, ed)
	// rsNoAlg without "alg": its type implies RS256 alone.
	var doc jose.JSONWebKeySet
	json.Unmarshal(set, &doc)
	doc.Keys = append(doc.Keys, rsNoAlg.jwk(true))
	set, _ = json.Marshal(doc)
	c := &auth.Client{ID: "app", JWKS: set}

	good := goodClaims("app", now)
	valid := sign(t, es, good)
	h64, rest, _ := strings.Cut(valid, ".")
	p64, s64, _ := strings.Cut(rest, ".")

	// alg none: the header says unsigned.
	none := raw(t, map[string]any{"alg": "none", "kid": "es"}, good, nil)
	noneWithSig := raw(t, map[string]any{"alg": "none", "kid": "es"}, good, []byte("sig"))

	// HS256 keyed with the client's public key, which an attacker knows: a
	// verifier that lets the token pick the algorithm would "verify" it.
	der, err := x509.MarshalPKIXPublicKey(rs.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	hsSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: der, KeyID: "rs"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(good)
	hsJWS, _ := hsSigner.Sign(payload)
	hs256, _ := hsJWS.CompactSerialize()

	// The payload changed after signing.
	tampered := good.with("jti", "tampered")
	tp, _ := json.Marshal(tampered)
	tamperedPayload := h64 + "." + b64(tp) + "." + s64

	// The signature of another assertion of the client.
	otherSig := sign(t, es, goodClaims("app", now))
	swappedSig := h64 + "." + p64 + "." + otherSig[strings.LastIndex(otherSig, ".")+1:]

	// jku pointing at the attacker's server, which serves the attacker's key.
	var attackerRequests atomic.Int32
	evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerRequests.Add(1)
		w.Write(jwks(t, attacker))
	}))
	defer evil.Close()

	// The header alg swapped for another algorithm of the key's type.
	psForRS := newKey(t, "rs", "PS256") // the same RSA key (pool 0), signing PS256

	for _, tc := range []struct {
		name, assertion, want string
	}{
		{"alg none", none, "unsigned: its signature is empty"},
		{"alg none with a signature", noneWithSig, "unsigned (alg none)"},
		{"alg NONE", raw(t, map[string]any{"alg": "NONE"}, good, []byte("x")), "unsigned (alg none)"},
		{"HS256 keyed with the public key", hs256, "HMAC algorithm: never accepted"},
		{"an unknown alg", raw(t, map[string]any{"alg": "ES256K", "kid": "es"}, good, []byte("x")), "alg 'ES256K' is not accepted"},
		{"wrong aud", sign(t, es, good.with("aud", "https://api.gooclaim.test")), "aud does not contain"},
		{"aud a prefix of the issuer", sign(t, es, good.with("aud", "https://auth.gooclaim")), "aud does not contain"},
		{"aud with a trailing slash", sign(t, es, good.with("aud", issuer+"/")), "aud does not contain"},
		{"no aud", sign(t, es, good.with("aud", nil)), "no aud claim"},
		{"aud not a string", sign(t, es, good.with("aud", 42)), "not a string or an array of strings"},
		{"expired", sign(t, es, good.with("exp", now.Add(-time.Minute).Unix(), "iat", now.Add(-2*time.Minute).Unix())), "expired at"},
		{"exp 1h ahead", sign(t, es, good.with("exp", now.Add(time.Hour).Unix())), "more than 5m0s from now"},
		{"exp in year 9999", sign(t, es, good.with("exp", 253402300799)), "more than 5m0s from now"},
		{"exp too large", sign(t, es, good.with("exp", 1e300)), "exp claim is not a NumericDate"},
		{"exp a string", sign(t, es, good.with("exp", "1700000000")), "exp claim is not a NumericDate"},
		{"no exp", sign(t, es, good.with("exp", nil)), "no exp claim"},
		{"nbf in the future", sign(t, es, good.with("nbf", now.Add(time.Minute).Unix())), "not valid before"},
		{"iat in the future", sign(t, es, good.with("iat", now.Add(time.Minute).Unix())), "issued in the future"},
		{"iat long ago", sign(t, es, good.with("iat", now.Add(-time.Hour).Unix())), "more than 5m0s ago"},
		{"no jti", sign(t, es, good.with("jti", nil)), "no jti claim"},
		{"empty jti", sign(t, es, good.with("jti", "")), "no jti claim"},
		{"jti too long", sign(t, es, good.with("jti", strings.Repeat("j", 257))), "jti is 257 bytes"},
		{"jti not a string", sign(t, es, good.with("jti", 7)), "jti claim is not a string"},
		{"iss differs from sub", sign(t, es, good.with("iss", "someone")), "iss 'someone' and sub 'app' differ"},
		{"sub is another client", sign(t, es, good.with("iss", "app-2", "sub", "app-2")), "from 'app-2', not from the client 'app'"},
		{"no iss", sign(t, es, good.with("iss", nil)), "no iss claim"},
		{"an attacker's key under the client's kid", sign(t, attacker, good), "signature does not verify with the client's key 'es'"},
		{"another client's key", sign(t, otherClient, good), "no key with the client assertion's kid 'other-client'"},
		{"another client's key, without kid", sign(t, testKey{alg: "ES256", priv: otherClient.priv}, good), "does not verify with any of the client's ES256 keys"},
		{"stripped signature", h64 + "." + p64 + ".", "unsigned: its signature is empty"},
		{"stripped signature and dot", h64 + "." + p64, "has 2 parts"},
		{"tampered payload", tamperedPayload, "signature does not verify"},
		{"another assertion's signature", swappedSig, "signature does not verify"},
		{"jku at the attacker's server", sign(t, attacker, good, "jku", evil.URL+"/jwks.json"), "signature does not verify"},
		{"jku with an unknown kid", sign(t, newKey(t, "evil", "ES256"), good, "jku", evil.URL+"/jwks.json"), "no key with the client assertion's kid 'evil'"},
		{"x5u at the attacker's server", sign(t, attacker, good, "x5u", evil.URL+"/cert.pem"), "signature does not verify"},
		{"crit", sign(t, es, good, "crit", "exp"), "has crit"},
		{"a DPoP proof's typ", sign(t, es, good, "typ", "dpop+jwt"), "typ 'dpop+jwt' is not JWT"},
		{"an access token's typ", sign(t, es, good, "typ", "at+jwt"), "typ 'at+jwt' is not JWT"},
		{"alg not the key's (EdDSA key, ES256 header)", sign(t, testKey{kid: "ed", alg: "ES256", priv: es.priv}, good), "alg ES256 is not the algorithm of the client's key 'ed' (EdDSA)"},
		{"PS256 with a key registered for RS256", sign(t, psForRS, good), "alg PS256 is not the algorithm of the client's key 'rs' (RS256)"},
		{"PS256 with an RSA key without alg", sign(t, testKey{kid: "rs-no-alg", alg: "PS256", priv: rsNoAlg.priv}, good), "alg PS256 is not the algorithm of the client's key 'rs-no-alg' (RS256)"},
		{"no kid and no key of the alg", sign(t, testKey{alg: "ES384", priv: newKey(t, "", "ES384").priv}, good), "none of the client's keys is for its alg ES384"},
		{"JSON serialization", `{"payload":"` + p64 + `","protected":"` + h64 + `","signature":"` + s64 + `"}`, "JSON serialization"},
		{"JWE", "a.b.c.d.e", "a JWE"},
		{"empty", "", "client_assertion is empty"},
		{"too long", strings.Repeat("a", clientauth.MaxAssertionSize+1), "more than the 16384 accepted"},
		{"header not base64url", "!!." + p64 + "." + s64, "header is not unpadded base64url"},
		{"duplicate alg in the header", b64([]byte(`{"alg":"ES256","alg":"none","kid":"es"}`)) + "." + p64 + "." + s64, "member 'alg' appears twice"},
		{"duplicate sub in the claims", h64 + "." + b64([]byte(`{"sub":"app","sub":"admin"}`)) + "." + s64, "member 'sub' appears twice"},
		{"claims not an object", h64 + "." + b64([]byte(`[1]`)) + "." + s64, "claims are not a JSON object"},
		{"kid not a string", raw(t, map[string]any{"alg": "ES256", "kid": 1}, good, []byte("x")), "kid is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, e.v.Verify(ctx, c, tc.assertion), tc.want)
		})
	}
	if n := attackerRequests.Load(); n != 0 {
		t.Errorf("the attacker's server got %d requests; jku and x5u must never be followed", n)
	}
	// The valid assertion is still unused: no refused one spent its jti.
	if err := e.v.Verify(ctx, c, valid); err != nil {
		t.Fatalf("the valid assertion: %v", err)
	}
}

// TestAttackJKUWithJWKSURI: for a client with a jwks_uri, an assertion
// with an unknown kid and a jku makes the client's jwks_uri be fetched
// again (throttled), never the jku.
func TestAttackJKUWithJWKSURI(t *testing.T) {
	k := newKey(t, "k", "ES256")
	srv := newJWKSServer(t, jwks(t, k))
	var attackerRequests atomic.Int32
	evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attackerRequests.Add(1) }))
	defer evil.Close()
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL}
	attacker := newKey(t, "evil", "ES256")
	for range 5 {
		a := sign(t, attacker, goodClaims("app", e.clock.Now()), "jku", evil.URL, "x5u", evil.URL)
		wantInvalid(t, e.v.Verify(ctx, c, a), "no key with the client assertion's kid 'evil'")
	}
	if n := attackerRequests.Load(); n != 0 {
		t.Errorf("the attacker's server got %d requests", n)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d fetches of the client's jwks_uri, want 2 (the first, and one refetch for the unknown kid)", n)
	}
}

// TestAttackEmbeddedJWK: a jwk header holding the attacker's public key is
// not used to verify.
func TestAttackEmbeddedJWK(t *testing.T) {
	k := newKey(t, "k", "ES256")
	attacker := newKey(t, "", "ES256")
	e := newEnv(t, clientauth.Config{})
	c := &auth.Client{ID: "app", JWKS: jwks(t, k)}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: attacker.priv}, &jose.SignerOptions{EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(goodClaims("app", e.clock.Now()))
	jws, _ := s.Sign(payload)
	a, _ := jws.CompactSerialize()
	if h, _, _ := strings.Cut(a, "."); !strings.Contains(decode(h), `"jwk"`) {
		t.Fatal("the header has no jwk")
	}
	wantInvalid(t, e.v.Verify(ctx, c, a), "does not verify with any of the client's ES256 keys")
}

func decode(s string) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return string(b)
}
