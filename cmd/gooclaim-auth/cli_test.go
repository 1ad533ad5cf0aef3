package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestCLIRoundTrip: create → token → update → disable → 401 → enable →
// delete → 401, each change seen by the running server within 2 s.
func TestCLIRoundTrip(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "importer", "--scope", "claims:read")
	if !strings.HasPrefix(id, "gooclaim_app_") || !strings.HasPrefix(secret, "gcs_") {
		t.Fatalf("generated credentials %q %q", id, secret)
	}
	req := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	ts.form(req).token(t)

	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := ts.cli("", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	cli("clients", "update", id, "--scope", "claims:read claims:write", "--token-ttl", "5m")
	waitUntil(t, func() bool { return ts.srv.Replica().Lookup(id).TokenTTL == 5*time.Minute })
	if tok := ts.form(req).token(t); tok.Scope != "claims:read claims:write" || tok.ExpiresIn != 300 {
		t.Fatalf("after update: %+v", tok)
	}

	cli("clients", "disable", id)
	waitUntil(t, func() bool { return ts.form(req).StatusCode == http.StatusUnauthorized })
	cli("clients", "enable", id)
	waitUntil(t, func() bool { return ts.form(req).StatusCode == http.StatusOK })
	cli("clients", "delete", id)
	waitUntil(t, func() bool { return ts.form(req).StatusCode == http.StatusUnauthorized })
	if _, errOut, code := ts.cli("", "clients", "show", id); code == 0 || !strings.Contains(errOut, "not found") || !strings.Contains(errOut, "clients list") {
		t.Fatalf("show deleted: exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(ts.logs.String(), secret) {
		t.Fatal("a secret was logged")
	}
}

func TestCLIListAndShow(t *testing.T) {
	ts := startTestServer(t, nil)
	a, secretA := ts.createClient("--name", "alpha", "--scope", "x y", "--audience", "https://a.example", "--token-ttl", "15m", "--rate-limit", "10/1m")
	b, _ := ts.createClient("--name", "beta", "--scope", "x")

	out, _, _ := ts.cli("", "clients", "list")
	if !strings.Contains(out, "CLIENT ID") || !strings.Contains(out, a) || !strings.Contains(out, b) || !strings.Contains(out, "alpha") {
		t.Fatalf("table:\n%s", out)
	}
	out, _, _ = ts.cli("", "clients", "list", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("list json %q: %v", out, err)
	}
	out, _, _ = ts.cli("", "clients", "show", a, "--output", "json")
	var c map[string]any
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c["client_id"] != a || c["token_ttl"] != "15m" || c["rate_limit"] != "10/1m" || c["name"] != "alpha" {
		t.Fatalf("show json %v", c)
	}
	out, _, _ = ts.cli("", "clients", "show", a)
	for _, want := range []string{"Client ID:", a, "Scopes:", "x y", "https://a.example", "15m", "Secret:", "generated (sha256)"} {
		if !strings.Contains(out, want) {
			t.Errorf("show table lacks %q:\n%s", want, out)
		}
	}
	// Neither output ever shows a secret or its hash.
	all, _, _ := ts.cli("", "clients", "list", "-o", "json")
	if strings.Contains(out+all, secretA) || strings.Contains(out+all, "sha256:") {
		t.Fatal("a secret or hash was shown")
	}
	out, _, _ = ts.cli("", "keys", "list")
	if !strings.Contains(out, "active") || !strings.Contains(out, "ES256") {
		t.Fatalf("keys list:\n%s", out)
	}
}

func TestCLIErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "auth.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "create", "--scope", "x"}, "name: required"},
		{[]string{"clients", "create", "--name", "x", "--scope", `bad"scope`, "--token-ttl", "48h"}, "token TTL"},
		{[]string{"clients", "create", "--name", "x", "--token-ttl", "soon"}, "invalid duration"},
		{[]string{"clients", "create", "--name", "x", "--secret-stdin"}, "standard input is empty"},
		{[]string{"clients", "show"}, "exactly one CLIENT_ID"},
		{[]string{"clients", "show", "nobody"}, `client "nobody" not found`},
		{[]string{"clients", "disable", "nobody"}, "clients list"},
		{[]string{"clients", "update", "nobody"}, "nothing to change"},
		{[]string{"clients", "list", "-o", "yaml"}, "use table or json"},
		{[]string{"serve", "--issuer", "ftp://x", "--signing-alg", "HS256", "--token-ttl", "1s"}, "--signing-alg"},
		{[]string{"nosuchcommand"}, "unknown command"},
	} {
		_, errOut, code := runCLI(t, "", append(tc.args, "--database", db)...)
		if code == 0 || !strings.Contains(errOut, tc.want) || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("%v: exit %d, stderr %q, want it to contain %q", tc.args, code, errOut, tc.want)
		}
	}
	// serve lists every bad setting at once.
	_, errOut, _ := runCLI(t, "", "serve", "--database", db, "--issuer", "ftp://x", "--signing-alg", "HS256", "--token-ttl", "1s")
	for _, want := range []string{"--issuer", "--signing-alg", "--token-ttl"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("serve validation does not mention %s: %s", want, errOut)
		}
	}
}

// TestEveryCommandHasHelp walks the command tree.
func TestEveryCommandHasHelp(t *testing.T) {
	var walk func(c *cobra.Command, path []string)
	n := 0
	walk = func(c *cobra.Command, path []string) {
		out, errOut, code := runCLI(t, "", append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("%v --help: exit %d, %q", path, code, errOut)
		}
		n++
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(newRootCmd(&env{getenv: os.Getenv}), nil)
	if n < 15 {
		t.Fatalf("only %d commands", n)
	}
	out, _, _ := runCLI(t, "", "version")
	if !strings.HasPrefix(out, "gooclaim-auth ") {
		t.Fatalf("version: %q", out)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "env.db")
	getenv := func(k string) string {
		return map[string]string{"GOOCLAIM_DATABASE": db, "GOOCLAIM_OUTPUT": "json",
			// serve's settings, which must not become this client's own
			"GOOCLAIM_RATE_LIMIT": "5/1s", "GOOCLAIM_TOKEN_TTL": "10m", "GOOCLAIM_AUDIENCE": "https://elsewhere.example"}[k]
	}
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"clients", "create", "--name", "from-env", "--scope", "a"}, strings.NewReader(""), &out, &errb, getenv); code != 0 {
		t.Fatal(errb.String())
	}
	if !strings.HasPrefix(strings.TrimSpace(out.String()), "{") {
		t.Fatalf("GOOCLAIM_OUTPUT=json ignored: %s", out.String())
	}
	if s := out.String(); strings.Contains(s, "5/1s") || strings.Contains(s, `"10m"`) || strings.Contains(s, "elsewhere") {
		t.Fatalf("serve's environment became the client's settings: %s", s)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("GOOCLAIM_DATABASE ignored: %v", err)
	}
	// The command line wins over the environment.
	out.Reset()
	run(context.Background(), []string{"clients", "list", "-o", "table"}, strings.NewReader(""), &out, &errb, getenv)
	if !strings.Contains(out.String(), "from-env") || strings.HasPrefix(out.String(), "[") {
		t.Fatalf("list: %s", out.String())
	}
	// A bad value names the variable.
	errb.Reset()
	bad := func(k string) string { return map[string]string{"GOOCLAIM_TOKEN_TTL": "forever"}[k] }
	if code := run(context.Background(), []string{"serve", "--database", db}, strings.NewReader(""), io.Discard, &errb, bad); code == 0 || !strings.Contains(errb.String(), "GOOCLAIM_TOKEN_TTL") {
		t.Fatalf("bad env: %q", errb.String())
	}
}

// TestKeyRotationFromCLI: a rotation done by the CLI against the database
// reaches the running server without a restart: published at once, signing
// after the publish-ahead delay (here 0, an emergency rotation).
func TestKeyRotationFromCLI(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	req := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	oldKid := headerOf(t, ts.form(req).token(t).AccessToken)["kid"]

	out, errOut, code := ts.cli("", "keys", "rotate", "-o", "json")
	if code != 0 {
		t.Fatal(errOut)
	}
	var k map[string]any
	json.Unmarshal([]byte(out), &k)
	waitUntil(t, func() bool { jwks := fetchJWKS(t, ts); return len(jwks.Key(k["kid"].(string))) == 1 })
	if kid := headerOf(t, ts.form(req).token(t).AccessToken)["kid"]; kid != oldKid {
		t.Fatalf("signed with %v before the publish-ahead delay passed", kid)
	}
	_, errOut, code = ts.cli("", "keys", "rotate", "--key-publish-ahead", "0", "-o", "json")
	if code != 0 {
		t.Fatal(errOut)
	}
	waitUntil(t, func() bool {
		kid := headerOf(t, ts.form(req).token(t).AccessToken)["kid"]
		return kid != oldKid && kid != k["kid"]
	})
	if jwks := fetchJWKS(t, ts); len(jwks.Keys) != 3 {
		t.Fatalf("JWKS has %d keys, want 3 (retired, skipped, active)", len(jwks.Keys))
	}
}

// TestGracefulShutdown: a request in flight when the server is told to stop
// still gets its answer; readiness fails once shutdown starts.
func TestGracefulShutdown(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret

	conn, err := net.Dial("tcp", ts.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond) // the server is now reading the body

	ts.cancel()
	waitUntil(t, func() bool { return !ts.srv.Health().Ready })
	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("in-flight request: %d", resp.StatusCode)
	}
	if _, err := net.DialTimeout("tcp", ts.srv.Addr(), time.Second); err == nil {
		// The listener closes as soon as Shutdown starts.
		t.Log("note: listener still accepting")
	}
}

// TestPanicIsRecovered is in httpapi; here: a server with an unusable
// database refuses to start with a sentence that says what to do.
func TestServeRefusesUnusableDatabase(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runCLI(t, "", "serve", "--database", filepath.Join(dir, "missing", "dir", "auth.db"), "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "--database") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
