package clientauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwkset"
	"github.com/gooclaim/auth/internal/jwt"
)

// FederatedVerifier verifies tokens that trusted issuers (auth.TrustedIssuer:
// a Kubernetes cluster, a CI system's OIDC issuer, a SPIFFE trust domain)
// issue to workloads, which present them as client assertions (RFC 7523
// §2.2, auth.AuthFederatedJWT) or as the subject_token of a token exchange
// (RFC 8693). It is safe for concurrent use.
//
// An issuer's keys are its inline JWKS, or those at its JWKSURI, or those
// its OpenID discovery document names (Issuer + DiscoveryPath, whose
// "issuer" must be Issuer exactly): fetched and cached by the code that
// fetches the clients' jwks_uri, with the same rules (Config:
// MinRefetchInterval, JWKSCacheTTL and Cache-Control, stale use while
// unreachable, a refetch for an unknown kid at most once per interval,
// MaxJWKSSize, the egress guard, AllowHTTP).
//
// Unlike a private_key_jwt assertion, a federated token is not one-time: a
// Kubernetes pod presents its projected service account token for the
// token's whole life, and a CI job its OIDC token for every step. So there
// is no jti check; what bounds the use of a stolen token is its exp and
// the issuer's TokenAgeLimit, counted from its iat.
type FederatedVerifier struct {
	cfg    settings
	inline inlineSets
	remote remoteSets
}

// NewFederatedVerifier checks cfg and returns a FederatedVerifier. Its
// Issuer and TokenEndpoint are the audiences accepted from issuers that set
// no Audience; Replay and MaxLifetime are not used. It fetches nothing.
func NewFederatedVerifier(cfg Config) (*FederatedVerifier, error) {
	s, err := cfg.checkFor(false)
	if err != nil {
		return nil, err
	}
	v := &FederatedVerifier{cfg: s}
	v.remote.cfg = &v.cfg
	dummyKeys() // made now, so that no request pays for them
	return v, nil
}

// Reasons a federated token is refused, as FederatedError.Reason: short,
// fixed values for the request log and metrics labels.
const (
	ReasonMalformed       = "malformed"        // not a JWT this server reads, or an alg never accepted
	ReasonUnknownIssuer   = "unknown_issuer"   // iss is no trusted issuer's
	ReasonIssuerDisabled  = "issuer_disabled"  // the trusted issuer is disabled
	ReasonKeysUnavailable = "keys_unavailable" // the issuer's keys cannot be had
	ReasonUnknownKey      = "unknown_key"      // no key of the issuer for the kid and alg
	ReasonBadSignature    = "bad_signature"    // the signature does not verify
	ReasonBadClaims       = "bad_claims"       // no sub, or iss not the issuer's
	ReasonWrongAudience   = "wrong_audience"   // aud does not name this server
	ReasonExpired         = "expired"          // no exp, or exp in the past
	ReasonNotYetValid     = "not_yet_valid"    // nbf or iat in the future, or no iat
	ReasonTooOld          = "too_old"          // iat older than the issuer's TokenAgeLimit
)

// FederatedError is why a federated token was refused: for the server's
// log and metrics only. Callers must answer with one generic error
// whatever the reason, so that nobody learns which issuers are trusted,
// which subjects are bound, or which check a forged token failed.
type FederatedError struct {
	Reason string // one of the Reason constants
	Detail string // what exactly, for the log; never the token
}

func (e *FederatedError) Error() string { return e.Reason + ": " + e.Detail }

func fedErr(reason, format string, args ...any) *FederatedError {
	return &FederatedError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// federatedTokens reads federated tokens (internal/jwt) with the rules of
// client assertions.
var federatedTokens = jwt.Reader{Name: "the federated token", MaxSize: MaxAssertionSize}

// UnverifiedIssuer returns the "iss" and "sub" of a JWT without verifying
// anything, to find the trusted issuer and the bound client (and charge
// the rate limit) before Verify proves them. ok is false when token is
// not a JWT with string iss and sub.
func UnverifiedIssuer(token string) (iss, sub string, ok bool) {
	p, err := federatedTokens.Split(token)
	if err != nil {
		return "", "", false
	}
	raw, err := federatedTokens.UnverifiedClaims(p)
	if err != nil {
		return "", "", false
	}
	iss, ok1 := raw["iss"].(string)
	sub, ok2 := raw["sub"].(string)
	return iss, sub, ok1 && ok2 && iss != "" && sub != ""
}

// Verify verifies token as a token of the trusted issuer t and returns its
// subject and all its claims. t nil means the token's iss is no trusted
// issuer's: the token is refused all the same, after one signature
// verification with a fixed key of its alg's family, so that an unknown
// issuer costs what a known one does and the time of the answer does not
// tell them apart.
//
// The claims are the payload the signature covers, decoded once as JSON
// (jwt.Claims: numbers as json.Number, objects map[string]any, arrays
// []any), nil unless the token is accepted; a new map on every call, the
// caller's to keep or change. Only the token's size, at most
// MaxAssertionSize bytes, bounds their number, length and nesting.
//
// What it requires (RFC 7523 §3, RFC 8725):
//
//   - a compact JWS whose alg is one of Algorithms (asymmetric only: never
//     none nor HMAC) and whose crit is absent; jku, x5u, jwk and x5c are
//     never followed;
//   - the key named by kid among the issuer's, with the kid's alg (the
//     key's "alg", or the one its type implies); without kid, one of the
//     issuer's keys for the alg (at most 10 tried);
//   - iss the issuer's Issuer; sub present; aud containing the issuer's
//     Audience, or when it has none this server's Issuer or TokenEndpoint;
//   - exp present and in the future, nbf (if present) not in the future,
//     iat present and not in the future (all within Leeway), and iat at
//     most t.TokenAgeLimit() ago;
//   - t not Disabled.
//
// Errors are *FederatedError values; ctx bounds the wait for a fetch of
// the issuer's keys.
func (v *FederatedVerifier) Verify(ctx context.Context, t *auth.TrustedIssuer, token string) (subject string, all map[string]any, err error) {
	p, err := federatedTokens.Split(token)
	if err != nil {
		return "", nil, fedErr(ReasonMalformed, "%v", err)
	}
	h, e := parseHeader(p)
	if e != nil {
		return "", nil, fedErr(ReasonMalformed, "%s", e.Description)
	}
	// Decoded once: raw is also the claims returned.
	raw, err := assertions.UnverifiedClaims(p)
	if err != nil {
		return "", nil, fedErr(ReasonMalformed, "%s", unreadable(err, "claims are").Description)
	}
	cl, e := readClaims(raw)
	if e != nil {
		return "", nil, fedErr(ReasonMalformed, "%s", e.Description)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.alg)})
	if err != nil {
		return "", nil, fedErr(ReasonMalformed, "not a well-formed JWS: %s", jwsProblem(err))
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Protected.Algorithm != h.alg || jws.Signatures[0].Protected.KeyID != h.kid {
		return "", nil, fedErr(ReasonMalformed, "the header is ambiguous")
	}
	now := v.cfg.clock.Now()
	if t == nil {
		dummyVerify(jws, h.alg)
		return "", nil, fedErr(ReasonUnknownIssuer, "iss %s is no trusted issuer's", quote(cl.iss))
	}
	keys, fe := v.keys(ctx, t, h, now)
	if fe != nil {
		dummyVerify(jws, h.alg) // the work of a signature all the same
		return "", nil, fe
	}
	payload, e := verifySignature(jws, keys, h)
	if e != nil {
		return "", nil, fedErr(ReasonBadSignature, "trusted issuer %s: %s", quote(t.Name), strings.Replace(e.Description, "client assertion", "token", 1))
	}
	if want, err := base64.RawURLEncoding.DecodeString(p.Payload); err != nil || !bytes.Equal(payload, want) {
		return "", nil, fedErr(ReasonMalformed, "the payload is ambiguous")
	}
	if t.Disabled {
		return "", nil, fedErr(ReasonIssuerDisabled, "trusted issuer %s is disabled", quote(t.Name))
	}
	if fe := v.checkClaims(t, cl, now); fe != nil {
		return "", nil, fe
	}
	// raw was decoded from the token's payload part before the signature
	// was checked, and that part is, byte for byte, the payload the
	// signature covers (checked above): these are the verified claims.
	return cl.sub, raw, nil
}

// checkClaims checks a verified token's claims for issuer t at now.
func (v *FederatedVerifier) checkClaims(t *auth.TrustedIssuer, cl *claims, now time.Time) *FederatedError {
	switch {
	case cl.iss != t.Issuer:
		return fedErr(ReasonBadClaims, "iss %s is not trusted issuer %s's %s", quote(cl.iss), quote(t.Name), quote(t.Issuer))
	case cl.sub == "":
		return fedErr(ReasonBadClaims, "no sub claim")
	}
	var want []string
	if t.Audience != "" {
		want = []string{t.Audience}
	} else {
		want = slices.DeleteFunc([]string{v.cfg.issuer, v.cfg.tokenEndpoint}, func(s string) bool { return s == "" })
	}
	if !slices.ContainsFunc(cl.aud, func(a string) bool { return a != "" && slices.Contains(want, a) }) {
		return fedErr(ReasonWrongAudience, "aud %s does not contain %s", quote(strings.Join(cl.aud, " ")), quote(strings.Join(want, " or ")))
	}
	leeway, maxAge := v.cfg.leeway, t.TokenAgeLimit()
	switch {
	case cl.exp.IsZero():
		return fedErr(ReasonExpired, "no exp claim")
	case !now.Before(cl.exp.Add(leeway)):
		return fedErr(ReasonExpired, "expired at %s (leeway %s)", cl.exp.Format(time.RFC3339), leeway)
	case !cl.nbf.IsZero() && cl.nbf.After(now.Add(leeway)):
		return fedErr(ReasonNotYetValid, "not valid before %s (leeway %s)", cl.nbf.Format(time.RFC3339), leeway)
	case cl.iat.IsZero():
		return fedErr(ReasonNotYetValid, "no iat claim: the token's age cannot be bounded")
	case cl.iat.After(now.Add(leeway)):
		return fedErr(ReasonNotYetValid, "issued in the future, at %s (leeway %s)", cl.iat.Format(time.RFC3339), leeway)
	case now.Sub(cl.iat) > maxAge:
		return fedErr(ReasonTooOld, "issued at %s, more than the issuer's limit of %s ago", cl.iat.Format(time.RFC3339), maxAge)
	}
	return nil
}

// keys returns the issuer's keys the token may be verified with.
func (v *FederatedVerifier) keys(ctx context.Context, t *auth.TrustedIssuer, h header, now time.Time) ([]jwkset.Key, *FederatedError) {
	var set *jwkset.Set
	var entry *remoteSet
	if len(t.JWKS) > 0 {
		var err error
		// Keyed apart from the clients' IDs: an issuer's name may be a client's ID.
		if set, err = v.inline.parsed("\x00issuer:"+t.Name, t.JWKS); err != nil {
			return nil, fedErr(ReasonKeysUnavailable, "trusted issuer %s: its JWK Set is unusable: %v", quote(t.Name), err)
		}
	} else {
		entry = v.remote.issuerEntry(t, now)
		var e *auth.OAuthError
		if set, e = v.remote.current(ctx, entry, now); e != nil {
			return nil, fedErr(ReasonKeysUnavailable, "trusted issuer %s: %s", quote(t.Name), e.Description)
		}
	}
	keys, found, problem := v.remote.pick(ctx, set, entry, h, now)
	switch problem {
	case noKeyForAlg:
		return nil, fedErr(ReasonUnknownKey, "trusted issuer %s: no kid, and no key for alg %s", quote(t.Name), h.alg)
	case tooManyForAlg:
		return nil, fedErr(ReasonUnknownKey, "trusted issuer %s: no kid, and %d keys for alg %s", quote(t.Name), len(found), h.alg)
	case unknownKID:
		return nil, fedErr(ReasonUnknownKey, "trusted issuer %s: no key with kid %s", quote(t.Name), quote(h.kid))
	case algMismatch:
		return nil, fedErr(ReasonUnknownKey, "trusted issuer %s: alg %s is not the algorithm of key %s (%s)", quote(t.Name), h.alg, quote(h.kid), found[0].Alg)
	}
	return keys, nil
}

// dummyVerify verifies jws once with a fixed key of alg's family, which
// fails: the work a refused token of a known issuer costs.
func dummyVerify(jws *jose.JSONWebSignature, alg string) {
	dummyVerifications.Add(1)
	if k := dummyKeys()[alg]; k != nil {
		_, _ = jws.Verify(k)
	}
}

// dummyVerifications counts dummyVerify's calls, for the test that holds
// the unknown issuer's answer to the cost of a signature.
var dummyVerifications atomic.Int64

// dummyKeys are the fixed keys of dummyVerify, by alg, made once per process.
var dummyKeys = sync.OnceValue(func() map[string]crypto.PublicKey {
	must := func(k crypto.Signer, err error) crypto.PublicKey {
		if err != nil {
			panic("clientauth: make a key for dummy verifications: " + err.Error())
		}
		return k.Public()
	}
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	ed := must(edPriv, err)
	m := map[string]crypto.PublicKey{
		"ES256": must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"ES384": must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		"ES512": must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)),
		"EdDSA": ed,
	}
	for _, a := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		m[a] = rsaKey
	}
	return m
})

// FailureReason is e.Reason, for callers that read the reason through an
// interface (issuer.FederatedTokenVerifier).
func (e *FederatedError) FailureReason() string { return e.Reason }
