package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"testing"
	"time"
)

// FuzzRequestLine checks that appendLogLine writes exactly the bytes
// slog.NewJSONHandler writes for the same record, whatever the values.
func FuzzRequestLine(f *testing.F) {
	f.Add("POST", "/v1/auth/token", 200, 0.123, "192.0.2.1", "gooclaim_app_x", "token.issued", "issued", "client_secret_post", "jti-1", "claims:read", int64(1796613561123456789), 0)
	f.Add("GET", "/a<b>&c\u2028\u2029", 404, 0.0, "::1", "", "", "", "", "", "", int64(0), 3600)
	f.Add("\x00\x1f\x7f\"\\\n\r\t\b\f", "\xff\xfe\xc3", -1, -0.001, "é漢🎉", "\xed\xa0\x80", "e", "o", "m", "j", "s", int64(-1), -18000)
	f.Add("M", "/p", 500, 1e21, "r", "c", "e", "o", "", "", "", int64(1<<62), 19800)
	f.Add("M", "/p", 500, 1e-7, "r", "c", "e", "o", "", "", "", int64(253402300799000000000/1e9), 0)
	f.Add("M", "/p", 200, math.NaN(), "r", "c", "e", "o", "", "", "", int64(5), 0)
	f.Add("M", "/p", 200, 123456.789, "r", "c", "e", "o", "", "", "", int64(5), 1)
	f.Fuzz(func(t *testing.T, method, path string, status int, ms float64, remote, clientID, event, outcome, authMethod, jti, scope string, unixNano int64, zoneOffset int) {
		tm := time.Unix(0, unixNano).In(time.FixedZone("z", zoneOffset%100000))
		attrs := []slog.Attr{
			slog.String("method", method), slog.String("path", path), slog.Int("status", status),
			slog.Float64("duration_ms", ms), slog.String("remote", remote),
		}
		if clientID != "" {
			attrs = append(attrs, slog.String("client_id", clientID))
		}
		if event != "" {
			attrs = (&authEvent{name: event, outcome: outcome, method: authMethod, jti: jti, scope: scope}).appendAttrs(attrs)
		}
		got, ok := appendLogLine([]byte("x"), tm, "request", attrs)
		var want bytes.Buffer
		r := slog.NewRecord(tm, slog.LevelInfo, "request", 0)
		r.AddAttrs(attrs...)
		err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r)
		if !ok {
			// Only what the line never holds is left to slog: floats with
			// an exponent or none at all, and years RFC 3339 cannot write.
			abs := math.Abs(ms)
			if y := tm.Year(); y >= 0 && y < 10000 && !math.IsNaN(ms) && !math.IsInf(ms, 0) && (abs == 0 || (abs >= 1e-6 && abs < 1e21)) {
				t.Fatalf("appendLogLine declined %v at %v", attrs, tm)
			}
			return
		}
		if err != nil {
			t.Fatalf("appendLogLine wrote a line slog refuses (%v): %s", err, got)
		}
		if got[0] != 'x' || !bytes.Equal(got[1:], want.Bytes()) {
			t.Fatalf("appendLogLine:\n got %s\nslog      %s", got[1:], want.Bytes())
		}
	})
}

func TestRequestLineAllocations(t *testing.T) {
	attrs := []slog.Attr{slog.String("method", "POST"), slog.Int("status", 200), slog.Float64("duration_ms", 0.25)}
	buf := make([]byte, 0, 512)
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { appendLogLine(buf[:0], now, "request", attrs) }); n != 0 {
		t.Errorf("appendLogLine allocates %.0f times", n)
	}
}
