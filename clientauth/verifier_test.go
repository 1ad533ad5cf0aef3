package clientauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
)

var ctx = context.Background()

// TestVerifyAccepts: an assertion signed by each kind of key verifies,
// with the key registered inline or at a jwks_uri.
func TestVerifyAccepts(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256", "PS512"} {
		k := newKey(t, "key-"+alg, alg)
		t.Run(alg+"/inline", func(t *testing.T) {
			e := newEnv(t, clientauth.Config{})
			c := &auth.Client{ID: "app-" + alg, JWKS: jwks(t, k)}
			if err := e.v.Verify(ctx, c, sign(t, k, goodClaims(c.ID, e.clock.Now()))); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(alg+"/jwks_uri", func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, k))
			e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
			c := &auth.Client{ID: "app-" + alg, JWKSURI: srv.URL + "/jwks.json"}
			for range 3 {
				if err := e.v.Verify(ctx, c, sign(t, k, goodClaims(c.ID, e.clock.Now()))); err != nil {
					t.Fatal(err)
				}
			}
			if n := srv.requests.Load(); n != 1 {
				t.Errorf("%d JWKS fetches for 3 assertions, want 1 (cached)", n)
			}
		})
	}
}

// TestVerifyVariants: what a valid assertion may look like.
func TestVerifyVariants(t *testing.T) {
	es := newKey(t, "es", "ES256")
	es2 := newKey(t, "es-2", "ES256")
	ed := newKey(t, "ed", "EdDSA")
	rs := newKey(t, "rs", "RS256", 1)
	e := newEnv(t, clientauth.Config{})
	now := e.clock.Now()
	c := &auth.Client{ID: "app", JWKS: jwks(t, es, es2, ed, rs)}
	noKID := func(k testKey) testKey { k.kid = ""; return k }
	for _, tc := range []struct {
		name      string
		assertion string
	}{
		{"aud is the token endpoint", sign(t, es, goodClaims("app", now).with("aud", endpoint))},
		{"aud is an array holding the issuer", sign(t, es, goodClaims("app", now).with("aud", []string{"https://other", issuer}))},
		{"no kid: the keys of the alg are tried", sign(t, noKID(es2), goodClaims("app", now))},
		{"no kid, EdDSA", sign(t, noKID(ed), goodClaims("app", now))},
		{"no kid, RSA", sign(t, noKID(rs), goodClaims("app", now))},
		{"no iat", sign(t, es, goodClaims("app", now).with("iat", nil))},
		{"nbf now", sign(t, es, goodClaims("app", now).with("nbf", now.Unix()))},
		{"exp at the maximum lifetime", sign(t, es, goodClaims("app", now).with("exp", now.Add(clientauth.DefaultMaxLifetime).Unix()))},
		{"expired within the leeway", sign(t, es, goodClaims("app", now).with("exp", now.Add(-10*time.Second).Unix(), "iat", now.Add(-time.Minute).Unix()))},
		{"iat slightly ahead (clock skew)", sign(t, es, goodClaims("app", now).with("iat", now.Add(20*time.Second).Unix()))},
		{"fractional dates", sign(t, es, goodClaims("app", now).with("exp", float64(now.Unix())+59.5, "iat", float64(now.Unix())+0.25))},
		{"typ of RFC 7523bis", sign(t, es, goodClaims("app", now), "typ", "client-authentication+jwt")},
		{"jti of 256 bytes", sign(t, es, goodClaims("app", now).with("jti", strings.Repeat("j", 256)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.v.Verify(ctx, c, tc.assertion); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReplay: an assertion is accepted once; its jti is per client.
func TestReplay(t *testing.T) {
	k := newKey(t, "k", "ES256")
	e := newEnv(t, clientauth.Config{})
	a := &auth.Client{ID: "app-a", JWKS: jwks(t, k)}
	b := &auth.Client{ID: "app-b", JWKS: jwks(t, k)}
	cl := goodClaims("app-a", e.clock.Now())
	assertion := sign(t, k, cl)
	if err := e.v.Verify(ctx, a, assertion); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, e.v.Verify(ctx, a, assertion), "already used")
	// The same jti in a new assertion (re-signed) is still a replay.
	wantInvalid(t, e.v.Verify(ctx, a, sign(t, k, cl.with("exp", e.clock.Now().Add(2*time.Minute).Unix()))), "already used")
	// Another client may use the same jti.
	if err := e.v.Verify(ctx, b, sign(t, k, goodClaims("app-b", e.clock.Now()).with("jti", cl["jti"]))); err != nil {
		t.Fatalf("another client's jti: %v", err)
	}
	// The jti is remembered until exp plus the leeway, the last moment the
	// assertion could be accepted.
	e.clock.Advance(time.Minute + 20*time.Second) // past exp, within the leeway
	wantInvalid(t, e.v.Verify(ctx, a, assertion), "already used")
}

// TestReplayCacheFailure: a failing ReplayCache is a server error,
// returned wrapped, not an invalid_client.
func TestReplayCacheFailure(t *testing.T) {
	k := newKey(t, "k", "ES256")
	down := errors.New("redis: connection refused")
	e := newEnv(t, clientauth.Config{Replay: failingCache{down}})
	c := &auth.Client{ID: "app", JWKS: jwks(t, k)}
	err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now())))
	var oe *auth.OAuthError
	if !errors.Is(err, down) || errors.As(err, &oe) {
		t.Fatalf("Verify = %v; want the cache's error, wrapped, and no OAuthError", err)
	}
	// Invalid assertions are refused before the cache is asked.
	wantInvalid(t, e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()).with("aud", "x"))), "aud")
}

type failingCache struct{ err error }

func (f failingCache) Use(context.Context, string, time.Time) (bool, error) { return false, f.err }

// TestClientChecks: the client must be allowed private_key_jwt and have keys.
func TestClientChecks(t *testing.T) {
	k := newKey(t, "k", "ES256")
	e := newEnv(t, clientauth.Config{})
	a := sign(t, k, goodClaims("app", e.clock.Now()))
	wantInvalid(t, e.v.Verify(ctx, nil, a), "unknown client")
	wantInvalid(t, e.v.Verify(ctx, &auth.Client{ID: "app"}, a), "may not authenticate with private_key_jwt")
	wantInvalid(t, e.v.Verify(ctx, &auth.Client{ID: "app", JWKS: jwks(t, k), AuthMethods: []string{auth.AuthClientSecretBasic}}, a),
		"may not authenticate with private_key_jwt")
	wantInvalid(t, e.v.Verify(ctx, &auth.Client{ID: "app", AuthMethods: []string{auth.AuthPrivateKeyJWT}}, a), "no public keys")
	wantInvalid(t, e.v.Verify(ctx, &auth.Client{ID: "app", JWKS: []byte(`{"keys":[]}`)}, a), "registered JWK Set is unusable")
}

// TestInlineKeysChange: a client's new inline keys are used at once (the
// parsed set is cached per content).
func TestInlineKeysChange(t *testing.T) {
	old, next := newKey(t, "old", "ES256"), newKey(t, "new", "ES256")
	e := newEnv(t, clientauth.Config{})
	c := &auth.Client{ID: "app", JWKS: jwks(t, old)}
	if err := e.v.Verify(ctx, c, sign(t, old, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	c = &auth.Client{ID: "app", JWKS: jwks(t, next)}
	wantInvalid(t, e.v.Verify(ctx, c, sign(t, old, goodClaims("app", e.clock.Now()))), "no key with the client assertion's kid 'old'")
	if err := e.v.Verify(ctx, c, sign(t, next, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
}

func TestSubject(t *testing.T) {
	k := newKey(t, "k", "ES256")
	now := time.Now()
	for _, tc := range []struct {
		name, assertion, want string
		ok                    bool
	}{
		{"valid", sign(t, k, goodClaims("app", now)), "app", true},
		{"unsigned still read", raw(t, map[string]any{"alg": "none"}, goodClaims("app", now), []byte("x")), "app", true},
		{"iss differs", sign(t, k, goodClaims("app", now).with("iss", "other")), "", false},
		{"no sub", sign(t, k, goodClaims("app", now).with("sub", nil, "iss", nil)), "", false},
		{"sub not a string", sign(t, k, goodClaims("app", now).with("sub", 1, "iss", 1)), "", false},
		{"not a JWS", "abc", "", false},
		{"empty", "", "", false},
		{"payload not JSON", "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", "", false},
	} {
		sub, ok := clientauth.Subject(tc.assertion)
		if sub != tc.want || ok != tc.ok {
			t.Errorf("%s: Subject = %q, %v; want %q, %v", tc.name, sub, ok, tc.want, tc.ok)
		}
	}
}

func TestConfig(t *testing.T) {
	_, err := clientauth.NewVerifier(clientauth.Config{Leeway: time.Hour, MaxLifetime: -1})
	if err == nil {
		t.Fatal("NewVerifier accepted an invalid Config")
	}
	for _, want := range []string{"set Issuer or TokenEndpoint", "Replay is required", "MaxLifetime -1ns is negative", "Leeway 1h0m0s is more than"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Only the token endpoint: aud must be it.
	k := newKey(t, "k", "ES256")
	e := newEnv(t, clientauth.Config{TokenEndpoint: endpoint})
	c := &auth.Client{ID: "app", JWKS: jwks(t, k)}
	wantInvalid(t, e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))), "aud does not contain '"+endpoint+"'")
	if err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()).with("aud", endpoint))); err != nil {
		t.Fatal(err)
	}
}

func TestCheckJWKS(t *testing.T) {
	es := newKey(t, "es", "ES256")
	rs := newKey(t, "rs", "RS256")
	withKeys := func(keys ...string) []byte { return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`) }
	pub := string(jwks(t, es))
	pub = pub[len(`{"keys":[`) : len(pub)-2]
	priv := es.jwk(false)
	priv.Key = es.priv
	privJSON, _ := priv.MarshalJSON()
	enc := `{"kty":"EC","crv":"P-256","use":"enc","kid":"enc","x":"` + mustField(t, pub, "x") + `","y":"` + mustField(t, pub, "y") + `"}`
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" for accepted
	}{
		{"public keys", jwks(t, es, rs), ""},
		{"an encryption key beside a signature key", withKeys(pub, enc), ""},
		{"a private key", withKeys(pub, string(privJSON)), "is private or symmetric"},
		{"a symmetric key", withKeys(`{"kty":"oct","k":"c2VjcmV0","kid":"h"}`), "is private or symmetric"},
		{"only an encryption key", withKeys(enc), "no key of the JWK Set is a signature key"},
		{"an alg not accepted", withKeys(strings.Replace(pub, `"ES256"`, `"HS256"`, 1)), "does not fit"},
		{"an alg the key does not fit", withKeys(strings.Replace(pub, `"ES256"`, `"ES384"`, 1)), "does not fit"},
		{"empty", []byte(`{"keys":[]}`), "empty array"},
		{"not JSON", []byte(`keys`), "not a JWK Set"},
		{"too big", make([]byte, clientauth.MaxJWKSSize+1), "over 65536 bytes"},
	} {
		err := clientauth.CheckJWKS(tc.data)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: CheckJWKS = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// mustField reads a string member of a JSON object.
func mustField(t *testing.T, obj, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(obj, `"`+name+`":"`)
	if !ok {
		t.Fatalf("no %s in %s", name, obj)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
