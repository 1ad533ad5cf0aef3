package redis_test

import (
	"testing"

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
