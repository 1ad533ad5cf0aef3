package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// opsReadyz reads the ops listener's /readyz: its status and its detail,
// with the detail's leaves flattened to text ("store.backend" → "sqlite").
func (ts *testServer) opsReadyz() (status int, detail map[string]string) {
	ts.t.Helper()
	resp, err := http.Get("http://" + ts.srv.OpsAddr() + "/readyz")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	var body struct {
		Detail map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		ts.t.Fatalf("ops /readyz %q: %v", b, err)
	}
	detail = map[string]string{}
	var flatten func(prefix string, v any)
	flatten = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, v := range m {
				flatten(prefix+k+".", v)
			}
			return
		}
		detail[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(v)
	}
	flatten("", body.Detail)
	return resp.StatusCode, detail
}

// wantStatusOnly checks a public /readyz answer: the status code, a body
// that is exactly {"status": want}, never cached, and none of the ops
// detail's values in it (a key ID, the store's backend, its last error…).
func wantStatusOnly(t *testing.T, what string, r response, code int, want string, detail map[string]string, leaks ...string) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s: public /readyz %d %s, want %d", what, r.StatusCode, r.body, code)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s: public /readyz %q is not JSON: %v", what, r.body, err)
	}
	if len(m) != 1 || m["status"] != want {
		t.Errorf("%s: public /readyz answers %s; want exactly {\"status\":%q}: the detail belongs on the ops listener", what, r.body, want)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: public /readyz Cache-Control %q, want no-store", what, cc)
	}
	var shown []string
	for _, key := range leaks {
		v := detail[key]
		if v == "" {
			t.Fatalf("%s: the ops /readyz detail has no %s (detail %v): the test proves nothing", what, key, detail)
		}
		if strings.Contains(string(r.body), v) {
			shown = append(shown, fmt.Sprintf("%s %q", key, v))
		}
	}
	if len(shown) > 0 {
		t.Errorf("%s: public /readyz shows the ops detail's %s", what, strings.Join(shown, ", "))
	}
}

// TestPublicReadyzStatusOnly: the public /readyz tells whether the node is
// ready and nothing else — no key ID, client count, store backend or
// rate-limiter state and error (here Redis unreachable at 127.0.0.1:1),
// whether ready or shutting down — while the ops listener's /readyz keeps
// the whole detail.
func TestPublicReadyzStatusOnly(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) {
		c.redisURL = "redis://127.0.0.1:1/0" // unreachable: the limiter falls back and keeps the error
		c.shutdownDelay = durationValue(3 * time.Second)
	})
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	ts.tokenFor(id, secret) // reaches for Redis, fails, falls back

	status, detail := ts.opsReadyz()
	if status != 200 || detail["store.backend"] != "sqlite" || detail["store.clients"] != "1" ||
		detail["rate_limiter.backend"] != "fallback" || !strings.Contains(detail["rate_limiter.last_error"], "127.0.0.1:1") {
		t.Fatalf("ops /readyz: %d %v; want 200 with the whole detail", status, detail)
	}
	leaks := []string{"keys.active_kid", "keys.alg", "store.backend", "store.last_sync", "rate_limiter.backend", "rate_limiter.last_error"}
	wantStatusOnly(t, "ready", ts.do("GET", "/readyz", "", ""), 200, "ready", detail, leaks...)

	// Shutting down: not ready, and still nothing but the status.
	go ts.srv.Shutdown(context.Background())
	waitUntil(t, func() bool { s, _ := ts.opsReadyz(); return s == 503 })
	status, detail = ts.opsReadyz()
	if detail["reason"] != "shutting down" || detail["keys.active_kid"] == "" {
		t.Fatalf("ops /readyz while shutting down: %d %v; want the reason and the detail", status, detail)
	}
	wantStatusOnly(t, "shutting down", ts.do("GET", "/readyz", "", ""), 503, "unavailable", detail, append(leaks, "reason")...)
}

// TestPublicReadyzStatusOnlyStoreDown: with its PostgreSQL server stopped,
// a node's ops /readyz names the server in the store's last error, and
// past --max-staleness says why it is not ready; the public /readyz says
// "ready", then "unavailable", and neither the host nor the reason.
func TestPublicReadyzStatusOnlyStoreDown(t *testing.T) {
	t.Parallel()
	ts, pg := startPrivatePostgresNode(t, func(c *serveConfig) { c.maxStaleness = durationValue(time.Second) })
	host := fmt.Sprintf("127.0.0.1:%d", pg.Port)
	pg.Stop()

	waitUntil(t, func() bool { _, d := ts.opsReadyz(); return d["store.state"] == "unreachable" })
	status, detail := ts.opsReadyz()
	if status == 200 {
		if !strings.Contains(detail["store.last_error"], host) {
			t.Fatalf("ops /readyz with PostgreSQL down: %v; want the last error naming %s", detail, host)
		}
		// Below --max-staleness the node is still ready. (On a slow
		// machine the bound may already have passed: the 503 below covers it.)
		wantStatusOnly(t, "store unreachable", ts.do("GET", "/readyz", "", ""), 200, "ready", detail,
			"store.backend", "store.last_error", "keys.active_kid")
	}

	waitUntil(t, func() bool { s, _ := ts.opsReadyz(); return s == 503 })
	status, detail = ts.opsReadyz()
	if !strings.Contains(detail["reason"], "max-staleness") || !strings.Contains(detail["store.last_error"], host) {
		t.Fatalf("ops /readyz past --max-staleness: %d %v; want the reason and the last error naming %s", status, detail, host)
	}
	r := ts.do("GET", "/readyz", "", "")
	wantStatusOnly(t, "past --max-staleness", r, 503, "unavailable", detail,
		"reason", "store.backend", "store.last_error", "keys.active_kid")
	if strings.Contains(string(r.body), host) || strings.Contains(string(r.body), "PostgreSQL") {
		t.Errorf("public /readyz names the database: %s", r.body)
	}
}
