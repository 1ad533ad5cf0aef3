package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gooclaim/auth/signing"
)

// TestProductionRefusals: --env production refuses each unsafe setting,
// one message per rule naming the setting and the fix; each case breaks
// exactly one rule of an otherwise good configuration.
func TestProductionRefusals(t *testing.T) {
	dir := t.TempDir()
	kek := filepath.Join(dir, "kek")
	if _, err := signing.CreateKEKFile(kek); err != nil {
		t.Fatal(err)
	}
	cert, key := writeCert(t, dir, "server", 1)
	db := filepath.Join(dir, "auth.db")
	good := map[string]string{"env": "production", "database": db, "key-encryption-key-file": kek, "tls-cert": cert, "tls-key": key, "listen": "127.0.0.1:0"}
	args := func(change map[string]string) []string {
		a := []string{"serve"}
		for k, v := range good {
			if nv, ok := change[k]; ok {
				v = nv
			}
			if v != "" {
				a = append(a, "--"+k+"="+v)
			}
		}
		for k, v := range change {
			if _, ok := good[k]; !ok {
				a = append(a, "--"+k+"="+v)
			}
		}
		return a
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		vars   map[string]string
		want   string
	}{
		{"generated key-encryption key", map[string]string{"key-encryption-key-file": ""}, nil,
			"--env production refuses the key-encryption key generated beside the SQLite database: give an explicit one kept apart from the database with --key-encryption-key-file (make it with: openssl rand -base64 32 > kek; chmod 600 kek)"},
		{"http issuer", map[string]string{"issuer": "http://auth.example.com"}, nil,
			`--env production refuses the plain-HTTP issuer "http://auth.example.com": set --issuer to an https:// URL (http is allowed for localhost, 127.0.0.1 and [::1] only)`},
		{"http issuer on a private address", map[string]string{"issuer": "http://10.1.2.3:8080"}, nil,
			`refuses the plain-HTTP issuer "http://10.1.2.3:8080"`},
		{"plain HTTP", map[string]string{"tls-cert": "", "tls-key": ""}, nil,
			"--env production refuses plain HTTP (no TLS, no --behind-proxy): serve HTTPS with --tls-cert and --tls-key, or set --behind-proxy if a proxy or load balancer in front terminates TLS"},
		{"http jwks_uri", map[string]string{"allow-http-jwks-uri": "true"}, nil,
			"--env production refuses --allow-http-jwks-uri: client keys fetched over plain HTTP can be replaced by anyone on the path"},
		{"private addresses", map[string]string{"allow-private-addresses": "true"}, nil,
			"--env production refuses --allow-private-addresses: it lets whoever registers a client make the server send requests into its own network (loopback, private and link-local addresses, cloud metadata services); remove it and have clients publish their keys on public addresses"},
		{"client CAs with no way for a certificate to arrive", map[string]string{"tls-cert": "", "tls-key": "", "behind-proxy": "true", "tls-client-ca": cert}, nil,
			"--env production refuses --tls-client-ca with no way for a client certificate to arrive (no TLS on the listener, no --client-cert-header)"},
		{"production from the environment", map[string]string{"env": "", "allow-http-jwks-uri": "true"}, map[string]string{"GOOCLAIM_ENV": "production"},
			"GOOCLAIM_ENV production refuses --allow-http-jwks-uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runEnv(t, tc.vars, args(tc.change)...)
			if code == 0 {
				t.Fatal("started")
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q\nwant %q", errOut, tc.want)
			}
			if n := strings.Count(errOut, "production refuses"); n != 1 {
				t.Fatalf("%d refusals, want 1:\n%s", n, errOut)
			}
		})
	}

	// Every rule broken at once: every refusal listed, and the file's line named.
	cfg := writeConfig(t, dir, "prod.yaml", "env: production\nissuer: http://auth.example.com\nallow-http-jwks-uri: true\nallow-private-addresses: true\n")
	_, errOut, _ := runEnv(t, nil, "serve", "--config", cfg, "--database", db)
	if n := strings.Count(errOut, cfg+":1: env production refuses"); n != 5 {
		t.Fatalf("%d refusals, want 5:\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "set "+cfg+":2: issuer to an https:// URL") || !strings.Contains(errOut, "refuses "+cfg+":3: allow-http-jwks-uri") ||
		!strings.Contains(errOut, "refuses "+cfg+":4: allow-private-addresses") {
		t.Fatalf("the file's settings are not named:\n%s", errOut)
	}

	// Configurations production accepts (checked by config print, which
	// validates as serve does).
	for _, change := range []map[string]string{
		{},
		{"issuer": "https://auth.example.com"},
		{"tls-cert": "", "tls-key": "", "behind-proxy": "true", "issuer": "https://auth.example.com"},
		{"tls-cert": "", "tls-key": "", "behind-proxy": "true", "issuer": "http://localhost:8080"},
		{"issuer": "http://127.0.0.1:8080"},
		{"issuer": "http://[::1]:8080"},
	} {
		a := args(change)
		a[0] = "config"
		a = append([]string{a[0], "print"}, a[1:]...)
		if _, errOut, code := runEnv(t, nil, a...); code != 0 {
			t.Errorf("%v refused: %s", change, errOut)
		}
	}
}

// TestProductionStarts: a real server in production, with an explicit key,
// TLS and an https issuer; no development warning.
func TestProductionStarts(t *testing.T) {
	dir := t.TempDir()
	kek := filepath.Join(dir, "kek")
	if _, err := signing.CreateKEKFile(kek); err != nil {
		t.Fatal(err)
	}
	cert, key := writeCert(t, dir, "server", 1)
	g := &globalFlags{database: filepath.Join(dir, "auth.db"), kekFile: kek}
	ts := startTestNode(t, g, nil, func(c *serveConfig) {
		c.env = production
		c.tlsCert, c.tlsKey = cert, key
	})
	if !strings.Contains(ts.logs.String(), `"env":"production"`) || strings.Contains(ts.logs.String(), "development environment") {
		t.Fatalf("logs:\n%s", ts.logs)
	}
	if strings.Contains(ts.logs.String(), "generated a key-encryption key") {
		t.Fatal("a key-encryption key was generated in production")
	}
}

// TestDevelopmentSaysWhatProductionRefuses: the quick start (no flags)
// runs, and one line lists what production would refuse.
func TestDevelopmentSaysWhatProductionRefuses(t *testing.T) {
	ts := startTestServer(t, nil)
	var lines []string
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		if strings.Contains(l, "refused_in_production") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) ||
		!strings.Contains(lines[0], "key-encryption key generated beside the SQLite database") ||
		!strings.Contains(lines[0], "plain HTTP (no TLS, no --behind-proxy)") {
		t.Fatalf("want one warning listing the generated key and plain HTTP; got %q", lines)
	}
}
