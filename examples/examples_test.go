// Package examples_test runs the examples end to end, as a user would: it
// builds gooclaim-auth and both examples, starts `gooclaim-auth serve` on a
// fresh SQLite database, creates a client with the CLI, starts the protected
// API and runs the client against it.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestExamplesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	bin := t.TempDir()
	build(t, bin, "../cmd/gooclaim-auth", "./protected-api", "./api-client")
	auth := filepath.Join(bin, "gooclaim-auth")
	db := filepath.Join(t.TempDir(), "auth.db")

	// The token service, on a port of its choosing; its start log names the issuer.
	serveLog := start(t, auth, "serve", "--database", db, "--listen", "127.0.0.1:0", "--poll-interval", "100ms")
	issuer := waitForLog(t, serveLog, regexp.MustCompile(`"issuer":"(http://localhost:\d+)"`))

	id, secret := createClient(t, auth, db, "claims:read")

	// The protected API, on a port of its choosing.
	apiLog := start(t, filepath.Join(bin, "protected-api"), "--issuer", issuer, "--listen", "127.0.0.1:0")
	api := waitForLog(t, apiLog, regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`))

	// Without a token the API answers per RFC 6750 §3.
	resp, err := http.Get(api + "/claims")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("GET /claims without a token: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// The client kit example: it fetches a token and calls the API twice.
	// The client may take a poll interval to reach the server: retry briefly.
	out := runUntil(t, 5*time.Second, filepath.Join(bin, "api-client"), []string{"GOOCLAIM_CLIENT_ID=" + id, "GOOCLAIM_CLIENT_SECRET=" + secret},
		"--issuer", issuer, "--api", api)
	for _, want := range []string{"GET " + api + "/whoami", `"client_id":"` + id + `"`, `"scopes":["claims:read"]`, "GET " + api + "/claims", "CLM-1001"} {
		if !strings.Contains(out, want) {
			t.Errorf("api-client printed:\n%s\nwant it to contain %s", out, want)
		}
	}

	// A client without claims:read cannot get the token the example asks for.
	id2, secret2 := createClient(t, auth, db, "claims:write")
	time.Sleep(300 * time.Millisecond) // let the server's replica see it
	cmd := exec.Command(filepath.Join(bin, "api-client"), "--issuer", issuer, "--api", api)
	cmd.Env = append(cleanEnv(), "GOOCLAIM_CLIENT_ID="+id2, "GOOCLAIM_CLIENT_SECRET="+secret2)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "invalid_scope") {
		t.Errorf("api-client with a claims:write client: err %v, output %s; want a failure naming invalid_scope", err, b)
	}

	// The CLI helpers against the same service: token | verify.
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(secret), 0o600)
	tok, err := exec.Command(auth, "token", "--issuer", issuer, "--client-id", id, "--client-secret-file", secretFile).Output()
	if err != nil {
		t.Fatalf("gooclaim-auth token: %v", err)
	}
	verify := exec.Command(auth, "verify", "--issuer", issuer, "--scope", "claims:read")
	verify.Stdin = bytes.NewReader(tok)
	claimsOut, err := verify.Output()
	if err != nil {
		t.Fatalf("gooclaim-auth verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(claimsOut, &claims); err != nil || claims["client_id"] != id {
		t.Errorf("gooclaim-auth verify printed %s (%v), want the claims of %s", claimsOut, err, id)
	}
}

func build(t *testing.T, dir string, pkgs ...string) {
	t.Helper()
	for _, pkg := range pkgs {
		out := filepath.Join(dir, filepath.Base(pkg))
		if runtime.GOOS == "windows" {
			out += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
}

// cleanEnv is the test's environment without GOOCLAIM_* variables, which
// the commands would read as settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOOCLAIM_") && !strings.HasPrefix(kv, "API_") {
			env = append(env, kv)
		}
	}
	return env
}

// start runs a long-lived command until the test ends and returns its
// standard error, line by line.
func start(t *testing.T, name string, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cleanEnv()
	cmd.Dir = t.TempDir()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads any more
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("%s exited: %v", filepath.Base(name), err)
		}
	})
	return lines
}

// waitForLog waits for a log line matching re and returns its first group.
func waitForLog(t *testing.T, lines <-chan string, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the command exited before logging %s; it said:\n%s", re, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1]
			}
		case <-timeout:
			t.Fatalf("no log line matched %s within 20s; seen:\n%s", re, strings.Join(seen, "\n"))
		}
	}
}

func createClient(t *testing.T, auth, db, scope string) (id, secret string) {
	t.Helper()
	cmd := exec.Command(auth, "clients", "create", "--database", db, "--name", "example", "--scope", scope, "-o", "json")
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clients create: %v", err)
	}
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.ClientID == "" || v.ClientSecret == "" {
		t.Fatalf("clients create printed %s: %v", out, err)
	}
	return v.ClientID, v.ClientSecret
}

// runUntil runs a command until it succeeds or the time is up, and returns
// its standard output.
func runUntil(t *testing.T, within time.Duration, name string, env []string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		cmd := exec.Command(name, args...)
		cmd.Env = append(cleanEnv(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			return string(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v\n%s%s", filepath.Base(name), err, out, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
