package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/redis"
)

const (
	msgDown = "rate limiter: Redis unreachable"
	msgBack = "rate limiter: Redis reachable again"
)

// deadRedis returns a client for a port nothing listens on, and a count of
// the commands sent through it.
func deadRedis(t *testing.T) (goredis.UniversalClient, *atomic.Int64) {
	t.Helper()
	c, err := redis.ParseURL("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	calls := new(atomic.Int64)
	c.AddHook(countHook{calls})
	return c, calls
}

// countHook counts the commands a client processes (a retried one once).
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h countHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestLimiterFallback: with Redis unreachable the fallback decides, each
// node enforcing the limit on its own, and only one request per
// RetryInterval waits for Redis.
func TestLimiterFallback(t *testing.T) {
	c, calls := deadRedis(t)
	logger, logs := newLogger()
	l := redis.NewLimiter(c, redis.LimiterOptions{
		Fallback:      inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1}),
		Logger:        logger,
		RetryInterval: time.Hour,
	})
	before := time.Now()
	rate := auth.Rate{Limit: 5, Window: time.Minute}
	const requests = 50
	allowed := 0
	for i := range requests {
		d, err := l.Allow(context.Background(), "client:a", rate)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != rate.Limit {
		t.Errorf("%d of %d allowed by the fallback, want %d", allowed, requests, rate.Limit)
	}
	s := l.State()
	if s.Backend != redis.BackendFallback || s.Fallbacks != requests || s.LastError == "" || s.Since.Before(before) {
		t.Errorf("state %+v; want fallback since the first request, %d fallbacks, the error", s, requests)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d commands sent to Redis, want 1: the others must go straight to the fallback", n)
	}
	if n := logs.count(slog.LevelError, msgDown+", using the in-memory per-node limit"); n != 1 || logs.count(slog.LevelError, "") != 1 {
		t.Errorf("want one error logged for %d requests, got:\n%s", requests, logs)
	}
	t.Logf("state %+v\nlog: %s", s, logs)
}

// TestLimiterFailClosed: with no fallback, requests fail with an
// unavailable error (503), and still only one per RetryInterval waits.
func TestLimiterFailClosed(t *testing.T) {
	c, calls := deadRedis(t)
	logger, logs := newLogger()
	l := redis.NewLimiter(c, redis.LimiterOptions{Logger: logger, RetryInterval: time.Hour})
	for i := range 10 {
		_, err := l.Allow(context.Background(), "client:a", auth.Rate{Limit: 5, Window: time.Minute})
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("request %d: %v; want an unavailable error", i+1, err)
		}
		if i == 9 {
			t.Logf("error: %v", err)
		}
	}
	if s := l.State(); s.Backend != redis.BackendUnavailable || s.Fallbacks != 0 || s.LastError == "" {
		t.Errorf("state %+v; want unavailable, no fallbacks, the error", s)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d commands sent to Redis, want 1", n)
	}
	if n := logs.count(slog.LevelError, msgDown); n != 1 || logs.count(slog.LevelError, "") != 1 {
		t.Errorf("want one error logged, got:\n%s", logs)
	}
}

// TestLimiterCanceled: a caller that gave up says nothing about Redis.
func TestLimiterCanceled(t *testing.T) {
	c, calls := deadRedis(t)
	logger, logs := newLogger()
	l := redis.NewLimiter(c, redis.LimiterOptions{Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Allow(ctx, "client:a", auth.Rate{Limit: 5, Window: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow with a canceled context: %v", err)
	}
	if s := l.State(); s.Backend != redis.BackendRedis || calls.Load() != 0 || logs.String() != "" {
		t.Errorf("state %+v, %d commands, log %q; want redis, none, nothing", s, calls.Load(), logs)
	}
}

// TestLimiterRetryInterval: while Redis stays down, one request per
// RetryInterval tries it again, without logging again.
func TestLimiterRetryInterval(t *testing.T) {
	c, calls := deadRedis(t)
	logger, logs := newLogger()
	const retry = 100 * time.Millisecond
	l := redis.NewLimiter(c, redis.LimiterOptions{
		Fallback:      inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1}),
		Logger:        logger,
		RetryInterval: retry,
	})
	rate := auth.Rate{Limit: 1000, Window: time.Minute}
	start := time.Now()
	requests := 0
	for time.Since(start) < 5*retry+retry/2 {
		if _, err := l.Allow(context.Background(), "client:a", rate); err != nil {
			t.Fatal(err)
		}
		requests++
		time.Sleep(5 * time.Millisecond)
	}
	// The first request, then at most one per interval.
	elapsed := time.Since(start)
	if n, most := calls.Load(), 1+int64(elapsed/retry); n < 3 || n > most {
		t.Errorf("%d of %d requests sent to Redis in %v with a retry interval of %v, want 3 to %d", n, requests, elapsed, retry, most)
	}
	if s := l.State(); s.Backend != redis.BackendFallback || s.Fallbacks != uint64(requests) {
		t.Errorf("state %+v; want fallback, %d fallbacks", s, requests)
	}
	if n := logs.count(slog.LevelError, ""); n != 1 {
		t.Errorf("%d errors logged, want 1:\n%s", n, logs)
	}
}

// TestLimiterRecovers: Redis goes away (a proxy in front of it stops) and
// comes back; the limiter switches to the fallback and back by itself,
// logging once each way. After a long outage the driver's pool has stopped
// dialing (after PoolSize failures it re-dials once a second in the
// background), which can add up to about a second to the RetryInterval.
func TestLimiterRecovers(t *testing.T) {
	t.Run("short outage", func(t *testing.T) {
		testRecovery(t, 200*time.Millisecond, 0, 1000*time.Millisecond)
	})
	t.Run("long outage", func(t *testing.T) {
		testRecovery(t, 20*time.Millisecond, time.Second, 20*time.Millisecond+2*time.Second)
	})
}

// testRecovery stops Redis for outage (at least 21 requests) with the given
// RetryInterval and wants the limiter back on Redis within bound.
func testRecovery(t *testing.T, retry, outage, bound time.Duration) {
	direct := testClient(t)
	prefix := testPrefix(t, direct)
	u, err := url.Parse(authtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, opts.Addr)
	u.Host = p.Addr()
	c, err := redis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	logger, logs := newLogger()
	l := redis.NewLimiter(c, redis.LimiterOptions{
		Prefix:        prefix,
		Fallback:      inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1}),
		Logger:        logger,
		RetryInterval: retry,
	})
	ctx := context.Background()
	rate := auth.Rate{Limit: 1000, Window: time.Minute}
	allow := func(what string) {
		t.Helper()
		if _, err := l.Allow(ctx, "client:a", rate); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	backend := func(want string) {
		t.Helper()
		if s := l.State(); s.Backend != want {
			t.Fatalf("state %+v, want backend %s\nlog:\n%s", s, want, logs)
		}
	}

	allow("with Redis")
	backend(redis.BackendRedis)

	p.Stop()
	allow("Redis gone")
	backend(redis.BackendFallback)
	start := time.Now()
	for i := 0; i < 20 || time.Since(start) < outage; i++ {
		allow("Redis still gone")
		if outage > 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	backend(redis.BackendFallback)

	p.Start()
	back := time.Now()
	for l.State().Backend != redis.BackendRedis {
		if time.Since(back) > bound {
			t.Fatalf("still on the fallback %v after Redis came back (retry interval %v)\nlog:\n%s", time.Since(back), retry, logs)
		}
		allow("Redis back")
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("back on Redis %v after it returned (retry interval %v)", time.Since(back).Round(time.Millisecond), retry)
	fallbacks := l.State().Fallbacks
	for range 5 {
		allow("on Redis again")
	}
	s := l.State()
	backend(redis.BackendRedis)
	if s.Fallbacks != fallbacks || s.Fallbacks < 21 {
		t.Errorf("fallbacks %d then %d; want at least 21, then no more", fallbacks, s.Fallbacks)
	}
	if s.LastError == "" {
		t.Error("no last error")
	}
	// With Redis: the first request, the one that found it back, and 5 more.
	if n := direct.ZCard(ctx, prefix+"client:a").Val(); n != 7 {
		t.Errorf("%d requests recorded in Redis, want 7", n)
	}
	if logs.count(slog.LevelError, msgDown) != 1 || logs.count(slog.LevelInfo, msgBack) != 1 || logs.count(slog.LevelError, "")+logs.count(slog.LevelInfo, "") != 2 {
		t.Errorf("want one error and one info logged, got:\n%s", logs)
	}
	t.Logf("log:\n%s", logs)
}
