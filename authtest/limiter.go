package authtest

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// RunLimiterTests is the conformance suite of auth.Limiter. newLimiter is
// called once per subtest with a fresh clock starting at Epoch and must
// return a limiter that takes its time from that clock only; clean-up is the
// caller's (t.Cleanup).
//
// The suite needs no process-local state: every subtest uses its own keys,
// named after the test with a random suffix, so a limiter backed by a shared
// server (Redis) can run it repeatedly and in parallel against one database.
// Every clock time the suite uses is a whole number of milliseconds, so a
// backend may store timestamps at millisecond resolution; decisions are
// compared exactly, to the nanosecond.
func RunLimiterTests(t *testing.T, newLimiter func(t *testing.T, clock *Clock) auth.Limiter) {
	tests := []struct {
		name string
		run  func(*limiterTest)
	}{
		{"LimitThenRefused", testLimitThenRefused},
		{"Decisions", testLimiterDecisions},
		{"SlidingWindowIsExact", testSlidingWindowIsExact},
		{"NoBurstAcrossBoundary", testNoBurstAcrossBoundary},
		{"RefusedAreNotCounted", testRefusedAreNotCounted},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"RateChanges", testRateChanges},
		{"Concurrent", testLimiterConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock(Epoch)
			tt.run(&limiterTest{T: t, l: newLimiter(t, clock), clock: clock})
		})
	}
}

type limiterTest struct {
	*testing.T
	l     auth.Limiter
	clock *Clock
}

// key returns a key no other test run uses.
func (lt *limiterTest) key(name string) string {
	return lt.Name() + "/" + name + "/" + rand.Text()
}

func (lt *limiterTest) allow(key string, rate auth.Rate) auth.Decision {
	lt.Helper()
	d, err := lt.l.Allow(context.Background(), key, rate)
	if err != nil {
		lt.Fatalf("Allow(%q, %v): %v", key, rate, err)
	}
	return d
}

// expect checks one request's whole decision.
func (lt *limiterTest) expect(what, key string, rate auth.Rate, want auth.Decision) {
	lt.Helper()
	if got := lt.allow(key, rate); got != want {
		lt.Fatalf("%s at +%v:\n got %s\nwant %s", what, lt.elapsed(), fmtDecision(got), fmtDecision(want))
	}
}

func (lt *limiterTest) elapsed() time.Duration { return lt.clock.Now().Sub(Epoch) }

func fmtDecision(d auth.Decision) string {
	return fmt.Sprintf("{Allowed:%v Limit:%d Window:%v Remaining:%d Reset:%v RetryAfter:%v}",
		d.Allowed, d.Limit, d.Window, d.Remaining, d.Reset, d.RetryAfter)
}

// allowed and refused build expected decisions.
func allowed(r auth.Rate, remaining int, reset time.Duration) auth.Decision {
	return auth.Decision{Allowed: true, Limit: r.Limit, Window: r.Window, Remaining: remaining, Reset: reset}
}

func refused(r auth.Rate, reset, retryAfter time.Duration) auth.Decision {
	return auth.Decision{Limit: r.Limit, Window: r.Window, Reset: reset, RetryAfter: retryAfter}
}

// testLimitThenRefused: Limit requests at one instant are allowed, the next is
// refused until exactly Window later.
func testLimitThenRefused(lt *limiterTest) {
	rate := auth.Rate{Limit: 5, Window: 10 * time.Second}
	key := lt.key("k")
	for i := range rate.Limit {
		lt.expect(fmt.Sprintf("request %d", i+1), key, rate, allowed(rate, rate.Limit-1-i, 10*time.Second))
	}
	lt.expect("request over the limit", key, rate, refused(rate, 10*time.Second, 10*time.Second))
	lt.clock.Advance(rate.Window - time.Millisecond)
	lt.expect("request 1ms before the window ends", key, rate, refused(rate, time.Millisecond, time.Millisecond))
	lt.clock.Advance(time.Millisecond)
	// A timestamp exactly Window old is outside the window: all five left.
	lt.expect("request when the window ends", key, rate, allowed(rate, 4, 10*time.Second))
}

// testLimiterDecisions checks Remaining, Reset and RetryAfter as requests
// enter and leave the window.
func testLimiterDecisions(lt *limiterTest) {
	rate := auth.Rate{Limit: 3, Window: time.Minute}
	key := lt.key("k")
	s := time.Second
	steps := []struct {
		at   time.Duration // since Epoch
		want auth.Decision
	}{
		{0, allowed(rate, 2, 60*s)},      // counted: 0
		{10 * s, allowed(rate, 1, 50*s)}, // 0 10
		{20 * s, allowed(rate, 0, 40*s)}, // 0 10 20
		{30 * s, refused(rate, 30*s, 30*s)},
		{59*s + 999*time.Millisecond, refused(rate, time.Millisecond, time.Millisecond)},
		{60 * s, allowed(rate, 0, 10*s)}, // 10 20 60
		{65 * s, refused(rate, 5*s, 5*s)},
		{80 * s, allowed(rate, 1, 40*s)},  // 60 80: 20 left at exactly 80
		{100 * s, allowed(rate, 0, 20*s)}, // 60 80 100
		{119 * s, refused(rate, time.Second, time.Second)},
		{300 * s, allowed(rate, 2, 60*s)}, // 300
	}
	for _, st := range steps {
		lt.clock.Set(Epoch.Add(st.at))
		lt.expect("request", key, rate, st.want)
	}
}

// testSlidingWindowIsExact drives long random sequences (seeded, so a failure
// reproduces) against an independent model of the rule, and checks both ways:
// the limiter refuses nothing the model allows and allows nothing it refuses,
// and no window of length Window holds more than Limit allowed requests.
func testSlidingWindowIsExact(lt *limiterTest) {
	rate := auth.Rate{Limit: 5, Window: 10 * time.Second}
	const steps = 3000
	for _, seed := range []uint64{1, 2, 3, 20260102} {
		key := lt.key(fmt.Sprintf("seed%d", seed))
		rng := mrand.New(mrand.NewPCG(seed, 0x5eed))
		var (
			got     []time.Time // times of the requests the limiter allowed
			nAllow  int
			nErrors int
		)
		for step := range steps {
			now := lt.clock.Now()
			switch r := rng.IntN(10); {
			case r < 3: // another request at the same instant
			case r < 5: // exactly when, or 1ms before or after, the oldest counted one leaves
				if c := counted(got, now, rate.Window); len(c) > 0 {
					at := c[0].Add(rate.Window + time.Duration(rng.IntN(3)-1)*time.Millisecond)
					if at.After(now) {
						lt.clock.Set(at)
					}
				}
			default:
				lt.clock.Advance(time.Duration(rng.IntN(4000)) * time.Millisecond)
			}
			now = lt.clock.Now()
			want := modelDecision(got, now, rate)
			d := lt.allow(key, rate)
			if d != want {
				nErrors++
				lt.Errorf("seed %d, step %d, at +%v:\n got %s\nwant %s", seed, step, now.Sub(Epoch), fmtDecision(d), fmtDecision(want))
				if nErrors == 10 {
					lt.FailNow()
				}
			}
			if d.Allowed {
				// The model follows what the limiter did, so that one wrong
				// answer does not cascade, and the check below still sees it.
				got = append(got, now)
				nAllow++
			}
		}
		for i := 0; i+rate.Limit < len(got); i++ {
			if w := got[i+rate.Limit].Sub(got[i]); w < rate.Window {
				lt.Fatalf("seed %d: %d requests allowed within %v, from +%v", seed, rate.Limit+1, w, got[i].Sub(Epoch))
			}
		}
		if nAllow < steps/10 || nAllow > steps*9/10 {
			lt.Fatalf("seed %d: %d of %d allowed; the sequence does not exercise both answers", seed, nAllow, steps)
		}
		lt.Logf("seed %d: %d of %d requests allowed", seed, nAllow, steps)
	}
}

// counted returns the times in allowed (sorted) that are inside the window
// at now: now-t < window.
func counted(allowed []time.Time, now time.Time, window time.Duration) []time.Time {
	i := len(allowed)
	for i > 0 && now.Sub(allowed[i-1]) < window {
		i--
	}
	return allowed[i:]
}

// modelDecision is the specification of a decision, given the times of the
// requests allowed so far.
func modelDecision(allowedAt []time.Time, now time.Time, rate auth.Rate) auth.Decision {
	c := counted(allowedAt, now, rate.Window)
	if len(c) < rate.Limit {
		oldest := now
		if len(c) > 0 {
			oldest = c[0]
		}
		return allowed(rate, rate.Limit-len(c)-1, oldest.Add(rate.Window).Sub(now))
	}
	return refused(rate, c[0].Add(rate.Window).Sub(now), c[len(c)-rate.Limit].Add(rate.Window).Sub(now))
}

// testNoBurstAcrossBoundary: a fixed window would allow Limit at the end of
// one minute and Limit again at the start of the next; a rolling one must not.
func testNoBurstAcrossBoundary(lt *limiterTest) {
	rate := auth.Rate{Limit: 60, Window: time.Minute}
	key := lt.key("k")
	minute := Epoch.Truncate(time.Minute).Add(time.Minute)
	lt.clock.Set(minute.Add(-time.Second)) // hh:mm:59
	for i := range rate.Limit {
		if d := lt.allow(key, rate); !d.Allowed {
			lt.Fatalf("request %d at the end of the minute refused: %s", i+1, fmtDecision(d))
		}
		lt.clock.Advance(10 * time.Millisecond)
	}
	lt.clock.Set(minute)
	lt.expect("first request of the next minute", key, rate, refused(rate, 59*time.Second, 59*time.Second))
	for i := 1; i < rate.Limit; i++ {
		lt.clock.Advance(10 * time.Millisecond)
		if d := lt.allow(key, rate); d.Allowed {
			lt.Fatalf("request %d of the next minute allowed: %s", i+1, fmtDecision(d))
		}
	}
	// One minute after the first request of the burst, one slot frees up at a time.
	lt.clock.Set(minute.Add(59 * time.Second))
	lt.expect("request when the first leaves", key, rate, allowed(rate, 0, 10*time.Millisecond))
	lt.expect("request right after", key, rate, refused(rate, 10*time.Millisecond, 10*time.Millisecond))
}

// testRefusedAreNotCounted: hammering while limited does not extend the wait.
func testRefusedAreNotCounted(lt *limiterTest) {
	rate := auth.Rate{Limit: 3, Window: 10 * time.Second}
	key := lt.key("k")
	for range rate.Limit {
		lt.allow(key, rate)
	}
	for i := 1; i < 100; i++ {
		lt.clock.Advance(100 * time.Millisecond)
		left := rate.Window - time.Duration(i)*100*time.Millisecond
		lt.expect(fmt.Sprintf("refused request %d", i), key, rate, refused(rate, left, left))
	}
	lt.clock.Advance(100 * time.Millisecond)
	lt.expect("request when the first three leave", key, rate, allowed(rate, 2, rate.Window))
}

// testKeysAreIndependent: one key's requests do not count against another's.
func testKeysAreIndependent(lt *limiterTest) {
	rate := auth.Rate{Limit: 2, Window: time.Minute}
	a, b := lt.key("a"), lt.key("b")
	lt.expect("a 1", a, rate, allowed(rate, 1, time.Minute))
	lt.expect("a 2", a, rate, allowed(rate, 0, time.Minute))
	lt.expect("a 3", a, rate, refused(rate, time.Minute, time.Minute))
	lt.clock.Advance(time.Second)
	lt.expect("b 1", b, rate, allowed(rate, 1, time.Minute))
	lt.expect("a 4", a, rate, refused(rate, 59*time.Second, 59*time.Second))
	lt.expect("b 2", b, rate, allowed(rate, 0, time.Minute))
	lt.expect("b 3", b, rate, refused(rate, time.Minute, time.Minute))
	lt.clock.Advance(59 * time.Second)
	lt.expect("a after its window", a, rate, allowed(rate, 1, time.Minute))
	lt.expect("b before its window ends", b, rate, refused(rate, time.Second, time.Second))
}

// testRateChanges: when the rate for a key changes (configuration), the new
// one applies to the requests already counted.
func testRateChanges(lt *limiterTest) {
	s := time.Second
	r3 := auth.Rate{Limit: 3, Window: time.Minute}
	r5 := auth.Rate{Limit: 5, Window: time.Minute}
	r2 := auth.Rate{Limit: 2, Window: time.Minute}
	r5short := auth.Rate{Limit: 5, Window: 5 * s}
	key := lt.key("k")
	at := func(d time.Duration) { lt.clock.Set(Epoch.Add(d)) }

	for i := range 3 {
		at(time.Duration(i) * s)
		lt.allow(key, r3)
	}
	at(3 * s)
	lt.expect("over 3/1m", key, r3, refused(r3, 57*s, 57*s))
	at(4 * s)
	lt.expect("raised to 5/1m", key, r5, allowed(r5, 1, 56*s)) // 0 1 2 4
	at(5 * s)
	lt.expect("raised to 5/1m", key, r5, allowed(r5, 0, 55*s)) // 0 1 2 4 5
	at(6 * s)
	lt.expect("over 5/1m", key, r5, refused(r5, 54*s, 54*s))
	// Five are counted and two allowed: one more is accepted once four have
	// left, when the one at 4s does.
	at(7 * s)
	lt.expect("lowered to 2/1m", key, r2, refused(r2, 53*s, 57*s))
	// A shorter window counts only the requests inside it (at 4s and 5s).
	lt.expect("shortened to 5/5s", key, r5short, allowed(r5short, 2, 2*s)) // 4 5 7
}

// testLimiterConcurrent: concurrent requests on one key are decided one at a
// time: exactly Limit allowed, each with a different Remaining.
func testLimiterConcurrent(lt *limiterTest) {
	const goroutines, each = 50, 20
	rate := auth.Rate{Limit: 100, Window: time.Hour} // the clock does not move
	key := lt.key("k")
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		decisions []auth.Decision
		errs      []error
	)
	for range goroutines {
		wg.Go(func() {
			<-start
			for range each {
				d, err := lt.l.Allow(context.Background(), key, rate)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					decisions = append(decisions, d)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		lt.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	seen := make(map[int]bool)
	for _, d := range decisions {
		switch {
		case !d.Allowed:
			if want := refused(rate, time.Hour, time.Hour); d != want {
				lt.Fatalf("refused: got %s, want %s", fmtDecision(d), fmtDecision(want))
			}
		case seen[d.Remaining]:
			lt.Fatalf("two allowed requests with Remaining %d", d.Remaining)
		case d.Remaining < 0 || d.Remaining >= rate.Limit:
			lt.Fatalf("allowed with Remaining %d", d.Remaining)
		default:
			seen[d.Remaining] = true
		}
	}
	if len(seen) != rate.Limit {
		lt.Fatalf("%d of %d requests allowed, want exactly %d", len(seen), goroutines*each, rate.Limit)
	}
}
