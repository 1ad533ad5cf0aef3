package client_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/testserver"
)

// counter is an http.RoundTripper that counts and records the requests it
// sends, by path.
type counter struct {
	base http.RoundTripper

	mu       sync.Mutex
	paths    map[string]int
	requests []recorded
}

// recorded is what a request carried on the wire.
type recorded struct {
	path, contentType, authorization string
	body                             string
}

func newCounter() *counter {
	return &counter{base: &http.Transport{}, paths: map[string]int{}}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := recorded{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), authorization: r.Header.Get("Authorization")}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		rec.body = string(b)
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	c.mu.Lock()
	c.paths[r.URL.Path]++
	c.requests = append(c.requests, rec)
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

// params decodes the request's form or JSON body.
func (r recorded) params(t *testing.T) map[string]string {
	t.Helper()
	p := map[string]string{}
	if r.contentType == "application/json" {
		if err := json.Unmarshal([]byte(r.body), &p); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		return p
	}
	v, err := url.ParseQuery(r.body)
	if err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	for k := range v {
		p[k] = v.Get(k)
	}
	return p
}

// count is the number of requests sent to path.
func (c *counter) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

func (c *counter) last() recorded {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[len(c.requests)-1]
}

// client is an *http.Client over the counter, with a short timeout.
func (c *counter) client() *http.Client {
	return &http.Client{Transport: c, Timeout: 5 * time.Second}
}

const tokenPath = "/v1/auth/token"

// newServer starts the real service with a client allowed two scopes and
// two audiences (the first its default).
func newServer(t *testing.T) (s *testserver.Server, id, secret string) {
	t.Helper()
	s = testserver.New(t, testserver.Options{})
	id, secret = s.CreateClient(t, []string{"claims:read", "claims:write"}, "https://api.gooclaim.com", "https://files.gooclaim.com")
	return s, id, secret
}

// claims decodes the payload of a JWT, without verifying it (the verify
// kit's tests do that).
type claims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      any    `json:"aud"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Exp      int64  `json:"exp"`
}

func decodeClaims(t *testing.T, jwt string) claims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return c
}

// fakeEndpoint is a token endpoint whose answers a test scripts: answer is
// called with the number of the request (from 1).
type fakeEndpoint struct {
	*httptest.Server
	n atomic.Int32
}

func newFakeEndpoint(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *fakeEndpoint {
	t.Helper()
	f := &fakeEndpoint{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(int(f.n.Add(1)), w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// requests is how many requests the endpoint received.
func (f *fakeEndpoint) requests() int { return int(f.n.Load()) }

// writeToken answers with a token response; the token names the request.
func writeToken(w http.ResponseWriter, n int, expiresIn int) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":%d,"scope":"claims:read"}`, n, expiresIn)
}

// writeError answers with an RFC 6749 §5.2 error.
func writeError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, description)
}
