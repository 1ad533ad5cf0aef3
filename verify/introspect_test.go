package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/verify"
)

// TestIntrospectionRevocation: an active token passes and its answer is
// reused; once revoked, it is refused as soon as the cached answer is older
// than CacheTTL.
func TestIntrospectionRevocation(t *testing.T) {
	ctx := context.Background()
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, func(c *verify.Config) { c.Introspection.CacheTTL = 5 * time.Second })
	tok := ii.Token(t, clock.Now(), "j-1")

	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTID != "j-1" || ii.introspects.Load() != 1 {
		t.Fatalf("claims %+v after %d introspections; want j-1 after 1", c, ii.introspects.Load())
	}
	if f := *ii.lastForm.Load(); f.Get("token") != tok || f.Get("token_type_hint") != "access_token" || len(f) != 2 {
		t.Errorf("form %v; want the token and token_type_hint=access_token only", f)
	}

	ii.Revoke("j-1")
	clock.Advance(4 * time.Second)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("within CacheTTL the cached answer serves: %v", err)
	}
	if n := ii.introspects.Load(); n != 1 {
		t.Fatalf("%d introspections; want the cache hit to make none", n)
	}

	clock.Advance(time.Second)
	_, err = v.Verify(ctx, tok)
	refused(t, err, "the token is no longer active (revoked, or its client disabled)")
	if !errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("errors.Is(%v, ErrInvalidToken) is false", err)
	}
	// The inactive answer is cached too.
	_, err = v.Verify(ctx, tok)
	refused(t, err, "no longer active")
	st := v.Stats()
	if st.Introspections != 2 || st.IntrospectionCacheHits != 2 || st.IntrospectionFailures != 0 ||
		st.IntrospectionEndpoint != ii.Issuer+introspectURI || st.IntrospectionCached != 1 {
		t.Errorf("stats %+v; want 2 requests, 2 hits, no failure, 1 cached answer, the discovered endpoint", st)
	}

	// Another token of the same client is unaffected.
	if _, err := v.Verify(ctx, ii.Token(t, clock.Now(), "j-2")); err != nil {
		t.Fatal(err)
	}
}

// TestIntrospectionCacheBounds: no answer is reused past the token's exp,
// and a negative CacheTTL asks every time.
func TestIntrospectionCacheBounds(t *testing.T) {
	ctx := context.Background()
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, func(c *verify.Config) { c.Introspection.CacheTTL = time.Hour })
	claims := ii.Claims(clock.Now(), "short")
	claims["exp"] = clock.Now().Add(5 * time.Second).Unix()
	tok := ii.Sign(t, claims)
	for range 2 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(6 * time.Second) // past exp, within the leeway
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := ii.introspects.Load(); n != 2 {
		t.Errorf("%d introspections; want 2: the answer expires with the token", n)
	}

	noCache := introVerifier(t, ii, clock, func(c *verify.Config) { c.Introspection.CacheTTL = -1 })
	tok = ii.Token(t, clock.Now(), "uncached")
	for range 3 {
		if _, err := noCache.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if st := noCache.Stats(); st.Introspections != 3 || st.IntrospectionCacheHits != 0 || st.IntrospectionCached != 0 {
		t.Errorf("stats %+v; want 3 requests without cache", st)
	}
}

// TestIntrospectionSharedRequest: 50 concurrent verifications of one token
// make one introspection request, even without a cache.
func TestIntrospectionSharedRequest(t *testing.T) {
	ctx := context.Background()
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, func(c *verify.Config) { c.Introspection.CacheTTL = -1 })
	tok := ii.Token(t, clock.Now(), "popular")
	gate := make(chan struct{})
	ii.gate.Store(&gate)

	const n = 50
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(ctx, tok)
			errs <- err
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ii.introspects.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the others join the request under way
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := ii.introspects.Load(); got != 1 {
		t.Errorf("%d introspection requests for %d concurrent verifications; want 1", got, n)
	}
}

// TestIntrospectionCallerGivesUp: a caller whose context ends stops
// waiting and is refused; the request goes on for the others.
func TestIntrospectionCallerGivesUp(t *testing.T) {
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, nil)
	tok := ii.Token(t, clock.Now(), "slow")
	gate := make(chan struct{})
	ii.gate.Store(&gate)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, tok)
	refused(t, err, notChecked, "gave up waiting", "context deadline exceeded")
	close(gate)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := ii.introspects.Load(); n != 1 {
		t.Errorf("%d introspections; want the abandoned one to serve", n)
	}
}

// TestIntrospectionOnlyLocallyValid: a token that fails a local check is
// refused for that reason and never sent to the server.
func TestIntrospectionOnlyLocallyValid(t *testing.T) {
	ctx := context.Background()
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, func(c *verify.Config) { c.RequiredScopes = []string{"claims:read"} })
	now := clock.Now()
	edited := func(edit func(map[string]any)) string {
		c := ii.Claims(now, "j")
		edit(c)
		return ii.Sign(t, c)
	}
	good := ii.Token(t, now, "j")
	other := newIntroIssuer(t) // same kid, another key
	for _, tc := range []struct{ name, token, want string }{
		{"junk", "not-a-token", "1 part"},
		{"bad signature", other.Token(t, now, "j"), "signature does not verify"},
		{"tampered", good[:len(good)-4] + "AAAA", "signature does not verify"},
		{"another audience", edited(func(c map[string]any) { c["aud"] = "https://other.example" }), "audience"},
		{"expired", edited(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), "expired"},
		{"another issuer", edited(func(c map[string]any) { c["iss"] = "https://evil.example" }), "issuer"},
		{"no client_id", edited(func(c map[string]any) { delete(c, "client_id") }), "client_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctx, tc.token)
			refused(t, err, tc.want)
		})
	}
	_, err := v.Verify(ctx, edited(func(c map[string]any) { c["scope"] = "claims:write" }))
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Code != verify.CodeInsufficientScope {
		t.Errorf("a token lacking the scope: %v; want insufficient_scope", err)
	}
	if n := ii.introspects.Load(); n != 0 {
		t.Errorf("%d introspection requests for locally invalid tokens; want none", n)
	}
}

// TestIntrospectionFailsClosed: without a usable answer the token is
// refused, with a description saying its status could not be checked and
// the cause kept; failures are not cached.
func TestIntrospectionFailsClosed(t *testing.T) {
	ctx := context.Background()
	errorAnswer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	hangUpOnIt := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	}
	for _, tc := range []struct {
		name     string
		answer   http.HandlerFunc // nil: the real endpoint
		secret   string           // the verifier's; default introSecret
		requests int64            // per Verify
		causes   []string
	}{
		{"endpoint down", hangUpOnIt, "", 2, []string{"introspect at", "Post"}},
		{"wrong client secret", nil, "not-the-secret", 1, []string{"HTTP 401", "ClientSecret", "'invalid_client'"}},
		{"missing scope", errorAnswer(403, `{"error":"insufficient_scope","error_description":"auth:introspect needed"}`), "", 1,
			[]string{"HTTP 403", "'auth:introspect needed'"}},
		{"rate-limited", errorAnswer(429, `{"error":"slow_down"}`), "", 1, []string{"HTTP 429", "rate-limited"}},
		{"server error", errorAnswer(503, `<html>`), "", 1, []string{"HTTP 503"}},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}, "", 1, []string{"HTTP 307"}},
		{"not JSON", errorAnswer(200, `<html>`), "", 1, []string{"not a valid JSON object"}},
		{"no active", errorAnswer(200, `{"client_id":"svc-importer"}`), "", 1, []string{`no boolean "active"`}},
		{"active as a string", errorAnswer(200, `{"active":"true"}`), "", 1, []string{`no boolean "active"`}},
		{"active twice", errorAnswer(200, `{"active":false,"active":true}`), "", 1, []string{"appears twice"}},
		{"another client_id", errorAnswer(200, `{"active":true,"client_id":"svc-other","sub":"svc-importer"}`), "", 1,
			[]string{"client_id 'svc-other' is not the token's 'svc-importer'"}},
		{"another sub", errorAnswer(200, `{"active":true,"sub":"svc-other"}`), "", 1, []string{"sub 'svc-other'"}},
		{"another jti", errorAnswer(200, `{"active":true,"jti":"j-other"}`), "", 1, []string{"jti 'j-other'"}},
		{"another iss", errorAnswer(200, `{"active":true,"iss":"https://evil.example"}`), "", 1, []string{"iss 'https://evil.example'"}},
		{"client_id not a string", errorAnswer(200, `{"active":true,"client_id":7}`), "", 1, []string{"client_id is not a string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ii := newIntroIssuer(t)
			if tc.answer != nil {
				ii.Override(tc.answer)
			}
			clock := authtest.NewClock(time.Now())
			v := introVerifier(t, ii, clock, func(c *verify.Config) {
				if tc.secret != "" {
					c.Introspection.ClientSecret = tc.secret
				}
			})
			tok := ii.Token(t, clock.Now(), "j-1")
			for i := range 2 {
				_, err := v.Verify(ctx, tok)
				refused(t, err, notChecked, tc.causes...)
				if got, want := ii.introspects.Load(), tc.requests*int64(i+1); got != want {
					t.Errorf("after %d verifications: %d requests, want %d (at most one retry, no cached failure)", i+1, got, want)
				}
			}
			if st := v.Stats(); st.IntrospectionFailures != 2 || st.IntrospectionCached != 0 {
				t.Errorf("stats %+v; want 2 failures, nothing cached", st)
			}
		})
	}

	t.Run("endpoint unreachable", func(t *testing.T) {
		ii := newIntroIssuer(t)
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		clock := authtest.NewClock(time.Now())
		v := introVerifier(t, ii, clock, func(c *verify.Config) { c.Introspection.Endpoint = dead.URL + introspectURI })
		_, err := v.Verify(ctx, ii.Token(t, clock.Now(), "j"))
		refused(t, err, notChecked, dead.URL+introspectURI, "connection refused")
		var ve *verify.Error
		if errors.As(err, &ve); strings.Contains(ve.Description, "127.0.0.1") {
			t.Errorf("the description %q names the endpoint; only the cause should", ve.Description)
		}
		if errors.Unwrap(err) == nil {
			t.Error("the cause is not wrapped")
		}
	})
}

// TestIntrospectionBasicAuth: the client ID and secret are form-url-encoded
// before Basic encoding (RFC 6749 §2.3.1), so that ':' in the ID and any
// character in the secret survive.
func TestIntrospectionBasicAuth(t *testing.T) {
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, nil)
	if _, err := v.Verify(context.Background(), ii.Token(t, clock.Now(), "j")); err != nil {
		t.Fatal(err)
	}
	got := *ii.lastBasicAuth.Load()
	if want := [2]string{"rs%3Aclaims%2Fapi", "s3cr%2Bt+p%40ss%25%3D%C3%A9"}; got != want {
		t.Errorf("Basic credentials %q; want %q", got, want)
	}
}

// TestIntrospectionDiscovery: the endpoint comes from the metadata's
// introspection_endpoint, under the rules of jwks_uri.
func TestIntrospectionDiscovery(t *testing.T) {
	ctx := context.Background()
	withIntrospection := func(issuer string) verify.Config {
		return verify.Config{Issuer: issuer, Audience: introAudience,
			Introspection: &verify.Introspection{ClientID: introClientID, ClientSecret: introSecret}}
	}

	t.Run("found", func(t *testing.T) {
		ii := newIntroIssuer(t)
		v, err := verify.New(ctx, withIntrospection(ii.Issuer))
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Stats().IntrospectionEndpoint; got != ii.Issuer+introspectURI {
			t.Errorf("endpoint %q after New; want %q", got, ii.Issuer+introspectURI)
		}
		if _, err := v.Verify(ctx, ii.Token(t, time.Now(), "j")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("configured", func(t *testing.T) {
		ii := newIntroIssuer(t)
		cfg := withIntrospection(ii.Issuer)
		cfg.JWKSURL = ii.Issuer + "/jwks"
		cfg.Introspection.Endpoint = ii.Issuer + introspectURI
		v, err := verify.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, ii.Token(t, time.Now(), "j")); err != nil {
			t.Fatal(err)
		}
		if n := ii.metadataHits.Load(); n != 0 {
			t.Errorf("%d metadata requests; want none with both URLs configured", n)
		}
	})
	for _, tc := range []struct{ name, doc, want string }{
		{"absent", `{"issuer":"{{url}}","jwks_uri":"{{url}}/jwks"}`, "has no introspection_endpoint"},
		{"not a string", `{"issuer":"{{url}}","jwks_uri":"{{url}}/jwks","introspection_endpoint":7}`, "introspection_endpoint is not a string"},
		{"plain http", `{"issuer":"{{url}}","jwks_uri":"{{url}}/jwks","introspection_endpoint":"http://auth.example.com/introspect"}`, "introspection_endpoint: \"http://auth.example.com/introspect\" is plain http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ii := newIntroIssuer(t)
			ii.SetMetadata(tc.doc)
			_, err := verify.New(ctx, withIntrospection(ii.Issuer))
			if err == nil || !strings.Contains(err.Error(), "find the introspection endpoint") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want an error saying %q", err, tc.want)
			}
			// Without introspection the same metadata serves.
			if _, err := verify.New(ctx, verify.Config{Issuer: ii.Issuer, Audience: introAudience}); err != nil {
				t.Errorf("without Introspection: %v", err)
			}
		})
	}

	t.Run("https issuer", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES256", Use: "sig"}}})
		var issuer string
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/.well-known/oauth-authorization-server":
				json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/jwks",
					"introspection_endpoint": "http://127.0.0.1:1/introspect"})
			case "/jwks":
				w.Write(jwks)
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		issuer = srv.URL
		cfg := withIntrospection(issuer)
		cfg.HTTPClient = srv.Client()
		_, err = verify.New(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "introspection_endpoint \"http://127.0.0.1:1/introspect\" is not https like the issuer") {
			t.Fatalf("New: %v; want the http endpoint refused", err)
		}
	})

	t.Run("lazy", func(t *testing.T) {
		ii := newIntroIssuer(t)
		ii.SetMetadata(`{"issuer":"{{url}}","jwks_uri":"{{url}}/jwks"}`)
		clock := authtest.NewClock(time.Now())
		cfg := withIntrospection(ii.Issuer)
		cfg.Lazy, cfg.Now, cfg.MinRefreshInterval = true, clock.Now, time.Minute
		v, err := verify.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		tok := ii.Token(t, clock.Now(), "j")
		_, err = v.Verify(ctx, tok)
		refused(t, err, notChecked, "has no introspection_endpoint")
		hits := ii.metadataHits.Load()
		_, err = v.Verify(ctx, tok)
		refused(t, err, notChecked, "has no introspection_endpoint")
		if n := ii.metadataHits.Load(); n != hits {
			t.Errorf("%d metadata requests after a failed discovery; want none within MinRefreshInterval", n-hits)
		}
		ii.SetMetadata(`{"issuer":"{{url}}","jwks_uri":"{{url}}/jwks","introspection_endpoint":"{{url}}` + introspectURI + `"}`)
		clock.Advance(time.Minute)
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("once the metadata names the endpoint: %v", err)
		}
	})
}

// TestIntrospectionConfig: New lists every bad Introspection setting.
func TestIntrospectionConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  verify.Config
		want []string
	}{
		{"no credentials", verify.Config{Issuer: "https://auth.gooclaim.com", Audience: introAudience, Lazy: true,
			Introspection: &verify.Introspection{}}, []string{"ClientID and ClientSecret are required", "auth:introspect"}},
		{"JWKSURL without Endpoint", verify.Config{Issuer: "https://auth.gooclaim.com", Audience: introAudience, Lazy: true,
			JWKSURL:       "https://auth.gooclaim.com/jwks",
			Introspection: &verify.Introspection{ClientID: "a", ClientSecret: "b"}}, []string{"Introspection.Endpoint is required when JWKSURL is set"}},
		{"plain http Endpoint", verify.Config{Issuer: "https://auth.gooclaim.com", Audience: introAudience, Lazy: true,
			Introspection: &verify.Introspection{ClientID: "a", ClientSecret: "b", Endpoint: "http://auth.gooclaim.com/v1/auth/introspect"}},
			[]string{"Introspection.Endpoint", "plain http", "use https"}},
		{"relative Endpoint", verify.Config{Issuer: "https://auth.gooclaim.com", Audience: introAudience, Lazy: true,
			Introspection: &verify.Introspection{Endpoint: "/v1/auth/introspect"}},
			[]string{"Introspection.Endpoint", "not an absolute https URL", "ClientID and ClientSecret are required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.New(ctx, tc.cfg)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v; want an error saying %q", err, w)
				}
			}
		})
	}
	ok := verify.Config{Issuer: "http://auth.gooclaim.internal", Audience: introAudience, Lazy: true, AllowInsecureHTTP: true,
		Introspection: &verify.Introspection{ClientID: "a", ClientSecret: "b", Endpoint: "http://auth.gooclaim.internal/v1/auth/introspect"}}
	if _, err := verify.New(ctx, ok); err != nil {
		t.Errorf("AllowInsecureHTTP: %v", err)
	}
}

// TestIntrospectionMiddleware: Middleware refuses a revoked token with the
// RFC 6750 challenge.
func TestIntrospectionMiddleware(t *testing.T) {
	ii := newIntroIssuer(t)
	clock := authtest.NewClock(time.Now())
	v := introVerifier(t, ii, clock, nil)
	h := v.Middleware("claims:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tok := ii.Token(t, clock.Now(), "j-mw")
	do := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/claims", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do(); rec.Code != http.StatusOK {
		t.Fatalf("active token: %d %s", rec.Code, rec.Body)
	}
	ii.Revoke("j-mw")
	clock.Advance(verify.DefaultIntrospectionCacheTTL)
	rec := do()
	if want := `Bearer realm="gooclaim", error="invalid_token", error_description="the token is no longer active (revoked, or its client disabled)"`; rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != want {
		t.Errorf("revoked token: %d %q; want 401 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
}
