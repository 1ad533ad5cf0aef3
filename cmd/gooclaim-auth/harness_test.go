package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/server"
)

// testServer is a real `serve` on a loopback port with a temporary SQLite
// database, plus helpers to run the CLI against the same database.
type testServer struct {
	t      *testing.T
	srv    *server.Server
	cfg    *serveConfig // its settings
	url    string
	dir    string
	g      *globalFlags
	logs   *syncBuffer
	logger *slog.Logger // the server's
	client *http.Client // http.DefaultClient unless set
	cancel context.CancelFunc
	waited chan error
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTestServer starts a server on a fresh SQLite database; configure may
// change its settings, clock may be nil.
func startTestServer(t *testing.T, clock auth.Clock, configure ...func(*serveConfig)) *testServer {
	t.Helper()
	return startTestNode(t, &globalFlags{database: filepath.Join(t.TempDir(), "auth.db")}, clock, configure...)
}

// startTestNode starts a server with the given database settings (several
// nodes may share them).
func startTestNode(t *testing.T, g *globalFlags, clock auth.Clock, configure ...func(*serveConfig)) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir(), g: g, logs: &syncBuffer{}, waited: make(chan error, 1)}
	c := defaultServeConfig()
	c.listen = "127.0.0.1:0"
	c.opsListen = "127.0.0.1:0"
	c.pollInterval = durationValue(100 * time.Millisecond)
	for _, f := range configure {
		f(c)
	}
	if err := c.validate(g); err != nil {
		t.Fatal(err)
	}
	ts.logger = slog.New(slog.NewJSONHandler(ts.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := startServer(ctx, c, g, ts.logger, clock)
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	ts.srv, ts.cfg, ts.cancel = srv, c, cancel
	ts.url = c.scheme() + "://" + srv.Addr()
	registerServerLog(t, ts)
	// As serve does: cancel is SIGTERM.
	go func() { ts.waited <- serveUntil(ctx, srv) }()
	t.Cleanup(ts.stop)
	return ts
}

// kill stops the node abruptly, as SIGKILL would: connections are cut,
// nothing is drained.
func (ts *testServer) kill() {
	ts.srv.Close()
}

func (ts *testServer) stop() {
	ts.cancel()
	select {
	case err := <-ts.waited:
		if err != nil {
			ts.t.Errorf("server stopped with: %v", err)
		}
	case <-time.After(10 * time.Second):
		ts.t.Error("server did not stop within 10s")
	}
}

// cli runs gooclaim-auth with args against the server's database.
func (ts *testServer) cli(stdin string, args ...string) (stdout, stderr string, code int) {
	args = append(args, "--database", ts.g.database)
	if ts.g.postgresSchema != "" {
		args = append(args, "--postgres-schema", ts.g.postgresSchema)
	}
	if ts.g.kekFile != "" {
		args = append(args, "--key-encryption-key-file", ts.g.kekFile)
	}
	return runCLI(ts.t, stdin, args...)
}

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(string) string { return "" })
	recordCLI(t, stdin, args, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// createClient creates a client through the CLI and returns its credentials.
func (ts *testServer) createClient(args ...string) (id, secret string) {
	ts.t.Helper()
	out, errOut, code := ts.cli("", append([]string{"clients", "create", "-o", "json"}, args...)...)
	if code != 0 {
		ts.t.Fatalf("clients create %v: exit %d: %s", args, code, errOut)
	}
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		ts.t.Fatalf("clients create -o json printed %q: %v", out, err)
	}
	runRegistry.addSecret(ts.t, "the secret of client "+v.ClientID, v.ClientSecret)
	ts.waitForClient(v.ClientID, true)
	return v.ClientID, v.ClientSecret
}

// waitForClient waits until the server's replica has (or no longer has) the client.
func (ts *testServer) waitForClient(id string, present bool) {
	ts.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for (ts.srv.Replica().Lookup(id) != nil) != present {
		if time.Now().After(deadline) {
			ts.t.Fatalf("the server did not see client %s (present=%v) within %v", id, present, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// response is an HTTP answer with its body read.
type response struct {
	*http.Response
	body []byte
}

// errorBody decodes the seed's Error shape, failing the test if the body is not exactly that.
func (r response) errorBody(t *testing.T) (code, description string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json; body %s", ct, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	code, _ = m["error"].(string)
	description, _ = m["error_description"].(string)
	if len(m) != 2 || code == "" || description == "" {
		t.Fatalf("error body %s: want exactly {error, error_description}, both non-empty strings", r.body)
	}
	return code, description
}

func (r response) token(t *testing.T) auth.Token {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.StatusCode, r.body)
	}
	var tok auth.Token
	if err := json.Unmarshal(r.body, &tok); err != nil {
		t.Fatalf("token body %q: %v", r.body, err)
	}
	return tok
}

// do sends a request to the server. headers are name, value pairs.
func (ts *testServer) do(method, path, contentType, body string, headers ...string) response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	client := ts.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	registerFound(ts.t, "the answer to "+method+" "+path, string(b))
	return response{resp, b}
}

// form posts a form-encoded token request.
func (ts *testServer) form(body string, headers ...string) response {
	ts.t.Helper()
	return ts.do("POST", "/v1/auth/token", "application/x-www-form-urlencoded", body, headers...)
}

// jsonReq posts a JSON token request.
func (ts *testServer) jsonReq(body string, headers ...string) response {
	ts.t.Helper()
	return ts.do("POST", "/v1/auth/token", "application/json", body, headers...)
}

// waitLimit bounds waits for a change to reach a server. The servers poll
// every 100ms, so a change normally lands within a few hundred; the slack is
// for a CI machine loaded far beyond its two CPUs. A change that never lands
// still fails.
const waitLimit = 10 * time.Second

// waitUntil polls cond until it holds, for up to waitLimit.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
