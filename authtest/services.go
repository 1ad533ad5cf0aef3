package authtest

import (
	"testing"

	"github.com/gooclaim/auth/internal/testservices"
)

// PostgresURL returns the URL of the PostgreSQL server that backend tests
// may use, from GOOCLAIM_TEST_POSTGRES_URL. Without it the test is skipped —
// unless the environment variable CI is set: CI must run every test, so
// there a missing URL, or a server that does not accept connections, fails
// the test instead (the rule of internal/testservices, which every test
// that needs a service follows).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return testservices.PostgresURL(t)
}

// RedisURL is PostgresURL for Redis, from GOOCLAIM_TEST_REDIS_URL.
func RedisURL(t testing.TB) string {
	t.Helper()
	return testservices.RedisURL(t)
}
