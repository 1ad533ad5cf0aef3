package verify

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth/internal/jwkset"
)

const (
	// fetchTimeout bounds every metadata and JWKS fetch.
	fetchTimeout = 10 * time.Second
	// maxDocumentSize bounds the metadata and JWKS documents read.
	maxDocumentSize = 1 << 20
)

// publicKey is one usable key of the JWK Set.
type publicKey struct {
	alg string // the algorithm it verifies: the JWK's "alg", or the one its type implies
	key crypto.PublicKey
}

// keySet is an immutable snapshot of the JWK Set.
type keySet struct {
	byKID   map[string][]publicKey
	kids    []string  // sorted
	ignored []string  // why some JWKs are not used
	fetched time.Time // when the server last confirmed the set (200 or 304)
	expires time.Time // when to refresh it
	etag    string
}

// fetchCall is one fetch of the JWK Set, which any number of callers wait for.
type fetchCall struct {
	done chan struct{}
	err  error
}

// keySource fetches and caches the JWK Set. Lookups of known kids read an
// atomic pointer; fetches are serialized, shared and throttled under mu.
type keySource struct {
	cfg *settings
	set atomic.Pointer[keySet]

	mu          sync.Mutex
	jwksURL     string // found by discovery unless configured
	inflight    *fetchCall
	lastAttempt time.Time // start of the last fetch, whatever started it
	lastMiss    time.Time // start of the last fetch started by an unknown kid
	stats       Stats
}

func newKeySource(cfg *settings) *keySource {
	s := &keySource{cfg: cfg, jwksURL: cfg.jwksURL}
	s.stats.JWKSURL = cfg.jwksURL
	return s
}

// errThrottled is returned by refetch when an unknown kid may not cause a
// fetch yet.
var errThrottled = errors.New("JWKS refetch for unknown key IDs is rate-limited")

// lookup returns the keys with the given kid. It fetches the set first when
// there is none or it is older than MaxKeyAge, starts a background refresh
// when the set's cache lifetime has passed, and refetches (throttled, shared)
// when kid is unknown.
func (s *keySource) lookup(ctx context.Context, kid string) ([]publicKey, *Error) {
	now := s.cfg.now()
	set, e := s.current(ctx, now)
	if e != nil {
		return nil, e
	}
	// At most two refetches: the first may join a fetch that started before
	// the key was published; the second starts one if the throttle allows.
	for range 2 {
		if ks := set.byKID[kid]; len(ks) > 0 {
			return ks, nil
		}
		next, err := s.refetch(ctx, now, set)
		if errors.Is(err, errThrottled) {
			break
		}
		if err != nil {
			return nil, invalidTokenCause("cannot check the token: gave up waiting for the issuer's signing keys", err)
		}
		set = next
	}
	if ks := set.byKID[kid]; len(ks) > 0 {
		return ks, nil
	}
	return nil, invalidToken("unknown key ID " + quote(kid) + ": not in the issuer's JWK Set")
}

// current returns a key set young enough to use.
func (s *keySource) current(ctx context.Context, now time.Time) (*keySet, *Error) {
	set := s.set.Load()
	if set != nil && now.Sub(set.fetched) <= s.cfg.maxKeyAge {
		if !now.Before(set.expires) {
			s.mu.Lock()
			if s.inflight == nil && s.dueLocked(now) {
				s.startLocked(now) // in the background: the cached keys serve meanwhile
			}
			s.mu.Unlock()
		}
		return set, nil
	}

	// No usable set: fetch now or join the fetch under way, unless the last
	// attempt failed less than MinRefreshInterval ago.
	s.mu.Lock()
	call := s.inflight
	if call == nil && s.dueLocked(now) {
		call = s.startLocked(now)
	}
	lastErr := s.stats.LastError
	s.mu.Unlock()
	if call != nil {
		if err := wait(ctx, call); err != nil {
			return nil, invalidTokenCause("cannot check the token: gave up waiting for the issuer's signing keys", err)
		}
		lastErr = call.err
		set = s.set.Load()
		if set != nil && s.cfg.now().Sub(set.fetched) <= s.cfg.maxKeyAge {
			return set, nil
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no fetch attempted yet")
	}
	// The description goes to the caller: the cause (addresses, network
	// errors) stays in Unwrap and Error for the logs.
	if set == nil {
		return nil, invalidTokenCause("cannot check the token: the issuer's signing keys are unavailable", lastErr)
	}
	return nil, invalidTokenCause(fmt.Sprintf(
		"cannot check the token: the issuer's signing keys were last fetched %s ago, more than the %s they may be trusted without a refresh",
		now.Sub(set.fetched).Round(time.Second), s.cfg.maxKeyAge), lastErr)
}

// refetch gets a newer set than seen for an unknown kid: it joins the fetch
// under way, or starts one if no unknown kid started one within
// MinRefreshInterval; otherwise it returns errThrottled.
func (s *keySource) refetch(ctx context.Context, now time.Time, seen *keySet) (*keySet, error) {
	s.mu.Lock()
	call := s.inflight
	if call == nil {
		if cur := s.set.Load(); cur != seen {
			s.mu.Unlock()
			return cur, nil // a fetch ended since seen was read
		}
		if !s.lastMiss.IsZero() && now.Sub(s.lastMiss) < s.cfg.minRefresh {
			s.mu.Unlock()
			return nil, errThrottled
		}
		s.lastMiss = now
		call = s.startLocked(now)
	}
	s.mu.Unlock()
	if err := wait(ctx, call); err != nil {
		return nil, err
	}
	// On failure the cached set stays in use (it is not older than
	// MaxKeyAge: current checked).
	return s.set.Load(), nil
}

// refreshNow fetches the set and waits for the result (New uses it).
func (s *keySource) refreshNow(ctx context.Context) error {
	s.mu.Lock()
	call := s.inflight
	if call == nil {
		call = s.startLocked(s.cfg.now())
	}
	s.mu.Unlock()
	if err := wait(ctx, call); err != nil {
		return err
	}
	return call.err
}

func (s *keySource) dueLocked(now time.Time) bool {
	return s.lastAttempt.IsZero() || now.Sub(s.lastAttempt) >= s.cfg.minRefresh
}

// startLocked starts a fetch in its own goroutine, detached from any
// caller's context so that one caller giving up does not fail the others.
func (s *keySource) startLocked(now time.Time) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	s.inflight = call
	s.lastAttempt = now
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		err := s.fetch(ctx)
		s.mu.Lock()
		s.inflight = nil
		s.stats.LastFetch = s.cfg.now()
		s.stats.LastError = err
		if err == nil {
			s.stats.LastSuccess = s.stats.LastFetch
		}
		s.mu.Unlock()
		call.err = err
		close(call.done)
	}()
	return call
}

func wait(ctx context.Context, call *fetchCall) error {
	select {
	case <-call.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch discovers the JWKS URL if needed, then fetches the set, revalidating
// with If-None-Match, and stores it.
func (s *keySource) fetch(ctx context.Context) error {
	s.mu.Lock()
	jwksURL := s.jwksURL
	s.mu.Unlock()
	if jwksURL == "" {
		u, err := discover(ctx, s.cfg)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.jwksURL, s.stats.JWKSURL = u, u
		s.mu.Unlock()
		jwksURL = u
	}

	old := s.set.Load()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if old != nil && old.etag != "" {
		req.Header.Set("If-None-Match", old.etag)
	}
	s.mu.Lock()
	s.stats.Fetches++
	s.mu.Unlock()
	resp, err := s.cfg.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	now := s.cfg.now()
	expires := now.Add(cacheLifetime(resp.Header))
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		next := *old
		next.fetched, next.expires = now, expires
		s.set.Store(&next)
		s.mu.Lock()
		s.stats.NotModified++
		s.mu.Unlock()
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("fetch JWKS %s: HTTP %d", jwksURL, resp.StatusCode)
	}
	body, err := readDocument(resp.Body)
	if err != nil {
		return fmt.Errorf("fetch JWKS %s: %w", jwksURL, err)
	}
	next, err := parseJWKS(body, s.cfg.algorithms)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", jwksURL, err)
	}
	next.fetched, next.expires, next.etag = now, expires, resp.Header.Get("ETag")
	s.set.Store(next)
	return nil
}

func readDocument(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("document larger than %d bytes", maxDocumentSize)
	}
	return body, nil
}

// cacheLifetime is the response's Cache-Control max-age (less Age)
// bounded to [MinCacheAge, MaxCacheAge]; MinCacheAge when it gives none.
func cacheLifetime(h http.Header) time.Duration {
	if age, ok := jwkset.MaxAge(h, MinCacheAge, MaxCacheAge); ok {
		return age
	}
	return MinCacheAge
}
