package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/dpop"
)

// TestTokenCommandBindingFlags: the flags of sender-constrained tokens are
// checked before anything is sent.
func TestTokenCommandBindingFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", filepath.Join(dir, "c.pem")}, "give --tls-cert and --tls-key together"},
		{"tls_client_auth without cert", []string{"--auth-method", "tls_client_auth", "--client-secret-file", filepath.Join(dir, "s")}, "needs --tls-cert"},
		{"missing cert file", []string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, "load the client certificate"},
		{"missing DPoP key", []string{"--client-secret-file", "-", "--dpop-key", filepath.Join(dir, "none.pem")}, "--dpop-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"token", "--token-url", "http://127.0.0.1:1/token", "--client-id", "c"}, tc.args...)
			_, errOut, code := runCLI(t, "secret\n", args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want an error with %q", code, errOut, tc.want)
			}
		})
	}
}

// TestDPoPCommands fetches a DPoP-bound token with `token --dpop-key`, then
// checks it with `verify --dpop-proof`: a proof for the request passes, one
// for another URL or by another key does not.
func TestDPoPCommands(t *testing.T) {
	ts := startTestServer(t, nil)
	iss := ts.srv.Issuer()
	if md := ts.do("GET", "/.well-known/oauth-authorization-server", "", ""); !strings.Contains(string(md.body), "dpop_signing_alg_values_supported") {
		t.Fatalf("the server's metadata lacks dpop_signing_alg_values_supported: %s", md.body)
	}
	id, secret := ts.createClient("--name", "cli-dpop", "--scope", "claims:read")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "dpop.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, secret+"\n", "token", "--issuer", iss, "--client-id", id, "--client-secret-file", "-", "--dpop-key", keyFile, "-o", "json")
	if code != 0 {
		t.Fatalf("token --dpop-key: exit %d: %s", code, errOut)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.TokenType != "DPoP" {
		t.Fatalf("token printed %s (%v); want token_type DPoP", out, err)
	}
	jkt, _ := dpop.Thumbprint(key.Public())

	// Without a proof: the claims, and a note that it is bound.
	out, errOut, code = runCLI(t, resp.AccessToken+"\n", "verify", "--issuer", iss)
	if code != 0 || !strings.Contains(out, jkt) || !strings.Contains(errOut, "DPoP-bound") {
		t.Fatalf("verify: exit %d, %s, %s; want the claims with cnf.jkt %s and a note", code, out, errOut, jkt)
	}
	const api = "https://api.example/claims"
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name  string
		proof func() (string, error)
		ok    bool
	}{
		{"proof for the request", func() (string, error) {
			return dpop.NewProof(key, "", http.MethodPost, api, resp.AccessToken, "", time.Now())
		}, true},
		{"proof for another URL", func() (string, error) {
			return dpop.NewProof(key, "", http.MethodPost, api+"/2", resp.AccessToken, "", time.Now())
		}, false},
		{"proof by another key", func() (string, error) {
			return dpop.NewProof(other, "", http.MethodPost, api, resp.AccessToken, "", time.Now())
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.proof()
			if err != nil {
				t.Fatal(err)
			}
			_, errOut, code := runCLI(t, resp.AccessToken+"\n", "verify", "--issuer", iss, "--dpop-proof", p, "--method", "POST", "--url", api)
			if (code == 0) != tc.ok {
				t.Errorf("verify --dpop-proof: exit %d (%s), want success %v", code, errOut, tc.ok)
			}
		})
	}
}
