package auth_test

import (
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

func TestDurationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		text string
	}{
		{90 * 24 * time.Hour, "90d"}, {time.Hour, "1h"}, {15 * time.Minute, "15m"},
		{90 * time.Minute, "1h30m"}, {10 * time.Second, "10s"}, {500 * time.Millisecond, "500ms"}, {0, "0"},
	} {
		if got := auth.FormatDuration(tc.d); got != tc.text {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.text)
		}
		if got, err := auth.ParseDuration(tc.text); err != nil || got != tc.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.text, got, err, tc.d)
		}
	}
	for _, bad := range []string{"", "-1h", "-2d", "1.5d", "d", "soon", "100001d"} {
		if _, err := auth.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}
