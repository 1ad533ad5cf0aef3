package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/server"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// newConfig is a Config over a fresh SQLite database and key-encryption
// key, listening on loopback ports of its choosing.
func newConfig(t *testing.T) server.Config {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kek, err := signing.CreateKEKFile(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	return server.Config{Store: db, KEK: kek, Listen: "127.0.0.1:0", OpsListen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}
}

// start starts a server for cfg, shut down when the test ends.
func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		cfg.Store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

// createClient registers a client through the server's replica.
func createClient(t *testing.T, srv *server.Server, scopes ...string) (id, secret string) {
	t.Helper()
	c, secret, err := (&admin.Service{Store: srv.Replica()}).CreateClient(context.Background(), admin.ClientSpec{Name: "test", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

func token(t *testing.T, srv *server.Server, id, secret string) int {
	t.Helper()
	resp, err := http.PostForm("http://"+srv.Addr()+"/v1/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// opsReadyz returns the ops listener's /readyz: its status and its detail
// as generic JSON.
func opsReadyz(t *testing.T, srv *server.Server) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + srv.OpsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Detail map[string]any `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Detail
}

// wantMembers checks that the JSON object at path in detail has exactly
// the members want.
func wantMembers(t *testing.T, detail map[string]any, path string, want ...string) {
	t.Helper()
	v := any(detail)
	if path != "" {
		for p := range strings.SplitSeq(path, ".") {
			v = v.(map[string]any)[p]
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("/readyz detail %q: %v is not an object", path, v)
	}
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("/readyz detail %q has members %v, want %v", path, got, want)
	}
}

// TestHealthDetail: the ops /readyz detail is the typed Health, with the
// members it has always had — no more, no fewer — in each state.
func TestHealthDetail(t *testing.T) {
	t.Run("memory limiter", func(t *testing.T) {
		cfg := newConfig(t)
		cfg.MaxStaleness = time.Minute
		srv := start(t, cfg)
		status, d := opsReadyz(t, srv)
		if status != 200 {
			t.Fatalf("ops /readyz %d %v", status, d)
		}
		wantMembers(t, d, "", "keys", "store", "rate_limiter")
		wantMembers(t, d, "keys", "active_kid", "alg", "next_rotation")
		wantMembers(t, d, "store", "backend", "clients", "last_sync", "sync_age_ms", "state", "max_staleness_ms")
		wantMembers(t, d, "rate_limiter", "backend", "tracked_keys")
		h := srv.Health()
		if !h.Ready || h.Store.Backend != "sqlite" || h.Store.State != "ok" || h.Store.MaxStalenessMS != 60000 ||
			h.RateLimiter.Backend != "memory" || h.RateLimiter.MemoryLimiterHealth == nil || h.RateLimiter.RedisLimiterHealth != nil ||
			h.Keys.ActiveKID == "" || h.Keys.Algorithm != auth.ES256 || d["keys"].(map[string]any)["active_kid"] != h.Keys.ActiveKID {
			t.Errorf("Health %+v, detail %v", h, d)
		}
	})
	t.Run("Redis unreachable, failing open", func(t *testing.T) {
		cfg := newConfig(t)
		cfg.RedisURL = "redis://127.0.0.1:1/0"
		srv := start(t, cfg)
		id, secret := createClient(t, srv, "a")
		if got := token(t, srv, id, secret); got != 200 {
			t.Fatalf("token with Redis unreachable, failing open: %d", got)
		}
		_, d := opsReadyz(t, srv)
		wantMembers(t, d, "store", "backend", "clients", "last_sync", "sync_age_ms", "state")
		wantMembers(t, d, "rate_limiter", "backend", "fail", "fallback_requests", "last_error", "since")
		h := srv.Health().RateLimiter
		if h.Backend != "fallback" || h.Fail != "open" || h.FallbackRequests != 1 || !strings.Contains(h.LastError, "127.0.0.1:1") || h.MemoryLimiterHealth != nil {
			t.Errorf("rate limiter health %+v", h)
		}
	})
	t.Run("shutting down", func(t *testing.T) {
		cfg := newConfig(t)
		cfg.ShutdownDelay = time.Minute // ended by Close below
		srv := start(t, cfg)
		go srv.Shutdown(context.Background())
		for srv.Health().Reason != "shutting down" {
			time.Sleep(time.Millisecond)
		}
		status, d := opsReadyz(t, srv)
		if status != 503 || d["reason"] != "shutting down" {
			t.Fatalf("ops /readyz while shutting down: %d %v", status, d)
		}
		wantMembers(t, d, "", "keys", "store", "rate_limiter", "reason")
		if srv.Health().Ready {
			t.Error("ready while shutting down")
		}
		srv.Close() // cuts the delay short
	})
}

// TestStartAndShutdown: a server serves once started, and a graceful
// shutdown stops the listeners, the background work and the store; later
// calls return at once.
func TestStartAndShutdown(t *testing.T) {
	cfg := newConfig(t)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h := srv.Health(); h.Ready || h.Reason != "not started" {
		t.Errorf("Health before Start: %+v", h)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	if iss := srv.Issuer(); !strings.HasPrefix(iss, "http://localhost:") || !strings.HasSuffix(srv.Addr(), iss[strings.LastIndex(iss, ":"):]) {
		t.Errorf("default issuer %q for listener %s", iss, srv.Addr())
	}
	id, secret := createClient(t, srv, "a")
	if got := token(t, srv, id, secret); got != 200 {
		t.Fatalf("token: %d", got)
	}
	select {
	case <-srv.Done():
		t.Fatal("Done before Shutdown")
	default:
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-srv.Done()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	for _, addr := range []string{srv.Addr(), srv.OpsAddr()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Shutdown", addr)
		}
	}
	if _, err := cfg.Store.Keys(context.Background()); err == nil {
		t.Error("the store is still open after Shutdown")
	}
}

// TestStartFails: a Start that fails releases what it opened but leaves
// the store to the caller.
func TestStartFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := newConfig(t)
	cfg.OpsListen = busy.Addr().String()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start with the ops address in use: %v", err)
	}
	if _, err := cfg.Store.Keys(context.Background()); err != nil {
		t.Errorf("the store after a failed Start: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after a failed Start: %v", err)
	}
	cfg.Store.Close()
}

// TestNewReportsEveryProblem: New names every problem of its Config at once.
func TestNewReportsEveryProblem(t *testing.T) {
	_, err := server.New(server.Config{TLSCertFile: "cert.pem", PollInterval: -time.Second})
	if err == nil {
		t.Fatal("New accepted a Config without a store")
	}
	for _, want := range []string{"Store", "KEK", "TLSKeyFile", "PollInterval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
