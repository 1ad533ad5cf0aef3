package clientauth_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
)

// TestJWKSURICache: the set is fetched once, then again when its cache
// lifetime ends: JWKSCacheTTL, or Cache-Control's max-age within bounds.
func TestJWKSURICache(t *testing.T) {
	k := newKey(t, "k", "ES256")
	for _, tc := range []struct {
		cacheControl string
		lifetime     time.Duration
	}{
		{"", clientauth.DefaultJWKSCacheTTL},
		{"public, max-age=120", 2 * time.Minute},
		{"max-age=5", clientauth.MinCacheAge},
		{"max-age=999999", clientauth.MaxCacheAge},
		{"no-store", clientauth.MinCacheAge},
	} {
		t.Run(tc.cacheControl, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, k))
			if tc.cacheControl != "" {
				srv.header.Store(&http.Header{"Cache-Control": {tc.cacheControl}})
			}
			e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
			c := &auth.Client{ID: "app", JWKSURI: srv.URL}
			verify := func() {
				t.Helper()
				if err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))); err != nil {
					t.Fatal(err)
				}
			}
			verify()
			e.clock.Advance(tc.lifetime - time.Second)
			verify()
			if n := srv.requests.Load(); n != 1 {
				t.Fatalf("%d fetches within the cache lifetime, want 1", n)
			}
			e.clock.Advance(time.Second)
			verify()
			if n := srv.requests.Load(); n != 2 {
				t.Fatalf("%d fetches once the cache lifetime ended, want 2", n)
			}
		})
	}
}

// TestJWKSURIRotation: a key the client has just published is found by a
// refetch at once.
func TestJWKSURIRotation(t *testing.T) {
	old, next := newKey(t, "2026-01", "ES256"), newKey(t, "2026-02", "EdDSA")
	srv := newJWKSServer(t, jwks(t, old))
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL}
	if err := e.v.Verify(ctx, c, sign(t, old, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	srv.set(jwks(t, old, next))
	if err := e.v.Verify(ctx, c, sign(t, next, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	// The old key is gone from the set: once the refetch for an unknown
	// kid is allowed again, it is refused.
	srv.set(jwks(t, next))
	e.clock.Advance(clientauth.DefaultJWKSCacheTTL)
	wantInvalid(t, e.v.Verify(ctx, c, sign(t, old, goodClaims("app", e.clock.Now()))), "no key with the client assertion's kid '2026-01'")
}

// TestUnknownKIDFlood: assertions with invented kids, many at once, cost
// at most one refetch per MinRefetchInterval.
func TestUnknownKIDFlood(t *testing.T) {
	k := newKey(t, "k", "ES256")
	srv := newJWKSServer(t, jwks(t, k))
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL}
	if err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	flood := func(n int) {
		var wg sync.WaitGroup
		for range n {
			a := sign(t, newKey(t, "invented-"+rand.Text(), "ES256"), goodClaims("app", e.clock.Now()))
			wg.Go(func() {
				wantInvalidNoFatal(t, e.v.Verify(ctx, c, a), "no key with the client assertion's kid")
			})
		}
		wg.Wait()
	}
	flood(200)
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d fetches after a flood of unknown kids, want 2 (the first, one refetch)", n)
	}
	e.clock.Advance(clientauth.DefaultMinRefetchInterval - time.Second)
	flood(50)
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d fetches within MinRefetchInterval, want still 2", n)
	}
	e.clock.Advance(time.Second)
	flood(50)
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("%d fetches after MinRefetchInterval, want 3", n)
	}
	// The known key still verifies, without a fetch.
	if err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

func wantInvalidNoFatal(t *testing.T, err error, want string) {
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Verify = %v, want %q", err, want)
	}
}

// TestConcurrentFirstFetch: concurrent verifications of a client whose set
// is not cached share one fetch.
func TestConcurrentFirstFetch(t *testing.T) {
	k := newKey(t, "k", "ES256")
	body := jwks(t, k)
	var requests atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		time.Sleep(100 * time.Millisecond)
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL}
	var wg sync.WaitGroup
	for range 50 {
		a := sign(t, k, goodClaims("app", e.clock.Now()))
		wg.Go(func() {
			if err := e.v.Verify(ctx, c, a); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := requests.Load(); n != 1 {
		t.Errorf("%d fetches for 50 concurrent verifications, want 1", n)
	}
}

// TestJWKSURIFailure: while the jwks_uri fails, the cached set is used for
// up to MaxStaleJWKS, and fetches are retried at most once per
// MinRefetchInterval.
func TestJWKSURIFailure(t *testing.T) {
	k := newKey(t, "k", "ES256")
	srv := newJWKSServer(t, jwks(t, k))
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL}
	verify := func() error { return e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))) }
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	srv.status.Store(http.StatusInternalServerError)
	e.clock.Advance(clientauth.DefaultJWKSCacheTTL)
	for range 5 {
		if err := verify(); err != nil {
			t.Fatalf("with a failing jwks_uri and a cached set: %v", err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (a failed refresh is retried after MinRefetchInterval)", n)
	}
	e.clock.Advance(clientauth.DefaultMinRefetchInterval)
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	e.clock.Advance(clientauth.MaxStaleJWKS)
	wantInvalid(t, verify(), "was last fetched 24h")
	srv.status.Store(0)
	e.clock.Advance(clientauth.DefaultMinRefetchInterval)
	if err := verify(); err != nil {
		t.Fatalf("after the jwks_uri recovered: %v", err)
	}
}

// unavailable is the description of every failed fetch: the caller of the
// token endpoint is not told what answered.
const unavailable = "the client's public keys are unavailable: its jwks_uri could not be fetched; the server's log says why"

// TestJWKSURIErrors: when a client's keys cannot be fetched, the client is
// told only that; the server's log says why.
func TestJWKSURIErrors(t *testing.T) {
	k := newKey(t, "k", "ES256")
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		allowHTTP bool
		plainHTTP bool
		logged    string // "" for a fetch that succeeds
	}{
		{"HTTP 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, false, false, "HTTP 404"},
		{"not a JWK Set", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }, false, false, "not a JWK Set"},
		{"only private keys", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
		}, false, false, "not a public key"},
		{"too big", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[` + strings.Repeat(" ", clientauth.MaxJWKSSize) + `]}`))
		}, false, false, "over 65536 bytes"},
		{"redirect to plain http", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/jwks.json", http.StatusFound)
		}, false, false, `redirect refused: jwks_uri \"http://127.0.0.1:1/jwks.json\" is plain http`},
		{"plain http", nil, false, true, "is plain http"},
		{"plain http allowed", nil, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.handler
			if h == nil {
				h = func(w http.ResponseWriter, r *http.Request) { w.Write(jwks(t, k)) }
			}
			var srv *httptest.Server
			if tc.plainHTTP {
				srv = httptest.NewServer(h)
			} else {
				srv = httptest.NewTLSServer(h)
			}
			defer srv.Close()
			var logs syncBuffer
			e := newEnv(t, clientauth.Config{HTTPClient: srv.Client(), AllowHTTP: tc.allowHTTP, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c := &auth.Client{ID: "app", JWKSURI: srv.URL}
			err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now())))
			if tc.logged == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantInvalid(t, err, unavailable)
			if !strings.Contains(logs.String(), tc.logged) {
				t.Errorf("the log does not say %q:\n%s", tc.logged, logs.String())
			}
		})
	}
}

// TestJWKSURIRedirect: a redirect to another https URL is followed.
func TestJWKSURIRedirect(t *testing.T) {
	k := newKey(t, "k", "ES256")
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusMovedPermanently) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { w.Write(jwks(t, k)) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL + "/old"}
	if err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
}

// TestCanceledWait: a caller that gives up waiting for a fetch gets an
// error at once; the fetch goes on for the others.
func TestCanceledWait(t *testing.T) {
	k := newKey(t, "k", "ES256")
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write(jwks(t, k))
	}))
	defer srv.Close()
	defer close(release)
	e := newEnv(t, clientauth.Config{HTTPClient: srv.Client()})
	c := &auth.Client{ID: "app", JWKSURI: srv.URL}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	wantInvalid(t, e.v.Verify(cctx, c, sign(t, k, goodClaims("app", e.clock.Now()))), "gave up waiting")
}
