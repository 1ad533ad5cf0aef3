package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue makes a client certificate: tmpl's subject, SANs and dates
// (valid for an hour around now when unset), for client authentication
// unless tmpl says otherwise. A nil ca makes it self-signed.
func (ca *testCA) issue(t testing.TB, tmpl x509.Certificate) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	if tmpl.ExtKeyUsage == nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	parent, signer := &tmpl, any(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// mapClients serves clients from a map: the client storage of the TLS
// fields is another branch's work, so these tests register clients here.
type mapClients map[string]*auth.Client

func (m mapClients) Lookup(id string) *auth.Client { return m[id] }

// mtlsStack is the token endpoint with mutual TLS: client CAs, and a
// forwarded-certificate header believed from 10.0.0.0/8.
type mtlsStack struct {
	handler http.Handler
	clients mapClients
	ca      *testCA
}

const certHeader = "X-SSL-Client-Cert"

func newMTLSStack(t *testing.T) *mtlsStack {
	t.Helper()
	ctx := context.Background()
	db, dir := migratedDB(t)
	kek, err := signing.CreateKEKFile(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	var keys *issuer.KeyRing
	replica := inmem.NewReplica(db, inmem.ReplicaOptions{OnKeys: func(k []auth.Key) error { return keys.Load(k) }})
	keys = issuer.NewKeyRing(issuer.KeyPolicy{}, kek, replica, nil)
	if err := replica.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, "client CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	verifier, err := clientauth.NewVerifier(clientauth.Config{Issuer: benchIssuer, Replay: inmem.NewReplayCache(inmem.ReplayCacheOptions{}), ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	limiter := inmem.NewLimiter(inmem.LimiterOptions{})
	t.Cleanup(limiter.Close)
	clients := mapClients{}
	iss := issuer.New(issuer.Config{Issuer: benchIssuer, ClientCertificates: verifier, ClientAssertions: verifier}, clients, keys, limiter, nil)
	api := &httpapi.Server{Issuer: iss, Keys: keys, Scopes: replica, Logger: slog.New(slog.DiscardHandler),
		MutualTLS: true, TLSClientAuth: true, ClientCertHeader: certHeader,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	return &mtlsStack{handler: api.Handler(), clients: clients, ca: ca}
}

// add registers a client.
func (st *mtlsStack) add(c *auth.Client) {
	c.Scopes = []string{"read"}
	c.Incarnation = "inc-" + c.ID
	st.clients[c.ID] = c
}

// tlsServer serves the stack over TLS asking for client certificates
// without requiring or verifying them, as server.Config.TLSClientCAFile
// makes the listener do.
func (st *mtlsStack) tlsServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(st.handler)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// post sends a form to the token endpoint over TLS with cert (none when
// its Certificate is empty) and returns the status and JSON body.
func post(t *testing.T, srv *httptest.Server, cert tls.Certificate, form url.Values) (int, map[string]any) {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	if len(cert.Certificate) > 0 {
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).PostForm(srv.URL+httpapi.TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decodeBody(t, resp.Body)
}

func decodeBody(t *testing.T, r io.Reader) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body
}

// cnf returns the x5t#S256 of the cnf claim of the access token in body,
// "" without one.
func cnf(t *testing.T, body map[string]any) string {
	t.Helper()
	tok, _ := body["access_token"].(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("no access token in %v", body)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Cnf["x5t#S256"]
}

func grant(id string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}
}

// TestTLSClientAuth: a certificate of the client CA naming what the client
// registered authenticates it, for the subject DN and each SAN type, and
// its token is bound to the certificate; a certificate of another CA, an
// expired one, one not for client authentication, or one naming something
// else is refused with the one invalid_client answer.
func TestTLSClientAuth(t *testing.T) {
	st := newMTLSStack(t)
	srv := st.tlsServer(t)
	other := newTestCA(t, "another CA")
	uri, _ := url.Parse("spiffe://example.org/ns/payments/sa/svc-a")
	good := x509.Certificate{
		Subject:        pkix.Name{CommonName: "svc-a", Organization: []string{"Example, Inc."}, Country: []string{"DE"}},
		DNSNames:       []string{"svc-a.example.org"},
		URIs:           []*url.URL{uri},
		IPAddresses:    []net.IP{net.ParseIP("2001:db8::7")},
		EmailAddresses: []string{"svc-a@example.org"},
	}
	for _, tc := range []struct {
		name string
		reg  auth.TLSClientAuth
	}{
		// Written otherwise than pkix.Name.String() writes it: other case
		// of the attribute types, spaces, another order.
		{"subject DN", auth.TLSClientAuth{SubjectDN: `cn=svc-a, o=Example\, Inc., C=DE`}},
		{"SAN DNS", auth.TLSClientAuth{SANDNS: "svc-a.example.org"}},
		{"SAN URI", auth.TLSClientAuth{SANURI: uri.String()}},
		{"SAN IP", auth.TLSClientAuth{SANIP: "2001:db8:0::7"}},
		{"SAN email", auth.TLSClientAuth{SANEmail: "svc-a@example.org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.ReplaceAll(tc.name, " ", "-")
			st.add(&auth.Client{ID: id, TLSClientAuth: tc.reg})
			cert := st.ca.issue(t, good)
			status, body := post(t, srv, cert, grant(id))
			if status != http.StatusOK {
				t.Fatalf("status %d %v, want 200", status, body)
			}
			if got, want := cnf(t, body), thumbprint(cert.Certificate[0]); got != want {
				t.Fatalf("cnf x5t#S256 %q, want the certificate's %q", got, want)
			}
			if body["token_type"] != "Bearer" {
				t.Fatalf("token_type %v, want Bearer (RFC 8705 §3)", body["token_type"])
			}
		})
	}
	st.add(&auth.Client{ID: "dn", TLSClientAuth: auth.TLSClientAuth{SubjectDN: "CN=svc-a,O=Example\\, Inc.,C=DE"}})
	for _, tc := range []struct {
		name string
		cert tls.Certificate
	}{
		{"another CA", other.issue(t, good)},
		{"self-signed", (*testCA)(nil).issue(t, good)},
		{"expired", st.ca.issue(t, func() x509.Certificate {
			c := good
			c.NotBefore, c.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
			return c
		}())},
		{"not for client authentication", st.ca.issue(t, func() x509.Certificate {
			c := good
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			return c
		}())},
		{"another subject", st.ca.issue(t, x509.Certificate{Subject: pkix.Name{CommonName: "svc-b", Organization: []string{"Example, Inc."}, Country: []string{"DE"}}})},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			status, body := post(t, srv, tc.cert, grant("dn"))
			if status != http.StatusUnauthorized || body["error"] != "invalid_client" ||
				body["error_description"] != "client authentication failed: the TLS client certificate is not accepted for this client" {
				t.Fatalf("status %d %v, want 401 invalid_client", status, body)
			}
		})
	}
}

// TestSelfSignedTLSClientAuth: a self-signed certificate whose key is in
// the client's JWK Set authenticates it, with no CA; one with another key
// does not.
func TestSelfSignedTLSClientAuth(t *testing.T) {
	st := newMTLSStack(t)
	srv := st.tlsServer(t)
	cert := (*testCA)(nil).issue(t, x509.Certificate{Subject: pkix.Name{CommonName: "whatever"}})
	jwk := jose.JSONWebKey{Key: &cert.PrivateKey.(*ecdsa.PrivateKey).PublicKey, KeyID: "k1"}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	st.add(&auth.Client{ID: "self", JWKS: set, AuthMethods: []string{auth.AuthSelfSignedTLSClientAuth}})

	status, body := post(t, srv, cert, grant("self"))
	if status != http.StatusOK {
		t.Fatalf("status %d %v, want 200", status, body)
	}
	if got, want := cnf(t, body), thumbprint(cert.Certificate[0]); got != want {
		t.Fatalf("cnf x5t#S256 %q, want %q", got, want)
	}
	// The same subject with another key.
	otherKey := (*testCA)(nil).issue(t, x509.Certificate{Subject: pkix.Name{CommonName: "whatever"}})
	if status, body := post(t, srv, otherKey, grant("self")); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("another key: status %d %v, want 401 invalid_client", status, body)
	}
	// No certificate at all: the client has no other credentials.
	if status, body := post(t, srv, tls.Certificate{}, grant("self")); status != http.StatusUnauthorized {
		t.Fatalf("no certificate: status %d %v, want 401", status, body)
	}
}

// TestCertificateBoundTokens: a client that authenticates with a secret
// over mutual TLS gets a token bound to its certificate, reported by
// introspection; one that must have bound tokens is refused without a
// certificate.
func TestCertificateBoundTokens(t *testing.T) {
	st := newMTLSStack(t)
	srv := st.tlsServer(t)
	secret := credential.NewSecret()
	hash := credential.HashGenerated(secret)
	st.add(&auth.Client{ID: "bound", Secrets: []auth.Secret{{ID: "1", Hash: hash}}, RequireCertificateBoundTokens: true})
	st.clients["bound"].Scopes = []string{"read", auth.ScopeIntrospect}
	form := grant("bound")
	form.Set("client_secret", secret)

	status, body := post(t, srv, tls.Certificate{}, form)
	if status != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(body["error_description"].(string), "must present its TLS client certificate") {
		t.Fatalf("without a certificate: status %d %v, want 400 invalid_request", status, body)
	}
	cert := (*testCA)(nil).issue(t, x509.Certificate{Subject: pkix.Name{CommonName: "anything"}})
	status, body = post(t, srv, cert, form)
	if status != http.StatusOK {
		t.Fatalf("with a certificate: status %d %v, want 200", status, body)
	}
	want := thumbprint(cert.Certificate[0])
	if got := cnf(t, body); got != want {
		t.Fatalf("cnf x5t#S256 %q, want %q", got, want)
	}

	intro := url.Values{"client_id": {"bound"}, "client_secret": {secret}, "token": {body["access_token"].(string)}}
	resp, err := srv.Client().PostForm(srv.URL+httpapi.IntrospectPath, intro)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ib := decodeBody(t, resp.Body)
	if c, _ := ib["cnf"].(map[string]any); ib["active"] != true || c["x5t#S256"] != want {
		t.Fatalf("introspection %v, want active with cnf x5t#S256 %q", ib, want)
	}
}

// TestForwardedClientCertificate: behind a proxy that terminates TLS, the
// certificate in ClientCertHeader authenticates and binds when the peer is
// a trusted proxy, in each form proxies send it; from any other peer the
// header is ignored, as if absent; a trusted proxy's malformed header is
// a 400.
func TestForwardedClientCertificate(t *testing.T) {
	st := newMTLSStack(t)
	st.add(&auth.Client{ID: "proxied", TLSClientAuth: auth.TLSClientAuth{SANDNS: "svc.example.org"}})
	cert := st.ca.issue(t, x509.Certificate{Subject: pkix.Name{CommonName: "svc"}, DNSNames: []string{"svc.example.org"}})
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: st.ca.cert.Raw}))
	escaped := url.PathEscape(p) // nginx's $ssl_client_escaped_cert
	send := func(peer, header string) (int, map[string]any) {
		r := httptest.NewRequest(http.MethodPost, httpapi.TokenPath, strings.NewReader(grant("proxied").Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = peer
		if header != "" {
			r.Header.Set(certHeader, header)
		}
		w := httptest.NewRecorder()
		st.handler.ServeHTTP(w, r)
		return w.Code, decodeBody(t, w.Body)
	}
	for _, tc := range []struct{ name, header string }{
		{"PEM", p},
		{"PEM on one line", strings.ReplaceAll(p, "\n", " ")},
		{"URL-encoded PEM", escaped},
		{"URL-encoded PEM, dashes too", strings.ReplaceAll(escaped, "-", "%2D")},
		{"Envoy XFCC", `By=spiffe://example.org/auth;Hash=abc;Cert="` + escaped + `";Subject="CN=svc";URI=`},
		{"Envoy XFCC, two hops and a chain", `Hash=1;Cert="` + url.PathEscape(caPEM) + `",By=spiffe://x;Chain="` + url.PathEscape(p+caPEM) + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := send("10.1.2.3:4444", tc.header)
			if status != http.StatusOK {
				t.Fatalf("status %d %v, want 200", status, body)
			}
			if got, want := cnf(t, body), thumbprint(cert.Certificate[0]); got != want {
				t.Fatalf("cnf x5t#S256 %q, want %q", got, want)
			}
		})
	}
	// CVE-2024-10039: from a peer that is not a trusted proxy the header
	// is a certificate anyone could paste; it must authenticate nothing.
	for _, h := range []string{p, escaped} {
		if status, body := send("192.0.2.9:4444", h); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("spoofed header from an untrusted peer: status %d %v, want 401 invalid_client", status, body)
		}
	}
	for _, tc := range []struct{ name, header, want string }{
		{"not a certificate", "hello", "is not PEM"},
		{"bad base64", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----", "does not decode"},
		{"no END", "-----BEGIN CERTIFICATE-----\nMIIB", "without its END line"},
		{"too long", "-----BEGIN CERTIFICATE-----" + strings.Repeat("A", httpapi.MaxClientCertHeaderBytes) + "-----END CERTIFICATE-----", "longer than"},
	} {
		t.Run("malformed/"+tc.name, func(t *testing.T) {
			status, body := send("10.1.2.3:4444", tc.header)
			if status != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(body["error_description"].(string), tc.want) {
				t.Fatalf("status %d %v, want 400 invalid_request saying %q", status, body, tc.want)
			}
		})
	}
}

// TestMTLSDiscovery: the metadata advertise certificate-bound tokens and
// the two RFC 8705 methods with mutual TLS, and neither without.
func TestMTLSDiscovery(t *testing.T) {
	st := newMTLSStack(t)
	r := httptest.NewRequest(http.MethodGet, httpapi.MetadataPath, nil)
	w := httptest.NewRecorder()
	st.handler.ServeHTTP(w, r)
	var md httpapi.Metadata
	if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	if !md.TLSClientCertificateBoundAccessTokens {
		t.Error("tls_client_certificate_bound_access_tokens is not true")
	}
	methods := strings.Join(md.TokenEndpointAuthMethodsSupported, " ")
	if !strings.Contains(methods, auth.AuthTLSClientAuth) || !strings.Contains(methods, auth.AuthSelfSignedTLSClientAuth) {
		t.Errorf("token_endpoint_auth_methods_supported %q lack the RFC 8705 methods", methods)
	}
	plain := newStackOf(t, auth.EdDSA, 0)
	w = httptest.NewRecorder()
	plain.unlogged.ServeHTTP(w, httptest.NewRequest(http.MethodGet, httpapi.MetadataPath, nil))
	if s := w.Body.String(); strings.Contains(s, "tls_client") {
		t.Errorf("without mutual TLS the metadata name it: %s", s)
	}
}
