package verify_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

// load fetches tokens from a server and verifies them, continuously, in
// several goroutines, counting verified tokens by kid and keeping failures.
type load struct {
	stop     func()
	mu       sync.Mutex
	byKID    map[string]int
	failures []string
}

func startLoad(t *testing.T, s *testserver.Server, v *verify.Verifier, id, secret string, workers int) *load {
	t.Helper()
	l := &load{byKID: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				tok, err := tryFetchToken(s, id, secret)
				if err != nil {
					if ctx.Err() == nil {
						l.fail("token request: " + err.Error())
					}
					continue
				}
				if _, err := v.Verify(context.Background(), tok); err != nil {
					l.fail(fmt.Sprintf("kid %s: %v", kidOf(tok), err))
					continue
				}
				l.mu.Lock()
				l.byKID[kidOf(tok)]++
				l.mu.Unlock()
			}
		})
	}
	var once sync.Once
	l.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(l.stop)
	return l
}

func (l *load) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, msg)
}

func (l *load) verified(kid string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if kid == "" {
		n := 0
		for _, c := range l.byKID {
			n += c
		}
		return n
	}
	return l.byKID[kid]
}

// check stops the load and reports the failures.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.stop()
	if len(l.failures) > 0 {
		t.Errorf("%d failures (of %d verified), first: %s", len(l.failures), l.verified(""), l.failures[0])
	}
	t.Logf("verified by kid: %v", l.byKID)
}

func kidOf(token string) string {
	h, _, _ := strings.Cut(token, ".")
	raw, _ := b64.DecodeString(h)
	var hdr struct{ Kid string }
	json.Unmarshal(raw, &hdr)
	return hdr.Kid
}

// TestRotationDuringVerification rotates the server's key while tokens are
// fetched and verified continuously: no verification may fail.
func TestRotationDuringVerification(t *testing.T) {
	ctx := context.Background()

	t.Run("immediate switch", func(t *testing.T) {
		s := newServer(t, testserver.Options{})
		id, secret := s.CreateClient(t, []string{"a"})
		v := newVerifier(t, s, nil) // the default MinRefreshInterval, 10s
		before := fetchToken(t, s, id, secret)
		l := startLoad(t, s, v, id, secret, 8)
		waitFor(t, "tokens of the first key", func() bool { return l.verified("") > 20 })

		k, err := s.Keys.Rotate(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "tokens of the new key", func() bool { return l.verified(k.ID) > 20 })
		l.check(t)
		if _, err := v.Verify(ctx, before); err != nil {
			t.Errorf("a token of the retired key: %v", err)
		}
		if kids := v.KeyIDs(); len(kids) != 2 || !slices.Contains(kids, k.ID) {
			t.Errorf("KeyIDs %v, want the retired and the new key", kids)
		}
		if st := v.Stats(); st.Fetches != 2 {
			t.Errorf("%d JWKS fetches, want 2: at start and on the new kid", st.Fetches)
		}
	})

	t.Run("repeated immediate switches", func(t *testing.T) {
		s := newServer(t, testserver.Options{})
		id, secret := s.CreateClient(t, []string{"a"})
		const interval = 50 * time.Millisecond
		v := newVerifier(t, s, func(c *verify.Config) { c.MinRefreshInterval = interval })
		l := startLoad(t, s, v, id, secret, 8)
		for range 4 {
			time.Sleep(interval + 10*time.Millisecond) // one refetch per interval
			k, err := s.Keys.Rotate(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "tokens of the new key", func() bool { return l.verified(k.ID) > 10 })
		}
		l.check(t)
		if st := v.Stats(); st.Fetches != 5 || len(v.KeyIDs()) != 5 {
			t.Errorf("%d fetches, %d keys; want 5 and 5", st.Fetches, len(v.KeyIDs()))
		}
	})

	t.Run("publish ahead", func(t *testing.T) {
		// With the default 10-minute publish-ahead, the server's max-age is
		// 5 minutes: the verifier refreshes in the background and holds the
		// new key before its first token, without any refetch on a miss.
		clock := authtest.NewClock(time.Now())
		s := newServer(t, testserver.Options{Clock: clock})
		id, secret := s.CreateClient(t, []string{"a"})
		v := newVerifier(t, s, func(c *verify.Config) { c.Now = clock.Now })
		l := startLoad(t, s, v, id, secret, 8)
		waitFor(t, "tokens of the first key", func() bool { return l.verified("") > 20 })

		k, err := s.Keys.Rotate(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		if !k.SigningFrom.Equal(clock.Now().Add(10 * time.Minute)) {
			t.Fatalf("new key signs from %v, want in 10 minutes", k.SigningFrom)
		}
		clock.Advance(6 * time.Minute) // past max-age: the next Verify refreshes
		waitFor(t, "the new key in the cache", func() bool { return slices.Contains(v.KeyIDs(), k.ID) })
		if l.verified(k.ID) != 0 {
			t.Fatal("the new key signed before its time")
		}
		fetches := v.Stats().Fetches
		clock.Advance(4*time.Minute + 30*time.Second) // the new key signs; the cache is still fresh
		waitFor(t, "tokens of the new key", func() bool { return l.verified(k.ID) > 20 })
		l.check(t)
		if st := v.Stats(); fetches != 2 || st.Fetches != 2 {
			t.Errorf("%d fetches before the switch, %d after; want 2 and 2 (no refetch on a miss)", fetches, st.Fetches)
		}
	})
}

// TestUnknownKIDFlood sends 1000 tokens with invented kids: the JWK Set is
// fetched at most once more within MinRefreshInterval.
func TestUnknownKIDFlood(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"a"})
	p := newProxy(t, s.URL)
	attacker := signer(t, auth.ES256, newPrivateKey(t, auth.ES256))
	junk := func(n int) []string {
		now := time.Now()
		out := make([]string, n)
		for i := range out {
			out[i] = forge(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": rand.Text()}, claims(s, now), attacker)
		}
		return out
	}
	flood := func(v *verify.Verifier, tokens []string) {
		t.Helper()
		var wg sync.WaitGroup
		var accepted atomic.Int64
		const workers = 50
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(tokens); i += workers {
					_, err := v.Verify(ctx, tokens[i])
					if !errors.Is(err, verify.ErrInvalidToken) {
						accepted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := accepted.Load(); n != 0 {
			t.Fatalf("%d junk tokens not refused as invalid_token", n)
		}
	}

	t.Run("default interval", func(t *testing.T) {
		tokens := junk(1000)
		v := newVerifier(t, s, func(c *verify.Config) { c.JWKSURL = p.URL + httpapi.JWKSPath })
		start, before := time.Now(), p.jwksHits.Load()
		flood(v, tokens)
		elapsed, hits := time.Since(start), p.jwksHits.Load()-before
		t.Logf("1000 tokens with unknown kids: %d JWKS request(s) in %v", hits, elapsed)
		if hits > 1 || v.Stats().Fetches != 2 {
			t.Errorf("%d JWKS requests for the flood (verifier counts %d in all), want at most 1 beyond the first", hits, v.Stats().Fetches)
		}
		if elapsed >= verify.DefaultMinRefreshInterval {
			t.Errorf("the flood took %v, longer than the interval: the bound was not tested", elapsed)
		}
		// Real tokens still verify, from the cache.
		if _, err := v.Verify(ctx, fetchToken(t, s, id, secret)); err != nil {
			t.Error(err)
		}
		if got := p.jwksHits.Load() - before; got != hits {
			t.Errorf("a real token caused %d JWKS requests", got-hits)
		}
	})

	t.Run("one refetch per interval", func(t *testing.T) {
		const interval = 200 * time.Millisecond
		v := newVerifier(t, s, func(c *verify.Config) {
			c.JWKSURL, c.MinRefreshInterval = p.URL+httpapi.JWKSPath, interval
		})
		before := p.jwksHits.Load()
		flood(v, junk(300))
		first := p.jwksHits.Load() - before
		time.Sleep(interval + 20*time.Millisecond)
		flood(v, junk(300))
		second := p.jwksHits.Load() - before - first
		if first != 1 || second != 1 {
			t.Errorf("JWKS requests: %d in the first interval, %d in the next; want 1 and 1", first, second)
		}
	})
}

// TestJWKSUnreachable: cached keys keep verifying while the JWKS cannot be
// fetched, up to MaxKeyAge; then verification fails closed, and recovers
// when the JWKS is back.
func TestJWKSUnreachable(t *testing.T) {
	ctx := context.Background()
	clock := authtest.NewClock(time.Now())
	s := newServer(t, testserver.Options{Clock: clock})
	id, secret := s.CreateClient(t, []string{"a"})
	p := newProxy(t, s.URL)
	v := newVerifier(t, s, func(c *verify.Config) {
		c.JWKSURL, c.Now, c.MaxKeyAge = p.URL+httpapi.JWKSPath, clock.Now, 30*time.Minute
	})
	tok := fetchToken(t, s, id, secret) // valid for an hour of the clock
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}

	p.down.Store(true)
	clock.Advance(6 * time.Minute) // past max-age: a background refresh, which fails
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("cached key, JWKS down for 6 minutes: %v", err)
	}
	waitFor(t, "the failed refresh", func() bool { return v.Stats().LastError != nil })
	clock.Advance(23 * time.Minute) // 29 minutes since the last fetch
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("cached key, JWKS down for 29 minutes: %v", err)
	}
	// A key rotated in meanwhile cannot be fetched: its tokens are refused.
	k, err := s.Keys.Rotate(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(ctx, fetchToken(t, s, id, secret))
	mustFail(t, err, verify.CodeInvalidToken, "unknown key ID '"+k.ID+"'")

	clock.Advance(2 * time.Minute) // 31 minutes: past MaxKeyAge
	_, err = v.Verify(ctx, tok)
	mustFail(t, err, verify.CodeInvalidToken, "signing keys were last fetched 31m0s ago")
	if st := v.Stats(); st.LastError == nil || !strings.Contains(err.Error(), "fetch JWKS") {
		t.Errorf("error %v, stats %+v: want the fetch error as the cause", err, st)
	}

	// Back up: no retry before MinRefreshInterval, then it recovers.
	p.down.Store(false)
	hits := p.jwksHits.Load()
	_, err = v.Verify(ctx, tok)
	mustFail(t, err, verify.CodeInvalidToken, "last fetched")
	if p.jwksHits.Load() != hits {
		t.Error("retried within MinRefreshInterval of a failed fetch")
	}
	clock.Advance(verify.DefaultMinRefreshInterval)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("JWKS back: %v", err)
	}
	if st := v.Stats(); st.LastError != nil || !slices.Contains(v.KeyIDs(), k.ID) {
		t.Errorf("stats %+v, keys %v: want recovered with the new key", st, v.KeyIDs())
	}
}
