package inmem

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gooclaim/auth"
)

// DefaultMaxReplayEntries is ReplayCacheOptions.MaxEntries' default.
const DefaultMaxReplayEntries = 1_000_000

// ReplayCacheOptions configures a ReplayCache. The zero value works.
type ReplayCacheOptions struct {
	// Clock tells the time. Nil means auth.SystemClock{}.
	Clock auth.Clock

	// MaxEntries bounds how many keys are remembered at once, and so the
	// memory the cache uses. When it is reached and none has expired, Use
	// fails closed: it returns an error (matching auth.ErrUnavailable)
	// rather than forget a key that could then be replayed. Zero or less
	// means DefaultMaxReplayEntries.
	MaxEntries int
}

// ReplayCache is the auth.ReplayCache of a single node: a map of keys with
// their expiry, and a min-heap of the expiries, so that every Use first
// forgets the keys that have expired — each key is pushed once and popped
// once, so the pruning is amortized O(log n) per Use and memory holds only
// live keys. It is safe for concurrent use.
//
// It protects one node only: behind a load balancer, an assertion replayed
// to another node is not seen. A fleet shares redis.ReplayCache.
type ReplayCache struct {
	clock auth.Clock
	max   int

	mu      sync.Mutex
	until   map[string]int64 // key → expiry, Unix nanoseconds
	expires expiryHeap
}

var _ auth.ReplayCache = (*ReplayCache)(nil)

// NewReplayCache returns an empty ReplayCache.
func NewReplayCache(opts ReplayCacheOptions) *ReplayCache {
	if opts.Clock == nil {
		opts.Clock = auth.SystemClock{}
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxReplayEntries
	}
	return &ReplayCache{clock: opts.Clock, max: opts.MaxEntries, until: make(map[string]int64)}
}

// Use records key until the given time and reports whether it was new. An
// until not after now records nothing (the key could not be replayed
// anyway) and reports true. Errors: the context's when it is done, and one
// matching auth.ErrUnavailable when MaxEntries live keys are recorded.
func (c *ReplayCache) Use(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("replay cache: %w", err)
	}
	now := c.clock.Now().UnixNano()
	exp := until.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	if _, ok := c.until[key]; ok {
		return false, nil // still live: pruneLocked removed it otherwise
	}
	if exp <= now {
		return true, nil
	}
	if len(c.until) >= c.max {
		return false, auth.Errorf(auth.EUNAVAILABLE, "the replay cache holds %d unexpired keys, its maximum: refusing rather than forgetting one", c.max)
	}
	c.until[key] = exp
	heap.Push(&c.expires, expiry{key: key, at: exp})
	return true, nil
}

// pruneLocked forgets the keys that expired at or before now.
func (c *ReplayCache) pruneLocked(now int64) {
	for len(c.expires) > 0 && c.expires[0].at <= now {
		e := heap.Pop(&c.expires).(expiry)
		delete(c.until, e.key)
	}
}

// Len returns how many unexpired keys are recorded.
func (c *ReplayCache) Len() int {
	now := c.clock.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	return len(c.until)
}

// expiry is one recorded key's expiry. Each key has exactly one in the
// heap: a key is pushed only when absent from the map, and leaves both at
// once.
type expiry struct {
	key string
	at  int64
}

// expiryHeap is a min-heap of expiries (container/heap).
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiry{} // let the key string be collected
	*h = old[:len(old)-1]
	return e
}
