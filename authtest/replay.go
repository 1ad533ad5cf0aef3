package authtest

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// RunReplayCacheTests is the conformance suite of auth.ReplayCache.
// newCache is called once per subtest with a fresh clock starting at Epoch
// and must return a cache that reads the time from that clock; clean-up is
// the caller's (t.Cleanup).
//
// Every subtest uses its own keys, so a cache backed by a shared server
// (Redis) can run the suite repeatedly against one database. A cache that
// expires its keys in the server's real time rather than the clock's (Redis
// PX) passes too: the one subtest that needs a key to expire waits for it in
// real time as well as advancing the clock, and the until times it uses are
// whole milliseconds ahead.
func RunReplayCacheTests(t *testing.T, newCache func(t *testing.T, clock *Clock) auth.ReplayCache) {
	tests := []struct {
		name string
		run  func(*replayTest)
	}{
		{"FirstUseThenReplay", testReplayFirstUse},
		{"KeysAreIndependent", testReplayKeysIndependent},
		{"ExpiredKeyIsForgotten", testReplayExpiry},
		{"UntilInThePast", testReplayPast},
		{"BinaryKeys", testReplayBinaryKeys},
		{"Concurrent", testReplayConcurrent},
		{"CanceledContext", testReplayCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock(Epoch)
			tt.run(&replayTest{T: t, c: newCache(t, clock), clock: clock})
		})
	}
}

type replayTest struct {
	*testing.T
	c     auth.ReplayCache
	clock *Clock
}

// key returns a key no other test run uses.
func (rt *replayTest) key(name string) string {
	return rt.Name() + "/" + name + "/" + rand.Text()
}

func (rt *replayTest) use(key string, until time.Time) bool {
	rt.Helper()
	ok, err := rt.c.Use(context.Background(), key, until)
	if err != nil {
		rt.Fatalf("Use(%q): %v", key, err)
	}
	return ok
}

func testReplayFirstUse(rt *replayTest) {
	k := rt.key("jti")
	until := rt.clock.Now().Add(5 * time.Minute)
	if !rt.use(k, until) {
		rt.Fatal("first Use = false, want true")
	}
	for i := range 3 {
		if rt.use(k, until) {
			rt.Fatalf("Use %d of the same key = true, want false (a replay)", i+2)
		}
	}
	// A later until does not make the key new again.
	if rt.use(k, until.Add(time.Hour)) {
		rt.Fatal("Use with a later until = true, want false")
	}
	rt.clock.Advance(4 * time.Minute)
	if rt.use(k, until) {
		rt.Fatal("Use before until = true, want false")
	}
}

func testReplayKeysIndependent(rt *replayTest) {
	until := rt.clock.Now().Add(time.Minute)
	a, b := rt.key("a"), rt.key("b")
	if !rt.use(a, until) || !rt.use(b, until) {
		rt.Fatal("two different keys: want both new")
	}
	if !rt.use(a+"x", until) || !rt.use("x"+a, until) {
		rt.Fatal("keys with a common prefix or suffix: want new")
	}
}

func testReplayExpiry(rt *replayTest) {
	const ttl = 300 * time.Millisecond
	k := rt.key("jti")
	if !rt.use(k, rt.clock.Now().Add(ttl)) {
		rt.Fatal("first Use = false")
	}
	if rt.use(k, rt.clock.Now().Add(ttl)) {
		rt.Fatal("second Use before expiry = true")
	}
	rt.clock.Advance(ttl + 100*time.Millisecond)
	time.Sleep(ttl + 100*time.Millisecond) // for caches that expire keys in real time
	if !rt.use(k, rt.clock.Now().Add(ttl)) {
		rt.Fatal("Use after the key expired = false, want true: expired keys are forgotten")
	}
	if rt.use(k, rt.clock.Now().Add(ttl)) {
		rt.Fatal("the key recorded again after expiry: want a replay")
	}
}

func testReplayPast(rt *replayTest) {
	k := rt.key("jti")
	for i := range 2 {
		if !rt.use(k, rt.clock.Now().Add(-time.Second)) {
			rt.Fatalf("Use %d with until in the past = false, want true: nothing is recorded", i+1)
		}
	}
	// The key stays usable with a future until.
	if !rt.use(k, rt.clock.Now().Add(time.Minute)) || rt.use(k, rt.clock.Now().Add(time.Minute)) {
		rt.Fatal("after Use with a past until, the key must behave as new")
	}
}

func testReplayBinaryKeys(rt *replayTest) {
	until := rt.clock.Now().Add(time.Minute)
	base := rt.key("bin")
	a, b := base+"client\x00jti", base+"client\x00jti\x00"
	if !rt.use(a, until) || !rt.use(b, until) || rt.use(a, until) {
		rt.Fatal("keys holding NUL bytes must be kept apart")
	}
}

func testReplayConcurrent(rt *replayTest) {
	const goroutines = 32
	k := rt.key("jti")
	until := rt.clock.Now().Add(time.Minute)
	var wins, errs atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			ok, err := rt.c.Use(context.Background(), k, until)
			if err != nil {
				errs.Add(1)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if errs.Load() != 0 || wins.Load() != 1 {
		rt.Fatalf("%d concurrent Use of one key: %d returned true and %d failed; want exactly one true", goroutines, wins.Load(), errs.Load())
	}
}

func testReplayCanceled(rt *replayTest) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := rt.key("jti")
	ok, err := rt.c.Use(ctx, k, rt.clock.Now().Add(time.Minute))
	if err == nil && !ok {
		rt.Fatal("Use with a canceled context reported a replay of a new key")
	}
	// Whether or not it recorded the key, it must not have recorded it twice.
	if err == nil && rt.use(k, rt.clock.Now().Add(time.Minute)) {
		rt.Fatal("Use succeeded with a canceled context but did not record the key")
	}
}
