package redis_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/redis"
)

func TestQuotaCounterConformance(t *testing.T) {
	c := testClient(t)
	authtest.RunQuotaTests(t, func(t *testing.T) auth.QuotaCounter {
		return redis.NewQuotaCounter(c, redis.QuotaCounterOptions{Prefix: testPrefix(t, c)})
	})
}

// TestQuotaCounterUnreachable: with Redis down, Count fails closed with an
// error matching auth.ErrUnavailable (the token endpoint's 503): counting
// per node instead would let the fleet issue more than the quota.
func TestQuotaCounterUnreachable(t *testing.T) {
	c, err := redis.ParseURL("redis://127.0.0.1:1/0?dial_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := redis.NewQuotaCounter(c, redis.QuotaCounterOptions{})
	d, err := q.Count(context.Background(), "c", []auth.Rate{{Limit: 5, Window: time.Hour}}, false, time.Now())
	if d.Allowed || !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Count with Redis down = %+v, %v; want refused and an unavailable error", d, err)
	}
}

// TestQuotaCounterKeys: one hash per client and window, named by the
// window's length and start, under the client's hash tag, expiring a
// little after the window ends.
func TestQuotaCounterKeys(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	q := redis.NewQuotaCounter(c, redis.QuotaCounterOptions{Prefix: prefix})
	now := time.Date(2026, 12, 7, 14, 35, 0, 0, time.UTC)
	if _, err := q.Count(context.Background(), "app", []auth.Rate{{Limit: 5, Window: time.Hour}}, false, now); err != nil {
		t.Fatal(err)
	}
	key := prefix + "{app}:3600:" + strconv.FormatInt(time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC).Unix(), 10)
	if n, err := c.HGet(context.Background(), key, "n").Result(); err != nil || n != "1" {
		t.Fatalf("HGET %s n = %q, %v; want 1", key, n, err)
	}
	ttl, err := c.TTL(context.Background(), key).Result()
	if err != nil || ttl <= 29*time.Minute || ttl > 30*time.Minute {
		t.Errorf("TTL = %v, %v; want about 30m (25m to the window's end, 5m after)", ttl, err)
	}
}
