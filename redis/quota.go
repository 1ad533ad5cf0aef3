package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
)

// DefaultQuotaPrefix is QuotaCounterOptions.Prefix's default.
const DefaultQuotaPrefix = "gooclaim:quota:"

// quotaGrace keeps a window's key a little past the window's end, so that
// a node whose clock is slightly behind still finds the count it shares
// with the others rather than a fresh one.
const quotaGrace = 5 * time.Minute

// QuotaCounterOptions configures a QuotaCounter. The zero value works.
type QuotaCounterOptions struct {
	// Prefix is put before every key. Empty means DefaultQuotaPrefix.
	Prefix string
}

// QuotaCounter is the fleet-wide auth.QuotaCounter: one hash per client and
// window ({n: tokens counted, b: breached}), decided for all of a
// client's quotas by one atomic script (quotaScript), so that the fleet
// issues exactly Limit tokens per window: the check and the count are one
// step, and a refused token is never counted, so nothing has to be given
// back. The window comes from the node's clock (auth.QuotaWindow) and is
// part of the key, which expires quotaGrace after the window ends (a time
// to live from the node's clock, like ReplayCache's, so that a Redis
// clock that differs from the nodes' does not end it early).
//
// It has no fallback: while Redis is unreachable Count fails with an
// error matching auth.ErrUnavailable (the token endpoint answers 503),
// since counting per node would let the fleet issue nodes x Limit. Only
// clients with a quota ask it. The keys of one client share a hash tag,
// so the script runs unchanged on Redis Cluster.
//
// QuotaCounter does not own the client: closing it is the caller's.
type QuotaCounter struct {
	client goredis.UniversalClient
	prefix string
}

var _ auth.QuotaCounter = (*QuotaCounter)(nil)

// NewQuotaCounter returns a QuotaCounter over client.
func NewQuotaCounter(client goredis.UniversalClient, opts QuotaCounterOptions) *QuotaCounter {
	if opts.Prefix == "" {
		opts.Prefix = DefaultQuotaPrefix
	}
	return &QuotaCounter{client: client, prefix: opts.Prefix}
}

// quotaScript counts one token against every quota of a client, or none.
//
//	KEYS[i]       the hash of quota i's current window
//	ARGV[1]       "1" in warn mode, "0" to enforce
//	ARGV[3i-1]    quota i's limit
//	ARGV[3i]      quota i's window end, Unix seconds (to compare ends)
//	ARGV[3i+1]    its key's time to live, in seconds
//
// Enforcing, if a window is full nothing is counted and the reply is
// {0, refused, first, used...}: refused is the full quota whose window
// ends last (waiting until then lets the token through, as far as the
// quotas known now go), first is 1 if this is the first refusal in its
// window (HSETNX b). Otherwise every count is incremented and the reply is
// {1, breached, first, used...}: breached is a quota now past its limit
// (warn mode), preferring one breached for the first time, 0 for none; a
// second quota breached for the first time by the same token is marked
// (and reported) by the next one, so that each first breach is reported.
var quotaScript = goredis.NewScript(`
local warn = ARGV[1] == "1"
local used = {}
local refused = 0
for i, key in ipairs(KEYS) do
  local a = 3 * i - 1
  used[i] = tonumber(redis.call("HGET", key, "n") or "0")
  if not warn and used[i] >= tonumber(ARGV[a]) then
    if refused == 0 or tonumber(ARGV[a + 1]) > tonumber(ARGV[3 * refused]) then
      refused = i
    end
  end
end
if refused > 0 then
  local first = redis.call("HSETNX", KEYS[refused], "b", "1")
  redis.call("EXPIRE", KEYS[refused], ARGV[3 * refused + 1])
  return {0, refused, first, unpack(used)}
end
local breached, first = 0, 0
for i, key in ipairs(KEYS) do
  local a = 3 * i - 1
  used[i] = redis.call("HINCRBY", key, "n", 1)
  redis.call("EXPIRE", key, ARGV[a + 2])
  if used[i] > tonumber(ARGV[a]) and (breached == 0 or first == 0) then
    local f = redis.call("HSETNX", key, "b", "1")
    if breached == 0 or f == 1 then
      breached, first = i, f
    end
  end
end
return {1, breached, first, unpack(used)}
`)

// Count implements auth.QuotaCounter. Errors: one matching
// auth.ErrInvalid for a quota whose window does not divide a day, one
// matching auth.ErrUnavailable when Redis is unreachable, the context's
// when it ends first, and Redis's when it answers with another error.
func (q *QuotaCounter) Count(ctx context.Context, id string, qs []auth.Rate, warn bool, now time.Time) (auth.QuotaDecision, error) {
	if len(qs) == 0 {
		return auth.QuotaDecision{Allowed: true, Breached: -1}, nil
	}
	keys := make([]string, len(qs))
	ends := make([]time.Time, len(qs))
	args := make([]any, 1, 1+3*len(qs))
	args[0] = "0"
	if warn {
		args[0] = "1"
	}
	for i, r := range qs {
		if r.Limit < 1 || auth.CheckQuotaWindow(r.Window) != nil {
			return auth.QuotaDecision{}, auth.Errorf(auth.EINVALID, "client %q: invalid quota %d/%v", id, r.Limit, r.Window)
		}
		start, end := auth.QuotaWindow(now, r.Window)
		ends[i] = end
		keys[i] = q.prefix + "{" + id + "}:" + strconv.FormatInt(int64(r.Window/time.Second), 10) + ":" + strconv.FormatInt(start.Unix(), 10)
		ttl := int64((end.Sub(now) + quotaGrace) / time.Second)
		args = append(args, strconv.Itoa(r.Limit), strconv.FormatInt(end.Unix(), 10), strconv.FormatInt(ttl, 10))
	}
	reply, err := quotaScript.Run(ctx, q.client, keys, args...).Int64Slice()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return auth.QuotaDecision{}, fmt.Errorf("token quota: %w", err)
	case isOutage(err):
		return auth.QuotaDecision{}, fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE, "the token quota cannot reach Redis"), err)
	default:
		return auth.QuotaDecision{}, fmt.Errorf("token quota in Redis: %w", err)
	}
	if len(reply) != 3+len(qs) {
		return auth.QuotaDecision{}, fmt.Errorf("token quota in Redis: the script answered %d values, want %d", len(reply), 3+len(qs))
	}
	d := auth.QuotaDecision{Allowed: reply[0] == 1, Breached: int(reply[1]) - 1, FirstBreach: reply[2] == 1, Used: make([]int, len(qs))}
	for i := range qs {
		d.Used[i] = int(reply[3+i])
	}
	if d.Breached >= 0 {
		d.End = ends[d.Breached]
	}
	return d, nil
}
