package inmem

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

func TestLimiter(t *testing.T) {
	authtest.RunLimiterTests(t, func(t *testing.T, clock *authtest.Clock) auth.Limiter {
		l := NewLimiter(LimiterOptions{Clock: clock})
		t.Cleanup(l.Close)
		return l
	})
}

func newTestLimiter(t *testing.T, maxKeys int) (*Limiter, *authtest.Clock) {
	t.Helper()
	clock := authtest.NewClock(authtest.Epoch)
	l := NewLimiter(LimiterOptions{Clock: clock, MaxKeys: maxKeys, SweepInterval: -1})
	t.Cleanup(l.Close)
	return l, clock
}

func mustAllow(t *testing.T, l *Limiter, key string, rate auth.Rate) auth.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, rate)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", key, rate, err)
	}
	return d
}

// tracked reports whether key's earlier request is still counted, with a
// request at a 1/hour rate: a tracked key that made one is refused.
func tracked(t *testing.T, l *Limiter, key string) bool {
	t.Helper()
	return !mustAllow(t, l, key, auth.Rate{Limit: 1, Window: time.Hour}).Allowed
}

func TestLimiterNanosecondBoundary(t *testing.T) {
	l, clock := newTestLimiter(t, 0)
	rate := auth.Rate{Limit: 1, Window: 10 * time.Second}
	mustAllow(t, l, "k", rate)
	clock.Advance(rate.Window - time.Nanosecond)
	if d := mustAllow(t, l, "k", rate); d.Allowed || d.RetryAfter != time.Nanosecond || d.Reset != time.Nanosecond {
		t.Fatalf("1ns before the window ends: %+v, want refused with RetryAfter and Reset 1ns", d)
	}
	clock.Advance(time.Nanosecond)
	if d := mustAllow(t, l, "k", rate); !d.Allowed || d.Remaining != 0 || d.Reset != rate.Window {
		t.Fatalf("when the window ends: %+v, want allowed", d)
	}
}

func TestLimiterInvalidRate(t *testing.T) {
	l, _ := newTestLimiter(t, 0)
	for _, rate := range []auth.Rate{{}, {Limit: 0, Window: time.Second}, {Limit: -1, Window: time.Second}, {Limit: 1}, {Limit: 1, Window: -time.Second}} {
		_, err := l.Allow(context.Background(), "k", rate)
		if !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("Allow with %+v: err = %v, want auth.ErrInvalid", rate, err)
		}
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len = %d after invalid calls, want 0", n)
	}
}

func TestLimiterClockGoesBack(t *testing.T) {
	l, clock := newTestLimiter(t, 0)
	rate := auth.Rate{Limit: 2, Window: 10 * time.Second}
	mustAllow(t, l, "k", rate)
	clock.Advance(-5 * time.Second)
	if d := mustAllow(t, l, "k", rate); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("second request after the clock went back: %+v, want allowed", d)
	}
	if d := mustAllow(t, l, "k", rate); d.Allowed {
		t.Fatalf("third request: %+v, want refused", d)
	}
	// Both are recorded at the later time and leave together.
	clock.Advance(15 * time.Second)
	if d := mustAllow(t, l, "k", rate); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after the window: %+v, want allowed with Remaining 1", d)
	}
}

func TestLimiterLogGrowsAndShrinks(t *testing.T) {
	l, clock := newTestLimiter(t, 0)
	rate := auth.Rate{Limit: 1000, Window: time.Minute}
	for i := range 1000 {
		if d := mustAllow(t, l, "big", rate); !d.Allowed || d.Remaining != 999-i {
			t.Fatalf("request %d: %+v", i+1, d)
		}
		clock.Advance(time.Millisecond)
	}
	if d := mustAllow(t, l, "big", rate); d.Allowed {
		t.Fatalf("request 1001: %+v, want refused", d)
	}
	e := l.entry("big")
	if len(e.buf) != 1000 {
		t.Errorf("ring of %d slots for a limit of 1000, want 1000", len(e.buf))
	}
	// 999 of them leave; the sweep gives the memory back.
	clock.Advance(time.Minute - 2*time.Millisecond)
	l.Sweep()
	e = l.entry("big")
	if e.n != 1 || len(e.buf) > 2 {
		t.Errorf("after sweep: %d timestamps in a ring of %d, want 1 in 2", e.n, len(e.buf))
	}
	if d := mustAllow(t, l, "big", rate); !d.Allowed || d.Remaining != 998 {
		t.Fatalf("after sweep: %+v, want allowed with Remaining 998", d)
	}

	mustAllow(t, l, "small", auth.Rate{Limit: 1000, Window: time.Hour})
	if e := l.entry("small"); len(e.buf) != len(e.small) {
		t.Errorf("a key with one request has a ring of %d slots, want %d", len(e.buf), len(e.small))
	}
}

// entry returns key's entry, for white-box checks.
func (l *Limiter) entry(key string) *entry {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		e := s.entries[key]
		s.mu.Unlock()
		if e != nil {
			return e
		}
	}
	return nil
}

func TestLimiterSweepEvictsIdleKeys(t *testing.T) {
	l, clock := newTestLimiter(t, 0)
	short := auth.Rate{Limit: 5, Window: time.Minute}
	long := auth.Rate{Limit: 5, Window: time.Hour}
	for i := range 100 {
		mustAllow(t, l, "short"+strconv.Itoa(i), short)
		mustAllow(t, l, "long"+strconv.Itoa(i), long)
	}
	if n := l.Len(); n != 200 {
		t.Fatalf("Len = %d, want 200", n)
	}
	clock.Advance(time.Minute - time.Millisecond)
	l.Sweep()
	if n := l.Len(); n != 200 {
		t.Fatalf("Len = %d before any window ended, want 200", n)
	}
	clock.Advance(time.Millisecond)
	l.Sweep()
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d after the short windows ended, want 100", n)
	}
	if !tracked(t, l, "long7") {
		t.Fatal("a key in its window was forgotten")
	}
	clock.Advance(time.Hour)
	l.Sweep()
	if n := l.Len(); n != 0 {
		t.Fatalf("Len = %d after every window ended, want 0", n)
	}
}

func TestLimiterBackgroundSweeper(t *testing.T) {
	clock := authtest.NewClock(authtest.Epoch)
	l := NewLimiter(LimiterOptions{Clock: clock, SweepInterval: time.Millisecond})
	defer l.Close()
	for i := range 50 {
		mustAllow(t, l, strconv.Itoa(i), auth.Rate{Limit: 1, Window: time.Second})
	}
	clock.Advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for l.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d 10s after the keys went idle, want 0", l.Len())
		}
		time.Sleep(time.Millisecond)
	}
	l.Close()
	l.Close() // idempotent
}

func TestLimiterMaxKeysUnderFlood(t *testing.T) {
	const maxKeys = 1000
	l, clock := newTestLimiter(t, maxKeys)
	rate := auth.Rate{Limit: 10, Window: time.Minute}
	// Real clients, active throughout.
	for i := range 10 {
		mustAllow(t, l, fmt.Sprintf("client%d", i), rate)
	}
	for i := range 100_000 {
		key := fmt.Sprintf("random-%d-%d", i, i*7919)
		if d := mustAllow(t, l, key, rate); !d.Allowed || d.Remaining != rate.Limit-1 {
			t.Fatalf("new key %d: %+v, want allowed as a first request", i, d)
		}
		if i%1000 == 0 {
			if n := l.Len(); n > maxKeys {
				t.Fatalf("Len = %d after %d new keys, above MaxKeys %d", n, i+1, maxKeys)
			}
			clock.Advance(time.Millisecond)
			for c := range 10 {
				// Flooded or not, the real clients are never locked out.
				if d := mustAllow(t, l, fmt.Sprintf("client%d", c), auth.Rate{Limit: 1 << 20, Window: time.Minute}); !d.Allowed {
					t.Fatalf("client%d refused during the flood: %+v", c, d)
				}
			}
		}
	}
	if n := l.Len(); n > maxKeys || n < maxKeys*9/10 {
		t.Fatalf("Len = %d after the flood, want at most %d and near it", n, maxKeys)
	}
}

func TestLimiterEvictionPrefersIdleKeys(t *testing.T) {
	// 16 keys fit in one shard, which the full scan covers.
	l, clock := newTestLimiter(t, 16)
	if len(l.shards) != 1 {
		t.Fatalf("%d shards for MaxKeys 16, want 1", len(l.shards))
	}
	active := auth.Rate{Limit: 1, Window: time.Hour}
	brief := auth.Rate{Limit: 1, Window: time.Second}
	for i := range 8 {
		mustAllow(t, l, "idle"+strconv.Itoa(i), brief)
		mustAllow(t, l, "active"+strconv.Itoa(i), active)
	}
	clock.Advance(time.Second) // the idle ones are now idle, though newer than some active ones
	mustAllow(t, l, "new0", active)
	// The full shard forgot all of its idle keys at once.
	if n := l.Len(); n != 9 {
		t.Fatalf("Len = %d, want 9", n)
	}
	for i := 1; i < 8; i++ {
		mustAllow(t, l, "new"+strconv.Itoa(i), active)
	}
	if n := l.Len(); n != 16 {
		t.Fatalf("Len = %d, want 16", n)
	}
	for i := range 8 {
		if !tracked(t, l, "active"+strconv.Itoa(i)) {
			t.Fatalf("active%d was evicted while idle keys remained", i)
		}
		if !tracked(t, l, "new"+strconv.Itoa(i)) {
			t.Fatalf("new%d was evicted while idle keys remained", i)
		}
	}
}

func TestLimiterEvictionTakesLeastRecentlyActive(t *testing.T) {
	// 8 keys fit in one shard that a sample covers whole, so the choice is
	// deterministic.
	l, clock := newTestLimiter(t, sampleSize)
	if len(l.shards) != 1 {
		t.Fatalf("%d shards for MaxKeys %d, want 1", len(l.shards), sampleSize)
	}
	rate := auth.Rate{Limit: 1, Window: time.Hour}
	for i := range sampleSize {
		mustAllow(t, l, "k"+strconv.Itoa(i), rate)
		clock.Advance(time.Second)
	}
	// k0 asks again and is refused; refused requests are not recorded, so its
	// newest request is still the oldest of all.
	if d := mustAllow(t, l, "k0", rate); d.Allowed {
		t.Fatalf("k0 again: %+v, want refused", d)
	}
	mustAllow(t, l, "new", rate)
	// k0 made its only recorded request first, so it went.
	for i := sampleSize - 1; i >= 1; i-- {
		if !tracked(t, l, "k"+strconv.Itoa(i)) {
			t.Fatalf("k%d was evicted instead of k0", i)
		}
	}
	if d := mustAllow(t, l, "k0", rate); !d.Allowed {
		t.Fatalf("k0 after its eviction: %+v, want allowed afresh", d)
	}
}

// TestLimiterAllowDoesNotAllocate checks the hot path for a key already
// tracked, allowed and refused.
func TestLimiterAllowDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	l, clock := newTestLimiter(t, 0)
	ctx := context.Background()
	rate := auth.Rate{Limit: 4, Window: time.Second}
	mustAllow(t, l, "k", rate)
	allocs := testing.AllocsPerRun(1000, func() {
		clock.Advance(100 * time.Millisecond)
		if _, err := l.Allow(ctx, "k", rate); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Allow on an existing key, want 0", allocs)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	ctx := context.Background()
	// A real clock, and a rate that both allows and refuses at full speed.
	rate := auth.Rate{Limit: 100, Window: 10 * time.Millisecond}

	b.Run("OneKey", func(b *testing.B) {
		l := NewLimiter(LimiterOptions{})
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(ctx, "client", rate)
		}
	})
	b.Run("OneKeyStepClock", func(b *testing.B) {
		// As OneKey without the cost of reading the system clock: each
		// request is 100ns after the previous one, 1 in 1000 allowed.
		l := NewLimiter(LimiterOptions{Clock: &stepClock{t: authtest.Epoch, step: 100 * time.Nanosecond}})
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(ctx, "client", rate)
		}
	})
	b.Run("OneKeyParallel", func(b *testing.B) {
		l := NewLimiter(LimiterOptions{})
		defer l.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow(ctx, "client", rate)
			}
		})
	})
	b.Run("ManyKeysParallel", func(b *testing.B) {
		const nkeys = 10_000
		keys := make([]string, nkeys)
		for i := range keys {
			keys[i] = "client-" + strconv.Itoa(i)
		}
		l := NewLimiter(LimiterOptions{})
		defer l.Close()
		for _, k := range keys {
			l.Allow(ctx, k, rate)
		}
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(7919) // each goroutine starts elsewhere
			for pb.Next() {
				i++
				l.Allow(ctx, keys[i%nkeys], rate)
			}
		})
	})
	b.Run("NewKeysFlood", func(b *testing.B) {
		// Every request names an unknown key; the shards are full and evict.
		const nkeys = 1 << 18
		keys := make([]string, nkeys)
		for i := range keys {
			keys[i] = "random-" + strconv.Itoa(i)
		}
		// No key goes idle during the benchmark: every new key evicts an
		// active one, found by sampling.
		flood := auth.Rate{Limit: 10, Window: time.Hour}
		l := NewLimiter(LimiterOptions{MaxKeys: nkeys / 4})
		defer l.Close()
		for _, k := range keys {
			l.Allow(ctx, k, flood)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			l.Allow(ctx, keys[i%nkeys], flood)
			i++
		}
	})
}

// stepClock advances by step at every reading. It is not safe for concurrent use.
type stepClock struct {
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

// TestLimiterShrinksAfterBurst: once a burst of keys is swept, the shards'
// maps are remade to the survivors' size, and the survivors keep their logs.
func TestLimiterShrinksAfterBurst(t *testing.T) {
	l, clock := newTestLimiter(t, 0)
	ctx := context.Background()
	short := auth.Rate{Limit: 5, Window: time.Second}
	long := auth.Rate{Limit: 5, Window: time.Hour}
	for range 5 {
		if d, _ := l.Allow(ctx, "survivor", long); !d.Allowed {
			t.Fatal("survivor refused early")
		}
	}
	const burst = 64 * 4 * shrinkMinPeak
	for i := range burst {
		l.Allow(ctx, "burst-"+strconv.Itoa(i), short)
	}
	peak := 0
	for i := range l.shards {
		peak = max(peak, l.shards[i].peak)
	}
	if peak < shrinkMinPeak {
		t.Fatalf("peak %d: the burst is too small for the test", peak)
	}
	clock.Advance(time.Second)
	l.Sweep()
	for i := range l.shards {
		if p := l.shards[i].peak; p > 1 {
			t.Fatalf("shard %d: peak %d after the sweep, want the map remade", i, p)
		}
	}
	if l.Len() != 1 {
		t.Fatalf("Len %d after the sweep, want 1", l.Len())
	}
	if d, _ := l.Allow(ctx, "survivor", long); d.Allowed {
		t.Fatal("the survivor's log was lost when its shard was remade")
	}
}
