package client_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth/client"
	"golang.org/x/oauth2"
)

// TestTokenSourceCaches: within the token's lifetime, one request.
func TestTokenSourceCaches(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	wire := newCounter()
	c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret, HTTPClient: wire.client()}
	src := c.TokenSource(context.Background())
	first, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	second, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken != first.AccessToken {
		t.Error("the second call got another token")
	}
	if n := wire.count(tokenPath); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// TestTokenSourceRefreshesBeforeExpiry: a token living 2s is replaced
// after 1s — the 30s default skew, cut to half the lifetime.
func TestTokenSourceRefreshesBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) { writeToken(w, n, 2) })
	c := &client.Config{TokenURL: f.URL, ClientID: "app"}
	src := c.TokenSource(context.Background())
	start := time.Now()
	tok := mustToken(t, src)
	if d := tok.Expiry.Sub(start); d < 1900*time.Millisecond || d > 2100*time.Millisecond {
		t.Errorf("Expiry %v after the request, want 2s", d)
	}
	mustToken(t, src)
	if f.requests() != 1 {
		t.Fatalf("%d requests within the lifetime, want 1", f.requests())
	}
	time.Sleep(time.Until(tok.Expiry.Add(-time.Second)) + 50*time.Millisecond)
	if got := mustToken(t, src); got.AccessToken != "token-2" {
		t.Errorf("after expiry - skew got %s, want token-2", got.AccessToken)
	}
	if f.requests() != 2 {
		t.Errorf("%d requests, want 2", f.requests())
	}
}

// TestTokenSourceKeepsValidTokenWhenRefreshFails: inside the skew, a failed
// refresh returns the token that has not expired yet.
func TestTokenSourceKeepsValidTokenWhenRefreshFails(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			writeToken(w, n, 2)
			return
		}
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "no signing key")
	})
	c := &client.Config{TokenURL: f.URL, ClientID: "app", MaxRetries: -1}
	src := c.TokenSource(context.Background())
	tok := mustToken(t, src)
	time.Sleep(time.Until(tok.Expiry.Add(-time.Second)) + 50*time.Millisecond)
	if got := mustToken(t, src); got.AccessToken != "token-1" {
		t.Errorf("got %s, want the still valid token-1", got.AccessToken)
	}
	if f.requests() != 2 {
		t.Errorf("%d requests, want 2 (one failed refresh)", f.requests())
	}
}

// TestNoThunderingHerd: 200 goroutines asking at once, with nothing cached
// and then with the cached token expired, make one request each time.
func TestNoThunderingHerd(t *testing.T) {
	t.Parallel()
	const callers = 200
	herd := func(t *testing.T, src oauth2.TokenSource) map[string]int {
		t.Helper()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			got   = map[string]int{}
			start = make(chan struct{})
		)
		for range callers {
			wg.Go(func() {
				<-start
				tok, err := src.Token()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[tok.AccessToken]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		return got
	}

	t.Run("real server, empty cache", func(t *testing.T) {
		t.Parallel()
		s, id, secret := newServer(t)
		wire := newCounter()
		c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret, HTTPClient: wire.client()}
		if got := herd(t, c.TokenSource(context.Background())); len(got) != 1 {
			t.Errorf("callers got %d different tokens, want 1", len(got))
		}
		if n := wire.count(tokenPath); n != 1 {
			t.Errorf("%d token requests for %d callers, want 1", n, callers)
		}
	})
	t.Run("expired cache", func(t *testing.T) {
		t.Parallel()
		f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond) // a slow server widens the window
			writeToken(w, n, 2)
		})
		c := &client.Config{TokenURL: f.URL, ClientID: "app"}
		src := c.TokenSource(context.Background())
		tok := mustToken(t, src)
		time.Sleep(time.Until(tok.Expiry.Add(-time.Second)) + 50*time.Millisecond)
		got := herd(t, src)
		if got["token-2"] != callers {
			t.Errorf("callers got %v, want token-2 for all %d", got, callers)
		}
		if f.requests() != 2 {
			t.Errorf("%d requests, want 2 (one per lifetime)", f.requests())
		}
	})
}

func mustToken(t *testing.T, src oauth2.TokenSource) *oauth2.Token {
	t.Helper()
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
