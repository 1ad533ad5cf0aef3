package issuer

import (
	"sync"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/policy"
)

// TokenCache keeps the live tokens of the clients that reuse them
// (auth.Client.ReusesTokens): a token request from a client for the same
// scope, audience and binding as a token issued to it on this node, while
// that token has more than half its lifetime left, gets that token again
// — same jti, the remaining expires_in — instead of a new signature
// (issue 19, point 4). Peers tell their users to cache tokens; many
// callers do not, and each of their requests costs a signature here.
//
// A token is given again only while everything it was issued under still
// holds:
//   - the same version of the client: its incarnation and UpdatedAt, which
//     every change of the client moves (secret rotation, disable, revoke
//     tokens, a scope taken away…), so a change ends reuse of the tokens
//     issued before it without a message to this cache;
//   - the same signing key: a key rotated or revoked stops the reuse of
//     the tokens it signed;
//   - no token of the client revoked one by one (RFC 7009) since: the
//     revocation, on any node, appends a change of the client to the
//     store's change feed, and the replica of each node calls Forget for
//     it (inmem.ReplicaOptions.OnClient) — the node that revoked at once.
//
// Bounded: at most maxPerClient tokens per client (scope, audience and
// binding combinations), and max in all; past max, the tokens of a client
// picked at random make room. Only authenticated requests reach it, so
// an attacker fills it with tokens of his own client at most. Safe for
// concurrent use.
type TokenCache struct {
	max int

	mu       sync.Mutex
	n        int
	byClient map[string]*reuseBucket
}

// maxPerClient bounds the tokens kept per client: a client asking for many
// scope and audience combinations, or binding each token to a new DPoP
// key, replaces its own tokens rather than other clients'.
const maxPerClient = 8

// DefaultTokenCacheSize is the number of tokens a TokenCache keeps unless
// told otherwise: with tokens of about a kilobyte, ten megabytes at most.
const DefaultTokenCacheSize = 10_000

type reuseBucket struct {
	incarnation string
	updatedAt   time.Time
	tokens      []reusable
}

// reusable is one token and what it was issued for.
type reusable struct {
	scope, aud, jkt, x5t string
	kid                  string
	issuedAt, expiry     int64
	tok                  auth.Token
}

// NewTokenCache returns a cache of at most max tokens
// (DefaultTokenCacheSize when max is 0 or less).
func NewTokenCache(max int) *TokenCache {
	if max <= 0 {
		max = DefaultTokenCacheSize
	}
	return &TokenCache{max: max, byClient: map[string]*reuseBucket{}}
}

// Forget drops the tokens kept for the client with this ID; "" drops every
// client's. inmem.Replica calls it (ReplicaOptions.OnClient) after it applies
// a change of the client — among them the revocation of one of its tokens
// on any node — or reloads everything.
func (tc *TokenCache) Forget(clientID string) {
	if tc == nil {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if clientID == "" {
		clear(tc.byClient)
		tc.n = 0
		return
	}
	if b, ok := tc.byClient[clientID]; ok {
		tc.n -= len(b.tokens)
		delete(tc.byClient, clientID)
	}
}

// Len returns the number of tokens kept.
func (tc *TokenCache) Len() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.n
}

// get returns a copy of the token kept for client c (as it is now) with
// this scope, audience and binding, signed with key kid, when it has more
// than half its lifetime left at now (Unix seconds); ok false otherwise.
func (tc *TokenCache) get(c *auth.Client, scope, aud string, cnf *auth.Confirmation, kid string, now int64) (auth.Token, bool) {
	jkt, x5t := cnfKeys(cnf)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	b, ok := tc.byClient[c.ID]
	if !ok || b.incarnation != c.Incarnation || !b.updatedAt.Equal(c.UpdatedAt) {
		return auth.Token{}, false
	}
	for _, r := range b.tokens {
		if r.scope == scope && r.aud == aud && r.jkt == jkt && r.x5t == x5t && r.kid == kid &&
			now < r.halfLife() {
			tok := r.tok
			tok.ExpiresIn = r.expiry - now
			return tok, true
		}
	}
	return auth.Token{}, false
}

// put keeps tok, just issued to c (as it was when the request looked it
// up) for scope, aud and cnf, signed with key kid at issuedAt, expiring at
// expiry (Unix seconds).
func (tc *TokenCache) put(c *auth.Client, scope, aud string, cnf *auth.Confirmation, kid string, issuedAt, expiry int64, tok *auth.Token) {
	if c.TokenRevoked(issuedAt) {
		// Issued within the second of a revoke-all, so revoked at birth
		// (auth.Client.TokenRevoked): given again, it would keep failing.
		return
	}
	jkt, x5t := cnfKeys(cnf)
	r := reusable{scope: scope, aud: aud, jkt: jkt, x5t: x5t, kid: kid, issuedAt: issuedAt, expiry: expiry, tok: *tok}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	b, ok := tc.byClient[c.ID]
	switch {
	case !ok:
		b = &reuseBucket{incarnation: c.Incarnation, updatedAt: c.UpdatedAt}
	case b.incarnation == c.Incarnation && c.UpdatedAt.Before(b.updatedAt):
		return // looked up before a change that another request has seen: keep the newer version's tokens
	case b.incarnation != c.Incarnation || !b.updatedAt.Equal(c.UpdatedAt):
		tc.n -= len(b.tokens)
		b.tokens = b.tokens[:0]
		b.incarnation, b.updatedAt = c.Incarnation, c.UpdatedAt
	}
	for k, old := range b.tokens {
		if old.scope == scope && old.aud == aud && old.jkt == jkt && old.x5t == x5t {
			b.tokens[k] = r // a fresher token for the same request
			return
		}
	}
	if len(b.tokens) >= maxPerClient || (tc.n >= tc.max && !tc.evictOther(c.ID)) {
		if len(b.tokens) > 0 {
			b.tokens[soonestHalfLife(b.tokens)] = r
		}
		return
	}
	b.tokens = append(b.tokens, r)
	tc.byClient[c.ID] = b
	tc.n++
}

// soonestHalfLife returns the index of the token that stops being reused
// first, the one to replace. tokens is not empty.
func soonestHalfLife(tokens []reusable) int {
	k := 0
	for j, r := range tokens {
		if r.halfLife() < tokens[k].halfLife() {
			k = j
		}
	}
	return k
}

// halfLife is when r stops being reused (Unix seconds).
func (r *reusable) halfLife() int64 { return r.issuedAt + (r.expiry-r.issuedAt)/2 }

// evictOther drops the tokens of a client other than keep, picked by the
// map's random iteration order — cheap, and no client's pattern of
// requests can keep another's tokens out for long —, and reports whether
// there was one.
func (tc *TokenCache) evictOther(keep string) bool {
	for id, b := range tc.byClient {
		if id == keep {
			continue
		}
		tc.n -= len(b.tokens)
		delete(tc.byClient, id)
		return true
	}
	return false
}

func cnfKeys(cnf *auth.Confirmation) (jkt, x5t string) {
	if cnf == nil {
		return "", ""
	}
	return cnf.JKT, cnf.X5TS256
}

// reuses reports whether client c's tokens may be given again: it reuses
// them (its setting, else the server's), the server keeps a TokenCache,
// and none of its claims depends on the request — a claim of the remote
// address, the time or the external token would otherwise be another
// request's. set is c's compiled expressions, as applyPolicy returned them.
func (i *Issuer) reuses(c *auth.Client, set *policy.Set) bool {
	return i.cfg.Tokens != nil && c.ReusesTokens(i.cfg.ReuseTokens) && !set.RequestDependentClaims()
}

// reused returns the live token kept for client c with this scope,
// audience and binding, signed with the current key, when there is one
// (it then counts against no quota: no token is issued); else nil and the
// current key's ID, under which to keep the token about to be signed.
func (i *Issuer) reused(c *auth.Client, scope, aud string, cnf *auth.Confirmation, now time.Time) (*auth.Token, string, error) {
	signer, err := i.keys.Signer(now)
	if err != nil {
		return nil, "", err
	}
	kid := signer.KeyID()
	if tok, ok := i.cfg.Tokens.get(c, scope, aud, cnf, kid, now.Unix()); ok {
		tok.Reused = true
		return &tok, kid, nil
	}
	return nil, kid, nil
}

// Max is the most tokens tc keeps; 0 for nil (none kept).
func (tc *TokenCache) Max() int {
	if tc == nil {
		return 0
	}
	return tc.max
}
