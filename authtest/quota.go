package authtest

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// RunQuotaTests is the conformance suite of auth.QuotaCounter. newCounter
// is called once per subtest; the suite passes the time to Count itself
// (a Clock per subtest, starting at Epoch). Every subtest uses client IDs
// of its own with a random suffix, so a counter backed by a shared server
// (Redis) can run it repeatedly against one database.
func RunQuotaTests(t *testing.T, newCounter func(t *testing.T) auth.QuotaCounter) {
	tests := []struct {
		name string
		run  func(*quotaTest)
	}{
		{"LimitThenRefused", testQuotaLimitThenRefused},
		{"WindowsAlignedToUTC", testQuotaWindowsAligned},
		{"RefusedAreNotCounted", testQuotaRefusedNotCounted},
		{"SeveralWindows", testQuotaSeveralWindows},
		{"Warn", testQuotaWarn},
		{"ClientsAreIndependent", testQuotaClientsIndependent},
		{"Concurrent", testQuotaConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(&quotaTest{T: t, q: newCounter(t), clock: NewClock(Epoch)})
		})
	}
}

type quotaTest struct {
	*testing.T
	q     auth.QuotaCounter
	clock *Clock
}

func (qt *quotaTest) client(name string) string { return qt.Name() + "/" + name + "/" + rand.Text() }

func (qt *quotaTest) count(id string, warn bool, qs ...auth.Rate) auth.QuotaDecision {
	qt.Helper()
	d, err := qt.q.Count(context.Background(), id, qs, warn, qt.clock.Now())
	if err != nil {
		qt.Fatalf("Count(%q, %v) at %v: %v", id, qs, qt.clock.Now(), err)
	}
	return d
}

// expect checks a decision's allowed, used, breached index, end and first breach.
func (qt *quotaTest) expect(what string, got auth.QuotaDecision, allowed bool, used []int, breached int, end time.Time, first bool) {
	qt.Helper()
	if got.Allowed != allowed || !slices.Equal(got.Used, used) || got.Breached != breached || got.FirstBreach != first ||
		(breached >= 0 && !got.End.Equal(end)) {
		qt.Fatalf("%s at %v: got %+v; want Allowed %v Used %v Breached %d End %v FirstBreach %v",
			what, qt.clock.Now(), got, allowed, used, breached, end, first)
	}
}

var (
	hourly = func(n int) auth.Rate { return auth.Rate{Limit: n, Window: time.Hour} }
	daily  = func(n int) auth.Rate { return auth.Rate{Limit: n, Window: 24 * time.Hour} }
)

// testQuotaLimitThenRefused: Limit tokens, then refusals ending at the
// top of the hour, the first of them the first breach; a new hour renews.
func testQuotaLimitThenRefused(qt *quotaTest) {
	id := qt.client("c")
	top := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC) // Epoch is 03:04:05
	for i := 1; i <= 3; i++ {
		qt.expect("token "+string(rune('0'+i)), qt.count(id, false, hourly(3)), true, []int{i}, -1, time.Time{}, false)
	}
	qt.expect("fourth", qt.count(id, false, hourly(3)), false, []int{3}, 0, top, true)
	qt.expect("fifth", qt.count(id, false, hourly(3)), false, []int{3}, 0, top, false)
	qt.clock.Set(top.Add(-time.Millisecond))
	qt.expect("just before the hour", qt.count(id, false, hourly(3)), false, []int{3}, 0, top, false)
	qt.clock.Set(top)
	qt.expect("at the top of the hour", qt.count(id, false, hourly(3)), true, []int{1}, -1, time.Time{}, false)
}

// testQuotaWindowsAligned: windows are fixed UTC windows, whatever the
// time of the first token: a 2h window at 03:04 ends at 04:00, a day at
// midnight UTC.
func testQuotaWindowsAligned(qt *quotaTest) {
	id := qt.client("c")
	two := auth.Rate{Limit: 1, Window: 2 * time.Hour}
	qt.count(id, false, two, daily(1))
	qt.expect("second", qt.count(id, false, two), false, []int{1}, 0, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), true)
	qt.expect("second daily", qt.count(id, false, daily(1)), false, []int{1}, 0, time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), true)
	qt.clock.Set(time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC))
	qt.expect("next 2h window", qt.count(id, false, two), true, []int{1}, -1, time.Time{}, false)
	// A time in another zone is the same instant: the window is UTC's.
	qt.clock.Set(time.Date(2026, 1, 3, 1, 30, 0, 0, time.FixedZone("UTC+2", 2*3600))) // 23:30 UTC on the 2nd
	qt.expect("still the 2nd in UTC", qt.count(id, false, daily(1)), false, []int{1}, 0, time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), false)
}

// testQuotaRefusedNotCounted: refusals leave the count at Limit, so the
// next window starts from nothing and the count never passes Limit.
func testQuotaRefusedNotCounted(qt *quotaTest) {
	id := qt.client("c")
	qt.count(id, false, hourly(2))
	qt.count(id, false, hourly(2))
	for range 5 {
		if d := qt.count(id, false, hourly(2)); d.Allowed || d.Used[0] != 2 {
			qt.Fatalf("past the quota: %+v; want refused with Used [2]", d)
		}
	}
}

// testQuotaSeveralWindows: a token is counted in every window or none: a
// full day refuses without spending the hour's quota, and the refusal
// names the window that ends last.
func testQuotaSeveralWindows(qt *quotaTest) {
	id := qt.client("c")
	midnight := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	qt.expect("first", qt.count(id, false, hourly(2), daily(3)), true, []int{1, 1}, -1, time.Time{}, false)
	qt.expect("second", qt.count(id, false, hourly(2), daily(3)), true, []int{2, 2}, -1, time.Time{}, false)
	qt.expect("hour full", qt.count(id, false, hourly(2), daily(3)), false, []int{2, 2}, 0, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), true)
	qt.clock.Advance(time.Hour)
	qt.expect("next hour", qt.count(id, false, hourly(2), daily(3)), true, []int{1, 3}, -1, time.Time{}, false)
	qt.expect("day full", qt.count(id, false, hourly(2), daily(3)), false, []int{1, 3}, 1, midnight, true)
	// With the hour's limit lowered to what it counts, both are full: the
	// refusal names the day, whose window ends last.
	qt.expect("both full: the day's end", qt.count(id, false, hourly(1), daily(3)), false, []int{1, 3}, 1, midnight, false)
}

// testQuotaWarn: warn mode counts and allows every token; the first past
// the limit is the one first breach of the window.
func testQuotaWarn(qt *quotaTest) {
	id := qt.client("c")
	top := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	qt.expect("first", qt.count(id, true, hourly(2)), true, []int{1}, -1, time.Time{}, false)
	qt.expect("second", qt.count(id, true, hourly(2)), true, []int{2}, -1, time.Time{}, false)
	qt.expect("third", qt.count(id, true, hourly(2)), true, []int{3}, 0, top, true)
	qt.expect("fourth", qt.count(id, true, hourly(2)), true, []int{4}, 0, top, false)
	qt.clock.Set(top)
	qt.count(id, true, hourly(2))
	qt.count(id, true, hourly(2))
	qt.expect("next hour's third", qt.count(id, true, hourly(2)), true, []int{3}, 0, top.Add(time.Hour), true)
}

// testQuotaClientsIndependent: each client has its own counts, and a
// quota of another window length is another count.
func testQuotaClientsIndependent(qt *quotaTest) {
	a, b := qt.client("a"), qt.client("b")
	qt.count(a, false, hourly(1))
	if d := qt.count(b, false, hourly(1)); !d.Allowed {
		qt.Fatalf("client b after a's token: %+v; want allowed", d)
	}
	if d := qt.count(a, false, auth.Rate{Limit: 1, Window: 2 * time.Hour}); !d.Allowed {
		qt.Fatalf("client a, another window: %+v; want allowed", d)
	}
}

// testQuotaConcurrent: of many concurrent tokens exactly Limit are
// allowed, and exactly one refusal is the first breach.
func testQuotaConcurrent(qt *quotaTest) {
	id := qt.client("c")
	const limit, workers, each = 50, 8, 20
	var allowed, first atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				d, err := qt.q.Count(context.Background(), id, []auth.Rate{hourly(limit)}, false, qt.clock.Now())
				if err != nil {
					qt.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
				if d.FirstBreach {
					first.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != limit || first.Load() != 1 {
		qt.Errorf("%d concurrent tokens: %d allowed, %d first breaches; want %d and 1", workers*each, allowed.Load(), first.Load(), limit)
	}
}
