package main

import (
	"testing"
	"time"

	"github.com/gooclaim/auth"
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

func TestSizes(t *testing.T) {
	for in, want := range map[string]int{"16KiB": 16 << 10, "16384": 16384, "64 KiB": 64 << 10, "1MiB": 1 << 20, "2GiB": 2 << 30, "100B": 100, "0": 0} {
		var v sizeValue
		if err := v.Set(in); err != nil || int(v) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, v, err, want)
		}
	}
	for _, bad := range []string{"", "16KB", "16k", "-1", "1.5KiB", "KiB", "16MB", "lots", "99999999999GiB"} {
		var v sizeValue
		if err := v.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted: %d", bad, v)
		}
	}
	for n, want := range map[int]string{16 << 10: "16KiB", 16384 + 1: "16385B", 1 << 20: "1MiB", 0: "0"} {
		v := sizeValue(n)
		if v.String() != want {
			t.Errorf("String(%d) = %q, want %q", n, v.String(), want)
		}
	}
}

func TestDurationValueSeconds(t *testing.T) {
	var d durationValue
	if err := d.Set("3600"); err != nil || time.Duration(d) != time.Hour || d.String() != "1h" {
		t.Fatalf("Set(3600) = %v, %v", time.Duration(d), err)
	}
	if err := d.Set("-5"); err == nil {
		t.Fatal("a negative number of seconds was accepted")
	}
}
