package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/redis"
)

// newestScore is the newest time recorded in key's log, in ms.
func newestScore(t *testing.T, c goredis.UniversalClient, key string) int64 {
	t.Helper()
	z, err := c.ZRangeWithScores(context.Background(), key, -1, -1).Result()
	if err != nil || len(z) != 1 {
		t.Fatalf("newest of %s: %v %v", key, z, err)
	}
	return int64(z[0].Score)
}

func mustAllow(t *testing.T, l *redis.Limiter, key string, rate auth.Rate, want bool) auth.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, rate)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed != want {
		t.Fatalf("%+v; want Allowed %v", d, want)
	}
	return d
}

// TestLimiterExpiryServerTime: with the server's clock the key expires at
// the absolute time newest+window (the Redis clock's, to the millisecond the
// script ran in), which a refusal leaves as the last add set it, whether
// the limit is reached or was lowered below what is counted.
func TestLimiterExpiryServerTime(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix})
	rate := auth.Rate{Limit: 3, Window: time.Minute}
	key := prefix + "k"
	for range rate.Limit {
		mustAllow(t, l, "k", rate, true)
	}
	newest := newestScore(t, c, key)
	at, err := c.PExpireTime(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := time.Duration(newest)*time.Millisecond + rate.Window
	if at < want || at > want+time.Millisecond {
		t.Fatalf("after the adds the key expires at %v, want newest+window = %v", at, want)
	}
	for _, r := range []auth.Rate{rate, {Limit: 1, Window: rate.Window}} {
		for range 3 {
			mustAllow(t, l, "k", r, false)
			if got := c.PExpireTime(ctx, key).Val(); got != at {
				t.Fatalf("limit %d: after a refusal the key expires at %v, want %v as before", r.Limit, got, at)
			}
		}
	}
	if n := c.ZCard(ctx, key).Val(); n != int64(rate.Limit) {
		t.Errorf("%d times recorded, want %d", n, rate.Limit)
	}
}

// TestLimiterExpiryNodeClock: with the node's clock a refusal sets the
// expiry to newest+window-now, as an add does, also when the clock is
// behind the newest time (the request then counts at that newest time) or
// the limit was lowered.
func TestLimiterExpiryNodeClock(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	clock := authtest.NewClock(authtest.Epoch)
	l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix, Clock: clock})
	rate := auth.Rate{Limit: 3, Window: time.Minute}
	key := prefix + "k"
	ms := func(d time.Duration) int64 { return int64(d / time.Millisecond) }
	// pttl checks the key's time to live, which Redis counts down in its own
	// time meanwhile: allow a little.
	pttl := func(what string, want time.Duration) {
		t.Helper()
		got := c.PTTL(ctx, key).Val()
		if got > want || got < want-time.Second {
			t.Fatalf("%s: time to live %v, want %v", what, got, want)
		}
	}
	start := clock.Now().UnixMilli()
	mustAllow(t, l, "k", rate, true)
	clock.Advance(10 * time.Second)
	mustAllow(t, l, "k", rate, true)
	mustAllow(t, l, "k", rate, true)
	pttl("after the adds", rate.Window)

	clock.Advance(20 * time.Second)
	d := mustAllow(t, l, "k", rate, false)
	if d.RetryAfter != 30*time.Second || d.Reset != 30*time.Second {
		t.Fatalf("refused: %+v; want Reset = RetryAfter = 30s", d)
	}
	pttl("after a refusal 20s later", rate.Window-20*time.Second)

	d = mustAllow(t, l, "k", auth.Rate{Limit: 1, Window: rate.Window}, false)
	if d.Reset != 30*time.Second || d.RetryAfter != 40*time.Second {
		t.Fatalf("refused with the limit lowered: %+v; want Reset 30s, RetryAfter 40s", d)
	}
	pttl("after a refusal with the limit lowered", rate.Window-20*time.Second)

	// The clock goes 25s back, 5s behind the newest time.
	clock.Advance(-25 * time.Second)
	mustAllow(t, l, "k", rate, false)
	pttl("after a refusal with the clock behind", rate.Window+5*time.Second)
	mustAllow(t, l, "k", auth.Rate{Limit: 4, Window: rate.Window}, true)
	if got, want := newestScore(t, c, key), start+ms(10*time.Second); got != want {
		t.Fatalf("an add with the clock behind recorded at %d, want the newest time %d", got, want)
	}
	pttl("after an add with the clock behind", rate.Window+5*time.Second)
}
