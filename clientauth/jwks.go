package clientauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/egress"
	"github.com/gooclaim/auth/internal/jwkset"
)

// parseOptions are the rules for a client's keys: those of
// internal/jwkset, with Algorithms, and a kid optional (an assertion
// without kid is tried against the keys of its alg).
var parseOptions = jwkset.Options{Algorithms: Algorithms}

// inlineSets caches the parsed inline JWK Set of each client, so that the
// JSON is parsed once per change of the client's keys, not per request:
// the entry is keyed by client ID and holds the SHA-256 of the JSON it
// was parsed from.
type inlineSets struct {
	mu       sync.Mutex
	byClient map[string]inlineSet
}

type inlineSet struct {
	sum [sha256.Size]byte
	set *jwkset.Set
	err error
}

// maxInlineSets bounds the cache; past it, it starts over. Entries are
// made only for registered clients, so this is reached only by a very
// large registry.
const maxInlineSets = 100_000

func (s *inlineSets) get(c *auth.Client) (*jwkset.Set, error) { return s.parsed(c.ID, c.JWKS) }

// parsed returns the parsed set jwks of owner (a client ID, or a trusted
// issuer's name), parsing it only when it changed since the last call.
func (s *inlineSets) parsed(owner string, jwks []byte) (*jwkset.Set, error) {
	sum := sha256.Sum256(jwks)
	s.mu.Lock()
	e, ok := s.byClient[owner]
	s.mu.Unlock()
	if ok && e.sum == sum {
		return e.set, e.err
	}
	e = inlineSet{sum: sum}
	e.set, e.err = jwkset.Parse(jwks, parseOptions)
	s.mu.Lock()
	if s.byClient == nil || len(s.byClient) >= maxInlineSets {
		s.byClient = make(map[string]inlineSet)
	}
	s.byClient[strings.Clone(owner)] = e // a copy: owner may point into a replica's memory
	s.mu.Unlock()
	return e.set, e.err
}

// remoteSets caches the JWK Sets fetched from jwks_uri, one entry per URI,
// for clients (Verifier) and trusted issuers (FederatedVerifier) alike: the
// same throttling, cache lifetime, stale use and egress guard.
type remoteSets struct {
	cfg *settings

	mu        sync.Mutex
	byURI     map[remoteKey]*remoteSet
	nextSweep int // prune unused entries when byURI grows to this size
}

// remoteSet is the cached JWK Set of one jwks_uri. Fetches are
// serialized, shared and throttled under mu.
type remoteSet struct {
	uri string
	// discover is set when uri is a trusted issuer's identifier whose
	// OpenID discovery document names the jwks_uri (see discoverJWKSURI).
	discover bool
	// owner names the trusted issuer for the log; "" for a client's.
	owner string

	mu          sync.Mutex
	set         *jwkset.Set
	fetched     time.Time // last successful fetch
	expires     time.Time // when to fetch again
	lastAttempt time.Time // start of the last fetch, whatever started it
	lastMiss    time.Time // start of the last fetch started by a key not found
	lastUsed    time.Time
	lastErr     error
	inflight    *fetchCall
	fetches     int
}

// fetchCall is one fetch, which any number of callers wait for.
type fetchCall struct {
	done chan struct{}
}

// entry returns the cache entry of uri, creating it when there is none.
func (r *remoteSets) entry(uri string, now time.Time) *remoteSet {
	return r.entryOf(uri, false, "", now)
}

// issuerEntry returns the cache entry of a trusted issuer's keys: at its
// jwks_uri, or when it has none found through its OpenID discovery document.
func (r *remoteSets) issuerEntry(t *auth.TrustedIssuer, now time.Time) *remoteSet {
	if t.JWKSURI != "" {
		return r.entryOf(t.JWKSURI, false, t.Name, now)
	}
	return r.entryOf(t.Issuer, true, t.Name, now)
}

// remoteKey names an entry: a jwks_uri, or an issuer to discover.
type remoteKey struct {
	uri      string
	discover bool
}

func (r *remoteSets) entryOf(uri string, discover bool, owner string, now time.Time) *remoteSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byURI == nil {
		r.byURI = make(map[remoteKey]*remoteSet)
	}
	key := remoteKey{uri, discover}
	e := r.byURI[key]
	if e == nil {
		if len(r.byURI) >= r.nextSweep {
			// Forget the URIs no client used for MaxStaleJWKS (a client
			// that changed its jwks_uri, or was deleted), amortized: the
			// next sweep waits until the map has doubled.
			for u, old := range r.byURI {
				old.mu.Lock()
				unused := old.inflight == nil && now.Sub(old.lastUsed) > MaxStaleJWKS
				old.mu.Unlock()
				if unused {
					delete(r.byURI, u)
				}
			}
			r.nextSweep = max(2*len(r.byURI), 1024)
		}
		e = &remoteSet{uri: uri, discover: discover, owner: owner}
		r.byURI[key] = e
	}
	return e
}

// errKeysUnavailable is returned when a client's JWK Set cannot be had.
func errKeysUnavailable(why string) *auth.OAuthError {
	return invalid("the client's public keys are unavailable: %s", why)
}

// current returns a set young enough to use: the cached one while it has
// not expired; else a fresh one, fetched now or by a fetch under way; else,
// when fetching fails or is throttled, the cached one if fetched less than
// MaxStaleJWKS ago.
func (r *remoteSets) current(ctx context.Context, e *remoteSet, now time.Time) (*jwkset.Set, *auth.OAuthError) {
	e.mu.Lock()
	e.lastUsed = now
	if e.set != nil && now.Before(e.expires) {
		set := e.set
		e.mu.Unlock()
		return set, nil
	}
	call := e.inflight
	if call == nil && (e.lastAttempt.IsZero() || now.Sub(e.lastAttempt) >= r.cfg.minRefetch) {
		call = r.startLocked(e, now)
	}
	e.mu.Unlock()
	if call != nil {
		select {
		case <-call.done:
		case <-ctx.Done():
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.set != nil && now.Sub(e.fetched) <= MaxStaleJWKS:
		return e.set, nil
	case e.set != nil:
		return nil, errKeysUnavailable(fmt.Sprintf("its jwks_uri was last fetched %s ago, and cannot be fetched now", now.Sub(e.fetched).Round(time.Minute)))
	case ctx.Err() != nil:
		return nil, errKeysUnavailable("gave up waiting for its jwks_uri")
	case e.lastErr != nil:
		// Not why: the caller need not be the client, and what answered
		// (a status, a refusal, an address) would make the token endpoint
		// a probe of wherever the jwks_uri points.
		return nil, errKeysUnavailable("its jwks_uri could not be fetched; the server's log says why")
	default:
		return nil, errKeysUnavailable("its jwks_uri was fetched too recently to be fetched again")
	}
}

// refetch fetches the set again for a key that seen does not hold: it joins
// the fetch under way, or starts one unless a key not found started one
// less than MinRefetchInterval ago. It returns the newer set, or nil when
// there is none.
func (r *remoteSets) refetch(ctx context.Context, e *remoteSet, now time.Time, seen *jwkset.Set) *jwkset.Set {
	e.mu.Lock()
	call := e.inflight
	if call == nil {
		if e.set != seen {
			set := e.set // a fetch ended since seen was read
			e.mu.Unlock()
			return set
		}
		if !e.lastMiss.IsZero() && now.Sub(e.lastMiss) < r.cfg.minRefetch {
			e.mu.Unlock()
			return nil
		}
		e.lastMiss = now
		call = r.startLocked(e, now)
	}
	e.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.set == seen {
		return nil
	}
	return e.set
}

// startLocked starts a fetch in its own goroutine, detached from any
// caller's context so that one caller giving up does not fail the others.
func (r *remoteSets) startLocked(e *remoteSet, now time.Time) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	e.inflight = call
	e.lastAttempt = now
	e.fetches++
	go func() {
		defer close(call.done)
		ctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
		defer cancel()
		uri, err := e.uri, error(nil)
		if e.discover {
			uri, err = r.discoverJWKSURI(ctx, e.uri)
		}
		var set *jwkset.Set
		var ttl time.Duration
		if err == nil {
			set, ttl, err = r.fetch(ctx, uri)
		}
		done := r.cfg.clock.Now()
		e.mu.Lock()
		defer e.mu.Unlock()
		e.inflight = nil
		e.lastErr = err
		if err != nil {
			msg, attrs := "clientauth: cannot fetch a client's JWK Set", []any{"jwks_uri", e.uri, "err", err}
			if e.owner != "" {
				msg = "clientauth: cannot fetch a trusted issuer's JWK Set"
				attrs = append(attrs, "trusted_issuer", e.owner)
			}
			if e.discover {
				attrs[0] = "issuer"
			}
			if _, denied := errors.AsType[*egress.DeniedError](err); denied {
				attrs = append(attrs, "why", "keys are fetched from public addresses only; in development, clientauth.Config.AllowPrivateAddresses (serve --allow-private-addresses) lifts this")
			}
			r.cfg.logger.Warn(msg, attrs...)
			return
		}
		e.set, e.fetched, e.expires = set, done, done.Add(ttl)
	}()
	return call
}

// fetch GETs and parses the JWK Set at uri. Its errors are for the log
// only: they may name addresses and what answered there.
func (r *remoteSets) fetch(ctx context.Context, uri string) (*jwkset.Set, time.Duration, error) {
	if err := checkJWKSURI(uri, r.cfg.allowHTTP, r.cfg.egress); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWK Set: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.cfg.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWK Set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch JWK Set %s: HTTP %d", uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWK Set %s: %w", uri, err)
	}
	if len(body) > MaxJWKSSize {
		return nil, 0, fmt.Errorf("fetch JWK Set %s: over %d bytes", uri, MaxJWKSSize)
	}
	set, err := jwkset.Parse(body, parseOptions)
	if err != nil {
		return nil, 0, fmt.Errorf("JWK Set %s: %w", uri, err)
	}
	return set, r.cacheLifetime(resp.Header), nil
}

// cacheLifetime is the response's Cache-Control max-age (less Age) bounded
// to [MinCacheAge, MaxCacheAge], or JWKSCacheTTL when it gives none.
func (r *remoteSets) cacheLifetime(h http.Header) time.Duration {
	if age, ok := jwkset.MaxAge(h, MinCacheAge, MaxCacheAge); ok {
		return age
	}
	return r.cfg.cacheTTL
}

// DiscoveryPath is where an OpenID provider publishes its metadata,
// appended to its issuer identifier (OpenID Connect Discovery 1.0 §4).
const DiscoveryPath = "/.well-known/openid-configuration"

// MaxDiscoverySize bounds a fetched discovery document; real ones are a
// few kilobytes.
const MaxDiscoverySize = 64 << 10

// discoverJWKSURI fetches issuer's OpenID discovery document and returns
// its jwks_uri. The document's "issuer" must be issuer exactly (OpenID
// Connect Discovery 1.0 §4.3): otherwise whoever serves it could name keys
// of another issuer. The issuer URL and the jwks_uri are held to the rules
// of a client's jwks_uri (scheme, egress). Its errors are for the log only.
func (r *remoteSets) discoverJWKSURI(ctx context.Context, issuer string) (string, error) {
	docURL := strings.TrimSuffix(issuer, "/") + DiscoveryPath
	if err := checkJWKSURI(docURL, r.cfg.allowHTTP, r.cfg.egress); err != nil {
		return "", fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return "", fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery of %s: %s answered HTTP %d", issuer, docURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDiscoverySize+1))
	if err != nil {
		return "", fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	if len(body) > MaxDiscoverySize {
		return "", fmt.Errorf("discovery of %s: the document is over %d bytes", issuer, MaxDiscoverySize)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery of %s: not a JSON document: %w", issuer, err)
	}
	switch {
	case doc.Issuer != issuer:
		return "", fmt.Errorf("discovery of %s: the document's issuer is %q, not the issuer's identifier exactly", issuer, doc.Issuer)
	case doc.JWKSURI == "":
		return "", fmt.Errorf("discovery of %s: the document has no jwks_uri", issuer)
	}
	return doc.JWKSURI, nil
}
