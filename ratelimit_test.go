package auth_test

import (
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// TestRateRoundTrip: a rate prints its window as FormatDuration does, and
// ParseRate reads every printed rate back.
func TestRateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		rate auth.Rate
		text string
	}{
		{auth.Rate{Limit: 60, Window: time.Minute}, "60/1m"},
		{auth.Rate{Limit: 10, Window: 30 * time.Second}, "10/30s"},
		{auth.Rate{Limit: 5, Window: 90 * time.Second}, "5/1m30s"},
		{auth.Rate{Limit: 1000, Window: 90 * time.Minute}, "1000/1h30m"},
		{auth.Rate{Limit: 1000, Window: 36 * time.Hour}, "1000/36h"},
		{auth.Rate{Limit: 100000, Window: 24 * time.Hour}, "100000/1d"},
		{auth.Rate{Limit: 3, Window: 1500 * time.Millisecond}, "3/1.5s"},
		{auth.Rate{}, ""},
	} {
		if got := tc.rate.String(); got != tc.text {
			t.Errorf("%+v: String() = %q, want %q", tc.rate, got, tc.text)
		}
		if tc.rate.IsZero() {
			continue
		}
		if got, err := auth.ParseRate(tc.text); err != nil || got != tc.rate {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", tc.text, got, err, tc.rate)
		}
		if got := auth.FormatDuration(tc.rate.Window); "/"+got != tc.text[len(tc.text)-len(got)-1:] {
			t.Errorf("the window of %q is not FormatDuration's %q", tc.text, got)
		}
	}
	for text, want := range map[string]auth.Rate{
		"60/m": {Limit: 60, Window: time.Minute}, "5/s": {Limit: 5, Window: time.Second},
		"7/d": {Limit: 7, Window: 24 * time.Hour}, " 60/24h ": {Limit: 60, Window: 24 * time.Hour},
	} {
		if got, err := auth.ParseRate(text); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", text, got, err, want)
		}
	}
	for _, bad := range []string{"", "60", "0/1m", "-1/1m", "x/1m", "60/", "60/500ms", "60/0", "60/-1m", "60/ 1m", "60/1.5d", "60/soon"} {
		if r, err := auth.ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = %+v, accepted", bad, r)
		}
	}
}
