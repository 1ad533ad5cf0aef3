package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
)

// durationValue is a pflag.Value for durations that also accepts days
// ("90d"), which time.ParseDuration does not.
type durationValue time.Duration

func (d *durationValue) String() string { return formatDuration(time.Duration(*d)) }
func (d *durationValue) Type() string   { return "duration" }
func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid duration %q: use for example 90d, 36h, 15m or 30s", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q: use for example 90d, 36h, 15m or 30s", s)
	}
	return d, nil
}

// formatDuration prints the shortest readable form: 90d, 1h, 15m, 1h30m.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String() // "1h0m0s", "15m0s", "10s", "500ms"
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// rateValue is a pflag.Value for "60/1m".
type rateValue auth.Rate

func (r *rateValue) String() string { return auth.Rate(*r).String() }
func (r *rateValue) Type() string   { return "rate" }
func (r *rateValue) Set(s string) error {
	v, err := auth.ParseRate(s)
	if err != nil {
		return err
	}
	*r = rateValue(v)
	return nil
}
