package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/authtest"
)

// TestRateLimitRollingWindow drives the real server with a controlled clock:
// 60 requests per 60 s per client_id in ANY rolling window, failed requests
// included, with Retry-After telling the exact wait.
func TestRateLimitRollingWindow(t *testing.T) {
	clock := authtest.NewClock(time.Now().Truncate(time.Second))
	ts := startTestServer(t, clock)
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	good := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	bad := "grant_type=client_credentials&client_id=" + id + "&client_secret=wrong"

	// 30 at t=0 (half of them with a wrong secret: they count too), 30 at t=30s.
	for i := range 30 {
		body := good
		if i%2 == 1 {
			body = bad
		}
		r := ts.form(body)
		if want := strconv.Itoa(59 - i); r.Header.Get("X-RateLimit-Remaining") != want {
			t.Fatalf("request %d: X-RateLimit-Remaining %q, want %s", i, r.Header.Get("X-RateLimit-Remaining"), want)
		}
	}
	clock.Advance(30 * time.Second)
	for range 30 {
		if r := ts.form(good); r.StatusCode != 200 {
			t.Fatalf("status %d within the limit", r.StatusCode)
		}
	}
	// The 61st, right or wrong secret, is refused: the limit also stops guessing.
	for _, body := range []string{good, bad} {
		r := ts.form(body)
		if r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("61st request: status %d, want 429", r.StatusCode)
		}
		code, desc := r.errorBody(t)
		if code != "rate_limited" || !strings.Contains(desc, "60 requests per 60 seconds") {
			t.Fatalf("429 body %s", r.body)
		}
		if r.Header.Get("Retry-After") != "30" {
			t.Fatalf("Retry-After %q, want 30 (the first 30 leave the window at t=60s)", r.Header.Get("Retry-After"))
		}
		if r.Header.Get("RateLimit") != `"default";r=0;t=30` || r.Header.Get("RateLimit-Policy") != `"default";q=60;w=60` {
			t.Fatalf("RateLimit %q, RateLimit-Policy %q", r.Header.Get("RateLimit"), r.Header.Get("RateLimit-Policy"))
		}
	}
	// Not a fixed window: at t=59s (a "new minute" for a fixed-window limiter
	// started at 0) still nothing; at t=60s the first 30 have left.
	clock.Advance(29 * time.Second)
	if r := ts.form(good); r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("t=59s: status %d Retry-After %q, want 429 and 1", r.StatusCode, r.Header.Get("Retry-After"))
	}
	clock.Advance(time.Second)
	for i := range 30 {
		if r := ts.form(good); r.StatusCode != 200 {
			t.Fatalf("t=60s request %d: status %d", i, r.StatusCode)
		}
	}
	if r := ts.form(good); r.StatusCode != 429 {
		t.Fatalf("t=60s request 31: status %d, want 429", r.StatusCode)
	}
	// Another client is not affected.
	other, otherSecret := ts.createClient("--name", "other", "--scope", "a")
	ts.form("grant_type=client_credentials&client_id=" + other + "&client_secret=" + otherSecret).token(t)
}

func TestRateLimitPerAddressWithoutClientID(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.ipRateLimit = rateValue{Limit: 5, Window: time.Minute} })
	for i := range 5 {
		if r := ts.jsonReq(`{"grant_type": 1}`); r.StatusCode != 400 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	r := ts.jsonReq(`not json`)
	if r.StatusCode != 429 || r.Header.Get("RateLimit-Policy") != `"address";q=5;w=60` {
		t.Fatalf("status %d policy %q", r.StatusCode, r.Header.Get("RateLimit-Policy"))
	}
}

func TestRateLimitPerClientOverride(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "a", "--rate-limit", "3/10s")
	for range 3 {
		ts.form("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret).token(t)
	}
	r := ts.form("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret)
	if r.StatusCode != 429 || r.Header.Get("X-RateLimit-Limit") != "3" || r.Header.Get("RateLimit-Policy") != `"default";q=3;w=10` {
		t.Fatalf("status %d, headers %v", r.StatusCode, r.Header)
	}
}
