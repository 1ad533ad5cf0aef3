package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gooclaim/auth/client"
)

// fast is a Config for f with short backoffs.
func fast(f *fakeEndpoint) *client.Config {
	return &client.Config{TokenURL: f.URL, ClientID: "app", ClientSecret: "secret",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

// Test429RetryAfter: a 429 with Retry-After: 1 is retried after a second.
func Test429RetryAfter(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
			return
		}
		writeToken(w, n, 3600)
	})
	start := time.Now()
	tok, err := fast(f).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 15*time.Second { // at least the Retry-After; the upper bound only catches a hang
		t.Errorf("took %v, want the 1s Retry-After", d)
	}
	if tok.AccessToken != "token-2" || f.requests() != 2 {
		t.Errorf("got %s after %d requests, want token-2 after 2", tok.AccessToken, f.requests())
	}
}

// Test429RetryAfterTooLong: a Retry-After over MaxRetryAfter returns the
// error at once, with RetryAfter set; an HTTP-date is read too.
func Test429RetryAfterTooLong(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []string{"120", time.Now().Add(5 * time.Minute).UTC().Format(http.TimeFormat)} {
		f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", retryAfter)
			writeError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
		})
		start := time.Now()
		_, err := fast(f).Token(context.Background())
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != 429 || e.Code != "rate_limited" || e.RetryAfter < 110*time.Second {
			t.Fatalf("Retry-After %s: error %v, want a 429 *Error with RetryAfter", retryAfter, err)
		}
		if d := time.Since(start); d >= e.RetryAfter || f.requests() != 1 { // waiting would take the Retry-After
			t.Errorf("Retry-After %s: returned after %v and %d requests, want at once after 1", retryAfter, d, f.requests())
		}
		if !strings.Contains(err.Error(), "retry after") {
			t.Errorf("Error() = %q does not say when to retry", err)
		}
	}
}

// TestTransient5xxRetried: 503 twice, then a token.
func TestTransient5xxRetried(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "no signing key yet")
			return
		}
		writeToken(w, n, 3600)
	})
	tok, err := fast(f).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "token-3" || f.requests() != 3 {
		t.Errorf("got %s after %d requests, want token-3 after 3", tok.AccessToken, f.requests())
	}
}

// TestRetriesAreBounded: a server that keeps failing gets MaxRetries+1
// requests, and the last error is an *Error.
func TestRetriesAreBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maxRetries, want int
	}{{0, 4}, {2, 3}, {-1, 1}} {
		f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusBadGateway, "server_error", "upstream down")
		})
		c := fast(f)
		c.MaxRetries = tc.maxRetries
		_, err := c.Token(context.Background())
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != 502 {
			t.Errorf("MaxRetries %d: error %v, want a 502 *Error", tc.maxRetries, err)
		}
		if f.requests() != tc.want {
			t.Errorf("MaxRetries %d: %d requests, want %d", tc.maxRetries, f.requests(), tc.want)
		}
	}
}

// TestOtherStatusesNotRetried: 4xx (but 429) and 501 are answers, not
// failures.
func TestOtherStatusesNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 413, 501} {
		f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
			writeError(w, status, "invalid_request", "no")
		})
		_, err := fast(f).Token(context.Background())
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != status || f.requests() != 1 {
			t.Errorf("status %d: error %v after %d requests, want an *Error after 1", status, err, f.requests())
		}
	}
}

// TestNonJSONErrorBody: a proxy's HTML page becomes an *Error with no Code
// and the start of the text.
func TestNonJSONErrorBody(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>\n<body>Bad gateway " + strings.Repeat("x", 5000) + "</body></html>"))
	})
	c := fast(f)
	c.MaxRetries = -1
	_, err := c.Token(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != "" {
		t.Fatalf("error %v, want a 502 *Error without a code", err)
	}
	if !strings.HasPrefix(e.Description, "<html> <body>Bad gateway") || len(e.Description) > 300 || !strings.HasSuffix(e.Description, "…") {
		t.Errorf("Description %q, want the start of the body, cut", e.Description)
	}
}

// TestBadTokenResponses: a 200 that is not a usable Bearer token response
// is an error, not retried.
func TestBadTokenResponses(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`not json`: "not a JSON token response",
		`{"token_type":"Bearer","expires_in":60}`:                        "no access_token",
		`{"access_token":"t","token_type":"mac","expires_in":60}`:        "not Bearer",
		`{"access_token":"t","token_type":"Bearer","expires_in":"soon"}`: "expires_in",
		`{"access_token":"t","token_type":"Bearer","expires_in":-5}`:     "expires_in",
	} {
		f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
		_, err := fast(f).Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) || f.requests() != 1 {
			t.Errorf("%s: error %v after %d requests, want %q after 1", body, err, f.requests(), want)
		}
	}
	// expires_in as a string and a lower-case token_type are read.
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"t","token_type":"bearer","expires_in":"60"}`))
	})
	tok, err := fast(f).Token(context.Background())
	if err != nil || tok.ExpiresIn != 60 || tok.Type() != "Bearer" {
		t.Errorf("got %+v, %v", tok, err)
	}
}

// TestNetworkErrorRetried: a closed server (connection refused) is tried
// MaxRetries+1 times, then the error says why.
func TestNetworkErrorRetried(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	wire := newCounter()
	c := &client.Config{TokenURL: url + tokenPath, ClientID: "app", HTTPClient: wire.client(), MaxRetries: 2,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	start := time.Now()
	_, err := c.Token(context.Background())
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "3 times") {
		t.Errorf("error %v, want connection refused, 3 times", err)
	}
	if n := wire.count(tokenPath); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if d := time.Since(start); d > 10*time.Second { // backoffs of 20ms at most; this only catches a hang
		t.Errorf("took %v", d)
	}
}

// TestDroppedConnectionRetried: a connection closed without an answer,
// then a token.
func TestDroppedConnectionRetried(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0) // a reset, not a clean close
				}
				conn.Close()
			}
			return
		}
		writeToken(w, n, 3600)
	})
	tok, err := fast(f).Token(context.Background())
	if err != nil || tok.AccessToken != "token-2" {
		t.Errorf("got %v, %v; want token-2", tok, err)
	}
}

// TestTimeoutRetried: an attempt that times out is retried.
func TestTimeoutRetried(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			io.Copy(io.Discard, r.Body) // then the server notices the client leave
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		writeToken(w, n, 3600)
	})
	c := fast(f)
	c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
	tok, err := c.Token(context.Background())
	if err != nil || tok.AccessToken != "token-2" {
		t.Errorf("got %v, %v; want token-2", tok, err)
	}
}

// TestCancelDuringWait: cancelling the context during a Retry-After wait
// returns at once with the context's error.
func TestCancelDuringWait(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := fast(f).Token(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second { // the wait would be 30s
		t.Errorf("returned after %v, want at once", d)
	}
}

// TestDeadlineBeforeWaitEnds: a wait that would outlast the context's
// deadline is not started: the error is returned at once.
func TestDeadlineBeforeWaitEnds(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := fast(f).Token(ctx)
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 429 || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %v, want the 429 and why it was not retried", err)
	}
	if d := time.Since(start); d > 4*time.Second { // waiting would end at the 5s deadline
		t.Errorf("returned after %v, want at once", d)
	}
}
