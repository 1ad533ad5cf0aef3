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
// so the times <= now-window are removed before counting: at once if fewer
// than limit times are in the set (the request is then allowed whatever is
// removed), else only if the oldest is one of them, which a refusal seldom
// finds (then it removes nothing). The request is admitted iff fewer than
// limit times remain, and only then recorded. Should the clock be behind the
// newest time (another node's clock, or a step back), the request is
// recorded at that newest time, which keeps the log's order and errs on the
// side of refusing.
//
// The key expires when its newest time leaves the window, so an idle key
// costs nothing: each add sets the expiry to newest+window-now. A refusal
// leaves the newest time as the last add left it (it removes only times
// older than those it counts, of which there is at least one), so with the
// server's clock (TIME), on which Redis's expiry runs too, the key already
// expires at the absolute time newest+window, and a refusal does not touch
// it: it writes nothing. With the node's clock (ARGV[3]), which need not run
// with the server's, a refusal sets the expiry again to newest+window-now.
//
// A request's member is ARGV[4] alone: node+seq is unique across the fleet
// (see Limiter.node), and the score holds the time.
//
// For speed (each redis.call costs, and a score read costs more, since
// Redis formats it as a string): the oldest time is the only score read
// but when the limit was lowered (the retry time) or the clock is behind
// (the newest, which ZCOUNT detects); counts come from ZCARD and the
// removal's reply; and the arguments of redis.call are strings, since Redis
// formats a Lua number with %.17g, which costs more than string.format.
//
//	KEYS[1]  the key's sorted set
//	ARGV[1]  limit, at least 1
//	ARGV[2]  window in ms, at least 1
//	ARGV[3]  now in ms, or "" for the server's clock (TIME)
//	ARGV[4]  a member unique to this request
//
// It returns, if allowed, {counted (after this request, at least 1), reset}
// and, if refused, {0, reset, retry}, or {0, reset} if retry is reset, all
// in ms from now: reset is when the
// oldest counted time leaves the window, retry when the time whose leaving
// lets one more in does (the (counted-limit)-th oldest, 0-based, which is
// the oldest unless the limit was lowered below what is counted).
//
// TIME before a write is allowed since Redis 5 replicates a script's effects
// rather than the script, and is the only choice since Redis 7.
var allowScript = goredis.NewScript(allowScriptSource)

const allowScriptSource = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now
local nowArg = ARGV[3]
if nowArg == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  nowArg = string.format("%d", now)
else
  now = tonumber(nowArg)
end

-- Count the log, and remove the times out of the window: at once if
-- the request is allowed anyway (fewer than limit times in all); else only
-- if the oldest is out of the window, which a refusal seldom finds.
local n = redis.call("ZCARD", key)
local oldest = now
if n >= limit then
  oldest = tonumber(redis.call("ZRANGE", key, "0", "0", "WITHSCORES")[2])
  if oldest <= now - window then
    n = n - redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("%d", now - window))
    oldest = now
    if n > 0 then
      oldest = tonumber(redis.call("ZRANGE", key, "0", "0", "WITHSCORES")[2])
    end
  end
elseif n > 0 then
  n = n - redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("%d", now - window))
  if n > 0 then
    oldest = tonumber(redis.call("ZRANGE", key, "0", "0", "WITHSCORES")[2])
  end
end

if n < limit then
  local at = now
  if n == 1 then
    if oldest > now then
      at = oldest
    end
  elseif n > 1 and redis.call("ZCOUNT", key, "(" .. nowArg, "+inf") > 0 then
    at = tonumber(redis.call("ZRANGE", key, "-1", "-1", "WITHSCORES")[2])
  end
  local atArg, ttl = nowArg, ARGV[2]
  if at > now then
    atArg = string.format("%d", at)
    ttl = string.format("%d", at + window - now)
  end
  redis.call("ZADD", key, atArg, ARGV[4])
  redis.call("PEXPIRE", key, ttl)
  return {n + 1, oldest + window - now}
end

local retry = oldest
if n > limit then
  local i = string.format("%d", n - limit)
  retry = tonumber(redis.call("ZRANGE", key, i, i, "WITHSCORES")[2])
end
if ARGV[3] ~= "" then
  local newest = oldest
  if n > 1 then
    newest = tonumber(redis.call("ZRANGE", key, "-1", "-1", "WITHSCORES")[2])
  end
  redis.call("PEXPIRE", key, string.format("%d", newest + window - now))
end
if retry == oldest then
  return {0, oldest + window - now}
end
return {0, oldest + window - now, retry + window - now}
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
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	d := auth.Decision{
		Allowed: reply[0] > 0,
		Limit:   rate.Limit,
		Window:  rate.Window,
		Reset:   ms(reply[1]),
	}
	if d.Allowed {
		d.Remaining = rate.Limit - int(reply[0])
	} else {
		d.RetryAfter = ms(reply[2])
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
