package client

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestBearerError(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   string
	}{
		{[]string{`Bearer realm="gooclaim", error="invalid_token", error_description="the token expired"`}, "invalid_token"},
		{[]string{`Bearer error=invalid_token`}, "invalid_token"},
		{[]string{`bearer   ERROR = "invalid_token"`}, "invalid_token"},
		{[]string{`Bearer realm="a, error=\"x\"", error="insufficient_scope", scope="claims:write"`}, "insufficient_scope"},
		{[]string{`Basic realm="gooclaim", Bearer error="invalid_token"`}, "invalid_token"},
		{[]string{`Basic realm="gooclaim"`, `Bearer error="invalid_token"`}, "invalid_token"},
		{[]string{`Negotiate a87421000492aa874209af8bc028==, Bearer error="invalid_token"`}, "invalid_token"},
		{[]string{`Basic error="invalid_token"`}, ""},
		{[]string{`Bearer realm="gooclaim"`}, ""},
		{[]string{`Bearer`}, ""},
		{[]string{`Bearer, DPoP error="invalid_token"`}, ""},
		{[]string{``, `,,, "junk" =`, `Bearer error="unterminated`}, "unterminated"},
		{nil, ""},
	} {
		if got := bearerError(tc.header); got != tc.want {
			t.Errorf("bearerError(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Fri, 02 Jan 2026 03:05:35 GMT", 90 * time.Second, true},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if got, ok := parseRetryAfter(h, now); got != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q: %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRefreshTime(t *testing.T) {
	exp := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expiresIn int64
		skew      time.Duration
		want      time.Duration // before expiry
	}{
		{3600, 30 * time.Second, 30 * time.Second},
		{3600, 0, 0},
		{40, 30 * time.Second, 20 * time.Second},
		{2, 30 * time.Second, time.Second},
		{1, 30 * time.Second, 500 * time.Millisecond},
	} {
		tok := &oauth2.Token{Expiry: exp, ExpiresIn: tc.expiresIn}
		if got := exp.Sub(refreshTime(tok, tc.skew)); got != tc.want {
			t.Errorf("expires_in %d, skew %v: refresh %v before expiry, want %v", tc.expiresIn, tc.skew, got, tc.want)
		}
	}
	if !refreshTime(&oauth2.Token{}, time.Minute).IsZero() {
		t.Error("a token without expiry has a refresh time")
	}
}

func TestBackoffFullJitter(t *testing.T) {
	lo, hi := 200*time.Millisecond, 5*time.Second
	for n, ceiling := range []time.Duration{200, 400, 800, 1600, 3200, 5000, 5000} {
		ceiling *= time.Millisecond
		var top time.Duration
		for range 2000 {
			d := backoff(n, lo, hi)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", n, d, ceiling)
			}
			top = max(top, d)
		}
		if top < ceiling*9/10 {
			t.Errorf("backoff(%d) never came near %v (top %v): not full jitter", n, ceiling, top)
		}
	}
	if d := backoff(200, lo, hi); d > hi {
		t.Errorf("backoff(200) = %v: overflow", d)
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{StatusCode: 401, Code: "invalid_client", Description: "client authentication failed"},
			"token endpoint answered 401 Unauthorized: invalid_client: client authentication failed"},
		{&Error{StatusCode: 429, Code: "rate_limited", Description: "slow down", RetryAfter: 17 * time.Second},
			"token endpoint answered 429 Too Many Requests: rate_limited: slow down (retry after 17s)"},
		{&Error{StatusCode: 502, Description: "<html>"}, "token endpoint answered 502 Bad Gateway: <html>"},
		{&Error{StatusCode: 599}, "token endpoint answered 599"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// TestNewTokenRequestBytes checks the exact bytes of each encoding and style.
func TestNewTokenRequestBytes(t *testing.T) {
	base := settings{clientID: "app 1", clientSecret: "s+e:c%ret", scope: "a b", resource: "https://api.example"}
	for _, tc := range []struct {
		style                 AuthStyle
		encoding              Encoding
		body, contentType, au string
	}{
		{AuthBasic, EncodingForm, "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example&scope=a+b",
			"application/x-www-form-urlencoded", "Basic YXBwKzE6cyUyQmUlM0FjJTI1cmV0"},
		{AuthPost, EncodingForm, "client_id=app+1&client_secret=s%2Be%3Ac%25ret&grant_type=client_credentials&resource=https%3A%2F%2Fapi.example&scope=a+b",
			"application/x-www-form-urlencoded", ""},
		{AuthBasic, EncodingJSON, `{"grant_type":"client_credentials","resource":"https://api.example","scope":"a b"}`,
			"application/json", "Basic YXBwKzE6cyUyQmUlM0FjJTI1cmV0"},
		{AuthPost, EncodingJSON, `{"client_id":"app 1","client_secret":"s+e:c%ret","grant_type":"client_credentials","resource":"https://api.example","scope":"a b"}`,
			"application/json", ""},
	} {
		s := base
		s.authStyle, s.encoding = tc.style, tc.encoding
		r, err := s.newTokenRequest(context.Background(), "https://auth.example/token", s.clientCredentials())
		if err != nil {
			t.Fatal(err)
		}
		if string(r.body) != tc.body || r.contentType != tc.contentType || r.authorization != tc.au {
			t.Errorf("%v %v:\n got %s %s %q\nwant %s %s %q", tc.style, tc.encoding, r.body, r.contentType, r.authorization, tc.body, tc.contentType, tc.au)
		}
	}
}
