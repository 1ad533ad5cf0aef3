// Package authtest holds the conformance suites that every implementation of
// the root interfaces must pass (RunStoreTests, RunSQLStoreTests for the
// stores kept in a SQL database, RunLimiterTests, RunReplayCacheTests) and
// small test helpers such as a controllable clock. A new backend's test file
// is a few lines that call the suites.
package authtest

import (
	"sync"
	"time"
)

// Clock is a controllable auth.Clock for tests. The zero value starts at a
// fixed instant; Advance and Set move it. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Epoch is where a zero Clock starts.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Epoch
	}
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Epoch
	}
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
