package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/redis"
)

func TestReplayCacheConformance(t *testing.T) {
	c := testClient(t)
	authtest.RunReplayCacheTests(t, func(t *testing.T, clock *authtest.Clock) auth.ReplayCache {
		return redis.NewReplayCache(c, redis.ReplayCacheOptions{Prefix: testPrefix(t, c), Clock: clock})
	})
}

// TestReplayCacheKeys: the key is the prefix and the given key, with a
// time to live of until less now, rounded up to the millisecond.
func TestReplayCacheKeys(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	clock := authtest.NewClock(authtest.Epoch)
	rc := redis.NewReplayCache(c, redis.ReplayCacheOptions{Prefix: prefix, Clock: clock})
	ctx := context.Background()
	if ok, err := rc.Use(ctx, "client\x00jti-1", clock.Now().Add(90*time.Second+time.Microsecond)); !ok || err != nil {
		t.Fatalf("Use = %v, %v", ok, err)
	}
	ttl, err := c.PTTL(ctx, prefix+"client\x00jti-1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 89*time.Second || ttl > 90*time.Second+time.Millisecond {
		t.Errorf("PTTL = %v, want about 90.001s", ttl)
	}
}

// TestReplayCacheDefaultPrefix: without a Prefix, keys start with
// DefaultReplayPrefix.
func TestReplayCacheDefaultPrefix(t *testing.T) {
	c := testClient(t)
	key := "test:" + t.Name() + ":" + time.Now().Format(time.RFC3339Nano)
	t.Cleanup(func() { c.Del(context.Background(), redis.DefaultReplayPrefix+key) })
	rc := redis.NewReplayCache(c, redis.ReplayCacheOptions{})
	if ok, err := rc.Use(context.Background(), key, time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("Use = %v, %v", ok, err)
	}
	if n := c.Exists(context.Background(), redis.DefaultReplayPrefix+key).Val(); n != 1 {
		t.Errorf("key %s%s not found", redis.DefaultReplayPrefix, key)
	}
}

// TestReplayCacheUnreachable: with Redis down, Use fails closed with an
// error matching auth.ErrUnavailable.
func TestReplayCacheUnreachable(t *testing.T) {
	c, err := redis.ParseURL("redis://127.0.0.1:1/0?dial_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := redis.NewReplayCache(c, redis.ReplayCacheOptions{})
	ok, err := rc.Use(context.Background(), "k", time.Now().Add(time.Minute))
	if ok || !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Use with Redis down = %v, %v; want false and an unavailable error", ok, err)
	}
}
