package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth/client"
	"golang.org/x/oauth2"
)

// api is a protected resource server that records the Authorization
// header and body of each request and answers with refuse's verdict.
type api struct {
	*httptest.Server
	mu     sync.Mutex
	auths  []string
	bodies []string
}

func newAPI(t *testing.T, refuse func(auth string) string) *api {
	t.Helper()
	a := &api{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		a.mu.Lock()
		a.auths = append(a.auths, auth)
		a.bodies = append(a.bodies, string(body))
		a.mu.Unlock()
		if challenge := refuse(auth); challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "claims for "+string(body))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *api) seen() (auths, bodies []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...), append([]string(nil), a.bodies...)
}

// TestClientSendsBearer: the real server's token reaches the API, and the
// caller's request is not modified.
func TestClientSendsBearer(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	wire := newCounter()
	c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret, HTTPClient: wire.client()}
	a := newAPI(t, func(auth string) string {
		if !strings.HasPrefix(auth, "Bearer ey") {
			return `Bearer realm="gooclaim"`
		}
		return ""
	})
	hc := c.Client(context.Background())
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/claims", strings.NewReader("c-1"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if h := req.Header.Get("Authorization"); h != "" {
			t.Errorf("the caller's request was given Authorization %q", h)
		}
	}
	auths, _ := a.seen()
	if cl := decodeClaims(t, strings.TrimPrefix(auths[0], "Bearer ")); cl.Sub != id {
		t.Errorf("token for %q, want %q", cl.Sub, id)
	}
	if n := wire.count(tokenPath); n != 1 {
		t.Errorf("%d token requests for 3 API calls, want 1", n)
	}
}

// TestInvalidTokenRetriedOnce: a token the API refuses as invalid_token is
// dropped and the request sent once more, body included, with a new one.
func TestInvalidTokenRetriedOnce(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) { writeToken(w, n, 3600) })
	c := &client.Config{TokenURL: f.URL, ClientID: "app"}
	const invalid = `Bearer realm="gooclaim", error="invalid_token", error_description="the token was revoked"`

	t.Run("replayable body", func(t *testing.T) {
		a := newAPI(t, func(auth string) string {
			if auth == "Bearer token-1" {
				return invalid
			}
			return ""
		})
		hc := c.Client(context.Background())
		resp, err := hc.Post(a.URL, "text/plain", strings.NewReader("c-1"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "claims for c-1" {
			t.Errorf("status %d, body %q", resp.StatusCode, body)
		}
		auths, bodies := a.seen()
		if strings.Join(auths, ",") != "Bearer token-1,Bearer token-2" || strings.Join(bodies, ",") != "c-1,c-1" {
			t.Errorf("API saw %v with bodies %v", auths, bodies)
		}
	})
	t.Run("always refused", func(t *testing.T) {
		a := newAPI(t, func(string) string { return invalid })
		resp, err := c.Client(context.Background()).Get(a.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if auths, _ := a.seen(); resp.StatusCode != 401 || len(auths) != 2 {
			t.Errorf("status %d after %d API requests, want 401 after 2", resp.StatusCode, len(auths))
		}
	})
	t.Run("body not replayable", func(t *testing.T) {
		a := newAPI(t, func(string) string { return invalid })
		req, _ := http.NewRequest(http.MethodPost, a.URL, io.NopCloser(strings.NewReader("c-1")))
		resp, err := c.Client(context.Background()).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if auths, _ := a.seen(); resp.StatusCode != 401 || len(auths) != 1 {
			t.Errorf("status %d after %d API requests, want 401 after 1", resp.StatusCode, len(auths))
		}
	})
	t.Run("other 401", func(t *testing.T) {
		a := newAPI(t, func(string) string { return `Bearer realm="gooclaim"` })
		resp, err := c.Client(context.Background()).Get(a.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if auths, _ := a.seen(); resp.StatusCode != 401 || len(auths) != 1 {
			t.Errorf("status %d after %d API requests, want 401 after 1", resp.StatusCode, len(auths))
		}
	})
	t.Run("source that cannot drop its token", func(t *testing.T) {
		a := newAPI(t, func(string) string { return invalid })
		hc := &http.Client{Transport: &client.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "static"})}}
		resp, err := hc.Get(a.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if auths, _ := a.seen(); resp.StatusCode != 401 || strings.Join(auths, ",") != "Bearer static" {
			t.Errorf("status %d, API saw %v; want 401 after one request", resp.StatusCode, auths)
		}
	})
}

// TestNoTokenOnCrossHostRedirect: a redirect to another host is followed
// without the token; one to the same host keeps it.
func TestNoTokenOnCrossHostRedirect(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) { writeToken(w, n, 3600) })
	c := &client.Config{TokenURL: f.URL, ClientID: "app"}
	other := newAPI(t, func(string) string { return "" })
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			if r.Header.Get("Authorization") != "Bearer token-1" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}
	}))
	defer first.Close()
	hc := c.Client(context.Background())
	resp, err := hc.Get(first.URL + "/here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("same-host redirect: status %d, want 200 (token kept)", resp.StatusCode)
	}
	resp, err = hc.Get(first.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if auths, _ := other.seen(); len(auths) != 1 || auths[0] != "" {
		t.Errorf("the other host saw Authorization %q, want none", auths)
	}
}

// TestTransportTokenError: when no token can be had, the request is not
// sent, its body is closed, and the error says why.
func TestTransportTokenError(t *testing.T) {
	t.Parallel()
	s, id, _ := newServer(t)
	c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: "wrong"}
	a := newAPI(t, func(string) string { return "" })
	body := &closeRecorder{Reader: strings.NewReader("c-1")}
	req, _ := http.NewRequest(http.MethodPost, a.URL, body)
	_, err := c.Client(context.Background()).Do(req)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "invalid_client" {
		t.Errorf("error %v, want invalid_client", err)
	}
	if auths, _ := a.seen(); len(auths) != 0 || !body.closed {
		t.Errorf("API saw %d requests, body closed %v; want none, true", len(auths), body.closed)
	}
}

// TestTransportRequestContext: a request whose context ends while the
// token request waits out a Retry-After returns at once.
func TestTransportRequestContext(t *testing.T) {
	t.Parallel()
	f := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "slow down")
	})
	srcCtx, stop := context.WithCancel(context.Background())
	defer stop() // ends the token request still waiting
	c := &client.Config{TokenURL: f.URL, ClientID: "app"}
	a := newAPI(t, func(string) string { return "" })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	start := time.Now()
	_, err := c.Client(srcCtx).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("error %v after %v, want the request's deadline at once", err, time.Since(start))
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
