package main

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
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/client"
)

// testCA is a certificate authority for client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100), Subject: pkix.Name{CommonName: "gooclaim test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, "client-ca.crt")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// issue returns a client certificate for subject, for client authentication.
func (ca *testCA) issue(t *testing.T, subject pkix.Name) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestSenderConstrainedEndToEnd (issue 16): a client registered from the
// command line with its certificate's subject DN (written as OpenSSL
// writes it) and --require-dpop gets, over mutual TLS with the client kit,
// a token bound both to its DPoP key and to its certificate, and nothing
// without the proof or with another certificate of the same CA.
func TestSenderConstrainedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "server", 1)
	ca := newTestCA(t, dir)
	ts := startTestServer(t, nil, func(c *serveConfig) {
		c.tlsCert, c.tlsKey, c.tlsClientCA = certFile, keyFile, ca.file
	})
	roots := trusting(t, certFile)
	ctx := context.Background()

	out := ts.mustCLI("", "clients", "create", "-o", "json", "--name", "importer", "--scope", "claims:read",
		"--tls-subject-dn", "O = Gooclaim, CN = claims-importer", "--require-dpop")
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ClientSecret != "" {
		t.Fatalf("clients create printed %s (%v): want a client without a secret", out, err)
	}
	ts.waitForClient(created.ClientID, true)

	cert := ca.issue(t, pkix.Name{CommonName: "claims-importer", Organization: []string{"Gooclaim"}})
	kit := func(cert *tls.Certificate, dpop bool) *client.Config {
		return &client.Config{
			TokenURL: ts.srv.Issuer() + "/v1/auth/token", ClientID: created.ClientID, AuthStyle: client.AuthTLSClientAuth,
			TLSCertificate: cert, DPoP: dpop, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		}
	}

	tok, err := kit(&cert, true).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "DPoP" {
		t.Errorf("token_type %q, want DPoP", tok.TokenType)
	}
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	if claims.Cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) || len(claims.Cnf["jkt"]) != 43 {
		t.Fatalf("cnf %v: want the certificate's thumbprint and a DPoP key's", claims.Cnf)
	}

	// The same certificate without a DPoP proof: the client requires one.
	if _, err := kit(&cert, false).Token(ctx); err == nil || !strings.Contains(err.Error(), "invalid_request") {
		t.Errorf("a token request without a proof: %v, want invalid_request", err)
	}
	// Another certificate of the same CA, and a self-signed one with the right subject.
	other := ca.issue(t, pkix.Name{CommonName: "claims-exporter", Organization: []string{"Gooclaim"}})
	rogueCA := newTestCA(t, t.TempDir())
	forged := rogueCA.issue(t, pkix.Name{CommonName: "claims-importer", Organization: []string{"Gooclaim"}})
	for name, c := range map[string]*tls.Certificate{"another subject": &other, "another CA": &forged} {
		if _, err := kit(c, true).Token(ctx); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
	// No certificate at all: client_id alone authenticates no one.
	ts.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	if r := ts.form("grant_type=client_credentials&client_id=" + created.ClientID); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("client_id without a certificate: %d %s, want 401", r.StatusCode, r.body)
	}
}
