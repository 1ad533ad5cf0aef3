package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Claims are a verified access token's claims (RFC 9068 §2.2).
type Claims struct {
	Issuer   string // iss
	Subject  string // sub: for client credentials tokens, the client
	ClientID string // client_id
	JWTID    string // jti; empty if absent
	Audience []string
	Scopes   []string // scope, split on spaces, without duplicates, in token order
	IssuedAt time.Time
	Expiry   time.Time
	// NotBefore is the zero time when the token has no nbf.
	NotBefore time.Time
	// Confirmation is the "cnf" claim of a sender-constrained token (RFC
	// 7800): the DPoP key or client certificate its client must prove it
	// holds. Nil for a Bearer token. Verify does not check it, having no
	// request to check it against: VerifyRequest and Middleware do.
	Confirmation *Confirmation
	// Act is the "act" claim of a token obtained by delegation (RFC 8693
	// §4.1): the client acting for Subject, and, nested, the actors
	// before it. Nil when the token acts for no one but its client.
	Act *Actor
	// Raw holds every claim as decoded JSON (numbers as json.Number).
	Raw map[string]any
}

// Actor is an "act" claim (RFC 8693 §4.1): who acts, and who acted before
// it in a chain of delegations.
type Actor struct {
	Subject string // sub: the acting client's ID
	Act     *Actor // the actor before this one; nil when it is the first
}

// Actors returns the chain of delegation as the actors' subjects, the
// client presenting the token first and the first actor last (RFC 8693
// §4.1: only the outermost act is the current actor; the nested ones are
// history, for logs and audit, not for access decisions). Empty when the
// token was not delegated.
func (c *Claims) Actors() []string {
	var chain []string
	for a := c.Act; a != nil; a = a.Act {
		chain = append(chain, a.Subject)
	}
	return chain
}

// HasScope reports whether the token grants scope s (compared exactly,
// RFC 6749 §3.3).
func (c *Claims) HasScope(s string) bool {
	return slices.Contains(c.Scopes, s)
}

// Verifier checks access tokens against the issuer's JWK Set and, with
// Config.Introspection, asks the issuer whether they are still active. It
// is safe for concurrent use; while the cached set is fresh, verifying a
// token whose key it holds takes no lock and, without introspection, makes
// no request.
type Verifier struct {
	cfg   settings
	keys  *keySource
	intro *introspector // nil without Config.Introspection
}

// New checks cfg and, unless cfg.Lazy is set, fetches the authorization
// server metadata and the JWK Set once, failing if either cannot be had, so
// that a misconfiguration shows at start; with Config.Introspection and no
// Introspection.Endpoint, the metadata must name an introspection_endpoint.
// After that, the key set is kept fresh as tokens are verified; no
// goroutine runs between fetches.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	s, err := cfg.check()
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: s}
	v.keys = newKeySource(&v.cfg)
	if s.introspection != nil {
		v.intro = newIntrospector(&v.cfg)
	}
	if !s.lazy {
		if err := v.keys.refreshNow(ctx); err != nil {
			return nil, fmt.Errorf("verify: load the signing keys of %s: %w", s.issuer, err)
		}
		if v.intro != nil {
			if _, err := v.intro.endpointURL(ctx); err != nil {
				return nil, fmt.Errorf("verify: find the introspection endpoint of %s: %w", s.issuer, err)
			}
		}
	}
	return v, nil
}

// Verify checks a JWT access token as RFC 9068 §4 and RFC 8725 require and
// returns its claims. The token must be a compact JWS whose header has an
// allowed alg, typ at+jwt (or application/at+jwt) and a kid naming a key in
// the issuer's JWK Set whose algorithm is that alg; its signature must
// verify with that key; iss must be the Issuer, aud must contain the
// Audience, exp must be in the future and nbf and iat not, within Leeway;
// sub and client_id must be present; RequiredScopes must all be granted.
// Then, with Config.Introspection, the issuer must say that the token is
// still active (RFC 7662), unless it said so less than CacheTTL ago.
//
// Errors are *Error: invalid_token, or insufficient_scope for a token that
// is valid but lacks a required scope. ctx bounds only the wait for a JWK
// Set fetch or an introspection answer.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// verify is Verify with extra required scopes (Middleware's). It returns
// *Error so that a nil result is a nil interface in Verify.
func (v *Verifier) verify(ctx context.Context, token string, extraScopes []string) (*Claims, *Error) {
	h, e := parseHeader(token, v.cfg.algorithms)
	if e != nil {
		return nil, e
	}
	// go-jose parses again with h.alg as the only algorithm allowed; the two
	// readings must agree.
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.alg)})
	if err != nil {
		return nil, invalidTokenCause("the token is not a well-formed JWS", err)
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Protected.Algorithm != h.alg || jws.Signatures[0].Protected.KeyID != h.kid {
		return nil, invalidToken("the token's header is ambiguous")
	}
	keys, e := v.keys.lookup(ctx, h.kid)
	if e != nil {
		return nil, e
	}
	var payload []byte
	algMatched := false
	for _, k := range keys {
		if k.alg != h.alg { // RFC 8725 §3.1: the key decides the algorithm
			continue
		}
		algMatched = true
		if payload, err = jws.Verify(k.key); err == nil {
			break
		}
	}
	switch {
	case !algMatched:
		return nil, invalidToken(fmt.Sprintf("the token's alg %s is not the algorithm of key %s (%s)", h.alg, quote(h.kid), keys[0].alg))
	case payload == nil:
		return nil, invalidTokenCause("the token's signature does not verify with key "+quote(h.kid), err)
	}
	c, e := v.checkClaims(payload, v.cfg.now())
	if e != nil {
		return nil, e
	}
	if e := checkScopes(c, v.cfg.requiredScopes, extraScopes); e != nil {
		return nil, e
	}
	// Last: only a token that passed every local check is sent.
	if v.intro != nil {
		if e := v.intro.check(ctx, token, c); e != nil {
			return nil, e
		}
	}
	return c, nil
}

// checkScopes returns an insufficient_scope error if c lacks any of the
// required scopes.
func checkScopes(c *Claims, required ...[]string) *Error {
	var all, missing []string
	for _, list := range required {
		for _, s := range list {
			if slices.Contains(all, s) {
				continue
			}
			all = append(all, s)
			if !c.HasScope(s) {
				missing = append(missing, s)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	what := "scope " + missing[0]
	if len(missing) > 1 {
		what = "scopes " + strings.Join(missing, ", ")
	}
	return &Error{Code: CodeInsufficientScope, Description: "the token lacks the " + what, Scopes: all}
}

// KeyIDs returns the kids of the usable keys of the cached JWK Set, sorted.
func (v *Verifier) KeyIDs() []string {
	set := v.keys.set.Load()
	if set == nil {
		return nil
	}
	return slices.Clone(set.kids)
}

// Stats describes the JWK Set cache and the introspection cache, for tests
// and health checks.
type Stats struct {
	JWKSURL     string    // where the set is fetched; empty before discovery
	Fetches     int       // JWKS requests sent, whatever their outcome
	NotModified int       // of which answered 304 Not Modified
	LastFetch   time.Time // when the last fetch (or discovery) ended
	LastSuccess time.Time // when the last one succeeded
	LastError   error     // the last fetch's error; nil if it succeeded
	Keys        int       // usable keys cached
	KeysFetched time.Time // when the server last confirmed the cached set
	Ignored     []string  // why some of the set's JWKs are not used

	// With Config.Introspection (zero without):
	IntrospectionEndpoint  string // empty before discovery
	Introspections         int    // introspection requests sent (a retry counts), whatever their outcome
	IntrospectionCacheHits int    // checks answered from the cache
	IntrospectionFailures  int    // checks that got no usable answer, each refusing its token
	IntrospectionCached    int    // answers in the cache, some maybe expired
}

// Stats returns the counters and state of the JWK Set cache and of the
// introspection cache.
func (v *Verifier) Stats() Stats {
	v.keys.mu.Lock()
	st := v.keys.stats
	v.keys.mu.Unlock()
	if set := v.keys.set.Load(); set != nil {
		st.Keys, st.KeysFetched, st.Ignored = len(set.kids), set.fetched, slices.Clone(set.ignored)
	}
	if v.intro != nil {
		v.intro.stats(&st)
	}
	return st
}
