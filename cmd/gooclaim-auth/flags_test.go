package main

import (
	"testing"
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
)

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "15m": 15 * time.Minute, "1h30m": 90 * time.Minute, "10s": 10 * time.Second, "0": 0} {
		got, err := auth.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("auth.ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-5m", "1.5d", "d"} {
		if _, err := auth.ParseDuration(bad); err == nil {
			t.Errorf("auth.ParseDuration(%q) accepted", bad)
		}
	}
	for d, want := range map[time.Duration]string{10 * time.Second: "10s", 30 * time.Second: "30s", 15 * time.Minute: "15m", time.Hour: "1h",
		90 * time.Minute: "1h30m", 90 * 24 * time.Hour: "90d", 500 * time.Millisecond: "500ms", 36 * time.Hour: "36h", 0: "0"} {
		if got := auth.FormatDuration(d); got != want {
			t.Errorf("auth.FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if d != 0 {
			if back, _ := auth.ParseDuration(auth.FormatDuration(d)); back != d {
				t.Errorf("round trip of %v gave %v", d, back)
			}
		}
	}
}
