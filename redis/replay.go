package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
)

// DefaultReplayPrefix is ReplayCacheOptions.Prefix's default.
const DefaultReplayPrefix = "gooclaim:jti:"

// ReplayCacheOptions configures a ReplayCache. The zero value works.
type ReplayCacheOptions struct {
	// Prefix is put before every key. Empty means DefaultReplayPrefix.
	Prefix string

	// Clock tells the time, to turn Use's until into a time to live. Nil
	// means auth.SystemClock{}.
	Clock auth.Clock
}

// ReplayCache is the fleet-wide auth.ReplayCache: a key is recorded with
// one atomic SET key 1 NX PX ttl, so that of any number of nodes trying
// the same key at once exactly one succeeds, and Redis forgets it when the
// time to live ends. The time to live is until less the node's clock, not
// an absolute PXAT, so that a Redis clock that differs from the nodes'
// does not shorten it. Keys are single Redis keys: it runs unchanged on
// Redis Cluster.
//
// It has no fallback: while Redis is unreachable Use fails (fail closed,
// with an error matching auth.ErrUnavailable), since a per-node memory
// would let an assertion be replayed on another node.
//
// ReplayCache does not own the client: closing it is the caller's.
type ReplayCache struct {
	client goredis.UniversalClient
	prefix string
	clock  auth.Clock
}

var _ auth.ReplayCache = (*ReplayCache)(nil)

// NewReplayCache returns a ReplayCache over client.
func NewReplayCache(client goredis.UniversalClient, opts ReplayCacheOptions) *ReplayCache {
	if opts.Prefix == "" {
		opts.Prefix = DefaultReplayPrefix
	}
	if opts.Clock == nil {
		opts.Clock = auth.SystemClock{}
	}
	return &ReplayCache{client: client, prefix: opts.Prefix, clock: opts.Clock}
}

// Use records key until the given time and reports whether it was new. An
// until not after now records nothing and reports true. Errors: the
// context's when it ends first, one matching auth.ErrUnavailable when Redis
// is unreachable, and Redis's when it answers with an error.
func (c *ReplayCache) Use(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("replay cache: %w", err)
	}
	ttl := until.Sub(c.clock.Now())
	if ttl <= 0 {
		return true, nil
	}
	// Whole milliseconds, rounded up: the key must not be forgotten early.
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	ok, err := c.client.SetNX(ctx, c.prefix+key, "1", ttl).Result()
	switch {
	case err == nil:
		return ok, nil
	case ctx.Err() != nil:
		return false, fmt.Errorf("replay cache: %w", err)
	case isOutage(err):
		return false, fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE, "the replay cache cannot reach Redis"), err)
	default:
		return false, fmt.Errorf("replay cache in Redis: %w", err)
	}
}
