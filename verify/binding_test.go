package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/dpop"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

const apiURL = "https://api.example"

// boundToken signs a token the server could have issued, bound by cnf.
func boundToken(t *testing.T, s *testserver.Server, now time.Time, cnf map[string]any) string {
	t.Helper()
	c := claims(s, now)
	if cnf != nil {
		c["cnf"] = cnf
	}
	return signWith(t, s, now, "at+jwt", c)
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func thumbprint(t testing.TB, k crypto.Signer) string {
	t.Helper()
	jkt, err := dpop.Thumbprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

func proof(t testing.TB, k crypto.Signer, method, u, token, nonce string, at time.Time) string {
	t.Helper()
	p, err := dpop.NewProof(k, "", method, u, token, nonce, at)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serve sends r through the middleware of v and returns the recorder.
func serve(v *verify.Verifier, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		w.Write([]byte("hello " + c.Subject))
	})).ServeHTTP(w, r)
	return w
}

// failingCache is a replay cache that cannot answer.
type failingCache struct{}

func (failingCache) Use(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("the cache is down")
}

// fixedNonces hands out one nonce.
type fixedNonces string

func (n fixedNonces) Nonce() string           { return string(n) }
func (n fixedNonces) Valid(nonce string) bool { return nonce == string(n) }

// TestDPoPBoundTokens checks a DPoP-bound token and its proof at the
// resource server: each row breaks one check, which must refuse it.
func TestDPoPBoundTokens(t *testing.T) {
	s := newServer(t, testserver.Options{})
	now := time.Now()
	key, other := ecKey(t), ecKey(t)
	tok := boundToken(t, s, now, map[string]any{"jkt": thumbprint(t, key)})
	unbound := boundToken(t, s, now, nil)
	const target = apiURL + "/claims/1"

	v := newVerifier(t, s, func(c *verify.Config) { c.DPoP = &verify.DPoP{ExternalURL: apiURL} })
	plain := newVerifier(t, s, nil)
	required := newVerifier(t, s, func(c *verify.Config) { c.DPoP = &verify.DPoP{ExternalURL: apiURL, Required: true} })
	broken := newVerifier(t, s, func(c *verify.Config) {
		c.DPoP = &verify.DPoP{ExternalURL: apiURL, ReplayCache: failingCache{}}
	})
	nonced := newVerifier(t, s, func(c *verify.Config) {
		c.DPoP = &verify.DPoP{ExternalURL: apiURL, Nonces: fixedNonces("n-1")}
	})
	replayed := proof(t, key, "GET", target, tok, "", now)
	if w := serve(v, dpopRequest("GET", target, tok, replayed)); w.Code != 200 {
		t.Fatalf("first use of a proof: %d %s %s", w.Code, w.Header().Values("WWW-Authenticate"), w.Body)
	}

	for _, tc := range []struct {
		name      string
		v         *verify.Verifier
		req       *http.Request
		status    int
		challenge string // prefix of the first WWW-Authenticate value
		code      string
	}{
		{"valid", v, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now)), 200, "", ""},
		{"valid, query ignored", v, dpopRequest("GET", target+"?a=b", tok, proof(t, key, "GET", target, tok, "", now)), 200, "", ""},
		{"replayed jti", v, dpopRequest("GET", target, tok, replayed), 401, `DPoP realm="gooclaim", algs="ES256 `, "invalid_dpop_proof"},
		{"wrong ath: proof made for another token", v, dpopRequest("GET", target, tok, proof(t, key, "GET", target, unbound, "", now)), 401, "DPoP ", "invalid_dpop_proof"},
		{"proof without ath", v, dpopRequest("GET", target, tok, proof(t, key, "GET", target, "", "", now)), 401, "DPoP ", "invalid_dpop_proof"},
		{"wrong method", v, dpopRequest("GET", target, tok, proof(t, key, "POST", target, tok, "", now)), 401, "DPoP ", "invalid_dpop_proof"},
		{"wrong URL", v, dpopRequest("GET", target, tok, proof(t, key, "GET", apiURL+"/claims/2", tok, "", now)), 401, "DPoP ", "invalid_dpop_proof"},
		{"proof for another host, Host header set to match it", v, func() *http.Request {
			r := dpopRequest("GET", "/claims/1", tok, proof(t, key, "GET", "https://evil.example/claims/1", tok, "", now))
			r.Host = "evil.example"
			return r
		}(), 401, "DPoP ", "invalid_dpop_proof"},
		{"proof by another key than cnf.jkt", v, dpopRequest("GET", target, tok, proof(t, other, "GET", target, tok, "", now)), 401, "DPoP ", "invalid_dpop_proof"},
		{"stale iat", v, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now.Add(-2*time.Minute))), 401, "DPoP ", "invalid_dpop_proof"},
		{"iat in the future", v, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now.Add(2*time.Minute))), 401, "DPoP ", "invalid_dpop_proof"},
		{"no DPoP header", v, dpopRequest("GET", target, tok, ""), 401, "DPoP ", "invalid_dpop_proof"},
		{"two DPoP headers", v, func() *http.Request {
			r := dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now))
			r.Header.Add("DPoP", proof(t, key, "GET", target, tok, "", now))
			return r
		}(), 401, "DPoP ", "invalid_dpop_proof"},
		{"replay cache down: fail closed", broken, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now)), 401, "DPoP ", "invalid_dpop_proof"},
		{"DPoP-bound token as Bearer (downgrade)", v, bearerRequest(target, tok), 401, `Bearer realm="gooclaim", error="invalid_token", error_description="the token is DPoP-bound`, "invalid_token"},
		{"DPoP-bound token as Bearer, verifier without DPoP", plain, bearerRequest(target, tok), 401, `Bearer realm="gooclaim", error="invalid_token", error_description="the token is DPoP-bound`, "invalid_token"},
		{"unbound token with the DPoP scheme", v, dpopRequest("GET", target, unbound, proof(t, key, "GET", target, unbound, "", now)), 401, "DPoP ", "invalid_token"},
		{"unbound Bearer token accepted", v, bearerRequest(target, unbound), 200, "", ""},
		{"unbound Bearer token, DPoP required", required, bearerRequest(target, unbound), 401, `DPoP realm="gooclaim", algs="`, "invalid_token"},
		{"DPoP required, bound token", required, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now)), 200, "", ""},
		{"nonce required, none sent", nonced, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now)), 401, "DPoP ", "use_dpop_nonce"},
		{"nonce required, wrong one", nonced, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "n-0", now)), 401, "DPoP ", "use_dpop_nonce"},
		{"nonce required, sent", nonced, dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "n-1", now)), 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(tc.v, tc.req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s %s", w.Code, tc.status, w.Header().Values("WWW-Authenticate"), w.Body)
			}
			if tc.status == 200 {
				return
			}
			got := w.Header().Values("WWW-Authenticate")
			if len(got) == 0 || !strings.HasPrefix(got[0], tc.challenge) || !strings.Contains(strings.Join(got, "\n"), `error="`+tc.code+`"`) {
				t.Errorf("WWW-Authenticate %q, want the first to start with %q and error %s", got, tc.challenge, tc.code)
			}
			if tc.code == "use_dpop_nonce" && w.Header().Get("DPoP-Nonce") != "n-1" {
				t.Errorf("DPoP-Nonce %q, want n-1", w.Header().Get("DPoP-Nonce"))
			}
		})
	}

	// Without credentials, a DPoP-aware resource server offers both schemes.
	w := serve(v, httptest.NewRequest("GET", target, nil))
	if got := w.Header().Values("WWW-Authenticate"); w.Code != 401 || len(got) != 2 || got[0] != `Bearer realm="gooclaim"` || !strings.HasPrefix(got[1], `DPoP realm="gooclaim", algs="ES256`) {
		t.Errorf("no credentials: %d %q; want a Bearer and a DPoP challenge", w.Code, got)
	}
	// VerifyRequest returns the claims with the confirmation.
	c, err := v.VerifyRequest(dpopRequest("GET", target, tok, proof(t, key, "GET", target, tok, "", now)))
	if err != nil || c.Confirmation == nil || c.Confirmation.JKT != thumbprint(t, key) {
		t.Errorf("VerifyRequest: %+v, %v; want cnf.jkt", c, err)
	}
	if _, err := v.VerifyRequest(httptest.NewRequest("GET", target, nil)); !errors.Is(err, verify.ErrNoCredentials) {
		t.Errorf("VerifyRequest without credentials: %v, want ErrNoCredentials", err)
	}
}

func dpopRequest(method, target, token, proof string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

func bearerRequest(target, token string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// selfSigned makes a client certificate.
func selfSigned(t testing.TB) *x509.Certificate {
	t.Helper()
	k := ecKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svc-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestCertificateBoundTokens checks a token bound to a client certificate
// (RFC 8705 §3) against the TLS connection's, and against the one a proxy
// forwards: only a trusted proxy's header counts.
func TestCertificateBoundTokens(t *testing.T) {
	s := newServer(t, testserver.Options{})
	now := time.Now()
	cert, otherCert := selfSigned(t), selfSigned(t)
	tok := boundToken(t, s, now, map[string]any{"x5t#S256": verify.CertificateThumbprint(cert.Raw)})
	const target = apiURL + "/claims/1"

	direct := newVerifier(t, s, nil)
	proxied := newVerifier(t, s, func(c *verify.Config) {
		c.ClientCertificateHeader = "Client-Cert"
		c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1"}
	})
	withTLS := func(c *x509.Certificate) *http.Request {
		r := bearerRequest(target, tok)
		r.TLS = &tls.ConnectionState{}
		if c != nil {
			r.TLS.PeerCertificates = []*x509.Certificate{c}
		}
		return r
	}
	fromPeer := func(addr, header string) *http.Request {
		r := bearerRequest(target, tok)
		r.RemoteAddr = addr
		if header != "" {
			r.Header.Set("Client-Cert", header)
		}
		return r
	}
	rfc9440 := ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
	escapedPEM := url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))

	for _, tc := range []struct {
		name   string
		v      *verify.Verifier
		req    *http.Request
		status int
	}{
		{"TLS peer certificate matches", direct, withTLS(cert), 200},
		{"TLS peer certificate mismatch", direct, withTLS(otherCert), 401},
		{"TLS without a client certificate", direct, withTLS(nil), 401},
		{"plain HTTP", direct, bearerRequest(target, tok), 401},
		{"header ignored without ClientCertificateHeader", direct, fromPeer("10.1.2.3:4000", rfc9440), 401},
		{"trusted proxy, RFC 9440 header", proxied, fromPeer("10.1.2.3:4000", rfc9440), 200},
		{"trusted proxy by address, URL-escaped PEM", proxied, fromPeer("192.0.2.1:4000", escapedPEM), 200},
		{"trusted proxy, another certificate", proxied, fromPeer("10.1.2.3:4000", ":"+base64.StdEncoding.EncodeToString(otherCert.Raw)+":"), 401},
		{"trusted proxy, no header", proxied, fromPeer("10.1.2.3:4000", ""), 401},
		{"trusted proxy, garbage header", proxied, fromPeer("10.1.2.3:4000", ":bm90IGEgY2VydA==:"), 401},
		{"untrusted peer sets the header (spoofing)", proxied, fromPeer("203.0.113.9:4000", rfc9440), 401},
		{"untrusted peer next to a trusted prefix", proxied, fromPeer("192.0.2.2:4000", rfc9440), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(tc.v, tc.req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s %s", w.Code, tc.status, w.Header().Values("WWW-Authenticate"), w.Body)
			}
			if tc.status != 200 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q, want invalid_token", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestBindingConfig(t *testing.T) {
	s := newServer(t, testserver.Options{})
	for _, tc := range []struct {
		name string
		edit func(*verify.Config)
		want string
	}{
		{"header without proxies", func(c *verify.Config) { c.ClientCertificateHeader = "Client-Cert" }, "needs TrustedProxies"},
		{"proxies without header", func(c *verify.Config) { c.TrustedProxies = []string{"10.0.0.0/8"} }, "without ClientCertificateHeader"},
		{"bad proxy", func(c *verify.Config) {
			c.ClientCertificateHeader, c.TrustedProxies = "Client-Cert", []string{"proxy.local"}
		}, "neither an address"},
		{"DPoP without ExternalURL", func(c *verify.Config) { c.DPoP = &verify.DPoP{} }, "DPoP.ExternalURL is required"},
		{"DPoP with plain http", func(c *verify.Config) { c.DPoP = &verify.DPoP{ExternalURL: "http://api.example"} }, "plain http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := verify.Config{Issuer: s.Issuer, Audience: audience, Lazy: true}
			tc.edit(&cfg)
			if _, err := verify.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
