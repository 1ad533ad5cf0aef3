package clientauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwkset"
)

// maxUnnamedCandidates bounds the keys an assertion without kid is tried
// against, so that it cannot cost many signature verifications.
const maxUnnamedCandidates = 10

// Verifier authenticates clients by their private_key_jwt assertions. It is
// safe for concurrent use. An inline JWK Set is parsed once per change of
// the client's keys; a jwks_uri is fetched as Config describes, and while
// its cached set holds the key, verifying takes no request.
type Verifier struct {
	cfg    settings
	inline inlineSets
	remote remoteSets
}

// NewVerifier checks cfg and returns a Verifier. It fetches nothing.
func NewVerifier(cfg Config) (*Verifier, error) {
	s, err := cfg.check()
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: s}
	v.remote.cfg = &v.cfg
	return v, nil
}

// Verify authenticates client c by assertion, the client_assertion of a
// token request whose client_assertion_type is auth.ClientAssertionTypeJWT
// (RFC 7523 §2.2, §3; RFC 7521 §4.2):
//
//   - c may use private_key_jwt (auth.Client.AllowsAuthMethod) and has
//     registered public keys;
//   - the assertion is a compact JWS whose alg is one of Algorithms (never
//     none, never HMAC) and whose crit is absent; jku, x5u, jwk and x5c are
//     never followed;
//   - its key is the client's key named by kid or, without kid, one of the
//     client's keys for that alg; the alg must be the key's;
//   - iss and sub are the client's ID; aud contains the Issuer or the
//     TokenEndpoint; exp is in the future but at most MaxLifetime away;
//     nbf and iat, if present, are not in the future, and iat not more than
//     MaxLifetime in the past (all within Leeway);
//   - jti is present, at most MaxJTILength bytes, and was never used by
//     this client before: it is recorded in the ReplayCache, under the key
//     client ID + "\x00" + jti, until exp plus Leeway, the last moment the
//     assertion could be accepted.
//
// Whether the client is disabled is the caller's to check, as for a secret.
//
// The signature is checked before the jti is recorded, so that a forged
// assertion cannot use up a client's jti.
//
// Errors are *auth.OAuthError values of the invalid_client code whose
// description says which check failed, except failures of the ReplayCache,
// which are returned wrapped, as they are (a server error: an
// auth.ErrUnavailable one while Redis is down). ctx bounds the wait for a
// jwks_uri fetch and the ReplayCache.
func (v *Verifier) Verify(ctx context.Context, c *auth.Client, assertion string) error {
	if c == nil {
		return invalid("unknown client")
	}
	if !c.AllowsAuthMethod(auth.AuthPrivateKeyJWT) {
		return invalid("client %s may not authenticate with private_key_jwt", quote(c.ID))
	}
	if !c.HasPublicKeys() {
		return invalid("client %s has registered no public keys for private_key_jwt", quote(c.ID))
	}
	p, e := split(assertion)
	if e != nil {
		return e
	}
	h, e := parseHeader(p)
	if e != nil {
		return e
	}
	// The claims are checked before any key is looked up, so that an
	// assertion that could never pass costs neither a fetch nor a
	// signature verification. They are trusted only once the signature
	// verifies, over these very bytes.
	now := v.cfg.clock.Now()
	cl, e := parseClaims(p)
	if e != nil {
		return e
	}
	if e := v.checkClaims(cl, c.ID, now); e != nil {
		return e
	}

	jws, err := jose.ParseSignedCompact(assertion, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.alg)})
	if err != nil {
		return invalid("the client assertion is not a well-formed JWS: %s", jwsProblem(err))
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Protected.Algorithm != h.alg || jws.Signatures[0].Protected.KeyID != h.kid {
		return invalid("the client assertion's header is ambiguous")
	}
	keys, e := v.keys(ctx, c, h, now)
	if e != nil {
		return e
	}
	payload, e := verifySignature(jws, keys, h)
	if e != nil {
		return e
	}
	if want, err := base64.RawURLEncoding.DecodeString(p.Payload); err != nil || !bytes.Equal(payload, want) {
		return invalid("the client assertion's payload is ambiguous")
	}

	ok, err := v.cfg.replay.Use(ctx, c.ID+"\x00"+cl.jti, cl.exp.Add(v.cfg.leeway))
	if err != nil {
		return fmt.Errorf("client assertion of %q: record its jti: %w", c.ID, err)
	}
	if !ok {
		return invalid("the client assertion was already used (its jti %s was seen before): make a new assertion, with a new jti, for every request (RFC 7523 §3, item 7)", quote(cl.jti))
	}
	return nil
}

// checkClaims checks the claims of RFC 7523 §3 for client clientID at now.
func (v *Verifier) checkClaims(cl *claims, clientID string, now time.Time) *auth.OAuthError {
	switch {
	case cl.iss == "":
		return invalid("the client assertion has no iss claim: it must be the client ID")
	case cl.sub == "":
		return invalid("the client assertion has no sub claim: it must be the client ID")
	case cl.iss != cl.sub:
		return invalid("the client assertion's iss %s and sub %s differ: both must be the client ID (RFC 7523 §3)", quote(cl.iss), quote(cl.sub))
	case cl.sub != clientID:
		return invalid("the client assertion is from %s, not from the client %s", quote(cl.sub), quote(clientID))
	}
	if !slices.ContainsFunc(cl.aud, func(a string) bool {
		return a != "" && (a == v.cfg.issuer || a == v.cfg.tokenEndpoint)
	}) {
		return invalid("the client assertion's aud does not contain %s: it is meant for another server (RFC 7523 §3, item 3)", v.audiences())
	}

	leeway, maxLife := v.cfg.leeway, v.cfg.maxLifetime
	switch {
	case cl.exp.IsZero():
		return invalid("the client assertion has no exp claim (RFC 7523 §3, item 4)")
	case !now.Before(cl.exp.Add(leeway)):
		return invalid("the client assertion expired at %s (leeway %s)", cl.exp.Format(time.RFC3339), leeway)
	case cl.exp.After(now.Add(maxLife + leeway)):
		return invalid("the client assertion expires at %s, more than %s from now: make short-lived assertions, one per request", cl.exp.Format(time.RFC3339), maxLife)
	case !cl.nbf.IsZero() && cl.nbf.After(now.Add(leeway)):
		return invalid("the client assertion is not valid before %s (leeway %s)", cl.nbf.Format(time.RFC3339), leeway)
	case !cl.iat.IsZero() && cl.iat.After(now.Add(leeway)):
		return invalid("the client assertion was issued in the future, at %s (leeway %s)", cl.iat.Format(time.RFC3339), leeway)
	case !cl.iat.IsZero() && now.Sub(cl.iat) > maxLife+leeway:
		return invalid("the client assertion was issued at %s, more than %s ago: make a new one for every request", cl.iat.Format(time.RFC3339), maxLife)
	}

	switch {
	case cl.jti == "":
		return invalid("the client assertion has no jti claim: it needs a unique one, so that it can be used only once (RFC 7523 §3, item 7)")
	case len(cl.jti) > MaxJTILength:
		return invalid("the client assertion's jti is %d bytes, more than the %d accepted", len(cl.jti), MaxJTILength)
	}
	return nil
}

// audiences names the accepted aud values in a description.
func (v *Verifier) audiences() string {
	switch {
	case v.cfg.issuer == "":
		return quote(v.cfg.tokenEndpoint)
	case v.cfg.tokenEndpoint == "":
		return quote(v.cfg.issuer)
	}
	return "the issuer " + quote(v.cfg.issuer) + " or the token endpoint " + quote(v.cfg.tokenEndpoint)
}

// keys returns the client's keys the assertion may be verified with: those
// named by its kid with its alg, or without kid those of its alg. An
// unknown kid (or, without kid, no key of the alg) makes a jwks_uri be
// fetched again, throttled.
func (v *Verifier) keys(ctx context.Context, c *auth.Client, h header, now time.Time) ([]jwkset.Key, *auth.OAuthError) {
	var set *jwkset.Set
	var entry *remoteSet
	if len(c.JWKS) > 0 {
		var err error
		if set, err = v.inline.get(c); err != nil {
			return nil, invalid("the client's registered JWK Set is unusable: %v", err)
		}
	} else {
		entry = v.remote.entry(c.JWKSURI, now)
		var e *auth.OAuthError
		if set, e = v.remote.current(ctx, entry, now); e != nil {
			return nil, e
		}
	}
	keys, found, problem := v.remote.pick(ctx, set, entry, h, now)
	switch problem {
	case noKeyForAlg:
		return nil, invalid("the client assertion has no kid, and none of the client's keys is for its alg %s", h.alg)
	case tooManyForAlg:
		return nil, invalid("the client assertion has no kid, and %d of the client's keys are for its alg %s: name the key with kid", len(found), h.alg)
	case unknownKID:
		return nil, invalid("the client has no key with the client assertion's kid %s", quote(h.kid))
	case algMismatch:
		return nil, invalid("the client assertion's alg %s is not the algorithm of the client's key %s (%s)", h.alg, quote(h.kid), found[0].Alg)
	}
	return keys, nil
}

// keyProblem is why pick found no key to verify with.
type keyProblem int

const (
	keysFound     keyProblem = iota
	noKeyForAlg              // no kid, and no key of the alg
	tooManyForAlg            // no kid, and more than maxUnnamedCandidates keys of the alg
	unknownKID               // no key with the kid
	algMismatch              // keys with the kid, none for the alg
)

// pick returns the keys of set a token with header h may be verified
// with: those named by its kid with its alg (RFC 8725 §3.1: the key
// decides the algorithm), or without kid those of its alg, at most
// maxUnnamedCandidates. When set holds none and it came from the remote
// entry (nil for an inline set), the entry is fetched again, throttled
// (refetch), which is how a key rotation is followed. found are the keys
// of the kid (or of the alg) whatever their algorithm, for messages.
func (r *remoteSets) pick(ctx context.Context, set *jwkset.Set, entry *remoteSet, h header, now time.Time) (keys, found []jwkset.Key, _ keyProblem) {
	found = candidates(set, h)
	if len(found) == 0 && entry != nil {
		if next := r.refetch(ctx, entry, now, set); next != nil {
			found = candidates(next, h)
		}
	}
	if !h.hasKID {
		switch n := len(found); {
		case n == 0:
			return nil, found, noKeyForAlg
		case n > maxUnnamedCandidates:
			return nil, found, tooManyForAlg
		}
		return found, found, keysFound
	}
	if len(found) == 0 {
		return nil, found, unknownKID
	}
	var fit []jwkset.Key
	for _, k := range found {
		if k.Alg == h.alg {
			fit = append(fit, k)
		}
	}
	if len(fit) == 0 {
		return nil, found, algMismatch
	}
	return fit, found, keysFound
}

// candidates are the keys of set named by h's kid, or without kid those of
// h's alg.
func candidates(set *jwkset.Set, h header) []jwkset.Key {
	var out []jwkset.Key
	for _, k := range set.Keys {
		if h.hasKID && k.KID == h.kid || !h.hasKID && k.Alg == h.alg {
			out = append(out, k)
		}
	}
	return out
}

// verifySignature returns the payload of jws if its signature verifies with
// one of keys.
func verifySignature(jws *jose.JSONWebSignature, keys []jwkset.Key, h header) ([]byte, *auth.OAuthError) {
	for _, k := range keys {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	if h.hasKID {
		return nil, invalid("the client assertion's signature does not verify with the client's key %s", quote(h.kid))
	}
	return nil, invalid("the client assertion's signature does not verify with any of the client's %s keys", h.alg)
}

// jwsProblem shortens a go-jose parse error for a description.
func jwsProblem(err error) string {
	const prefix = "go-jose/go-jose: "
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		s = s[len(prefix):]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
