package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/client"
)

// signingKey is a client's key pair for private_key_jwt.
type signingKey struct {
	priv *ecdsa.PrivateKey
	kid  string
	jwks []byte // the public JWK Set
}

func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := "k-" + randomName()
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, kid: kid, jwks: jwks}
}

// assertion signs claims as the client would (ES256, its kid).
func (k signingKey) assertion(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func assertionClaims(id, aud string, now time.Time, lifetime time.Duration) map[string]any {
	return map[string]any{"iss": id, "sub": id, "aud": aud, "jti": randomName() + randomName(),
		"iat": now.Unix(), "exp": now.Add(lifetime).Unix()}
}

func (ts *testServer) assertionRequest(id, assertion string) response {
	ts.t.Helper()
	return ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
		"client_assertion_type": {auth.ClientAssertionTypeJWT}, "client_assertion": {assertion}}.Encode())
}

// TestPrivateKeyJWT: a client registered with public keys gets tokens with
// the client kit's assertions, on both backends; the attacks each fail.
func TestPrivateKeyJWT(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		key := newSigningKey(t)
		jwksFile := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(jwksFile, key.jwks, 0o600); err != nil {
			t.Fatal(err)
		}
		id, secret := createOn(t, nodes, "--name", "signer", "--scope", "claims:read auth:introspect", "--jwks-file", jwksFile, "--rate-limit", "1000/1m")
		if secret != "" {
			t.Fatalf("a client registered with keys got a secret %q", secret)
		}
		iss := a.srv.Issuer()

		// The client kit signs a fresh assertion per request.
		// TokenURL is the node's real address; Issuer, the assertion's aud.
		cfg := &client.Config{TokenURL: a.url + "/v1/auth/token", Issuer: iss, ClientID: id, AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: key.priv, KeyID: key.kid}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("client kit with private_key_jwt: %v", err)
		}
		// Introspection authenticated by assertion too (it holds auth:introspect).
		r := b.do("POST", "/v1/auth/introspect", "application/x-www-form-urlencoded", url.Values{
			"token": {tok.AccessToken}, "client_id": {id}, "client_assertion_type": {auth.ClientAssertionTypeJWT},
			"client_assertion": {key.assertion(t, assertionClaims(id, iss, time.Now(), time.Minute))}}.Encode())
		if m := introspection(t, r); m["active"] != true || m["client_id"] != id {
			t.Fatalf("introspection with private_key_jwt: %v", m)
		}

		// The token endpoint URL is an accepted audience too; no client_id needed.
		good := key.assertion(t, assertionClaims(id, iss+"/v1/auth/token", time.Now(), time.Minute))
		if r := a.form(url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.ClientAssertionTypeJWT}, "client_assertion": {good}}.Encode()); r.StatusCode != 200 {
			t.Fatalf("assertion for the token endpoint, no client_id: %d %s", r.StatusCode, r.body)
		}
		// Replayed: refused, on the other node too (the replay cache is shared in the fleet).
		if r := b.assertionRequest(id, good); r.StatusCode != 401 {
			t.Fatalf("replayed assertion on the other node: %d %s", r.StatusCode, r.body)
		} else if code, desc := r.errorBody(t); code != "invalid_client" || !strings.Contains(desc, "jti") {
			t.Errorf("replay refused with %s: %s", code, desc)
		}

		pubDER, _ := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
		now := time.Now()
		attacks := []struct{ name, assertion, want string }{
			{"alg none", unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": key.kid}, assertionClaims(id, iss, now, time.Minute)), ""},
			{"HS256 with the public key as secret", hmacSigned(pubDER, key.kid, assertionClaims(id, iss, now, time.Minute)), ""},
			{"HS256 with the JWK Set as secret", hmacSigned(key.jwks, key.kid, assertionClaims(id, iss, now, time.Minute)), ""},
			{"wrong aud", key.assertion(t, assertionClaims(id, "https://elsewhere.example", now, time.Minute)), "aud"},
			{"expired", key.assertion(t, assertionClaims(id, iss, now.Add(-10*time.Minute), 5*time.Minute)), "exp"},
			{"far-future exp", key.assertion(t, assertionClaims(id, iss, now, time.Hour)), "exp"},
			{"no jti", key.assertion(t, func() map[string]any { c := assertionClaims(id, iss, now, time.Minute); delete(c, "jti"); return c }()), "jti"},
			{"sub of another client", key.assertion(t, func() map[string]any {
				c := assertionClaims(id, iss, now, time.Minute)
				c["sub"] = "someone-else"
				return c
			}()), ""},
			{"signed by another key", newSigningKey(t).assertion(t, assertionClaims(id, iss, now, time.Minute)), ""},
			{"stripped signature", strings.Join(strings.Split(key.assertion(t, assertionClaims(id, iss, now, time.Minute)), ".")[:2], ".") + ".", ""},
		}
		for _, tc := range attacks {
			t.Run(tc.name, func(t *testing.T) {
				r := a.assertionRequest(id, tc.assertion)
				code, desc := r.errorBody(t)
				if r.StatusCode != 401 || code != "invalid_client" {
					t.Fatalf("%d %s: %s, want 401 invalid_client", r.StatusCode, code, desc)
				}
				if tc.want != "" && !strings.Contains(desc, tc.want) {
					t.Errorf("description %q does not name %s", desc, tc.want)
				}
			})
		}

		// A secret does not work for a client without one, and the client
		// may not use a secret method.
		if r := a.form("grant_type=client_credentials&client_id=" + id + "&client_secret=gcs_guess"); r.StatusCode != 401 {
			t.Errorf("secret for a keys-only client: %d", r.StatusCode)
		}
	})
}

// TestPrivateKeyJWTWithJWKSURI: keys fetched from the client's jwks_uri,
// cached, refetched when the client rotates its key.
func TestPrivateKeyJWTWithJWKSURI(t *testing.T) {
	ts := startTestServer(t, nil)
	var current atomic.Pointer[signingKey]
	first := newSigningKey(t)
	current.Store(&first)
	var fetches atomic.Int32
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(current.Load().jwks)
	}))
	t.Cleanup(keys.Close)
	id, _ := ts.createClient("--name", "fetched", "--scope", "claims:read", "--jwks-uri", keys.URL+"/jwks.json", "--allow-http-jwks-uri", "--allow-private-addresses")
	iss := ts.srv.Issuer()
	for range 3 {
		if r := ts.assertionRequest(id, first.assertion(t, assertionClaims(id, iss, time.Now(), time.Minute))); r.StatusCode != 200 {
			t.Fatalf("assertion with a key from jwks_uri: %d %s", r.StatusCode, r.body)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches of the jwks_uri for three assertions, want 1 (cached)", n)
	}
	// The client rotates its key: an assertion with the new kid makes the server refetch.
	second := newSigningKey(t)
	current.Store(&second)
	if r := ts.assertionRequest(id, second.assertion(t, assertionClaims(id, iss, time.Now(), time.Minute))); r.StatusCode != 200 {
		t.Fatalf("assertion with the client's new key: %d %s", r.StatusCode, r.body)
	}
	// A flood of unknown kids does not become a flood of fetches.
	before := fetches.Load()
	for range 20 {
		ts.assertionRequest(id, newSigningKey(t).assertion(t, assertionClaims(id, iss, time.Now(), time.Minute)))
	}
	if n := fetches.Load() - before; n > 1 {
		t.Errorf("20 assertions with unknown kids made %d fetches, want at most 1", n)
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func unsigned(header, claims map[string]any) string {
	return b64(header) + "." + b64(claims) + "."
}

func hmacSigned(secret []byte, kid string, claims map[string]any) string {
	input := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
