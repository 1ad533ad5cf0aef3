package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
)

// writePEM makes a certificate for tmpl (self-signed, or signed by
// parent/parentKey) and writes it and its key as PEM files in dir.
func writePEM(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile, cert, key
}

// TestMutualTLSWithCurl: the server's own HTTPS listener with client CAs
// asks for a certificate without requiring one: curl with --cert/--key
// authenticates a self_signed_tls_client_auth client and gets a token
// bound to the certificate; curl without a certificate still gets a
// secret client its (unbound) token.
func TestMutualTLSWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	dir := t.TempDir()
	caFile, _, _, _ := writePEM(t, dir, "ca", &x509.Certificate{Subject: pkix.Name{CommonName: "client CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	srvCert, srvKey, _, _ := writePEM(t, dir, "server", &x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, nil, nil)
	cliCert, cliKey, cli, key := writePEM(t, dir, "client", &x509.Certificate{Subject: pkix.Name{CommonName: "workload"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, nil, nil)

	cfg := newConfig(t)
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSClientCAFile = srvCert, srvKey, caFile
	srv := start(t, cfg)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}}})
	if err := srv.Replica().CreateClient(context.Background(), &auth.Client{ID: "workload", Name: "workload", Scopes: []string{"read"},
		JWKS: jwks, AuthMethods: []string{auth.AuthSelfSignedTLSClientAuth}, Incarnation: auth.NewIncarnation()}); err != nil {
		t.Fatal(err)
	}
	secretID, secret := createClient(t, srv, "read")

	run := func(args ...string) map[string]any {
		t.Helper()
		args = append([]string{"-sS", "--cacert", srvCert, "https://" + srv.Addr() + "/v1/auth/token"}, args...)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		var body map[string]any
		if err := json.Unmarshal(out, &body); err != nil {
			t.Fatalf("curl: %s", out)
		}
		return body
	}
	body := run("--cert", cliCert, "--key", cliKey, "-d", "grant_type=client_credentials&client_id=workload")
	sum := sha256.Sum256(cli.Raw)
	if got, want := claimsCnf(t, body), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("cnf x5t#S256 %q, want %q (response %v)", got, want, body)
	}
	body = run("-d", "grant_type=client_credentials&client_id="+secretID+"&client_secret="+secret)
	if got := claimsCnf(t, body); got != "" {
		t.Fatalf("a token requested without a certificate is bound: %q", got)
	}
}

func claimsCnf(t *testing.T, body map[string]any) string {
	t.Helper()
	tok, _ := body["access_token"].(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("no access token: %v", body)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Cnf map[string]string `json:"cnf"`
	}
	json.Unmarshal(payload, &c)
	return c.Cnf["x5t#S256"]
}
