package clientauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/egress"
)

// internalServer is a server standing in for an internal service, on addr
// ("127.0.0.1:0", "[::1]:0"), over TLS unless plain; it serves body and
// counts connections, not requests (a refused TLS handshake is a
// connection too).
func internalServer(t *testing.T, addr string, plain bool, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if plain {
		srv.Start()
	} else {
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

func serveJWKS(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write(body) }
}

// TestJWKSURIOnAnInternalAddressIsNotFetched: with the default HTTP client
// and no development allowance, a jwks_uri resolving to a loopback address
// is never connected to.
func TestJWKSURIOnAnInternalAddressIsNotFetched(t *testing.T) {
	internal, hits := internalServer(t, "127.0.0.1:0", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	clock := authtest.NewClock(time.Now())
	v, err := clientauth.NewVerifier(clientauth.Config{
		Issuer: "https://auth.example", Clock: clock,
		Replay: inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock}),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &auth.Client{ID: "c", JWKSURI: internal.URL + "/jwks.json"}
	assertion := b64([]byte(`{"alg":"ES256","kid":"k"}`)) + "." +
		b64([]byte(`{"iss":"c","sub":"c","aud":"https://auth.example","jti":"j1","exp":`+strconv.FormatInt(clock.Now().Add(time.Minute).Unix(), 10)+`}`)) + ".c2ln"
	err = v.Verify(context.Background(), c, assertion)
	if err == nil {
		t.Fatal("verified")
	}
	if hits.Load() != 0 {
		t.Fatalf("%d connections to the internal address", hits.Load())
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error %v, want invalid_client", err)
	}
}

// TestPlainHTTPDoesNotLiftTheAddressCheck: AllowHTTP is about the scheme
// only. It used to switch the address check off with it, so that any
// development server with an http issuer fetched loopback and metadata
// addresses (issue 12, point 4).
func TestPlainHTTPDoesNotLiftTheAddressCheck(t *testing.T) {
	k := newKey(t, "k", "ES256")
	internal, conns := internalServer(t, "127.0.0.1:0", true, serveJWKS(jwks(t, k)))
	for _, uri := range []string{internal.URL + "/jwks.json", "http://localhost:" + internal.URL[strings.LastIndex(internal.URL, ":")+1:] + "/jwks.json"} {
		t.Run(uri, func(t *testing.T) {
			var logs syncBuffer
			e := newEnv(t, clientauth.Config{AllowHTTP: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c := &auth.Client{ID: "app", JWKSURI: uri}
			wantInvalid(t, e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))), unavailable)
			if n := conns.Load(); n != 0 {
				t.Fatalf("%d connections to the loopback jwks_uri", n)
			}
			if !strings.Contains(logs.String(), "127.0.0.0/8") || !strings.Contains(logs.String(), "AllowPrivateAddresses") {
				t.Errorf("the log does not name the range and how to allow it:\n%s", logs.String())
			}
		})
	}
}

// TestAllowPrivateAddresses: with the development allowance, a loopback
// jwks_uri is fetched as before.
func TestAllowPrivateAddresses(t *testing.T) {
	k := newKey(t, "k", "ES256")
	internal, conns := internalServer(t, "127.0.0.1:0", true, serveJWKS(jwks(t, k)))
	e := newEnv(t, clientauth.Config{AllowHTTP: true, AllowPrivateAddresses: true})
	c := &auth.Client{ID: "app", JWKSURI: internal.URL + "/jwks.json"}
	if err := e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestSuppliedHTTPClientIsChecked: a caller's *http.Client gets the address
// check too (in a clone of its transport).
func TestSuppliedHTTPClientIsChecked(t *testing.T) {
	k := newKey(t, "k", "ES256")
	internal, conns := internalServer(t, "127.0.0.1:0", false, serveJWKS(jwks(t, k)))
	hc := internal.Client()
	clock := authtest.NewClock(time.Now())
	v, err := clientauth.NewVerifier(clientauth.Config{Issuer: issuer, Clock: clock, HTTPClient: hc,
		Replay: inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock})})
	if err != nil {
		t.Fatal(err)
	}
	c := &auth.Client{ID: "app", JWKSURI: internal.URL + "/jwks.json"}
	wantInvalid(t, v.Verify(ctx, c, sign(t, k, goodClaims("app", clock.Now()))), unavailable)
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections through the caller's client", n)
	}
	// The caller's client is untouched.
	resp, err := hc.Get(internal.URL)
	if err != nil {
		t.Fatalf("the caller's own client: %v", err)
	}
	resp.Body.Close()
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestUncheckableHTTPClient: a client the check cannot be installed in is
// refused, unless private addresses are allowed.
func TestUncheckableHTTPClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
		want string
	}{
		{"not an *http.Transport", roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") }), "Transport is a clientauth_test.roundTripperFunc"},
		{"its own TLS dialer", &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("unused") }}, "DialTLSContext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientauth.Config{Issuer: issuer, Replay: inmem.NewReplayCache(inmem.ReplayCacheOptions{}), HTTPClient: &http.Client{Transport: tc.rt}}
			_, err := clientauth.NewVerifier(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "AllowPrivateAddresses") {
				t.Fatalf("NewVerifier: %v, want an error saying %q and how to proceed", err, tc.want)
			}
			cfg.AllowPrivateAddresses = true
			if _, err := clientauth.NewVerifier(cfg); err != nil {
				t.Fatalf("with AllowPrivateAddresses: %v", err)
			}
		})
	}
}

// TestRedirectToADeniedAddress: a jwks_uri on an allowed address that
// redirects to a denied one: the redirect is refused, and no connection
// reaches its target.
func TestRedirectToADeniedAddress(t *testing.T) {
	k := newKey(t, "k", "ES256")
	target, targetConns := internalServer(t, "[::1]:0", false, serveJWKS(jwks(t, k)))
	for _, tc := range []struct{ to, logged string }{
		{target.URL + "/jwks.json", "::1/128"},
		{"https://169.254.169.254/latest/meta-data/", "169.254.0.0/16"},
		{"https://100.100.100.200/latest/meta-data/", "100.64.0.0/10"},
	} {
		t.Run(tc.to, func(t *testing.T) {
			var redirects atomic.Int32
			first := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				redirects.Add(1)
				http.Redirect(w, r, tc.to, http.StatusFound)
			}))
			defer first.Close()
			var logs syncBuffer
			// newEnv lets 127.0.0.1 through, and only it.
			e := newEnv(t, clientauth.Config{HTTPClient: first.Client(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c := &auth.Client{ID: "app", JWKSURI: first.URL + "/jwks.json"}
			wantInvalid(t, e.v.Verify(ctx, c, sign(t, k, goodClaims("app", e.clock.Now()))), unavailable)
			if redirects.Load() != 1 {
				t.Fatalf("the first server answered %d times, want 1: the test proves nothing", redirects.Load())
			}
			if n := targetConns.Load(); n != 0 {
				t.Fatalf("%d connections to the redirect's target", n)
			}
			if !strings.Contains(logs.String(), "redirect refused") || !strings.Contains(logs.String(), tc.logged) {
				t.Errorf("the log does not say the redirect to %s was refused:\n%s", tc.logged, logs.String())
			}
		})
	}
}

// TestCheckJWKSURI: the registration rules, the scheme and the address
// separately.
func TestCheckJWKSURI(t *testing.T) {
	for _, tc := range []struct {
		uri                  string
		allowHTTP, allowPriv bool
		want                 string // part of the error; "" for none
		denied               bool   // the error wraps an *egress.DeniedError
	}{
		{"https://keys.example.com/jwks.json", false, false, "", false},
		{"https://8.8.8.8/jwks.json", false, false, "", false},
		{"https://[2606:4700:4700::1111]/jwks.json", false, false, "", false},
		{"http://keys.example.com/jwks.json", false, false, "plain http", false},
		{"http://keys.example.com/jwks.json", true, false, "", false},
		{"https://100.64.0.1/jwks.json", false, false, "100.64.0.0/10 (Shared Address Space, carrier-grade NAT, RFC 6598)", true},
		{"https://100.100.100.200/jwks.json", false, false, "100.64.0.0/10", true},
		{"https://198.18.0.1/jwks.json", false, false, "198.18.0.0/15", true},
		{"https://0.0.0.0/jwks.json", false, false, "0.0.0.0/32", true},
		{"https://169.254.169.254/jwks.json", false, false, "169.254.0.0/16", true},
		{"https://[::ffff:127.0.0.1]/jwks.json", false, false, "127.0.0.0/8", true},
		{"https://[64:ff9b::a9fe:a9fe]/jwks.json", false, false, "64:ff9b::/96", true},
		{"https://[2002:a9fe:a9fe::1]/jwks.json", false, false, "2002::/16", true},
		{"https://[fe80::1%25eth0]/jwks.json", false, false, "fe80::/10", true},
		{"https://localhost:8443/jwks.json", false, false, "loopback", true},
		{"https://keys.localhost./jwks.json", false, false, "loopback", true},
		{"https://127.1/jwks.json", false, false, "four decimal numbers", false},
		{"https://100.64.0.1/jwks.json", false, true, "", false},
		{"https://localhost/jwks.json", false, true, "", false},
		// The two rules are separate: each allowance lifts its own.
		{"http://127.0.0.1:8080/jwks.json", true, false, "127.0.0.0/8", true},
		{"http://127.0.0.1:8080/jwks.json", false, true, "plain http", false},
		{"http://127.0.0.1:8080/jwks.json", true, true, "", false},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			err := clientauth.CheckJWKSURI(tc.uri, clientauth.JWKSURIPolicy{AllowHTTP: tc.allowHTTP, AllowPrivateAddresses: tc.allowPriv})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if _, ok := errors.AsType[*egress.DeniedError](err); ok != tc.denied {
				t.Errorf("error %v wraps an *egress.DeniedError: %v, want %v", err, ok, tc.denied)
			}
		})
	}
}
