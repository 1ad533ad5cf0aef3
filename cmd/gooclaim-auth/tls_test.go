package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for localhost and 127.0.0.1,
// with the serial number given, as NAME.crt and NAME.key in dir.
func writeCert(t *testing.T, dir, name string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "gooclaim test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeAtomically(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	writeAtomically(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return certFile, keyFile
}

// writeAtomically replaces path with content, as a deployment tool would
// (write beside, then rename).
func writeAtomically(t *testing.T, path string, content []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trusting is a certificate pool of the certificate files given.
func trusting(t *testing.T, certFiles ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range certFiles {
		if !pool.AppendCertsFromPEM(readFile(t, f)) {
			t.Fatalf("no certificate in %s", f)
		}
	}
	return pool
}

// presented is the serial number of the certificate the server shows on a
// new connection.
func presented(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLS: HTTPS with a certificate the client trusts, HTTP/2 negotiated,
// TLS 1.2 the minimum, the issuer https://localhost:<port>, and the
// certificate replaced on disk served without a restart — unless the new
// files do not load, when the old one stays.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "server", 1)
	ts := startTestServer(t, nil, func(c *serveConfig) {
		c.tlsCert, c.tlsKey = certFile, keyFile
		c.tlsReloadEvery = 50 * time.Millisecond
	})
	if !strings.HasPrefix(ts.url, "https://") {
		t.Fatalf("url %s", ts.url)
	}
	other := t.TempDir()
	next, nextKey := writeCert(t, other, "next", 2)
	roots := trusting(t, certFile, next)
	ts.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}

	// HTTP/2, and the issuer follows the scheme.
	r := ts.do("GET", "/.well-known/oauth-authorization-server", "", "")
	if r.StatusCode != 200 || r.ProtoMajor != 2 {
		t.Fatalf("status %d over %s, want 200 over HTTP/2", r.StatusCode, r.Proto)
	}
	var meta map[string]any
	json.Unmarshal(r.body, &meta)
	_, port, _ := net.SplitHostPort(ts.srv.Addr())
	if meta["issuer"] != "https://localhost:"+port || meta["token_endpoint"] != "https://localhost:"+port+"/v1/auth/token" {
		t.Fatalf("metadata %v", meta)
	}
	// A token over HTTPS.
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	if tok := ts.form("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret).token(t); tok.AccessToken == "" {
		t.Fatal("no token")
	}
	// HTTP/1.1 is still offered.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := h1.Get(ts.url + "/healthz")
	if err != nil || resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 client: %v %v", resp, err)
	}
	resp.Body.Close()

	// TLS 1.2 and up: a client that stops at 1.1 is refused, 1.2 is served.
	addr := ts.srv.Addr()
	if conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil || !strings.Contains(err.Error(), "protocol version") {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("a TLS 1.1 client: %v; want the server to refuse the protocol version", err)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if err != nil || conn.ConnectionState().Version != tls.VersionTLS12 {
		t.Fatalf("TLS 1.2 client: %v", err)
	}
	conn.Close()

	// Replace the files: the new certificate is served within seconds, no restart.
	if got := presented(t, addr, roots); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	writeAtomically(t, keyFile, readFile(t, nextKey))
	writeAtomically(t, certFile, readFile(t, next))
	deadline := time.Now().Add(5 * time.Second)
	for presented(t, addr, roots) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was not served within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitUntil(t, func() bool { return strings.Contains(ts.logs.String(), "TLS certificate reloaded") })

	// A broken replacement, then a certificate whose key does not match:
	// logged, and the last good certificate stays.
	third, _ := writeCert(t, other, "third", 3)
	for i, broken := range [][2][]byte{
		{[]byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), readFile(t, keyFile)},
		{readFile(t, third), readFile(t, keyFile)},
	} {
		before := strings.Count(ts.logs.String(), "do not load")
		writeAtomically(t, certFile, broken[0])
		writeAtomically(t, keyFile, broken[1])
		waitUntil(t, func() bool { return strings.Count(ts.logs.String(), "do not load") > before })
		time.Sleep(150 * time.Millisecond) // a few more checks
		if got := presented(t, addr, roots); got != 2 {
			t.Fatalf("broken replacement %d: serial %d served, want the previous (2)", i, got)
		}
	}
	// One line per distinct error, not one per check (checks run every few
	// milliseconds here). The two files are replaced one after the other, so
	// a check may also see the new certificate with the old key: at most two
	// distinct errors per replacement.
	if n := strings.Count(ts.logs.String(), "do not load"); n < 2 || n > 4 {
		t.Errorf("%d error lines for 2 broken replacements; want one or two each, not one per check", n)
	}
	if r := ts.do("GET", "/healthz", "", ""); r.StatusCode != 200 {
		t.Fatalf("after broken replacements: %d", r.StatusCode)
	}
}

// TestTLSSettingsChecked: both files or neither, readable, matching.
func TestTLSSettingsChecked(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "a", 1)
	_, otherKey := writeCert(t, dir, "b", 2)
	db := filepath.Join(dir, "auth.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "--tls-cert needs --tls-key: give both, or neither"},
		{[]string{"--tls-key", keyFile}, "--tls-key needs --tls-cert"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.crt"), "--tls-key", keyFile}, "no such file"},
		{[]string{"--tls-cert", certFile, "--tls-key", otherKey}, "private key does not match public key"},
		{[]string{"--tls-cert", keyFile, "--tls-key", keyFile}, "--tls-cert, --tls-key"},
	} {
		_, errOut, code := runEnv(t, nil, append([]string{"serve", "--database", db, "--listen", "127.0.0.1:0"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}
