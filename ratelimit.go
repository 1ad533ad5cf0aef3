package auth

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a limit of Limit requests in any rolling window of length Window.
type Rate struct {
	Limit  int
	Window time.Duration
}

// IsZero reports whether the rate is unset.
func (r Rate) IsZero() bool { return r.Limit == 0 && r.Window == 0 }

// String formats the rate as ParseRate reads it, the window as
// FormatDuration writes it: "60/1m", "1000/1h30m", "100000/1d".
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	return strconv.Itoa(r.Limit) + "/" + FormatDuration(r.Window)
}

// ParseRate reads "N/DURATION", the duration as ParseDuration reads it
// ("60/1m", "1000/1h", "10/30s", "100000/1d"); a bare unit means one of it
// ("60/m", "5/s").
func ParseRate(s string) (Rate, error) {
	n, w, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want LIMIT/WINDOW, for example 60/1m", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 1 {
		return Rate{}, fmt.Errorf("rate %q: the limit must be a whole number of at least 1", s)
	}
	if w == "s" || w == "m" || w == "h" || w == "d" {
		w = "1" + w
	}
	window, err := ParseDuration(w)
	if err != nil || w != strings.TrimSpace(w) || window < time.Second {
		return Rate{}, fmt.Errorf("rate %q: the window must be a duration of at least 1s, for example 1m", s)
	}
	return Rate{Limit: limit, Window: window}, nil
}

// Decision is a limiter's answer for one request.
type Decision struct {
	Allowed bool
	// Limit and Window describe the policy applied.
	Limit  int
	Window time.Duration
	// Remaining is how many more requests would be accepted right now.
	Remaining int
	// Reset is how long until Remaining grows again (until the oldest counted
	// request leaves the window); zero when nothing is counted.
	Reset time.Duration
	// RetryAfter is, for a refused request, how long until one more request
	// would be accepted; zero when allowed.
	RetryAfter time.Duration
}

// Limiter enforces a Rate per key exactly: at most rate.Limit requests are
// allowed in any rolling window of rate.Window. Refused requests are not
// counted. Implementations: inmem.Limiter (one process), redis.Limiter (a fleet).
type Limiter interface {
	Allow(ctx context.Context, key string, rate Rate) (Decision, error)
}
