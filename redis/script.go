package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
)

// allowScript decides one request for one key: the same sliding log as
// inmem.Limiter, kept in a sorted set of the accepted requests whose scores
// are their times in milliseconds. A time t counts at now iff now-t < window,
// so the times <= now-window are removed first. The request is admitted iff
// fewer than limit times remain, and only then recorded. Should the clock be
// behind the newest time (another node's clock, or a step back), the request
// is recorded at that newest time, which keeps the log's order and errs on
// the side of refusing. The key expires when its newest time leaves the
// window, so an idle key costs nothing.
//
//	KEYS[1]  the key's sorted set
//	ARGV[1]  limit, at least 1
//	ARGV[2]  window in ms, at least 1
//	ARGV[3]  now in ms, or "" for the server's clock (TIME)
//	ARGV[4]  a suffix unique to this request, making its member unique
//
// It returns {allowed (1 or 0), counted (after this request), now, the oldest
// counted time, the time whose leaving lets one more in (refused only: the
// (counted-limit)-th oldest, 0-based, which is the oldest unless the limit
// was lowered below what is counted)}.
//
// TIME before a write is allowed since Redis 5 replicates a script's effects
// rather than the script, and is the only choice since Redis 7.
var allowScript = goredis.NewScript(allowScriptSource)

const allowScriptSource = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now
if ARGV[3] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[3])
end

redis.call("ZREMRANGEBYSCORE", key, "-inf", now - window)
local n = redis.call("ZCARD", key)
local newest = now
if n > 0 then
  newest = tonumber(redis.call("ZRANGE", key, -1, -1, "WITHSCORES")[2])
end

local allowed = 0
local retry = 0
if n < limit then
  if newest < now then
    newest = now
  end
  redis.call("ZADD", key, newest, newest .. "-" .. ARGV[4])
  n = n + 1
  allowed = 1
else
  retry = tonumber(redis.call("ZRANGE", key, n - limit, n - limit, "WITHSCORES")[2])
end
local oldest = tonumber(redis.call("ZRANGE", key, 0, 0, "WITHSCORES")[2])
redis.call("PEXPIRE", key, newest + window - now)
return {allowed, n, now, oldest, retry}
`

// allowRedis runs allowScript for key, batched with the other requests of
// the moment (see batcher), and turns its reply into a decision computed as
// inmem.Limiter computes it, at millisecond resolution.
func (l *Limiter) allowRedis(ctx context.Context, key string, rate auth.Rate) (auth.Decision, error) {
	window := windowMillis(rate.Window)
	c := getCall()
	c.key = l.prefix + key
	c.limit = int64(rate.Limit)
	c.window = window
	c.now = c.now[:0]
	if l.clock != nil {
		c.now = strconv.AppendInt(c.now, l.clock.Now().UnixMilli(), 10)
	}
	c.suffix = strconv.AppendUint(append(c.suffix[:0], l.node...), l.seq.Add(1), 36)
	reply, err := l.batch.do(ctx, c)
	if err != nil {
		return auth.Decision{}, err
	}
	allowed, counted, nowMs, oldest, retryAt := reply[0] == 1, int(reply[1]), reply[2], reply[3], reply[4]
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	d := auth.Decision{
		Allowed: allowed,
		Limit:   rate.Limit,
		Window:  rate.Window,
		Reset:   ms(oldest + window - nowMs),
	}
	if allowed {
		d.Remaining = rate.Limit - counted
	} else {
		d.RetryAfter = ms(retryAt + window - nowMs)
	}
	return d, nil
}

// windowMillis is the window in whole milliseconds, rounded up: the log is
// kept at millisecond resolution, and rounding up never allows more.
func windowMillis(w time.Duration) int64 {
	return int64((w + time.Millisecond - 1) / time.Millisecond)
}

// badReplyError is a reply of the script that Go cannot read: a bug, not an
// outage.
type badReplyError struct{ err error }

func (e badReplyError) Error() string { return e.err.Error() }
func (e badReplyError) Unwrap() error { return e.err }
