package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenAndVerifyCommands fetches a token with `token` and checks it with
// `verify`, both speaking HTTP to a running server, as in docs/api.md.
func TestTokenAndVerifyCommands(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "cli-kit", "--scope", "claims:read claims:write")
	secretFile := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	iss := ts.srv.Issuer()

	out, errOut, code := runCLI(t, "", "token", "--issuer", iss, "--client-id", id, "--client-secret-file", secretFile, "--scope", "claims:read")
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, errOut)
	}
	token := strings.TrimSpace(out)
	if strings.Count(token, ".") != 2 || strings.ContainsAny(token, " \n{") {
		t.Fatalf("token printed %q, want the bare JWT", out)
	}

	// The token as an argument; the claims come back as JSON.
	out, errOut, code = runCLI(t, "", "verify", "--issuer", iss, "--scope", "claims:read", token)
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errOut)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(out), &claims); err != nil {
		t.Fatalf("verify printed %q: %v", out, err)
	}
	if claims["sub"] != id || claims["client_id"] != id || claims["iss"] != iss || claims["scope"] != "claims:read" {
		t.Errorf("verify printed claims %v; want sub and client_id %s, iss %s, scope claims:read", claims, id, iss)
	}

	// Piped, as `token | verify` in docs/api.md: standard input, secret too.
	out, errOut, code = runCLI(t, secret+"\n", "token", "--token-url", iss+"/v1/auth/token", "--client-id", id, "--client-secret-file", "-", "--auth-method", "client_secret_post", "-o", "json")
	if code != 0 {
		t.Fatalf("token -o json: exit %d: %s", code, errOut)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.TokenType != "Bearer" || resp.ExpiresIn <= 0 || resp.Scope != "claims:read claims:write" {
		t.Fatalf("token -o json printed %s (%v): want a Bearer token with expires_in and both scopes", out, err)
	}
	if _, errOut, code = runCLI(t, resp.AccessToken+"\n", "verify", "--issuer", iss); code != 0 {
		t.Fatalf("verify from standard input: exit %d: %s", code, errOut)
	}
}

func TestVerifyCommandRefuses(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "cli-kit", "--scope", "claims:read")
	iss := ts.srv.Issuer()
	out, errOut, code := runCLI(t, secret, "token", "--issuer", iss, "--client-id", id, "--client-secret-file", "-")
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, errOut)
	}
	token := strings.TrimSpace(out)
	parts := strings.Split(token, ".")

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing scope", []string{"--scope", "claims:write", token}, "insufficient_scope"},
		{"wrong audience", []string{"--audience", "https://other.example", token}, "invalid_token"},
		{"stripped signature", []string{parts[0] + "." + parts[1] + "."}, "invalid_token"},
		{"tampered payload", []string{parts[0] + "." + parts[1] + "x." + parts[2]}, "invalid_token"},
		{"not a JWT", []string{"hello"}, "invalid_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append([]string{"verify", "--issuer", iss}, c.args...)...)
			if code == 0 || out != "" {
				t.Fatalf("verify accepted it: exit %d, printed %q", code, out)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("verify said %q, want it to name %s", errOut, c.want)
			}
		})
	}

	// Another issuer's name: discovery finds the mismatch before any token is read.
	if _, errOut, code := runCLI(t, "", "verify", "--issuer", strings.Replace(iss, "localhost", "127.0.0.1", 1), token); code == 0 || !strings.Contains(errOut, "issuer") {
		t.Errorf("verify against a different issuer name: exit %d, %q; want a refusal naming the issuer", code, errOut)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	ts := startTestServer(t, nil)
	id, _ := ts.createClient("--name", "cli-kit")
	iss := ts.srv.Issuer()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"wrong secret", "gcs_wrong", []string{"--issuer", iss, "--client-id", id, "--client-secret-file", "-"}, "invalid_client"},
		{"no secret file", "", []string{"--issuer", iss, "--client-id", id}, "--client-secret-file is required"},
		{"empty secret", "", []string{"--issuer", iss, "--client-id", id, "--client-secret-file", empty}, "empty"},
		{"missing file", "", []string{"--issuer", iss, "--client-id", id, "--client-secret-file", empty + ".nope"}, "no such file"},
		{"no endpoint", "s", []string{"--client-id", id, "--client-secret-file", "-"}, "--issuer and --token-url"},
		{"unknown scope", "s", []string{"--issuer", iss, "--client-id", id, "--client-secret-file", "-", "--scope", "a\"b"}, "scope"},
		{"bad auth method", "s", []string{"--issuer", iss, "--client-id", id, "--client-secret-file", "-", "--auth-method", "none"}, "--auth-method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.stdin, append([]string{"token"}, c.args...)...)
			if code == 0 || out != "" {
				t.Fatalf("token succeeded: exit %d, printed %q", code, out)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("token said %q, want it to contain %q", errOut, c.want)
			}
		})
	}
}

// TestTokenCommandWithPrivateKey: `token --private-key-file` authenticates
// with private_key_jwt.
func TestTokenCommandWithPrivateKey(t *testing.T) {
	ts := startTestServer(t, nil)
	key := newSigningKey(t)
	dir := t.TempDir()
	jwksFile, keyFile := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "key.pem")
	der, err := x509.MarshalPKCS8PrivateKey(key.priv)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	// As in docs/api.md: the public JWK Set comes from the jwks command.
	jwks, errOut, code := runCLI(t, "", "jwks", "--key-file", keyFile, "--key-id", key.kid)
	if code != 0 || strings.Contains(jwks, `"d"`) {
		t.Fatalf("jwks: exit %d, %s%s", code, jwks, errOut)
	}
	os.WriteFile(jwksFile, []byte(jwks), 0o600)
	id, _ := ts.createClient("--name", "signer", "--scope", "claims:read", "--jwks-file", jwksFile)
	out, errOut, code := runCLI(t, "", "token", "--issuer", ts.srv.Issuer(), "--client-id", id, "--private-key-file", keyFile, "--key-id", key.kid)
	if code != 0 {
		t.Fatalf("token --private-key-file: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, out, "verify", "--issuer", ts.srv.Issuer()); code != 0 {
		t.Fatalf("verify the token: %s", errOut)
	}
	if _, errOut, code := runCLI(t, "", "token", "--issuer", ts.srv.Issuer(), "--client-id", id, "--private-key-file", jwksFile); code == 0 || !strings.Contains(errOut, "PEM") {
		t.Errorf("a JWK Set as the private key: exit %d, %q", code, errOut)
	}
}
