package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/redis"
)

func TestLimiterConformance(t *testing.T) {
	c := testClient(t)
	authtest.RunLimiterTests(t, func(t *testing.T, clock *authtest.Clock) auth.Limiter {
		return redis.NewLimiter(c, redis.LimiterOptions{Prefix: testPrefix(t, c), Clock: clock})
	})
}

// TestLimiterServerTime: with no Clock the script reads Redis's clock, and
// the limit is still exact.
func TestLimiterServerTime(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix})
	ctx := context.Background()
	rate := auth.Rate{Limit: 5, Window: 10 * time.Second}
	for i := range rate.Limit {
		d, err := l.Allow(ctx, "k", rate)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Remaining != rate.Limit-1-i || d.Reset <= 0 || d.Reset > rate.Window || d.RetryAfter != 0 ||
			d.Limit != rate.Limit || d.Window != rate.Window {
			t.Fatalf("request %d: %+v; want allowed with Remaining %d and Reset in (0, %v]", i+1, d, rate.Limit-1-i, rate.Window)
		}
		if i == 0 && d.Reset != rate.Window {
			t.Errorf("first request: Reset %v, want %v", d.Reset, rate.Window)
		}
	}
	for i := range 3 {
		d, err := l.Allow(ctx, "k", rate)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > rate.Window || d.Reset != d.RetryAfter {
			t.Fatalf("request %d over the limit: %+v; want refused with RetryAfter = Reset in (0, %v]", i+1, d, rate.Window)
		}
	}
	if n := c.ZCard(ctx, prefix+"k").Val(); n != int64(rate.Limit) {
		t.Errorf("%d requests recorded, want %d: refused ones must not be", n, rate.Limit)
	}
	if ttl := c.PTTL(ctx, prefix+"k").Val(); ttl <= 0 || ttl > rate.Window {
		t.Errorf("key expires in %v, want in (0, %v]", ttl, rate.Window)
	}
}

// TestLimiterAcrossNodes: three nodes (three clients, three limiters)
// share the limit of one key exactly.
func TestLimiterAcrossNodes(t *testing.T) {
	url := authtest.RedisURL(t)
	const nodes, requests = 3, 90
	rate := auth.Rate{Limit: 60, Window: time.Minute}
	var limiters []*redis.Limiter
	var prefix string
	for range nodes {
		c, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if prefix == "" {
			prefix = testPrefix(t, c)
		}
		limiters = append(limiters, redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix}))
	}
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		remaining = make(map[int]int)
		nAllowed  int
		errs      []error
	)
	for i := range requests {
		l := limiters[i%nodes]
		wg.Go(func() {
			<-start
			d, err := l.Allow(context.Background(), "client:shared", rate)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case d.Allowed:
				nAllowed++
				remaining[d.Remaining]++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	if nAllowed != rate.Limit {
		t.Errorf("%d of %d requests allowed across %d nodes, want exactly %d", nAllowed, requests, nodes, rate.Limit)
	}
	for r, n := range remaining {
		if n != 1 || r < 0 || r >= rate.Limit {
			t.Errorf("Remaining %d seen %d times", r, n)
		}
	}
	for i, l := range limiters {
		if s := l.State(); s.Backend != redis.BackendRedis || s.Fallbacks != 0 {
			t.Errorf("node %d: state %+v", i, s)
		}
	}
}

// TestLimiterScriptError: an error from Redis that is not an outage (here a
// key of the wrong type) is returned, not hidden behind the fallback.
func TestLimiterScriptError(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	if err := c.Set(ctx, prefix+"k", "not a sorted set", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger()
	l := redis.NewLimiter(c, redis.LimiterOptions{
		Prefix:   prefix,
		Fallback: inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1}),
		Logger:   logger,
	})
	_, err := l.Allow(ctx, "k", auth.Rate{Limit: 1, Window: time.Second})
	if err == nil || !goredis.HasErrorPrefix(err, "WRONGTYPE") {
		t.Fatalf("Allow on a key of the wrong type: %v; want the WRONGTYPE error", err)
	}
	t.Logf("error: %v", err)
	if auth.ErrorCode(err) != auth.EINTERNAL {
		t.Errorf("error code %q, want %q", auth.ErrorCode(err), auth.EINTERNAL)
	}
	if s := l.State(); s.Backend != redis.BackendRedis || s.Fallbacks != 0 {
		t.Errorf("state %+v; want redis, no fallbacks", s)
	}
	if logs.String() != "" {
		t.Errorf("logged:\n%s", logs)
	}
}

func TestLimiterInvalidRate(t *testing.T) {
	// No Redis is needed: the rate is checked first.
	c, err := redis.ParseURL("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := redis.NewLimiter(c, redis.LimiterOptions{})
	for _, rate := range []auth.Rate{{}, {Limit: 0, Window: time.Second}, {Limit: 1, Window: 0}, {Limit: 1, Window: -time.Second}} {
		if _, err := l.Allow(context.Background(), "k", rate); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("rate %+v: %v; want an invalid error", rate, err)
		}
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	const keys = 1000
	run := func(b *testing.B, l auth.Limiter, rate auth.Rate) {
		var next atomic.Uint64
		var nAllowed atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				key := fmt.Sprintf("client:%d", next.Add(1)%keys)
				d, err := l.Allow(ctx, key, rate)
				if err != nil {
					b.Error(err)
					return
				}
				if d.Allowed {
					nAllowed.Add(1)
				}
			}
		})
		b.ReportMetric(float64(nAllowed.Load())/float64(b.N), "allowed/op")
	}
	b.Run("allowed", func(b *testing.B) {
		c := testClient(b)
		l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: testPrefix(b, c)})
		run(b, l, auth.Rate{Limit: 1 << 30, Window: time.Second})
	})
	b.Run("refused", func(b *testing.B) {
		c := testClient(b)
		l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: testPrefix(b, c)})
		run(b, l, auth.Rate{Limit: 10, Window: time.Hour})
	})
	b.Run("redis-down-fallback", func(b *testing.B) {
		c, err := redis.ParseURL("redis://127.0.0.1:1/0")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		logger, _ := newLogger()
		fb := inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1})
		l := redis.NewLimiter(c, redis.LimiterOptions{Fallback: fb, Logger: logger})
		run(b, l, auth.Rate{Limit: 1 << 30, Window: time.Second})
	})
}
