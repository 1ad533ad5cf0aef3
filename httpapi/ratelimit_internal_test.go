package httpapi

import (
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
)

// referenceRateLimitHeaders is setRateLimitHeaders as it was written before
// its values were cached and built in one string: the reference.
func referenceRateLimitHeaders(h http.Header, d auth.Decision, scope issuer.LimitScope) {
	policy := `"default"`
	if scope == issuer.LimitAddress {
		policy = `"address"`
	}
	limit := strconv.Itoa(d.Limit)
	remaining := strconv.Itoa(d.Remaining)
	reset := seconds(d.Reset)
	if !d.Allowed {
		reset = max(1, seconds(d.RetryAfter))
	}
	resetS := strconv.FormatInt(reset, 10)
	h["Ratelimit-Policy"] = []string{policy + ";q=" + limit + ";w=" + strconv.FormatInt(seconds(d.Window), 10)}
	h["Ratelimit"] = []string{policy + ";r=" + remaining + ";t=" + resetS}
	h["X-Ratelimit-Limit"] = []string{limit}
	h["X-Ratelimit-Remaining"] = []string{remaining}
	h["X-Ratelimit-Reset"] = []string{resetS}
}

func FuzzRateLimitHeaders(f *testing.F) {
	f.Add(true, 60, 59, int64(time.Minute), int64(time.Second*30), int64(0), false)
	f.Add(false, 60, 0, int64(time.Minute), int64(0), int64(time.Second*3), true)
	f.Add(true, 1<<30, 1<<30-1, int64(time.Hour), int64(-1), int64(-5), false)
	f.Add(false, -1, -9, int64(1), int64(1), int64(1), true)
	f.Fuzz(func(t *testing.T, allowed bool, limit, remaining int, window, reset, retry int64, address bool) {
		d := auth.Decision{Allowed: allowed, Limit: limit, Remaining: remaining, Window: time.Duration(window),
			Reset: time.Duration(reset), RetryAfter: time.Duration(retry)}
		scope := issuer.LimitClient
		if address {
			scope = issuer.LimitAddress
		}
		for range 2 { // the second time from the remembered policy
			got, want := http.Header{}, http.Header{}
			setRateLimitHeaders(got, d, scope)
			referenceRateLimitHeaders(want, d, scope)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("headers for %+v, %v:\n got %q\nwant %q", d, scope, got, want)
			}
		}
	})
}

func TestRateLimitHeadersAllocations(t *testing.T) {
	d := auth.Decision{Allowed: true, Limit: 600, Remaining: 512, Window: time.Minute, Reset: 20 * time.Second}
	h := http.Header{}
	if n := testing.AllocsPerRun(100, func() { setRateLimitHeaders(h, d, issuer.LimitClient) }); n > 2 {
		t.Errorf("setRateLimitHeaders allocates %.0f times, want at most 2 (one string, one array)", n)
	}
}

// TestAuthEventReason: a refusal's reason is on the log line, as "reason".
func TestAuthEventReason(t *testing.T) {
	ev := authEvent{name: "token.refused", outcome: "invalid_client", method: "federated_jwt", reason: "unbound_subject: no client is bound"}
	attrs := ev.appendAttrs(nil)
	if a := attrs[len(attrs)-1]; a.Key != "reason" || a.Value.String() != ev.reason {
		t.Fatalf("attrs %v", attrs)
	}
	if len(attrs)+2 > maxEventAttrs {
		t.Fatalf("%d attributes and remote and client_id exceed maxEventAttrs %d", len(attrs), maxEventAttrs)
	}
}
