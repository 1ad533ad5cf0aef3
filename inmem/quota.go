package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/gooclaim/auth"
)

// QuotaCounter is the auth.QuotaCounter of one process: a count per
// client and quota window, the whole decision under one lock, so that a
// node issues exactly Limit tokens per window. Windows that have ended are
// dropped (at most once a minute, in the call that finds them), so memory
// holds only the clients that got a token in a current window.
type QuotaCounter struct {
	mu        sync.Mutex
	windows   map[quotaKey]*quotaWindow
	nextSweep time.Time
}

type quotaKey struct {
	id     string
	window time.Duration
}

type quotaWindow struct {
	end      time.Time
	used     int
	breached bool // a breach of this window was reported (FirstBreach)
}

var _ auth.QuotaCounter = (*QuotaCounter)(nil)

// NewQuotaCounter returns an empty QuotaCounter.
func NewQuotaCounter() *QuotaCounter {
	return &QuotaCounter{windows: make(map[quotaKey]*quotaWindow)}
}

// quotaSweepEvery is how often, at most, Count drops the ended windows.
const quotaSweepEvery = time.Minute

// Count implements auth.QuotaCounter. Its only error is EINVALID for a
// quota whose window does not divide a day.
func (q *QuotaCounter) Count(ctx context.Context, id string, qs []auth.Rate, warn bool, now time.Time) (auth.QuotaDecision, error) {
	d := auth.QuotaDecision{Allowed: true, Breached: -1}
	if len(qs) == 0 {
		return d, nil
	}
	for _, r := range qs {
		if r.Limit < 1 || auth.CheckQuotaWindow(r.Window) != nil {
			return auth.QuotaDecision{}, auth.Errorf(auth.EINVALID, "client %q: invalid quota %d/%v", id, r.Limit, r.Window)
		}
	}
	ws := make([]*quotaWindow, len(qs))
	d.Used = make([]int, len(qs))

	q.mu.Lock()
	defer q.mu.Unlock()
	if !now.Before(q.nextSweep) {
		q.sweep(now)
	}
	for i, r := range qs {
		k := quotaKey{id, r.Window}
		w := q.windows[k]
		if w == nil || !now.Before(w.end) {
			_, end := auth.QuotaWindow(now, r.Window)
			w = &quotaWindow{end: end}
			q.windows[k] = w
		}
		ws[i], d.Used[i] = w, w.used
		// Refuse on the full window that ends last, as redis.QuotaCounter does.
		if !warn && w.used >= r.Limit && (d.Breached < 0 || w.end.After(d.End)) {
			d.Breached, d.End = i, w.end
		}
	}
	if d.Breached >= 0 {
		w := ws[d.Breached]
		d.Allowed, d.FirstBreach, w.breached = false, !w.breached, true
		return d, nil
	}
	for i, w := range ws {
		w.used++
		d.Used[i] = w.used
		if w.used > qs[i].Limit && (d.Breached < 0 || (!w.breached && !d.FirstBreach)) {
			d.Breached, d.End, d.FirstBreach = i, w.end, !w.breached
			w.breached = true
		}
	}
	return d, nil
}

// sweep drops the windows that ended by now; q.mu is held.
func (q *QuotaCounter) sweep(now time.Time) {
	for k, w := range q.windows {
		if !now.Before(w.end) {
			delete(q.windows, k)
		}
	}
	q.nextSweep = now.Add(quotaSweepEvery)
}

// Len returns how many client windows are held, for tests of the memory bound.
func (q *QuotaCounter) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.windows)
}
