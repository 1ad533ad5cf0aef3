package main

// Fault injection with the real components (issue 7, point 3): a private
// PostgreSQL and a private Redis (internal/testservices) are stopped in the
// middle of a load and started again, so the shared servers other tests use
// are never disturbed. The defined behaviour is in docs/operations.md, "What happens
// when something fails".

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/internal/testservices"
	"github.com/gooclaim/auth/signing"
)

// loadRun sends token requests for one client from a few goroutines until
// stopped, counting answers.
type loadRun struct {
	stop     context.CancelFunc
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	failures []string // the first few
}

func startLoad(ts *testServer, body string, workers int) *loadRun {
	return startLoadOn(ts.url, body, workers)
}

// startLoadOn is startLoad against the server at base.
func startLoadOn(base, body string, workers int) *loadRun {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadRun{stop: cancel}
	for range workers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequest("POST", base+"/v1/auth/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					l.failed(err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					l.ok.Add(1)
				} else {
					l.failed(fmt.Sprintf("%d %s", resp.StatusCode, b))
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *loadRun) failed(what string) {
	l.fail.Add(1)
	l.mu.Lock()
	if len(l.failures) < 5 {
		l.failures = append(l.failures, what)
	}
	l.mu.Unlock()
}

// end stops the load and returns how many requests succeeded and failed.
func (l *loadRun) end() (ok, fail int64, failures []string) {
	l.stop()
	l.wg.Wait()
	return l.ok.Load(), l.fail.Load(), l.failures
}

// readyDetail fetches /readyz from the ops listener.
func (ts *testServer) readyDetail() (status int, d struct {
	Reason string         `json:"reason"`
	Store  map[string]any `json:"store"`
	Rate   map[string]any `json:"rate_limiter"`
}) {
	ts.t.Helper()
	resp, err := http.Get("http://" + ts.srv.OpsAddr() + "/readyz")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		ts.t.Fatal(err)
	}
	json.Unmarshal(body.Detail, &d)
	return resp.StatusCode, d
}

// wantUnavailable checks a 503 temporarily_unavailable in the Error shape.
func wantUnavailable(t *testing.T, what string, r response) {
	t.Helper()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s: status %d, want 503; body %s", what, r.StatusCode, r.body)
	}
	if code, _ := r.errorBody(t); code != auth.ErrTemporarilyUnavailable.Code {
		t.Fatalf("%s: error %q, want temporarily_unavailable", what, code)
	}
}

// startPrivatePostgresNode starts a node on a private PostgreSQL server.
func startPrivatePostgresNode(t *testing.T, configure ...func(*serveConfig)) (*testServer, *testservices.Postgres) {
	t.Helper()
	pg := testservices.StartPostgres(t)
	kek := filepath.Join(t.TempDir(), "kek")
	if _, err := signing.CreateKEKFile(kek); err != nil {
		t.Fatal(err)
	}
	g := &globalFlags{database: pg.URL(), postgresSchema: "gooclaim", kekFile: kek}
	cfg := append([]func(*serveConfig){func(c *serveConfig) {
		c.rateLimit = rateValue{Limit: 1_000_000, Window: time.Minute}
		c.keyCheckInterval = durationValue(200 * time.Millisecond)
	}}, configure...)
	return startTestNode(t, g, nil, cfg...), pg
}

// TestFaultPostgresDown: PostgreSQL stopped (pg_ctl stop -m fast) in the
// middle of a load, then started again on the same port. Known clients keep
// getting tokens from the replica (no failure at all); writes, introspection
// and revocation get 503 temporarily_unavailable in the Error shape and the
// CLI exits non-zero with a message; /readyz shows the store unreachable
// but the node ready; after the restart everything works again without
// restarting the node, and nothing committed before the outage is lost.
func TestFaultPostgresDown(t *testing.T) {
	t.Parallel()
	ts, pg := startPrivatePostgresNode(t)
	adminID, adminSecret := ts.createClient("--name", "ops", "--scope", auth.ScopeAdmin+" "+auth.ScopeIntrospect, "--audience", auth.AdminAudience)
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read")
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	adminTok := ts.tokenFor(adminID, adminSecret)
	svcTok := ts.tokenFor(id, secret)

	load := startLoad(ts, body, 4)
	time.Sleep(200 * time.Millisecond)
	pg.Stop()
	downAt := time.Now()

	// Writes and the operations that need the database fail cleanly, and fast.
	start := time.Now()
	wantUnavailable(t, "admin create while PostgreSQL is down",
		ts.do("POST", "/v1/admin/clients", "application/json", `{"name":"during","scopes":["x"]}`, "Authorization", "Bearer "+adminTok))
	wantUnavailable(t, "introspection while PostgreSQL is down", ts.operation("/v1/auth/introspect", adminID, adminSecret, svcTok))
	wantUnavailable(t, "revocation while PostgreSQL is down", ts.operation("/v1/auth/revoke", id, secret, svcTok))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("three refusals took %v: they must not hang", d)
	}
	// Below the admin API's guard (which cannot check revocation and
	// answers first), the write itself fails as unavailable: 503 too.
	if _, _, err := (&admin.Service{Store: ts.srv.Replica()}).CreateClient(context.Background(), admin.ClientSpec{Name: "during", Scopes: []string{"x"}}); auth.ErrorCode(err) != auth.EUNAVAILABLE {
		t.Fatalf("a write while PostgreSQL is down: %v (code %q), want %s", err, auth.ErrorCode(err), auth.EUNAVAILABLE)
	}
	_, errOut, code := ts.cli("", "clients", "create", "--name", "cli-during", "--scope", "x")
	if code == 0 || !strings.Contains(errOut, "PostgreSQL") {
		t.Fatalf("clients create while PostgreSQL is down: exit %d, stderr %q; want non-zero and a message naming PostgreSQL", code, errOut)
	}

	// /readyz: still ready (below --max-staleness), the store unreachable.
	waitUntil(t, func() bool { _, d := ts.readyDetail(); return d.Store["state"] == "unreachable" })
	if status, d := ts.readyDetail(); status != 200 || d.Store["last_error"] == nil {
		t.Fatalf("/readyz during the outage: %d %v", status, d)
	}

	time.Sleep(300 * time.Millisecond)
	pg.Start()
	t.Logf("PostgreSQL was down for %v", time.Since(downAt).Round(time.Millisecond))
	// The replica resumes by itself.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, d := ts.readyDetail(); d.Store["state"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not resume within 10s of PostgreSQL's restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ok, fail, failures := load.end()
	if fail != 0 || ok == 0 {
		t.Fatalf("token requests for a known client during the outage: %d ok, %d failed (%q); want no failure", ok, fail, failures)
	}
	t.Logf("%d tokens issued across the outage, none refused", ok)

	// Writes work again, and a client created now reaches the node and gets tokens.
	r := ts.do("POST", "/v1/admin/clients", "application/json", `{"name":"after","scopes":["x"]}`, "Authorization", "Bearer "+adminTok)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("admin create after recovery: %d %s", r.StatusCode, r.body)
	}
	newID, newSecret := ts.createClient("--name", "cli-after", "--scope", "x")
	ts.tokenFor(newID, newSecret)
	if r := ts.operation("/v1/auth/introspect", adminID, adminSecret, svcTok); r.StatusCode != 200 {
		t.Fatalf("introspection after recovery: %d %s", r.StatusCode, r.body)
	}
	// Nothing committed is lost, nothing refused was half-written.
	out, _, code := ts.cli("", "clients", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("clients list: exit %d", code)
	}
	for _, name := range []string{"ops", "svc", "after", "cli-after"} {
		if !strings.Contains(out, `"`+name+`"`) {
			t.Errorf("client %q missing after the outage", name)
		}
	}
	for _, name := range []string{"during", "cli-during"} {
		if strings.Contains(out, `"`+name+`"`) {
			t.Errorf("client %q, refused during the outage, exists", name)
		}
	}
}

// TestFaultPostgresDownPastMaxStaleness: past --max-staleness a node whose
// replica cannot sync fails closed — tokens, introspection and revocation
// get 503 in the Error shape and /readyz fails — and it recovers by itself
// when PostgreSQL returns.
func TestFaultPostgresDownPastMaxStaleness(t *testing.T) {
	t.Parallel()
	ts, pg := startPrivatePostgresNode(t, func(c *serveConfig) { c.maxStaleness = durationValue(time.Second) })
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read")
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	ts.form(body).token(t)

	stopping := time.Now()
	pg.Stop()
	ts.form(body).token(t) // within the bound: served from memory
	waitUntil(t, func() bool { return ts.form(body).StatusCode != 200 })
	// The bound counts from the last successful sync, at most one poll
	// interval (100ms here) before the stop.
	if d := time.Since(stopping); d < 850*time.Millisecond {
		t.Fatalf("tokens refused %v after PostgreSQL stopped, before --max-staleness 1s", d)
	}
	r := ts.form(body)
	wantUnavailable(t, "token past --max-staleness", r)
	_, desc := r.errorBody(t)
	if !strings.Contains(desc, "max-staleness") {
		t.Errorf("description %q does not say why", desc)
	}
	if status, d := ts.readyDetail(); status != 503 || !strings.Contains(d.Reason, "max-staleness") {
		t.Fatalf("/readyz past the bound: %d %+v", status, d)
	}

	pg.Start()
	deadline := time.Now().Add(10 * time.Second)
	for ts.form(body).StatusCode != 200 {
		if time.Now().After(deadline) {
			t.Fatal("tokens not served again within 10s of PostgreSQL's restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _ := ts.readyDetail(); status != 200 {
		t.Fatalf("/readyz after recovery: %d", status)
	}
}

// TestFaultRedisDown: Redis killed in the middle of a load and started
// again. With --rate-limit-fail open tokens keep flowing on the node's own
// limiter (no failure), /readyz and the metrics say "fallback", and Redis is
// used again by itself; with closed, token requests get 503 in the Error
// shape until Redis returns.
func TestFaultRedisDown(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"open", "closed"} {
		t.Run(mode, func(t *testing.T) {
			rd := testservices.StartRedis(t)
			ts := startTestServer(t, nil, func(c *serveConfig) {
				c.redisURL, c.rateLimitFail = rd.URL(), mode
				c.rateLimit = rateValue{Limit: 1_000_000, Window: time.Minute}
			})
			id, secret := ts.createClient("--name", "svc", "--scope", "claims:read")
			body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
			ts.form(body).token(t)
			if b := ts.srv.Health().RateLimiter.Backend; b != "redis" {
				t.Fatalf("limiter backend %q before the fault", b)
			}

			if mode == "open" {
				load := startLoad(ts, body, 4)
				time.Sleep(200 * time.Millisecond)
				rd.Stop()
				waitUntil(t, func() bool { return ts.srv.Health().RateLimiter.Backend == "fallback" })
				if status, d := ts.readyDetail(); status != 200 || d.Rate["backend"] != "fallback" {
					t.Fatalf("/readyz with Redis down: %d %+v", status, d.Rate)
				}
				if m := metricsText(t, ts); !strings.Contains(m, `gooclaim_rate_limiter_backend{backend="fallback"} 1`) {
					t.Error(`the metrics do not show gooclaim_rate_limiter_backend{backend="fallback"} 1 with Redis down`)
				}
				time.Sleep(300 * time.Millisecond)
				rd.Start()
				waitFor(t, 10*time.Second, "the limiter to return to Redis", func() bool { return ts.srv.Health().RateLimiter.Backend == "redis" })
				ok, fail, failures := load.end()
				if fail != 0 {
					t.Fatalf("%d token requests failed with Redis down and fail open (%q)", fail, failures)
				}
				m := metricsText(t, ts)
				if !strings.Contains(m, `gooclaim_rate_limiter_backend{backend="redis"} 1`) || strings.Contains(m, "gooclaim_rate_limiter_fallback_requests_total 0\n") {
					t.Error("after the outage the metrics do not show the backend redis again, or no request decided by the fallback")
				}
				t.Logf("%d tokens issued across the Redis outage, none refused", ok)
				return
			}

			rd.Stop()
			waitUntil(t, func() bool { return ts.form(body).StatusCode == http.StatusServiceUnavailable })
			wantUnavailable(t, "token with Redis down and fail closed", ts.form(body))
			if _, d := ts.readyDetail(); d.Rate["backend"] != "unavailable" {
				t.Fatalf("/readyz rate_limiter with Redis down: %+v", d.Rate)
			}
			rd.Start()
			waitFor(t, 10*time.Second, "tokens after Redis's restart", func() bool { return ts.form(body).StatusCode == 200 })
			if b := ts.srv.Health().RateLimiter.Backend; b != "redis" {
				t.Fatalf("limiter backend %q after recovery", b)
			}
		})
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func metricsText(t *testing.T, ts *testServer) string {
	t.Helper()
	resp, err := http.Get("http://" + ts.srv.OpsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestFaultMaxStalenessSettings: a bound a node would cross between two
// polls is refused at start, as is a negative one.
func TestFaultMaxStalenessSettings(t *testing.T) {
	db := filepath.Join(t.TempDir(), "auth.db")
	for _, args := range [][]string{
		{"--max-staleness", "100ms", "--poll-interval", "500ms"},
		{"--max-staleness", "-1s"},
	} {
		_, errOut, code := runCLI(t, "", append([]string{"serve", "--database", db, "--listen", "127.0.0.1:0", "--ops-listen", ""}, args...)...)
		if code == 0 || !strings.Contains(errOut, "--max-staleness") {
			t.Errorf("serve %v: exit %d, stderr %q; want a refusal naming --max-staleness", args, code, errOut)
		}
	}
}
