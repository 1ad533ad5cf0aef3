package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
)

// Defaults of LimiterOptions.
const (
	DefaultPrefix        = "gooclaim:rl:"
	DefaultRetryInterval = time.Second
)

// The backends LimiterState reports.
const (
	// BackendRedis: requests are decided in Redis, for the whole fleet.
	BackendRedis = "redis"
	// BackendFallback: Redis is unreachable and requests are decided by
	// LimiterOptions.Fallback, per node.
	BackendFallback = "fallback"
	// BackendUnavailable: Redis is unreachable and there is no fallback:
	// requests fail with an auth.EUNAVAILABLE error.
	BackendUnavailable = "unavailable"
)

// LimiterOptions configures a Limiter. The zero value works: server time,
// fail closed.
type LimiterOptions struct {
	// Prefix is put before every key. Empty means DefaultPrefix.
	Prefix string

	// Clock tells the time. Nil means the Redis server's clock (TIME, read
	// inside the script), so that all nodes share one clock however theirs
	// drift. Tests pass an authtest.Clock. Times are kept in milliseconds.
	Clock auth.Clock

	// Fallback decides the requests while Redis is unreachable, typically an
	// inmem.Limiter with the same rates: each node then enforces the limit
	// on its own, so the fleet admits up to (nodes x limit) per window until
	// Redis is back. Nil means fail closed: Allow returns an error matching
	// auth.ErrUnavailable, which the HTTP layer answers with 503.
	Fallback auth.Limiter

	// Logger receives one Error when Redis becomes unreachable and one Info
	// when it answers again. Nil means slog.Default().
	Logger *slog.Logger

	// RetryInterval is how often, at most, a request tries Redis again while
	// it is unreachable; the other requests go straight to the fallback (or
	// fail) without waiting for Redis. Zero or less means
	// DefaultRetryInterval.
	RetryInterval time.Duration
}

// LimiterState is what a Limiter is doing, for health checks and metrics.
type LimiterState struct {
	// Backend is BackendRedis, BackendFallback or BackendUnavailable.
	Backend string
	// Since is when the limiter switched to Backend (or was created).
	Since time.Time
	// LastError is the latest error that made Redis count as unreachable,
	// kept after it answers again; empty if there was none.
	LastError string
	// Fallbacks counts the requests decided by the fallback since the
	// limiter was created.
	Fallbacks uint64
}

// Limiter is the fleet-wide auth.Limiter: an exact sliding log per key, in
// Redis, with the semantics of inmem.Limiter (see allowScript), decided by
// one atomic script per request.
//
// When Redis cannot be reached (a connection error, a timeout, or a server
// that is loading, read-only or out of memory), the request goes to the
// Fallback and the limiter enters degraded mode: it logs the error once,
// sends later requests straight to the fallback, and lets one request at a
// time try Redis again once per RetryInterval; when Redis answers, it logs
// that once and uses Redis again. Only that request waits for Redis; with
// the default timeouts of ParseURL, at most a few seconds. Other errors
// (a script error, a key of the wrong type, a refused command) are bugs or
// misconfiguration, not outages, and are returned as they are.
//
// Limiter does not own the client: closing it is the caller's.
type Limiter struct {
	client   goredis.UniversalClient
	prefix   string
	clock    auth.Clock // nil: the server's clock
	fallback auth.Limiter
	logger   *slog.Logger
	retry    time.Duration

	// Every request adds a member node+seq, unique across the fleet.
	node string
	seq  atomic.Uint64

	batch batcher // sends the scripts, batching concurrent requests

	degraded  atomic.Bool // read on every request, without the lock
	fallbacks atomic.Uint64

	mu        sync.Mutex
	since     time.Time
	lastErr   error
	nextTry   time.Time // when degraded: the earliest time to try Redis again
	probing   bool      // when degraded: a request is trying Redis
	episodeAt uint64    // fallbacks when the degraded episode began
}

var _ auth.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter over client; see LimiterOptions for the rest.
func NewLimiter(client goredis.UniversalClient, opts LimiterOptions) *Limiter {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultRetryInterval
	}
	return &Limiter{
		client:   client,
		batch:    batcher{client: client},
		prefix:   opts.Prefix,
		clock:    opts.Clock,
		fallback: opts.Fallback,
		logger:   opts.Logger,
		retry:    opts.RetryInterval,
		node:     rand.Text()[:10] + ".",
		since:    time.Now(),
	}
}

// Allow decides a request for key under rate, and records it if allowed.
// Its errors: one matching auth.ErrInvalid when rate.Limit < 1 or
// rate.Window <= 0; one matching auth.ErrUnavailable when Redis is
// unreachable and there is no fallback; the context's when it ends first;
// Redis's when it answers with an error that is not an outage; and the
// fallback's.
func (l *Limiter) Allow(ctx context.Context, key string, rate auth.Rate) (auth.Decision, error) {
	if rate.Limit < 1 || rate.Window <= 0 {
		return auth.Decision{}, auth.Errorf(auth.EINVALID, "invalid rate limit %d/%v: the limit must be at least 1 and the window positive", rate.Limit, rate.Window)
	}
	if err := ctx.Err(); err != nil {
		return auth.Decision{}, fmt.Errorf("rate limit: %w", err)
	}
	probe := false
	if l.degraded.Load() {
		if probe = l.claimProbe(); !probe {
			return l.degradedAllow(ctx, key, rate, nil)
		}
	}
	d, err := l.allowRedis(ctx, key, rate)
	switch {
	case err == nil:
		if probe {
			l.reachable()
		}
		return d, nil
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up, which says nothing about Redis.
		if probe {
			l.releaseProbe()
		}
		return auth.Decision{}, fmt.Errorf("rate limit: %w", err)
	case isOutage(err):
		l.unreachable(err, probe)
		return l.degradedAllow(ctx, key, rate, err)
	default:
		// Redis answered: it is reachable, and the error is a bug.
		if probe {
			l.reachable()
		}
		return auth.Decision{}, fmt.Errorf("rate limit in Redis: %w", err)
	}
}

// degradedAllow decides a request without Redis; cause is why, if known.
func (l *Limiter) degradedAllow(ctx context.Context, key string, rate auth.Rate, cause error) (auth.Decision, error) {
	if l.fallback == nil {
		if cause == nil {
			l.mu.Lock()
			cause = l.lastErr
			l.mu.Unlock()
		}
		return auth.Decision{}, fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE, "the rate limiter cannot reach Redis"), cause)
	}
	l.fallbacks.Add(1)
	return l.fallback.Allow(ctx, key, rate)
}

// claimProbe reports whether this request may try Redis while degraded:
// when no other request is trying and RetryInterval has passed since the
// last try (or the limiter is no longer degraded).
func (l *Limiter) claimProbe() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.degraded.Load() {
		return true
	}
	if l.probing || time.Now().Before(l.nextTry) {
		return false
	}
	l.probing = true
	return true
}

// releaseProbe lets the next request try Redis at once: this one did not
// find out whether Redis is back.
func (l *Limiter) releaseProbe() {
	l.mu.Lock()
	l.probing = false
	l.mu.Unlock()
}

// unreachable records that Redis did not answer, entering degraded mode
// (and logging it) unless already there, and schedules the next try. probe
// says whether the request was the one trying Redis while degraded (others
// may have been waiting for Redis when it went away).
func (l *Limiter) unreachable(err error, probe bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastErr = err
	if l.degraded.Load() {
		if probe {
			l.probing = false
			l.nextTry = now.Add(l.retry)
		}
		return
	}
	l.nextTry = now.Add(l.retry)
	l.degraded.Store(true)
	l.since = now
	l.episodeAt = l.fallbacks.Load()
	if l.fallback != nil {
		l.logger.Error("rate limiter: Redis unreachable, using the in-memory per-node limit", "err", err, "retry_interval", l.retry)
	} else {
		l.logger.Error("rate limiter: Redis unreachable, refusing requests (no fallback)", "err", err, "retry_interval", l.retry)
	}
}

// reachable leaves degraded mode (and logs it) if the limiter is in it.
func (l *Limiter) reachable() {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probing = false
	if !l.degraded.Load() {
		return
	}
	l.degraded.Store(false)
	l.logger.Info("rate limiter: Redis reachable again, using the fleet-wide limit",
		"degraded_for", now.Sub(l.since).Round(time.Millisecond),
		"fallbacks", l.fallbacks.Load()-l.episodeAt)
	l.since = now
}

// State returns what the limiter is doing.
func (l *Limiter) State() LimiterState {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LimiterState{Backend: BackendRedis, Since: l.since, Fallbacks: l.fallbacks.Load()}
	if l.degraded.Load() {
		s.Backend = BackendFallback
		if l.fallback == nil {
			s.Backend = BackendUnavailable
		}
	}
	if l.lastErr != nil {
		s.LastError = l.lastErr.Error()
	}
	return s
}

// isOutage reports whether err means that Redis cannot serve requests now,
// rather than that it refused this one: a network error or timeout, no
// connection to be had, or a server that is loading its data, read-only (a
// replica after a failover), out of memory, busy with a script, without a
// master, or with a cluster that is down.
func isOutage(err error) bool {
	var (
		ne  net.Error
		bad badReplyError
		re  goredis.Error
	)
	switch {
	case errors.As(err, &bad):
		return false
	case errors.As(err, &ne),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, goredis.ErrClosed),
		errors.Is(err, goredis.ErrPoolTimeout),
		errors.Is(err, goredis.ErrPoolExhausted),
		goredis.IsLoadingError(err),
		goredis.IsReadOnlyError(err),
		goredis.IsOOMError(err),
		goredis.IsMasterDownError(err),
		goredis.IsClusterDownError(err),
		goredis.IsTryAgainError(err),
		goredis.IsMaxClientsError(err),
		goredis.HasErrorPrefix(err, "BUSY"):
		return true
	}
	// Anything else that is not a reply from Redis (io.EOF, a connection
	// the driver gave up on) is a connection failure too.
	return !errors.As(err, &re)
}
