package auth

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Quota modes (Client.QuotaMode).
const (
	// QuotaEnforce refuses a token past a quota (the default).
	QuotaEnforce = ""
	// QuotaWarn is watch-only: past a quota the token is issued all the
	// same, and the breach is logged, counted and audited.
	QuotaWarn = "warn"
)

// ParseQuota reads a quota, "N/WINDOW" as ParseRate reads it ("10000/1d",
// "1000/1h"), whose window divides a day: quota windows are fixed and
// aligned to UTC midnight (QuotaWindow), so 1h, 2h, 3h, 4h, 6h, 8h, 12h
// and 1d — and the minutes and seconds that divide a day — are accepted.
func ParseQuota(s string) (Rate, error) {
	r, err := ParseRate(s)
	if err != nil {
		return Rate{}, fmt.Errorf("quota %q: want TOKENS/WINDOW, for example 10000/1d or 1000/1h", s)
	}
	if err := CheckQuotaWindow(r.Window); err != nil {
		return Rate{}, fmt.Errorf("quota %q: %w", s, err)
	}
	return r, nil
}

// CheckQuotaWindow checks that w can be a quota window: whole seconds
// that divide a day, so that every window starts at a fixed UTC time.
func CheckQuotaWindow(w time.Duration) error {
	const day = 24 * time.Hour
	if w < time.Second || w > day || w%time.Second != 0 || day%w != 0 {
		return fmt.Errorf("the window %s does not divide a day: quota windows are fixed and aligned to UTC midnight; use 1h, 2h, 3h, 4h, 6h, 8h, 12h or 1d", FormatDuration(w))
	}
	return nil
}

// ParseQuotas reads a list of quotas (ParseQuota); "none" alone, or an
// empty list, is no quota. Two quotas with the same window are refused.
func ParseQuotas(list []string) ([]Rate, error) {
	if len(list) == 1 && strings.TrimSpace(list[0]) == "none" {
		return nil, nil
	}
	var qs []Rate
	for _, s := range list {
		q, err := ParseQuota(s)
		if err != nil {
			return nil, err
		}
		for _, p := range qs {
			if p.Window == q.Window {
				return nil, fmt.Errorf("quota %q: a quota per %s is already set (%s); give each window once", s, FormatDuration(q.Window), p)
			}
		}
		qs = append(qs, q)
	}
	return qs, nil
}

// FormatQuotas is the inverse of ParseQuotas (nil for none).
func FormatQuotas(qs []Rate) []string {
	if len(qs) == 0 {
		return nil
	}
	l := make([]string, len(qs))
	for i, q := range qs {
		l[i] = q.String()
	}
	return l
}

// CheckQuotaMode checks a Client.QuotaMode: "" (enforce) or "warn";
// "enforce" is accepted and means "".
func CheckQuotaMode(m string) (string, error) {
	switch m {
	case "", "enforce":
		return QuotaEnforce, nil
	case QuotaWarn:
		return QuotaWarn, nil
	}
	return "", fmt.Errorf("quota mode %q: want enforce (refuse past the quota) or warn (issue, log and audit the breach)", m)
}

// QuotaWindow returns the fixed window of length w (CheckQuotaWindow)
// that holds t: [start, end), aligned to UTC midnight.
func QuotaWindow(t time.Time, w time.Duration) (start, end time.Time) {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	start = midnight.Add(t.Sub(midnight) / w * w)
	return start, start.Add(w)
}

// QuotaDecision is a QuotaCounter's answer for one token.
type QuotaDecision struct {
	// Allowed is false when the token must not be issued (enforce mode
	// only); it was then not counted.
	Allowed bool
	// Used is, for each quota asked about in order, the tokens counted in
	// its current window, this one included when counted.
	Used []int
	// Breached is the index of the first quota past its limit (refused,
	// or in warn mode exceeded by this token), -1 for none; End is the end
	// of its window, when it renews.
	Breached int
	End      time.Time
	// FirstBreach says this is the first breach of that quota in its
	// window (per node, or fleet-wide with a shared counter): the one to
	// audit.
	FirstBreach bool
}

// QuotaCounter counts the tokens issued to each client in fixed windows
// aligned to UTC (QuotaWindow). Implementations: inmem.QuotaCounter (one
// process), redis.QuotaCounter (a fleet).
type QuotaCounter interface {
	// Count counts one token of client id against every quota in qs at
	// now, atomically: in enforce mode (warn false), if any quota's window
	// is full nothing is counted and the token is refused, so exactly
	// Limit tokens are counted per window however many nodes ask at once;
	// in warn mode the token is always counted and allowed, and a count
	// past a limit is reported as a breach.
	Count(ctx context.Context, id string, qs []Rate, warn bool, now time.Time) (QuotaDecision, error)
}
