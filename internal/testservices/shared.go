package testservices

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Missing ends a test that cannot have a service it needs: it is skipped
// with msg — or, when the environment variable CI is set, it fails with
// msg, for CI must run every test.
func Missing(t testing.TB, msg string) {
	t.Helper()
	skip, fatal := missing(os.Getenv, msg, msg+": CI is set, and CI must run every test")
	end(t, skip, fatal)
}

// missing is the rule: skip, or with CI set fail; one of the two messages
// is returned, the other is empty.
func missing(getenv func(string) string, skip, fatal string) (string, string) {
	if getenv("CI") != "" {
		return "", fatal
	}
	return skip, ""
}

func end(t testing.TB, skip, fatal string) {
	t.Helper()
	switch {
	case fatal != "":
		t.Fatal(fatal)
	case skip != "":
		t.Skip(skip)
	}
}

// PostgresURL returns the URL of the shared PostgreSQL server that backend
// tests may use, from GOOCLAIM_TEST_POSTGRES_URL. Without it, or when the
// server does not accept connections, the test is skipped — or fails, with
// CI set (Missing).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return service(t, "PostgreSQL", "GOOCLAIM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// RedisURL is PostgresURL for Redis, from GOOCLAIM_TEST_REDIS_URL.
func RedisURL(t testing.TB) string {
	t.Helper()
	return service(t, "Redis", "GOOCLAIM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
}

func service(t testing.TB, name, envVar, example string) string {
	t.Helper()
	skipShort(t, name)
	u, skip, fatal := requireService(os.Getenv, name, envVar, example)
	end(t, skip, fatal)
	return u
}

// skipShort skips a test that needs the named service in the fast tier
// (go test -short): the backends' tests, the fleet and the fault tests run
// in the full tier, as CI runs it.
func skipShort(t testing.TB, name string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the tests that need " + name + " run in the full tier")
	}
}

// dialTimeout bounds the reachability check of a test service.
const dialTimeout = 2 * time.Second

// requireService decides what a test that needs the service should do:
// use the URL u, skip with the message skip, or fail with the message fatal. It
// reads envVar and CI with getenv, and checks with a TCP connection that
// the server at u's host and port is listening. Messages never show the
// URL's password.
func requireService(getenv func(string) string, name, envVar, example string) (u, skip, fatal string) {
	u = getenv(envVar)
	if u == "" {
		skip, fatal = missing(getenv, fmt.Sprintf("set %s=%s to run the %s tests", envVar, example, name),
			fmt.Sprintf("CI is set but %s is not: CI must run the %s tests; set %s=%s", envVar, name, envVar, example))
		return "", skip, fatal
	}
	addr := serviceAddr(u)
	if addr == "" {
		return u, "", "" // not a host:port URL (a Unix socket, say): let the driver try
	}
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err == nil {
		conn.Close()
		return u, "", ""
	}
	msg := fmt.Sprintf("%s at %s (from %s) is unreachable: %v", name, addr, envVar, err)
	skip, fatal = missing(getenv, msg+": start the server, or unset "+envVar+" to skip the "+name+" tests",
		msg+": CI must run the "+name+" tests; start the server")
	return "", skip, fatal
}

// serviceAddr returns the host:port of a service URL (the first host of a
// list), with the scheme's default port; "" when it names no TCP host.
func serviceAddr(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	host, _, _ := strings.Cut(u.Host, ",") // postgres://h1:5432,h2:5432/db
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := map[string]string{"postgres": "5432", "postgresql": "5432", "redis": "6379", "rediss": "6379"}[u.Scheme]
	if port == "" {
		return ""
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}
