package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/credential"
)

// loopbackKeyServer is an http server on a loopback port standing in for
// an internal service (an admin port, a metadata service): it serves a
// valid JWK Set, so that a fetch that reaches it succeeds, and counts the
// connections made to it.
func loopbackKeyServer(t *testing.T, jwks []byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// storeClientWithJWKSURI puts a private_key_jwt client with jwks_uri
// straight into the server's database, past the registration checks: a
// client registered before an upgrade, or on a node that allowed it.
func storeClientWithJWKSURI(t *testing.T, ts *testServer, jwksURI string) string {
	t.Helper()
	c := &auth.Client{ID: credential.NewClientID(), Name: "internal-keys", Scopes: []string{"claims:read"},
		JWKSURI: jwksURI, AuthMethods: []string{auth.AuthPrivateKeyJWT}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := ts.srv.Store().CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ts.waitForClient(c.ID, true)
	return c.ID
}

// TestJWKSURIOnLoopbackWithHTTPIssuer is the attack of issue 12, point 4:
// a development server whose issuer is plain http on a non-loopback host
// (a misdeployment at http://auth.internal) used to switch the address
// filter off with the http/https rule, so a client's jwks_uri could make
// it fetch from loopback — an internal port, a metadata service — and the
// error text told the unauthenticated caller what answered. The server
// now connects to no special-purpose address unless told to, whatever the
// scheme, and the caller learns only that the keys are unavailable.
func TestJWKSURIOnLoopbackWithHTTPIssuer(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.issuer = "http://auth.internal" })
	key := newSigningKey(t)
	internal, conns := loopbackKeyServer(t, key.jwks)
	id := storeClientWithJWKSURI(t, ts, internal.URL+"/jwks.json")

	r := ts.assertionRequest(id, key.assertion(t, assertionClaims(id, "http://auth.internal", time.Now(), time.Minute)))
	if n := conns.Load(); n != 0 {
		t.Errorf("the server made %d connections to the loopback jwks_uri %s", n, internal.URL)
	}
	if r.StatusCode != 401 {
		t.Fatalf("token request with keys from a loopback jwks_uri: %d %s, want 401", r.StatusCode, r.body)
	}
	code, desc := r.errorBody(t)
	if code != "invalid_client" {
		t.Errorf("error %q, want invalid_client", code)
	}
	host := strings.TrimPrefix(internal.URL, "http://")
	for _, leak := range []string{"127.0.0.1", host, "Loopback", "127.0.0.0/8", "HTTP ", "refused", "dial"} {
		if strings.Contains(desc, leak) {
			t.Errorf("the description %q tells the caller %q", desc, leak)
		}
	}
	if want := "its jwks_uri could not be fetched"; !strings.Contains(desc, want) {
		t.Errorf("description %q, want it to say %q", desc, want)
	}
	// The operator's log says what was refused and why.
	if logs := ts.logs.String(); !strings.Contains(logs, "cannot fetch a client's JWK Set") || !strings.Contains(logs, "127.0.0.0/8") {
		t.Errorf("the server log does not name the refused range:\n%s", logs)
	}
}

// TestJWKSURIFailureIsNotDescribed: when a jwks_uri cannot be fetched, the
// caller of the token endpoint — who need not be the client — is not told
// what answered (a status, a refusal, an address): that would make the
// endpoint a probe of whatever the URI points at. The log has the detail.
func TestJWKSURIFailureIsNotDescribed(t *testing.T) {
	ts := startTestServer(t, nil) // loopback issuer: the loopback key server is allowed
	key := newSigningKey(t)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		logged  string
	}{
		{"HTTP 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "HTTP 404"},
		{"not a JWK Set", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>admin console</html>")) }, "not a JWK Set"},
		{"connection refused", nil, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := "http://127.0.0.1:1/jwks.json" // nothing listens on port 1
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				t.Cleanup(srv.Close)
				uri = srv.URL + "/jwks.json"
			}
			id := storeClientWithJWKSURI(t, ts, uri)
			r := ts.assertionRequest(id, key.assertion(t, assertionClaims(id, ts.srv.Issuer(), time.Now(), time.Minute)))
			code, desc := r.errorBody(t)
			if r.StatusCode != 401 || code != "invalid_client" {
				t.Fatalf("%d %s %s, want 401 invalid_client", r.StatusCode, code, desc)
			}
			if want := "the client's public keys are unavailable: its jwks_uri could not be fetched; the server's log says why"; desc != want {
				t.Errorf("description %q, want %q", desc, want)
			}
			// The fetch logs its failure before the waiting request is answered.
			if !strings.Contains(ts.logs.String(), uri) {
				t.Fatalf("no log line names %s:\n%s", uri, ts.logs.String())
			}
			for _, line := range strings.Split(ts.logs.String(), "\n") {
				if strings.Contains(line, uri) && !strings.Contains(line, tc.logged) {
					t.Errorf("the log line about %s does not say %q: %s", uri, tc.logged, line)
				}
			}
		})
	}
}

// TestPrivateAddressesPolicy: which servers fetch keys from a loopback
// jwks_uri — those told to, and development servers whose issuer is on a
// loopback host; not one whose issuer is merely http.
func TestPrivateAddressesPolicy(t *testing.T) {
	key := newSigningKey(t)
	for _, tc := range []struct {
		name    string
		issuer  string // "" for the default, http://localhost:<port>
		flag    bool
		fetched bool
	}{
		{"default issuer", "", false, true},
		{"127.0.0.1 issuer", "http://127.0.0.1:8080", false, true},
		{"[::1] issuer", "http://[::1]:8080", false, true},
		{".localhost issuer", "http://auth.localhost:8080", false, true},
		{"http issuer on a network", "http://auth.internal", false, false},
		{"https issuer", "https://auth.example.com", false, false},
		{"http issuer on a network, with --allow-private-addresses", "http://auth.internal", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTestServer(t, nil, func(c *serveConfig) {
				c.issuer, c.allowPrivate = tc.issuer, tc.flag
				c.allowHTTPJWKSURI = true // the key server is plain http; the scheme is not what is tested
			})
			internal, conns := loopbackKeyServer(t, key.jwks)
			id := storeClientWithJWKSURI(t, ts, internal.URL+"/jwks.json")
			r := ts.assertionRequest(id, key.assertion(t, assertionClaims(id, ts.srv.Issuer(), time.Now(), time.Minute)))
			if tc.fetched {
				if r.StatusCode != 200 || conns.Load() != 1 {
					t.Fatalf("%d %s with %d connections; want 200, the keys fetched once", r.StatusCode, r.body, conns.Load())
				}
				return
			}
			if r.StatusCode != 401 || conns.Load() != 0 {
				t.Fatalf("%d %s with %d connections; want 401 and none", r.StatusCode, r.body, conns.Load())
			}
		})
	}
}

// TestPrivateAddressesDerivation: the rule behind TestPrivateAddressesPolicy,
// production included.
func TestPrivateAddressesDerivation(t *testing.T) {
	for _, tc := range []struct {
		env, issuer      string
		flag             bool
		allowed, implied bool
	}{
		{development, "http://localhost:8080", false, true, true},
		{development, "https://LOCALHOST.:8443", false, true, true},
		{development, "http://127.0.0.2:8080", false, true, true},
		{development, "http://[::1]:8080", false, true, true},
		{development, "http://auth.internal", false, false, false},
		{development, "http://10.0.0.1:8080", false, false, false},
		{development, "http://localhost.example.com", false, false, false},
		{development, "http://auth.internal", true, true, false},
		{production, "http://localhost:8080", false, false, false},
		{production, "https://auth.example.com", true, true, false}, // refused by validate; the flag means what it says
	} {
		c := &serveConfig{env: tc.env, issuer: tc.issuer, allowPrivate: tc.flag}
		if allowed, implied := c.privateAddresses(); allowed != tc.allowed || implied != tc.implied {
			t.Errorf("%s, issuer %s, flag %v: allowed %v implied %v, want %v %v", tc.env, tc.issuer, tc.flag, allowed, implied, tc.allowed, tc.implied)
		}
	}
}

// TestLocalhostJWKSURIRefusedWhenFetched: a jwks_uri naming localhost,
// accepted by a CLI told --allow-private-addresses, is still not fetched
// by a server that does not allow private addresses.
func TestLocalhostJWKSURIRefusedWhenFetched(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.issuer = "http://auth.internal" })
	key := newSigningKey(t)
	internal, conns := loopbackKeyServer(t, key.jwks)
	uri := "http://localhost:" + internal.URL[strings.LastIndex(internal.URL, ":")+1:] + "/jwks.json"
	if _, errOut, code := ts.cli("", "clients", "create", "--name", "k", "--jwks-uri", uri, "--allow-http-jwks-uri"); code == 0 || !strings.Contains(errOut, "loopback") {
		t.Fatalf("clients create with jwks_uri %s: exit %d %s; want a refusal naming loopback", uri, code, errOut)
	}
	id, _ := ts.createClient("--name", "k", "--jwks-uri", uri, "--allow-http-jwks-uri", "--allow-private-addresses")
	r := ts.assertionRequest(id, key.assertion(t, assertionClaims(id, "http://auth.internal", time.Now(), time.Minute)))
	if r.StatusCode != 401 || conns.Load() != 0 {
		t.Fatalf("%d %s with %d connections; want 401 and none", r.StatusCode, r.body, conns.Load())
	}
	if !strings.Contains(ts.logs.String(), `always resolves to a loopback address`) {
		t.Errorf("the log does not say why:\n%s", ts.logs.String())
	}
}

// TestJWKSURIOnSpecialAddressRefusedAtRegistration: an IP literal in a
// special-purpose range is refused by clients create and update and by the
// admin API, naming the range and the development allowance.
func TestJWKSURIOnSpecialAddressRefusedAtRegistration(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.issuer = "http://auth.internal" })
	const cgnat = "https://100.100.100.200/jwks.json"
	const want = "100.100.100.200 is in 100.64.0.0/10 (Shared Address Space, carrier-grade NAT, RFC 6598): not a public address; keys are fetched from public addresses only (for development, --allow-private-addresses allows it)"

	// The CLI.
	if _, errOut, code := ts.cli("", "clients", "create", "--name", "k", "--jwks-uri", cgnat); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("clients create --jwks-uri %s: exit %d, stderr %q; want 1 and %q", cgnat, code, errOut, want)
	}
	adminID, adminSecret := ts.createClient("--name", "ops", "--admin")
	id, _ := ts.createClient("--name", "k", "--jwks-uri", "https://keys.example.com/jwks.json")
	if _, errOut, code := ts.cli("", "clients", "update", id, "--jwks-uri", "https://[::ffff:10.0.0.1]/jwks.json"); code != 1 || !strings.Contains(errOut, "10.0.0.0/8") || !strings.Contains(errOut, "--allow-private-addresses") {
		t.Errorf("clients update to a mapped private address: exit %d, stderr %q", code, errOut)
	}
	ts.mustCLI("", "clients", "update", id, "--jwks-uri", cgnat, "--allow-private-addresses")

	// The admin API of a server that does not allow private addresses.
	tok := ts.tokenFor(adminID, adminSecret)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/admin/clients", `{"name":"k","jwks_uri":"` + cgnat + `"}`},
		{"PATCH", "/v1/admin/clients/" + id, `{"jwks_uri":"https://[fd00:ec2::254]/jwks.json"}`},
	} {
		r := ts.do(tc.method, tc.path, "application/json", tc.body, "Authorization", "Bearer "+tok)
		code, desc := r.errorBody(t)
		if r.StatusCode != 400 || code != "invalid_request" || !strings.Contains(desc, "not a public address") || !strings.Contains(desc, "--allow-private-addresses") {
			t.Errorf("%s %s: %d %s %q, want 400 invalid_request naming the range", tc.method, tc.path, r.StatusCode, code, desc)
		}
	}
	r := ts.do("POST", "/v1/admin/clients", "application/json", `{"name":"k","jwks_uri":"`+cgnat+`"}`, "Authorization", "Bearer "+tok)
	if _, desc := r.errorBody(t); !strings.Contains(desc, want) {
		t.Errorf("the admin API says %q, want %q", desc, want)
	}

	// A server that allows them accepts the same request.
	dev := startTestServer(t, nil, func(c *serveConfig) { c.issuer = "http://auth.internal"; c.allowPrivate = true })
	devAdmin, devSecret := dev.createClient("--name", "ops", "--admin")
	if r := dev.do("POST", "/v1/admin/clients", "application/json", `{"name":"k","jwks_uri":"`+cgnat+`"}`, "Authorization", "Bearer "+dev.tokenFor(devAdmin, devSecret)); r.StatusCode != 201 {
		t.Errorf("POST with --allow-private-addresses: %d %s", r.StatusCode, r.body)
	}
}

// TestDevelopmentListsAllowPrivateAddresses: in development the flag is in
// the line of what production would refuse.
func TestDevelopmentListsAllowPrivateAddresses(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.allowPrivate = true })
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		if strings.Contains(l, "refused_in_production") {
			if !strings.Contains(l, "--allow-private-addresses") {
				t.Fatalf("the development warning does not list --allow-private-addresses: %s", l)
			}
			return
		}
	}
	t.Fatalf("no development warning:\n%s", ts.logs.String())
}
