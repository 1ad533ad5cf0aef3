package verify

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"
)

// TestIntrospectionCacheEviction: a full cache drops the expired answers
// first, and arbitrary ones only if that is not enough.
func TestIntrospectionCacheEviction(t *testing.T) {
	now := time.Now()
	cfg := &settings{now: func() time.Time { return now }, introspection: &introspectionSettings{cacheTTL: time.Minute}}
	i := newIntrospector(cfg)
	key := func(n int) [sha256.Size]byte {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		return sha256.Sum256(b[:])
	}
	// Full, a quarter of it expired.
	for n := range maxCachedAnswers {
		expires := now.Add(time.Minute)
		if n%4 == 0 {
			expires = now.Add(-time.Second)
		}
		i.store(key(n), cachedAnswer{expires: expires}, now)
	}
	i.store(key(-1), cachedAnswer{expires: now.Add(time.Minute)}, now)
	if got, want := len(i.cache), maxCachedAnswers*3/4+1; got != want {
		t.Fatalf("%d answers after dropping the expired; want %d", got, want)
	}
	for n := 1; n < 4; n++ {
		if _, ok := i.cached(key(n)); !ok {
			t.Fatalf("unexpired answer %d dropped while expired ones could go", n)
		}
	}
	// Full of unexpired answers: down to 90% of the bound.
	for n := maxCachedAnswers; len(i.cache) < maxCachedAnswers; n++ {
		i.store(key(n), cachedAnswer{expires: now.Add(time.Minute)}, now)
	}
	i.store(key(-2), cachedAnswer{expires: now.Add(time.Minute)}, now)
	if got := len(i.cache); got > maxCachedAnswers*9/10+1 || got < maxCachedAnswers*9/10-1 {
		t.Fatalf("%d answers after eviction; want about %d", got, maxCachedAnswers*9/10)
	}
	if _, ok := i.cached(key(-2)); !ok {
		t.Fatal("the answer just stored is not cached")
	}
}
