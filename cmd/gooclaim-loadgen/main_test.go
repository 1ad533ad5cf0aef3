package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/oauthwire"
	"github.com/gooclaim/auth/redis"
)

// TestMain lets the test binary play the baseline and ceiling servers: the load generator
// starts it by re-executing itself (os.Executable) with baseline-server.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == baselineCommand || os.Args[1] == ceilingCommand) {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestEndToEnd runs the whole thing with tiny settings: a database with 50
// clients, the real server (built), the ceiling, the baseline, one second each.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--clients", "50", "--duration", "1s", "--warmup", "200ms", "--connections", "4", "--rounds", "2",
		// 50 clients at thousands of requests per second exceed 60/1m each.
		"--rate-limit", "1000000/1m", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.Targets) != 3 || rep.Targets[0].Target != "ceiling" || rep.Targets[1].Target != "baseline" || rep.Targets[2].Target != "service" {
		t.Fatalf("targets = %+v, want ceiling, baseline, service", rep.Targets)
	}
	for _, s := range rep.Targets {
		if s.OK == 0 || s.Requests != s.OK || len(s.Non200) != 0 {
			t.Errorf("%s: %d requests, %d OK, non-200 %v; want 200s only", s.Target, s.Requests, s.OK, s.Non200)
		}
		if s.TokensPerS <= 0 || s.P50Ms <= 0 || s.P99Ms < s.P50Ms || s.MaxMs < s.P99Ms {
			t.Errorf("%s: tokens/s %v, p50 %v, p99 %v, max %v", s.Target, s.TokensPerS, s.P50Ms, s.P99Ms, s.MaxMs)
		}
	}
	if rep.RatioPercent == nil || *rep.RatioPercent <= 0 {
		t.Errorf("no service/baseline ratio: %v", rep.RatioPercent)
	}
	// Each round drives the targets in the other order than the last.
	var order []string
	for _, p := range rep.Phases {
		order = append(order, fmt.Sprintf("%s#%d", p.Target, p.Round))
	}
	if got := strings.Join(order, " "); got != "ceiling#1 baseline#1 service#1 service#2 baseline#2 ceiling#2" {
		t.Errorf("phases in the order %s", got)
	}
	for _, s := range rep.Targets {
		if s.AllocsPerToken <= 0 {
			t.Errorf("%s: no allocations per token", s.Target)
		}
	}
	if len(rep.Ceiling) != 1 || rep.Ceiling[0].TokensPercent == nil || rep.Ceiling[0].P99Ratio == nil {
		t.Errorf("service/ceiling ratios: %+v", rep.Ceiling)
	}
	if !strings.HasPrefix(rep.CeilingResponseCheck, "the ceiling answers the service's token shape") {
		t.Errorf("ceiling response check: %s", rep.CeilingResponseCheck)
	}
	if rep.Pinning == nil || rep.Pinning.Note == "" {
		t.Errorf("pinning: %+v", rep.Pinning)
	}
	if runtime.GOOS == "linux" {
		for _, s := range rep.Targets {
			if s.CPUPerTokenUs <= 0 {
				t.Errorf("%s: no server CPU per token", s.Target)
			}
		}
		if rep.CPURatioPercent == nil || rep.Ceiling[0].CPURatio == nil {
			t.Error("no CPU ratio")
		}
		if runtime.NumCPU() > 1 && (len(rep.Pinning.ServerCPUs) != 1 || len(rep.Pinning.LoadgenCPUs) == 0) {
			t.Errorf("not pinned on %d CPUs: %+v", runtime.NumCPU(), rep.Pinning)
		}
	}
	if rep.Setup.ClientsCreated != 50 || rep.NumCPU == 0 || rep.GOMAXPROCS == 0 || !strings.HasPrefix(rep.Command, "gooclaim-loadgen --clients 50") {
		t.Errorf("setup %+v, NumCPU %d, GOMAXPROCS %d, command %q", rep.Setup, rep.NumCPU, rep.GOMAXPROCS, rep.Command)
	}
	if rep.RateLimit == nil || rep.RateLimit.Exceeded || rep.RateLimit.Limit != 1000000 {
		t.Errorf("rate limit usage = %+v", rep.RateLimit)
	}
	if !strings.HasPrefix(rep.ResponseCheck, "both targets answer the same token shape") {
		t.Errorf("response check: %s", rep.ResponseCheck)
	}
	if rep.Workspace != "" {
		t.Errorf("workspace %q reported without --keep", rep.Workspace)
	}
	// The temporary directory is gone, and the service with it.
	log := stderr.String()
	if _, rest, ok := strings.Cut(log, "clients in "); !ok {
		t.Errorf("no database path in the progress log:\n%s", log)
	} else if db, _, _ := strings.Cut(rest, "\n"); db == "" {
		t.Errorf("no database path in the progress log:\n%s", log)
	} else if _, err := os.Stat(filepath.Dir(db)); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind (%v)", filepath.Dir(db), err)
	}
	if _, rest, ok := strings.Cut(log, "--listen "); ok {
		addr, _, _ := strings.Cut(rest, " ")
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("the service still answers on %s", addr)
		}
	} else {
		t.Errorf("no service address in the progress log:\n%s", log)
	}

	var text bytes.Buffer
	rep.writeText(&text)
	for _, want := range []string{"command:   gooclaim-loadgen --clients 50", "GOMAXPROCS", "target", "requests", "tokens/s",
		"p50", "p99", "server CPU/token", "allocs/token", "non-200", "ceiling", "baseline", "service", "service/baseline ratio: ",
		"service/ceiling: tokens/s ", "CPU per token ceiling÷service", "pinning:   ", "rate limit: "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	t.Logf("\n%s", text.String())
}

// TestTLSModes runs --tls with tiny settings: the service and the ceiling
// over HTTPS, each in the three connection modes, the resumptions counted.
func TestTLSModes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--tls", "--clients", "30", "--duration", "700ms", "--warmup", "200ms", "--connections", "4",
		"--reconnect-connections", "2", "--rate-limit", "1000000/1m", "--alg", "EdDSA", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	var names []string
	for _, s := range rep.Targets {
		names = append(names, label(s.Target, s.Mode))
		if s.OK == 0 || s.Requests != s.OK || len(s.Non200) != 0 || s.TLSRequests != s.Requests {
			t.Errorf("%s [%s]: %d requests, %d OK, %d over TLS, non-200 %v; want 200s only, all over TLS", s.Target, s.Mode, s.Requests, s.OK, s.TLSRequests, s.Non200)
		}
		switch s.Mode {
		case modeKeepAlive, modeFull:
			if s.Resumed != 0 {
				t.Errorf("%s [%s]: %d of %d resumed; want none", s.Target, s.Mode, s.Resumed, s.TLSRequests)
			}
		case modeResume:
			// The first connection of each worker has no ticket yet.
			if s.Resumed < s.TLSRequests-10 {
				t.Errorf("%s [%s]: %d of %d resumed; want nearly all", s.Target, s.Mode, s.Resumed, s.TLSRequests)
			}
		}
	}
	want := "ceiling [keepalive] service [keepalive] ceiling [resume] service [resume] ceiling [full] service [full]"
	if strings.Join(names, " ") != want {
		t.Fatalf("targets %v, want %s", names, want)
	}
	if len(rep.Ceiling) != 3 {
		t.Errorf("service/ceiling ratios for %d modes, want 3: %+v", len(rep.Ceiling), rep.Ceiling)
	}
	if runtime.GOOS == "linux" && len(rep.Connections) != 4 {
		t.Errorf("new connection costs %+v, want ceiling and service × resume and full", rep.Connections)
	}
	if !strings.Contains(rep.URLs["service"], "https://") || !strings.Contains(rep.URLs["ceiling"], "https://") || rep.URLs["baseline"] != "" {
		t.Errorf("URLs %v: want the service and the ceiling over https, no baseline", rep.URLs)
	}
	if !strings.HasPrefix(rep.CeilingResponseCheck, "the ceiling answers the service's token shape") || !strings.Contains(rep.CeilingResponseCheck, `"alg":"EdDSA"`) {
		t.Errorf("ceiling response check: %s", rep.CeilingResponseCheck)
	}
	var text bytes.Buffer
	rep.writeText(&text)
	for _, want := range []string{"resumed", "TLS sessions resumed, service [resume]: ", "service/ceiling (a new connection per request, full TLS handshake)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	t.Logf("\n%s", text.String())
}

// TestScaleout runs --scaleout with tiny settings against the test
// PostgreSQL and Redis (authtest: skipped without them, failed under CI):
// three targets, 200s only, the scale-out ratio, and nothing left behind.
func TestScaleout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	pgURL, redisURL := authtest.PostgresURL(t), authtest.RedisURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--scaleout", "--postgres-url", pgURL, "--redis-url", redisURL,
		"--clients", "30", "--duration", "1s", "--warmup", "200ms", "--connections", "4",
		"--rate-limit", "1000000/1m", "--json"}
	// The run moves a local Redis to the load generator's CPUs; it must
	// give it back its affinity.
	redisCPUsBefore := redisAllowedCPUs(t, redisURL)
	defer func() {
		if after := redisAllowedCPUs(t, redisURL); after != redisCPUsBefore {
			t.Errorf("Redis's CPUs after the run: %q, before: %q", after, redisCPUsBefore)
		}
	}()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	var names []string
	for _, s := range rep.Targets {
		names = append(names, s.Target)
		if s.OK == 0 || s.Requests != s.OK || len(s.Non200) != 0 {
			t.Errorf("%s: %d requests, %d OK, non-200 %v; want 200s only", s.Target, s.Requests, s.OK, s.Non200)
		}
	}
	if strings.Join(names, " ") != "ceiling baseline service scaleout" {
		t.Fatalf("targets %v, want ceiling baseline service scaleout", names)
	}
	if rep.ScaleoutRatioPercent == nil || *rep.ScaleoutRatioPercent <= 0 {
		t.Errorf("no scaleout/embedded ratio: %v", rep.ScaleoutRatioPercent)
	}
	so := rep.Scaleout
	if so == nil {
		t.Fatal("no scaleout section in the report")
	}
	if so.ClientsCopied != 30 || so.TargetPercent != 70 || so.TargetMet == nil {
		t.Errorf("scaleout %+v", so)
	}
	if so.LimiterAfter != "redis" || so.FallbackRequests != 0 {
		t.Errorf("the scale-out node's limiter: %q, %d fallback requests; want redis, 0", so.LimiterAfter, so.FallbackRequests)
	}
	if !strings.Contains(rep.Backends["scaleout"], "store postgres (30 clients") || !strings.Contains(rep.Backends["scaleout"], "rate limiter redis") ||
		!strings.Contains(rep.Backends["service"], "store sqlite (30 clients)") {
		t.Errorf("backends %v", rep.Backends)
	}
	if !strings.HasPrefix(so.ResponseCheck, "the scale-out node answers the same token shape") {
		t.Errorf("scaleout response check: %s", so.ResponseCheck)
	}
	if !strings.HasPrefix(so.Schema, "gooclaim_loadgen_") || !strings.HasPrefix(so.RedisPrefix, "gooclaim:loadgen:") || so.Kept {
		t.Errorf("schema %q, prefix %q, kept %v", so.Schema, so.RedisPrefix, so.Kept)
	}
	if runtime.GOOS == "linux" {
		out := rep.summary("scaleout")
		if out.CPUPerTokenUs <= 0 || out.RedisCPUPerTokenUs <= 0 || rep.ScaleoutCPURatioPercent == nil || rep.ScaleoutCPURatioWithRedisPercent == nil {
			t.Errorf("scaleout CPU per token %v, Redis %v; CPU ratios %v, %v", out.CPUPerTokenUs, out.RedisCPUPerTokenUs,
				rep.ScaleoutCPURatioPercent, rep.ScaleoutCPURatioWithRedisPercent)
		}
	}

	// Nothing is left behind: the schema is dropped, the keys deleted.
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, so.Schema).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("schema %s left behind", so.Schema)
		conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{so.Schema}.Sanitize()+` CASCADE`)
	}
	rc, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if keys, _, err := rc.Scan(ctx, 0, so.RedisPrefix+"*", 10000).Result(); err != nil {
		t.Fatal(err)
	} else if len(keys) > 0 {
		t.Errorf("%d Redis keys %s* left behind", len(keys), so.RedisPrefix)
		deleteKeys(ctx, rc, so.RedisPrefix)
	}

	var text bytes.Buffer
	rep.writeText(&text)
	for _, want := range []string{"scaleout/embedded ratio: ", "target ≥ 70%", "scaleout/embedded ratio by CPU per token: ",
		"Redis CPU/token", "one Redis round trip per token request", "Redis runs on this machine, on the ", "scaleout:  PostgreSQL",
		"PostgreSQL is a system service off the request path, not pinned; Redis"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	t.Logf("\n%s", text.String())
}

// TestTargetMode drives an already running server with --clients-file.
func TestTargetMode(t *testing.T) {
	creds := []credential{{"client-a", "secret a"}, {"client-b", "secret+b"}}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := oauthwire.ParseTokenRequest(r)
		if err != nil || r.URL.Path != "/v1/auth/token" {
			oauthwire.WriteError(w, http.StatusBadRequest, err)
			return
		}
		if (req.ClientID == "client-a" && req.ClientSecret != "secret a") || (req.ClientID == "client-b" && req.ClientSecret != "secret+b") {
			oauthwire.WriteError(w, http.StatusUnauthorized, auth.ErrInvalidClient)
			return
		}
		mu.Lock()
		seen[req.ClientID]++
		mu.Unlock()
		oauthwire.WriteToken(w, &auth.Token{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 3600})
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "clients.json")
	if err := writeClientsFile(file, creds); err != nil {
		t.Fatal(err)
	}
	// A second of load per mode: with 200 ms, a machine busy with other
	// tests once let a single request through, which cannot show the
	// round robin reaching both clients.
	for _, mode := range [][]string{{"--body", "form"}, {"--body", "json"}, {"--auth", "basic"}} {
		mu.Lock()
		clear(seen)
		mu.Unlock()
		args := append([]string{"--target", srv.URL, "--clients-file", file, "--duration", "1s", "--warmup", "0s", "--connections", "1", "--json"}, mode...)
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit code %d; stderr:\n%s", mode, code, stderr.String())
		}
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Targets) != 1 || rep.Targets[0].OK == 0 || len(rep.Targets[0].Non200) != 0 {
			t.Errorf("%v: targets %+v", mode, rep.Targets)
		}
		mu.Lock()
		a, b := seen["client-a"], seen["client-b"]
		mu.Unlock()
		if a == 0 || b == 0 {
			t.Errorf("%v: requests per client %v: want both", mode, seen)
		}
		if rep.RatioPercent != nil {
			t.Errorf("%v: a ratio without a baseline", mode)
		}
	}
}

func TestParseFlagsReportsEveryProblem(t *testing.T) {
	m := NewMain(&bytes.Buffer{}, &bytes.Buffer{})
	err := m.ParseFlags([]string{"--clients", "0", "--alg", "HS256", "--body", "xml", "--rate-limit", "lots", "--target", "http://x", "--tls"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--clients", "--alg", "--body", "--rate-limit", "--clients-file", "--tls"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

func TestParseFlagsScaleout(t *testing.T) {
	m := NewMain(&bytes.Buffer{}, &bytes.Buffer{})
	err := m.ParseFlags([]string{"--scaleout", "--target", "http://x", "--clients-file", "f",
		"--postgres-url", "mysql://u:hunter2@h/db", "--redis-url", "http://h"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--target", "--postgres-url", "--redis-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
	t.Setenv("GOOCLAIM_TEST_POSTGRES_URL", "postgres://u@db:5432/x")
	t.Setenv("GOOCLAIM_TEST_REDIS_URL", "")
	m = NewMain(&bytes.Buffer{}, &bytes.Buffer{})
	if err := m.ParseFlags([]string{"--scaleout"}); err != nil {
		t.Fatal(err)
	}
	if m.Config.PostgresURL != "postgres://u@db:5432/x" || m.Config.RedisURL != defaultRedisURL {
		t.Errorf("defaults: %q, %q", m.Config.PostgresURL, m.Config.RedisURL)
	}
}

// redisAllowedCPUs is the Cpus_allowed_list of the Redis server's main
// thread when it runs on this machine (Linux), else "".
func redisAllowedCPUs(t *testing.T, redisURL string) string {
	t.Helper()
	rc, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	info, err := rc.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if pid, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			status, err := os.ReadFile("/proc/" + pid + "/status")
			if err != nil {
				return ""
			}
			for l := range strings.SplitSeq(string(status), "\n") {
				if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
					return strings.TrimSpace(v)
				}
			}
		}
	}
	return ""
}
