package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// TestParseQuota: windows that divide a day are accepted, the others
// refused with the list of those that do.
func TestParseQuota(t *testing.T) {
	for text, want := range map[string]auth.Rate{
		"10000/1d": {Limit: 10000, Window: 24 * time.Hour},
		"1000/1h":  {Limit: 1000, Window: time.Hour},
		"5/h":      {Limit: 5, Window: time.Hour},
		"50/6h":    {Limit: 50, Window: 6 * time.Hour},
		"10/15m":   {Limit: 10, Window: 15 * time.Minute},
	} {
		if got, err := auth.ParseQuota(text); err != nil || got != want {
			t.Errorf("ParseQuota(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
	for text, msg := range map[string]string{
		"100/7h":  "does not divide a day",
		"100/2d":  "does not divide a day",
		"100/25m": "does not divide a day",
		"100":     "want TOKENS/WINDOW",
		"0/1h":    "want TOKENS/WINDOW",
	} {
		if _, err := auth.ParseQuota(text); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseQuota(%q) = %v; want an error saying %q", text, err, msg)
		}
	}
	if qs, err := auth.ParseQuotas([]string{"none"}); err != nil || qs != nil {
		t.Errorf(`ParseQuotas(["none"]) = %v, %v; want none`, qs, err)
	}
	if _, err := auth.ParseQuotas([]string{"5/1h", "6/60m"}); err == nil {
		t.Error("ParseQuotas accepted two quotas per hour")
	}
}

// TestQuotaWindow: windows start at UTC midnight plus a whole number of
// windows, whatever the zone of the time.
func TestQuotaWindow(t *testing.T) {
	at := time.Date(2026, 12, 7, 14, 35, 10, 0, time.FixedZone("UTC-5", -5*3600)) // 19:35:10 UTC
	for _, tc := range []struct {
		w          time.Duration
		start, end string
	}{
		{time.Hour, "2026-12-07T19:00:00Z", "2026-12-07T20:00:00Z"},
		{6 * time.Hour, "2026-12-07T18:00:00Z", "2026-12-08T00:00:00Z"},
		{24 * time.Hour, "2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"},
		{15 * time.Minute, "2026-12-07T19:30:00Z", "2026-12-07T19:45:00Z"},
	} {
		start, end := auth.QuotaWindow(at, tc.w)
		if start.Format(time.RFC3339) != tc.start || end.Format(time.RFC3339) != tc.end {
			t.Errorf("QuotaWindow(%v, %v) = %v, %v; want %s, %s", at, tc.w, start, end, tc.start, tc.end)
		}
	}
	// At the window's end exactly, the next window begins.
	start, _ := auth.QuotaWindow(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), 24*time.Hour)
	if start.Format(time.RFC3339) != "2026-12-08T00:00:00Z" {
		t.Errorf("at midnight: window starts %v; want that midnight", start)
	}
}
