// Package redis implements the root interfaces over Redis. Its Limiter is the
// fleet-wide auth.Limiter: every node of a deployment keeps its sliding logs
// in one Redis, so a client gets rate.Limit requests per window in total,
// not per node, whichever node its requests reach. (inmem.Limiter is the
// per-node one, and the natural LimiterOptions.Fallback while Redis is
// unreachable.) Its ReplayCache is the fleet-wide auth.ReplayCache: a
// client assertion's jti used on one node is refused on every other.
//
// A decision is one Lua script (EVALSHA, falling back to EVAL when the server
// does not have it cached), because a script runs atomically on the server:
// reading the log, deciding and recording the request cannot interleave with
// another node's, so no two nodes can both take the last slot of a window,
// and a request costs one round trip instead of a WATCH/MULTI/EXEC exchange
// that would be retried under contention. The script touches one key only,
// so it runs unchanged on Redis Cluster.
package redis

import (
	"errors"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Connection settings ParseURL applies unless the URL sets them (as the
// query parameters dial_timeout, read_timeout, write_timeout, pool_size,
// pool_timeout and max_retries; DialerRetries is not a URL parameter). A rate limiter answers on the request path,
// so a slow Redis must fail fast and let the fallback take over.
const (
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = 500 * time.Millisecond
	DefaultWriteTimeout = 500 * time.Millisecond
	DefaultPoolSize     = 10
	DefaultPoolTimeout  = time.Second
	// DefaultDialerRetries is one attempt per dial: the driver's five, with
	// backoff, would make a request wait seconds for a Redis that is down.
	DefaultDialerRetries = 1
	// DefaultMaxRetries is one retry: enough to replace a pooled connection
	// that Redis closed (a restart), without multiplying the wait for a Redis
	// that is down. A retried script may count its request twice, which errs
	// on the side of refusing.
	DefaultMaxRetries = 1
)

// ParseURL returns a client for a redis:// or rediss:// (TLS) URL, such as
// redis://:password@host:6379/0 or rediss://user:password@host/1, with the
// timeouts above unless the URL sets its own. The client respects the
// contexts it is given (their deadlines and cancellation). The caller closes
// it. Errors never include the password.
func ParseURL(rawURL string) (goredis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the URL, or a piece of it that may be
		// part of the password.
		return nil, errMalformedURL
	}
	if u.User == nil && strings.Contains(rawURL, "@") {
		// An unescaped '/', '?' or '#' in the password ended the host early:
		// what follows (path, query or fragment) holds the rest of it.
		return nil, errMalformedURL
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, urlError(u, "the scheme must be redis, or rediss for TLS")
	}
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		// The driver's error is not wrapped: its text is all it carries, and
		// wrapping it would hand the unscrubbed text to whoever unwraps it.
		return nil, urlError(u, strings.TrimPrefix(err.Error(), "redis: "))
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = DefaultPoolSize
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = DefaultPoolTimeout
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = DefaultDialerRetries
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	opts.ContextTimeoutEnabled = true
	return goredis.NewClient(opts), nil
}

// errMalformedURL describes a URL that does not parse without quoting it.
var errMalformedURL = errors.New("redis URL (not shown, as it may hold a password): malformed; " +
	"percent-escape the characters @ : / ? # % in the user name and password")

// urlError says what is wrong with u, showing u without its password,
// which is also scrubbed from the rest of the message (a path or a query
// may repeat it).
func urlError(u *url.URL, problem string) error {
	msg := "redis URL " + u.Redacted() + ": " + problem
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return errors.New(msg)
}
