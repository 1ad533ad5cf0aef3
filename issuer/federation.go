package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwt"
)

// FederatedTokenVerifier verifies a token of a trusted issuer and returns
// its subject and its claims; clientauth.FederatedVerifier implements it.
// t is nil when the token's iss is no trusted issuer's: the token must
// then be refused after the work of a signature verification, so that the
// time of the answer does not say whether the issuer is trusted. Its
// errors should have a FailureReason method giving a short fixed reason,
// for the log and the metrics.
//
// claims are those of the token that verified, never of one that did not,
// as JSON decodes them (numbers as json.Number or float64): a map of its
// own on every call, which the issuer changes in place when expressions
// read it (request.federated_claims).
type FederatedTokenVerifier interface {
	Verify(ctx context.Context, t *auth.TrustedIssuer, token string) (subject string, claims map[string]any, err error)
}

// FederationObserver counts federated authentications (metrics.Metrics
// implements it): issuer is the trusted issuer's Name, or "unknown";
// outcome "ok" or the reason of the refusal.
type FederationObserver interface {
	ObserveFederated(issuer, outcome string)
}

// Failure reasons of federated authentication beyond the verifier's.
const (
	reasonFederationOff   = "federation_off"   // no Federation or verifier configured
	reasonUnboundSubject  = "unbound_subject"  // no client is bound to (issuer, sub)
	reasonClientDisabled  = "client_disabled"  // the bound client is disabled
	reasonMethodRefused   = "method_refused"   // the bound client may not use federated_jwt
	reasonClientMismatch  = "client_mismatch"  // client_id, or the authenticated client, is not the bound one
	reasonVerifierFailure = "verifier_failure" // an error without a reason
)

// failure is a refusal whose caller sees only err, one generic answer,
// while reason says why, for the server's log (FailureReason).
type failure struct {
	err    *auth.OAuthError
	reason string
}

func (f *failure) Error() string { return f.err.Error() + " (" + f.reason + ")" }
func (f *failure) Unwrap() error { return f.err }

// FailureReason is why a request was refused, for the server's log, when
// the answer hides it (federated authentication); "" otherwise. It never
// holds a token.
func FailureReason(err error) string {
	if f, ok := errors.AsType[*failure](err); ok {
		return f.reason
	}
	return ""
}

// errFederatedFailed is the one answer to every failed federated client
// assertion: whether the issuer is unknown, the subject unbound, the
// signature wrong or the token expired, the caller learns nothing more
// (the server's log says which).
var errFederatedFailed = auth.ErrInvalidClient.WithDescription("client authentication failed: the client assertion is not accepted")

// errSubjectTokenRefused is the one answer to a token exchange whose
// subject_token is not accepted, whatever the reason (RFC 8693 §2.2.2:
// invalid_request).
var errSubjectTokenRefused = auth.ErrInvalidRequest.WithDescription("the subject_token is invalid, expired, revoked, or not accepted by this server")

// federatedTokens reads a trusted issuer's token, unverified, to find the
// issuer and the bound client (see Lookup).
var federatedTokens = jwt.Reader{Name: "the token", MaxSize: 16 << 10}

// unverifiedIssuer returns a JWT's iss and sub, unverified. It reads the
// payload only: a token of a trusted issuer with an empty or malformed
// signature (alg none, say) must still be recognized as federated, so that
// it is refused with the one answer every failed federated token gets,
// not with another that tells it apart.
func unverifiedIssuer(token string) (iss, sub string, ok bool) {
	if len(token) > federatedTokens.MaxSize || strings.Count(token, ".") != 2 {
		return "", "", false
	}
	h, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	raw, err := federatedTokens.UnverifiedClaims(jwt.Parts{Header: h, Payload: payload})
	if err != nil {
		return "", "", false
	}
	iss, _ = raw["iss"].(string)
	sub, _ = raw["sub"].(string)
	return iss, sub, true
}

// federatedLookup tells whether token, a client assertion or a subject
// token, is a trusted issuer's (by its unverified iss), and returns the
// client bound to its unverified sub (nil if none): the client to charge.
// A client assertion whose iss is not its sub (shaped as a federated
// token, never a valid private_key_jwt assertion, RFC 7523 §3) counts as
// federated too when federation is on, issuer unknown or not: it is then
// refused with the same answer, after the same work, as a trusted issuer's
// token that fails, and charged to the caller's address, not to its sub.
func (i *Issuer) federatedLookup(token string, assertion bool) (c *auth.Client, federated bool) {
	if i.cfg.Federation == nil {
		return nil, false
	}
	iss, sub, ok := unverifiedIssuer(token)
	if !ok || iss == "" {
		return nil, false
	}
	t := i.cfg.Federation.IssuerByURL(iss)
	if t == nil {
		return nil, assertion && iss != sub
	}
	return i.cfg.Federation.FederatedClient(t.Name, sub), true
}

// isExternalTokenType reports whether a subject_token_type names a token
// of a trusted issuer (RFC 8693 §3): a JWT, or an OpenID Connect ID token.
func isExternalTokenType(typ string) bool {
	return typ == auth.TokenTypeJWT || typ == auth.TokenTypeIDToken
}

// chargedToBound reports whether req's rate limit is the bound client's
// (or its address's) rather than its client_id's: a federated client
// assertion, or a token exchange of an external token without client
// authentication. A sub is not a client ID, so it is never a limiter key.
func chargedToBound(req *auth.TokenRequest) bool {
	return req.AuthMethod == auth.AuthFederatedJWT ||
		req.GrantType == auth.GrantTokenExchange && req.AuthMethod == auth.AuthNone && isExternalTokenType(req.SubjectTokenType)
}

// authenticateFederated authenticates the client bound to the subject of
// token, a trusted issuer's (RFC 7523 §2.2 with trusted issuers): the
// token verifies (FederatedTokenVerifier: keys, alg, aud, exp, nbf, iat,
// age, issuer enabled), a client is bound to its (issuer, sub), enabled,
// allowed federated_jwt, and is clientID when that is set; it returns
// that client and the token's claims. Every failure is refused with
// generic, carrying the reason (FailureReason), after the same work: a
// signature verification, real or of a fixed key.
//
// A federated token is not one-time (a Kubernetes pod reuses its projected
// token for its life), so no jti is remembered: what bounds a stolen
// token's use is its exp and the issuer's TokenAgeLimit from its iat.
func (i *Issuer) authenticateFederated(ctx context.Context, token, clientID string, generic *auth.OAuthError) (*auth.Client, map[string]any, error) {
	if i.cfg.Federation == nil || i.cfg.FederatedTokens == nil {
		return nil, nil, &failure{generic, reasonFederationOff + ": this server has no trusted issuers configured"}
	}
	iss, _, _ := unverifiedIssuer(token)
	t := i.cfg.Federation.IssuerByURL(iss)
	name := "unknown"
	if t != nil {
		name = t.Name
	}
	refuse := func(code, detail string) (*auth.Client, map[string]any, error) {
		i.observeFederated(name, code)
		return nil, nil, &failure{generic, code + ": " + detail}
	}
	sub, claims, err := i.cfg.FederatedTokens.Verify(ctx, t, token)
	if err != nil {
		code := reasonVerifierFailure
		var r interface {
			error
			FailureReason() string
		}
		if errors.As(err, &r) {
			code = r.FailureReason()
		}
		return refuse(code, err.Error())
	}
	c := i.cfg.Federation.FederatedClient(t.Name, sub)
	switch {
	case c == nil:
		return refuse(reasonUnboundSubject, fmt.Sprintf("no client is bound to subject %.256q of trusted issuer %q", sub, t.Name))
	case c.Disabled:
		return refuse(reasonClientDisabled, fmt.Sprintf("client %q, bound to subject %.256q of trusted issuer %q, is disabled", c.ID, sub, t.Name))
	case !c.AllowsAuthMethod(auth.AuthFederatedJWT):
		return refuse(reasonMethodRefused, fmt.Sprintf("client %q may not authenticate with %s", c.ID, auth.AuthFederatedJWT))
	case clientID != "" && clientID != c.ID:
		return refuse(reasonClientMismatch, fmt.Sprintf("client_id %.256q is not client %q, bound to subject %.256q of trusted issuer %q", clientID, c.ID, sub, t.Name))
	}
	i.observeFederated(name, "ok")
	return c, claims, nil
}

// celClaims makes a federated token's claims, as the verifier decoded
// them, what expressions see as request.federated_claims: a number is an
// int when written as an integer within int64, so that exp or a run
// number compares with an int literal and comes out of a claim as the
// same digits, and a double otherwise (±infinity beyond a double's
// range); strings, booleans, null, arrays and objects stay as they are.
// It changes claims in place — the verifier's map is this request's own —
// and applyPolicy calls it only for a client with expressions, so that a
// federated request of any other client pays nothing for it.
//
// Nothing is dropped or truncated: a condition must never see a token
// without a claim it carries. What bounds the work is the token's size
// (at most 16 KiB, clientauth.MaxAssertionSize, and 8 KiB as a client
// assertion over HTTP: about 12 KiB of JSON at most) and the expressions'
// runtime cost limit (policy.MaxCost).
func celClaims(claims map[string]any) map[string]any {
	for k, v := range claims {
		if n, ok := v.(json.Number); ok {
			claims[k] = celNumber(n)
		} else {
			celContainer(v)
		}
	}
	return claims
}

// celContainer converts the numbers within v, an object or an array.
func celContainer(v any) {
	switch v := v.(type) {
	case map[string]any:
		celClaims(v)
	case []any:
		for i, e := range v {
			if n, ok := e.(json.Number); ok {
				v[i] = celNumber(n)
			} else {
				celContainer(e)
			}
		}
	}
}

func celNumber(n json.Number) any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i
	}
	f, _ := strconv.ParseFloat(string(n), 64) // JSON's grammar is Go's; only the range can fail, giving ±Inf
	return f
}

func (i *Issuer) observeFederated(issuer, outcome string) {
	if i.cfg.FederationObserver != nil {
		i.cfg.FederationObserver.ObserveFederated(issuer, outcome)
	}
}
