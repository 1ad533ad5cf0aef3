package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

// TestVerifyRealServer verifies tokens of the real service for each of
// its algorithms, found through its RFC 8414 metadata.
func TestVerifyRealServer(t *testing.T) {
	ctx := context.Background()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, testserver.Options{Algorithm: alg})
			id, secret := s.CreateClient(t, []string{"claims:read", "claims:write"})
			v := newVerifier(t, s, nil)

			before := time.Now().Truncate(time.Second)
			tok := fetchToken(t, s, id, secret)
			c, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != s.Issuer || c.Subject != id || c.ClientID != id || !slices.Equal(c.Audience, []string{audience}) {
				t.Errorf("claims iss=%q sub=%q client_id=%q aud=%q; want %s, %s, %s, [%s]", c.Issuer, c.Subject, c.ClientID, c.Audience, s.Issuer, id, id, audience)
			}
			if got := slices.Sorted(slices.Values(c.Scopes)); !slices.Equal(got, []string{"claims:read", "claims:write"}) {
				t.Errorf("scopes %q", c.Scopes)
			}
			if !c.HasScope("claims:read") || !c.HasScope("claims:write") || c.HasScope("claims") || c.HasScope("") {
				t.Errorf("HasScope wrong for %q", c.Scopes)
			}
			if c.IssuedAt.Before(before) || c.IssuedAt.After(time.Now()) || c.Expiry.Sub(c.IssuedAt) != time.Hour || !c.NotBefore.IsZero() {
				t.Errorf("iat %v exp %v nbf %v", c.IssuedAt, c.Expiry, c.NotBefore)
			}
			if c.JWTID == "" || c.Raw["jti"] != c.JWTID || c.Raw["client_id"] != id {
				t.Errorf("jti %q, raw %v", c.JWTID, c.Raw)
			}
			if n, ok := c.Raw["exp"].(json.Number); !ok || n.String() == "" {
				t.Errorf("raw exp %T %v, want a json.Number", c.Raw["exp"], c.Raw["exp"])
			}
			if kids := v.KeyIDs(); !slices.Equal(kids, []string{activeKID(t, s, time.Now())}) {
				t.Errorf("KeyIDs %v, want the server's one key", kids)
			}
			st := v.Stats()
			if st.JWKSURL != s.Issuer+httpapi.JWKSPath || st.Fetches != 1 || st.LastError != nil || st.Keys != 1 || st.LastSuccess.IsZero() {
				t.Errorf("stats %+v", st)
			}

			// A narrower token.
			c, err = v.Verify(ctx, fetchToken(t, s, id, secret, "scope", "claims:read"))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Scopes, []string{"claims:read"}) || c.HasScope("claims:write") {
				t.Errorf("narrowed token scopes %q", c.Scopes)
			}
			if v.Stats().Fetches != 1 {
				t.Errorf("%d JWKS fetches for two tokens of a cached key, want 1", v.Stats().Fetches)
			}
		})
	}
}

func TestRequiredScopes(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"claims:read", "claims:write", "admin"})
	v := newVerifier(t, s, func(c *verify.Config) { c.RequiredScopes = []string{"claims:read", "claims:write"} })

	if _, err := v.Verify(ctx, fetchToken(t, s, id, secret)); err != nil {
		t.Fatalf("token with every scope: %v", err)
	}
	_, err := v.Verify(ctx, fetchToken(t, s, id, secret, "scope", "admin"))
	mustFail(t, err, verify.CodeInsufficientScope, "lacks the scopes claims:read, claims:write")
	if !errors.Is(err, verify.ErrInsufficientScope) || errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("errors.Is: insufficient %v, invalid %v", errors.Is(err, verify.ErrInsufficientScope), errors.Is(err, verify.ErrInvalidToken))
	}
	var ve *verify.Error
	if errors.As(err, &ve); !slices.Equal(ve.Scopes, []string{"claims:read", "claims:write"}) {
		t.Errorf("Scopes %q, want every required scope", ve.Scopes)
	}
	_, err = v.Verify(ctx, fetchToken(t, s, id, secret, "scope", "claims:read admin"))
	mustFail(t, err, verify.CodeInsufficientScope, "lacks the scope claims:write")
}

func TestNewRefusesConfig(t *testing.T) {
	ctx := context.Background()
	ok := verify.Config{Issuer: "https://auth.gooclaim.com", Audience: audience, Lazy: true}
	if _, err := verify.New(ctx, ok); err != nil {
		t.Fatalf("valid lazy config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*verify.Config)
		want []string
	}{
		{"no issuer", func(c *verify.Config) { c.Issuer = "" }, []string{"Issuer is required"}},
		{"no audience", func(c *verify.Config) { c.Audience = "" }, []string{"Audience is required", "any other API would be accepted"}},
		{"none", func(c *verify.Config) { c.Algorithms = []string{"ES256", "none"} }, []string{`"none" is refused`}},
		{"HS256", func(c *verify.Config) { c.Algorithms = []string{"HS256"} }, []string{`"HS256" is refused`, "HMAC"}},
		{"hs512", func(c *verify.Config) { c.Algorithms = []string{"hs512"} }, []string{`"hs512" is refused`}},
		{"unknown algorithm", func(c *verify.Config) { c.Algorithms = []string{"es256"} }, []string{`"es256" is not supported`}},
		{"leeway too long", func(c *verify.Config) { c.Leeway = 6 * time.Minute }, []string{"Leeway 6m0s is more than the maximum 5m0s"}},
		{"negative durations", func(c *verify.Config) {
			c.Leeway, c.MinRefreshInterval, c.MaxKeyAge = -1, -1, -1
		}, []string{"Leeway -1ns is negative", "MinRefreshInterval -1ns is negative", "MaxKeyAge -1ns is negative"}},
		{"plain http issuer", func(c *verify.Config) { c.Issuer = "http://auth.gooclaim.com" }, []string{"plain http", "use https"}},
		{"relative issuer", func(c *verify.Config) { c.Issuer = "auth.gooclaim.com" }, []string{"not an absolute https URL"}},
		{"issuer with query", func(c *verify.Config) { c.Issuer = "https://auth.gooclaim.com?a=b" }, []string{"query or fragment"}},
		{"plain http JWKS", func(c *verify.Config) { c.JWKSURL = "http://keys.gooclaim.com/jwks.json" }, []string{"JWKSURL", "plain http"}},
		{"scope with a space", func(c *verify.Config) { c.RequiredScopes = []string{"a b"} }, []string{`"a b" is not a scope token`}},
		{"everything at once", func(c *verify.Config) {
			c.Issuer, c.Audience, c.Algorithms, c.Leeway = "", "", []string{"none"}, time.Hour
		}, []string{"Issuer is required", "Audience is required", `"none" is refused`, "Leeway 1h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			v, err := verify.New(ctx, cfg)
			if err == nil {
				t.Fatalf("New succeeded: %v", v)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := verify.New(ctx, verify.Config{Issuer: "http://gooclaim.internal", Audience: audience, AllowInsecureHTTP: true, Lazy: true}); err != nil {
		t.Errorf("AllowInsecureHTTP: %v", err)
	}
}

// metadataServer serves the given documents by path and the JWK Set of
// keys at /keys; "{{url}}" in a document is replaced by the server's URL.
func metadataServer(t *testing.T, docs map[string]string, keys ...map[string]any) *httptest.Server {
	t.Helper()
	jwks, _ := json.Marshal(map[string]any{"keys": keys})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			w.Write(jwks)
			return
		}
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(strings.ReplaceAll(doc, "{{url}}", srv.URL)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDiscovery(t *testing.T) {
	ctx := context.Background()
	priv := newPrivateKey(t, "ES256")
	key, kid := jwk(t, "ES256", priv)
	sign := signer(t, "ES256", priv)
	token := func(iss string) string {
		now := time.Now()
		return forge(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid}, map[string]any{
			"iss": iss, "sub": "s", "client_id": "s", "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}, sign)
	}
	good := `{"issuer":"{{url}}","jwks_uri":"{{url}}/keys"}`

	t.Run("OpenID Connect fallback", func(t *testing.T) {
		srv := metadataServer(t, map[string]string{"/.well-known/openid-configuration": good}, key)
		v, err := verify.New(ctx, verify.Config{Issuer: srv.URL, Audience: audience})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, token(srv.URL)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("issuer with a path", func(t *testing.T) {
		doc := `{"issuer":"{{url}}/tenant-a","jwks_uri":"{{url}}/keys"}`
		srv := metadataServer(t, map[string]string{"/.well-known/oauth-authorization-server/tenant-a": doc}, key)
		v, err := verify.New(ctx, verify.Config{Issuer: srv.URL + "/tenant-a", Audience: audience})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, token(srv.URL+"/tenant-a")); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name, doc, issuerSuffix string
		want                    string
	}{
		{"another issuer", `{"issuer":"https://evil.example","jwks_uri":"{{url}}/keys"}`, "", `names the issuer "https://evil.example"`},
		{"issuer with a trailing slash", good, "/", "refusing it (RFC 8414 §3.3)"},
		{"no jwks_uri", `{"issuer":"{{url}}"}`, "", "has no jwks_uri"},
		{"plain http jwks_uri", `{"issuer":"{{url}}","jwks_uri":"http://keys.example.com/jwks"}`, "", "plain http"},
		{"not JSON", `<html>`, "", "not authorization server metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := metadataServer(t, map[string]string{httpapi.MetadataPath: tc.doc}, key)
			// With a trailing slash too, the document is at the RFC 8414 path.
			_, err := verify.New(ctx, verify.Config{Issuer: srv.URL + tc.issuerSuffix, Audience: audience})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want an error saying %q", err, tc.want)
			}
		})
	}
	t.Run("no metadata", func(t *testing.T) {
		srv := metadataServer(t, nil, key)
		_, err := verify.New(ctx, verify.Config{Issuer: srv.URL, Audience: audience})
		if err == nil || !strings.Contains(err.Error(), "oauth-authorization-server: HTTP 404") || !strings.Contains(err.Error(), "openid-configuration: HTTP 404") {
			t.Fatalf("New: %v; want both locations named", err)
		}
	})
}

// TestLazy: New does not fetch; Verify fails while the keys cannot be
// had, and works once they can.
func TestLazy(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"a"})
	p := newProxy(t, s.URL)
	p.down.Store(true)
	cfg := verify.Config{Issuer: s.Issuer, Audience: audience, JWKSURL: p.URL + httpapi.JWKSPath, MinRefreshInterval: time.Millisecond}
	if _, err := verify.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "load the signing keys") {
		t.Fatalf("New with the JWKS unreachable: %v, want an error", err)
	}
	cfg.Lazy = true
	v, err := verify.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok := fetchToken(t, s, id, secret)
	_, err = v.Verify(ctx, tok)
	mustFail(t, err, verify.CodeInvalidToken, "signing keys are unavailable")
	if st := v.Stats(); st.LastError == nil || st.Keys != 0 {
		t.Errorf("stats %+v, want the fetch error", st)
	}
	p.down.Store(false)
	time.Sleep(2 * time.Millisecond)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("once the JWKS is reachable: %v", err)
	}
}

// TestRevalidation: once the set's max-age has passed, the next Verify
// refreshes it in the background with If-None-Match, and the server's 304
// keeps the keys.
func TestRevalidation(t *testing.T) {
	ctx := context.Background()
	clock := authtest.NewClock(time.Now())
	s := newServer(t, testserver.Options{Clock: clock})
	id, secret := s.CreateClient(t, []string{"a"})
	v := newVerifier(t, s, func(c *verify.Config) { c.Now = clock.Now })
	tok := fetchToken(t, s, id, secret)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute)
	if _, err := v.Verify(ctx, tok); err != nil || v.Stats().Fetches != 1 {
		t.Fatalf("within max-age: %v, %d fetches", err, v.Stats().Fetches)
	}
	clock.Advance(2 * time.Minute) // past the server's max-age=300
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the background revalidation", func() bool { return v.Stats().NotModified == 1 })
	if st := v.Stats(); st.Fetches != 2 || st.LastError != nil || !st.KeysFetched.Equal(clock.Now()) {
		t.Errorf("stats %+v, want 2 fetches, the second a 304 now", st)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
