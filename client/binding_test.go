package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth/client"
	"github.com/gooclaim/auth/internal/dpop"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/verify"
)

// dpopTokenServer is a token endpoint that issues DPoP-bound tokens signed
// by a real server's keys (the server itself does not yet do DPoP here):
// it checks every proof with internal/dpop, demands its nonce first, and
// records the proofs' jti.
type dpopTokenServer struct {
	*httptest.Server
	srv       *testserver.Server
	failFirst atomic.Int32 // answer 503 to this many proofs first

	mu   sync.Mutex
	jtis []string
}

func newDPoPTokenServer(t *testing.T) *dpopTokenServer {
	s := &dpopTokenServer{srv: testserver.New(t, testserver.Options{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("DPoP-Nonce", "as-nonce")
		p, err := dpop.Verify(r.Header.Get("DPoP"), dpop.Params{
			Method: "POST", URL: s.URL + "/token", Now: time.Now(), MaxAge: time.Minute, Leeway: time.Second,
			Nonce: func(n string) bool { return n == "as-nonce" },
		})
		if err != nil {
			code := "invalid_dpop_proof"
			if strings.Contains(err.Error(), "nonce") {
				code = "use_dpop_nonce"
			}
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": err.Error()})
			return
		}
		s.mu.Lock()
		s.jtis = append(s.jtis, p.JTI)
		s.mu.Unlock()
		if s.failFirst.Add(-1) >= 0 {
			w.WriteHeader(503)
			return
		}
		signer, err := s.srv.Keys.Signer(time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{
			"iss": s.srv.Issuer, "sub": "svc", "client_id": "svc", "aud": issuer.DefaultAudience,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": p.JTI, "cnf": map[string]string{"jkt": p.JKT},
		})
		tok, err := signer.SignWithType("at+jwt", claims)
		if err != nil {
			t.Error(err)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "DPoP", "expires_in": 3600})
	}))
	t.Cleanup(s.Close)
	return s
}

// TestDPoP fetches a DPoP-bound token, with the nonce dance at the token
// endpoint, and calls a resource server built on the verification kit
// that also demands a nonce: every request carries a new proof.
func TestDPoP(t *testing.T) {
	as := newDPoPTokenServer(t)
	as.failFirst.Store(1) // a retry must make a new proof
	var calls atomic.Int32
	rs := httptest.NewUnstartedServer(nil)
	rs.Start()
	defer rs.Close()
	v, err := verify.New(context.Background(), verify.Config{
		Issuer: as.srv.Issuer, Audience: issuer.DefaultAudience,
		DPoP: &verify.DPoP{ExternalURL: rs.URL, Nonces: fixedNonces("rs-nonce")},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs.Config.Handler = v.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		c, _ := verify.FromContext(r.Context())
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", c.Subject, c.Confirmation.JKT, body)
	}))

	cfg := &client.Config{TokenURL: as.URL + "/token", ClientID: "svc", ClientSecret: "s", DPoP: true, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := cfg.DPoPThumbprint()
	if tok.TokenType != "DPoP" || tok.Type() != "DPoP" {
		t.Errorf("token_type %q, want DPoP", tok.TokenType)
	}
	// The first proof had no nonce (refused), the second had it (503), the
	// third got the token: three proofs, three jti.
	as.mu.Lock()
	jtis := append([]string(nil), as.jtis...)
	as.mu.Unlock()
	if len(jtis) != 2 || jtis[0] == jtis[1] {
		t.Errorf("the token endpoint accepted proofs with jti %q; want two distinct (a new proof per retry)", jtis)
	}

	hc := cfg.Client(context.Background())
	for i := range 3 {
		resp, err := hc.Post(rs.URL+"/claims?x=1", "text/plain", strings.NewReader(fmt.Sprint("body", i)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("svc %s body%d", jkt, i) {
			t.Fatalf("API call %d: %d %q %s", i, resp.StatusCode, b, resp.Header.Values("WWW-Authenticate"))
		}
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls reached the handler, want 3", calls.Load())
	}
}

type fixedNonces string

func (n fixedNonces) Nonce() string           { return string(n) }
func (n fixedNonces) Valid(nonce string) bool { return nonce == string(n) }

// TestDPoPTokenTypeWithoutKey: a DPoP token for a client without a key is
// an error that says what to set.
func TestDPoPTokenTypeWithoutKey(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"access_token":"x","token_type":"DPoP","expires_in":60}`)
	}))
	defer s.Close()
	_, err := (&client.Config{TokenURL: s.URL, ClientID: "a", ClientSecret: "b"}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Config.DPoP") {
		t.Errorf("err = %v, want one naming Config.DPoP", err)
	}
}

func newCert(t *testing.T) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "svc"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// TestMutualTLS authenticates with tls_client_auth and
// self_signed_tls_client_auth: the certificate on the connection, the
// client_id in the body, no secret anywhere; the API client presents the
// same certificate.
func TestMutualTLS(t *testing.T) {
	cert := newCert(t)
	var seen []string
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid_client","error_description":"no client certificate"}`)
			return
		}
		if r.URL.Path == "/api" {
			fmt.Fprintf(w, "api %s %s", verify.CertificateThumbprint(r.TLS.PeerCertificates[0].Raw), r.Header.Get("Authorization"))
			return
		}
		r.ParseForm()
		_, _, basic := r.BasicAuth()
		seen = append(seen, fmt.Sprintf("client_id=%s secret=%q basic=%v", r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), basic))
		io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":60}`)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	s.StartTLS()
	defer s.Close()

	for _, style := range []client.AuthStyle{client.AuthTLSClientAuth, client.AuthSelfSignedTLSClientAuth} {
		cfg := &client.Config{TokenURL: s.URL + "/token", ClientID: "svc", AuthStyle: style, TLSCertificate: &cert, HTTPClient: s.Client()}
		if _, err := cfg.Token(context.Background()); err != nil {
			t.Fatalf("%s: %v", style, err)
		}
		resp, err := cfg.Client(context.Background()).Get(s.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "api " + verify.CertificateThumbprint(cert.Certificate[0]) + " Bearer tok"; string(b) != want {
			t.Errorf("%s: the API saw %q, want %q", style, b, want)
		}
	}
	for _, s := range seen {
		if s != `client_id=svc secret="" basic=false` {
			t.Errorf("token request: %s; want client_id only", s)
		}
	}
	// Without the certificate: said at once.
	_, err := (&client.Config{TokenURL: s.URL, ClientID: "svc", AuthStyle: client.AuthTLSClientAuth}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "needs TLSCertificate") {
		t.Errorf("err = %v, want one asking for TLSCertificate", err)
	}
}
