package metrics_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/redis"
	"github.com/gooclaim/auth/signing"
)

var quiet = slog.New(slog.DiscardHandler)

func TestLimiterDecisions(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	mem := inmem.NewLimiter(inmem.LimiterOptions{})
	t.Cleanup(mem.Close)
	l := metrics.Limiter(mem, m)
	rate := auth.Rate{Limit: 2, Window: time.Minute}
	for range 3 {
		if _, err := l.Allow(t.Context(), "k", rate); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Allow(t.Context(), "k", auth.Rate{}); err == nil {
		t.Fatal("an invalid rate was accepted")
	}
	f := scrape(t, m)
	for result, want := range map[string]float64{"allowed": 2, "refused": 1, "error": 1} {
		if got := f.get(t, "gooclaim_rate_limiter_decisions_total", "result", result); got != want {
			t.Errorf("decisions{result=%q} = %v, want %v", result, got, want)
		}
	}
}

func TestWatchLimiterMemory(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	m.WatchLimiter(nil)
	f := scrape(t, m)
	for _, b := range metrics.LimiterBackends {
		want := 0.0
		if b == "memory" {
			want = 1
		}
		if got := f.get(t, "gooclaim_rate_limiter_backend", "backend", b); got != want {
			t.Errorf("backend{%s} = %v, want %v", b, got, want)
		}
	}
	if got := f.get(t, "gooclaim_rate_limiter_fallback_requests_total"); got != 0 {
		t.Errorf("fallbacks = %v", got)
	}
}

// TestWatchLimiterFallback: with Redis unreachable (a closed port on the
// loopback) the limiter falls back, and the metrics say so; its Redis
// commands fail, and the hook counts them.
func TestWatchLimiterFallback(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	client, err := redis.ParseURL("redis://127.0.0.1:1/0?dial_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	m.InstrumentRedis(client)
	mem := inmem.NewLimiter(inmem.LimiterOptions{})
	t.Cleanup(mem.Close)
	rl := redis.NewLimiter(client, redis.LimiterOptions{Fallback: mem, Logger: quiet, RetryInterval: time.Hour})
	m.WatchLimiter(rl)
	l := metrics.Limiter(rl, m)

	f := scrape(t, m)
	if got := f.get(t, "gooclaim_rate_limiter_backend", "backend", "redis"); got != 1 {
		t.Errorf("before the first request: backend{redis} = %v, want 1", got)
	}
	for range 3 {
		if d, err := l.Allow(t.Context(), "k", auth.Rate{Limit: 5, Window: time.Minute}); err != nil || !d.Allowed {
			t.Fatalf("Allow = %+v, %v", d, err)
		}
	}
	f = scrape(t, m)
	if got := f.get(t, "gooclaim_rate_limiter_backend", "backend", "fallback"); got != 1 {
		t.Errorf("backend{fallback} = %v, want 1", got)
	}
	if got := f.get(t, "gooclaim_rate_limiter_backend", "backend", "redis"); got != 0 {
		t.Errorf("backend{redis} = %v, want 0", got)
	}
	if got := f.get(t, "gooclaim_rate_limiter_fallback_requests_total"); got != 3 {
		t.Errorf("fallback requests = %v, want 3", got)
	}
	if got := f.get(t, "gooclaim_rate_limiter_decisions_total", "result", "allowed"); got != 3 {
		t.Errorf("allowed = %v, want 3", got)
	}
	// One request tried Redis (then the limiter waits RetryInterval): its
	// script failed to connect.
	if got := f.get(t, "gooclaim_redis_errors_total", "command", "evalsha"); got != 1 {
		t.Errorf("redis_errors_total{evalsha} = %v, want 1", got)
	}
	if got := f.get(t, "gooclaim_redis_operation_duration_seconds", "command", "evalsha"); got != 1 {
		t.Errorf("evalsha timed %v times, want 1", got)
	}
}

// TestRedisHook runs commands against the real Redis: the limiter's script,
// a miss, an error reply.
func TestRedisHook(t *testing.T) {
	client, err := redis.ParseURL(authtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	m := metrics.New(metrics.BuildInfo{})
	m.InstrumentRedis(client)
	ctx := t.Context()

	// A prefix of its own, so the script may or may not be cached already:
	// either way NOSCRIPT is no failure.
	l := redis.NewLimiter(client, redis.LimiterOptions{Prefix: "gooclaim:test:metrics:" + time.Now().Format("150405.000000") + ":", Logger: quiet})
	for range 2 {
		if _, err := l.Allow(ctx, "k", auth.Rate{Limit: 1, Window: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Get(ctx, "gooclaim:test:metrics:no-such-key").Err(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("GET a missing key: %v", err)
	}
	if err := client.Do(ctx, "NO-SUCH-COMMAND").Err(); err == nil {
		t.Fatal("an unknown command succeeded")
	}
	pipe := client.Pipeline()
	pipe.Ping(ctx)
	pipe.Ping(ctx)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}

	f := scrape(t, m)
	if got := f.get(t, "gooclaim_redis_operation_duration_seconds", "command", "evalsha"); got != 2 {
		t.Errorf("evalsha timed %v times, want 2", got)
	}
	if got := f.get(t, "gooclaim_redis_errors_total", "command", "evalsha"); got != 0 {
		t.Errorf("evalsha errors = %v, want 0 (NOSCRIPT is no failure)", got)
	}
	if got := f.get(t, "gooclaim_redis_operation_duration_seconds", "command", "other"); got != 2 {
		t.Errorf("other commands timed %v times, want 2 (GET, NO-SUCH-COMMAND)", got)
	}
	if got := f.get(t, "gooclaim_redis_errors_total", "command", "other"); got != 1 {
		t.Errorf("other errors = %v, want 1 (the unknown command; a miss is no failure)", got)
	}
	if got := f.get(t, "gooclaim_redis_operation_duration_seconds", "command", "pipeline"); got != 1 {
		t.Errorf("pipelines timed %v times, want 1", got)
	}
}

func TestWatchReplicaAndKeys(t *testing.T) {
	ctx := context.Background()
	clock := authtest.NewClock(authtest.Epoch)
	db := openSQLite(t)
	m := metrics.New(metrics.BuildInfo{})
	store := metrics.Store(db, m)
	kek, err := signing.CreateKEKFile(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	var keys *issuer.KeyRing
	replica := inmem.NewReplica(store, inmem.ReplicaOptions{Logger: quiet, OnKeys: func(k []auth.Key) error { return keys.Load(k) }})
	policy := issuer.KeyPolicy{PublishAhead: time.Hour, RotationPeriod: 30 * 24 * time.Hour}
	keys = issuer.NewKeyRing(policy, kek, replica, clock)
	m.WatchReplica(replica)
	m.WatchKeys(keys, clock.Now)

	// Before the first load: no age, no keys.
	f := scrape(t, m)
	if _, ok := f.value("gooclaim_replica_last_sync_age_seconds"); ok {
		t.Error("a sync age before the first load")
	}
	if _, ok := f.value("gooclaim_signing_key_age_seconds"); ok {
		t.Error("a key age without keys")
	}
	if got := f.get(t, "gooclaim_signing_keys", "state", "active"); got != 0 {
		t.Errorf("active keys = %v", got)
	}

	for _, id := range []string{"a", "b"} {
		if err := store.CreateClient(ctx, &auth.Client{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := replica.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(24 * time.Hour)

	f = scrape(t, m)
	if got := f.get(t, "gooclaim_replica_clients"); got != 2 {
		t.Errorf("replica_clients = %v, want 2", got)
	}
	if got := f.get(t, "gooclaim_replica_last_sync_age_seconds"); got < 0 || got > 60 {
		t.Errorf("sync age = %v s, want just loaded", got)
	}
	if got := f.get(t, "gooclaim_signing_keys", "state", "active"); got != 1 {
		t.Errorf("active keys = %v, want 1", got)
	}
	if got := f.get(t, "gooclaim_signing_keys", "state", "next"); got != 0 {
		t.Errorf("next keys = %v, want 0", got)
	}
	if got := f.get(t, "gooclaim_signing_key_age_seconds"); got != (24 * time.Hour).Seconds() {
		t.Errorf("key age = %v s, want one day", got)
	}
	wantNext := (policy.RotationPeriod - policy.PublishAhead - 24*time.Hour).Seconds()
	if got := f.get(t, "gooclaim_signing_key_next_rotation_seconds"); got != wantNext {
		t.Errorf("next rotation in %v s, want %v", got, wantNext)
	}

	// Rotation: a next key is published and waits; then it signs.
	if _, err := keys.Rotate(ctx, -1); err != nil {
		t.Fatal(err)
	}
	f = scrape(t, m)
	if got := f.get(t, "gooclaim_signing_keys", "state", "next"); got != 1 {
		t.Errorf("next keys = %v, want 1", got)
	}
	if got := f.get(t, "gooclaim_signing_key_next_rotation_seconds"); got != 0 {
		t.Errorf("next rotation = %v while a key waits, want 0", got)
	}
	clock.Advance(policy.PublishAhead)
	f = scrape(t, m)
	if got := f.get(t, "gooclaim_signing_keys", "state", "retired"); got != 1 {
		t.Errorf("retired keys = %v, want 1", got)
	}
	if got := f.get(t, "gooclaim_signing_key_age_seconds"); got != 0 {
		t.Errorf("the new key's age = %v, want 0", got)
	}
	// The replica's store operations went through the decorator.
	if got := f.get(t, "gooclaim_store_operation_duration_seconds", "operation", "update_keys"); got != 2 {
		t.Errorf("update_keys timed %v times, want 2", got)
	}
}
