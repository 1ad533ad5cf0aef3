package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
)

// Introspection is an introspection response (RFC 7662 §2.2). An inactive
// token gets {"active": false} and nothing else, whatever the reason, so
// that the answer tells the caller nothing about a token it cannot use.
type Introspection struct {
	Active    bool          `json:"active"`
	Scope     string        `json:"scope,omitempty"`
	ClientID  string        `json:"client_id,omitempty"`
	TokenType string        `json:"token_type,omitempty"`
	Expiry    int64         `json:"exp,omitempty"`
	IssuedAt  int64         `json:"iat,omitempty"`
	NotBefore int64         `json:"nbf,omitempty"`
	Subject   string        `json:"sub,omitempty"`
	Audience  auth.Audience `json:"aud,omitempty"`
	Issuer    string        `json:"iss,omitempty"`
	JWTID     string        `json:"jti,omitempty"`
	// Cnf is the key a sender-constrained token is bound to (RFC 7800
	// §3.1; RFC 9449 §6.2, RFC 8705 §3.2): the resource server checks the
	// DPoP proof's key or the client certificate against it.
	Cnf *auth.Confirmation `json:"cnf,omitempty"`
}

var inactive = &Introspection{Active: false}

// tokenClaims are the claims of a token read back by introspection.
type tokenClaims struct {
	auth.Claims
	NotBefore int64 `json:"nbf,omitempty"`
}

// Inspect verifies one of this server's own access tokens now: signature
// with a published key (the key decides the algorithm), typ at+jwt, iss,
// exp, nbf and iat; that it is not revoked; and that its client, as it is
// now, is the one it was issued to and would still be given it: the
// client exists with the token's incarnation (not a client deleted and
// created again with its ID), is enabled, has not revoked its tokens since,
// still holds every scope and the audience the token carries (a right
// taken away ends the tokens that carry it), and its token lifetime, if
// shortened since, has not run out. A token that fails any check
// is inactive, with no error; errors are failures of the server (the
// revocation store).
func (i *Issuer) Inspect(ctx context.Context, token string) (*Introspection, error) {
	tc, ok, err := i.inspect(ctx, token)
	if err != nil || !ok {
		return inactive, err
	}
	tokenType := "Bearer"
	if tc.Cnf != nil && tc.Cnf.JKT != "" {
		tokenType = auth.TokenTypeDPoP // RFC 9449 §6.2
	}
	return &Introspection{
		Active: true, Scope: tc.Scope, ClientID: tc.ClientID, TokenType: tokenType,
		Expiry: tc.Expiry, IssuedAt: tc.IssuedAt, NotBefore: tc.NotBefore, Subject: tc.Subject,
		Audience: tc.Audience, Issuer: tc.Issuer, JWTID: tc.JWTID, Cnf: tc.Cnf,
	}, nil
}

func (i *Issuer) inspect(ctx context.Context, token string) (c *tokenClaims, ok bool, err error) {
	now := i.clock.Now()
	jws, perr := jose.ParseSignedCompact(token, jwsAlgorithms)
	if perr != nil || len(jws.Signatures) != 1 {
		return nil, false, nil
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		return nil, false, nil
	}
	alg, pub, found := i.keys.VerificationKey(h.KeyID, now)
	if !found || alg != h.Algorithm {
		return nil, false, nil
	}
	payload, verr := jws.Verify(pub)
	if verr != nil {
		return nil, false, nil
	}
	var tc tokenClaims
	if json.Unmarshal(payload, &tc) != nil {
		return nil, false, nil
	}
	unix := now.Unix()
	if tc.Issuer != i.cfg.Issuer || tc.Expiry <= unix || tc.NotBefore > unix || tc.IssuedAt > unix+60 || tc.ClientID == "" || tc.JWTID == "" {
		return nil, false, nil
	}
	if !i.stillGranted(i.clients.Lookup(tc.ClientID), &tc.Claims, unix) {
		return nil, false, nil
	}
	if i.cfg.Revocations != nil {
		revoked, err := i.cfg.Revocations.TokenRevoked(ctx, tc.JWTID)
		if err != nil {
			return nil, false, fmt.Errorf("check revocation of token %s: %w", tc.JWTID, err)
		}
		if revoked {
			return nil, false, nil
		}
	}
	return &tc, true, nil
}

// stillGranted reports whether client c, as it is now (Unix seconds),
// would still be given a token with these claims: it is the same
// incarnation, enabled, has not revoked its tokens since they were issued,
// still holds each of the token's scopes and audiences, and a token issued
// then under its lifetime now would not have expired.
func (i *Issuer) stillGranted(c *auth.Client, tc *auth.Claims, now int64) bool {
	if c == nil || c.Incarnation != tc.ClientIncarnation || c.Disabled || c.TokenRevoked(tc.IssuedAt) {
		return false
	}
	if tc.IssuedAt+int64(i.tokenTTL(c)/time.Second) <= now {
		return false
	}
	if tc.Act != nil {
		return i.stillDelegated(c, tc)
	}
	for s := range strings.SplitSeq(tc.Scope, " ") {
		if s != "" && !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	allowed := i.audiences(c)
	for _, aud := range tc.Audience {
		if !slices.Contains(allowed, aud) {
			return false
		}
	}
	return len(tc.Audience) > 0
}

// stillDelegated is stillGranted's rest for a delegated token (token
// exchange, act set) of actor c: its audience is still one of the actor's
// ExchangeAudiences, and its subject, a client of ours, still exists,
// enabled, holding each of the token's scopes (the scopes are the
// subject's, not the actor's).
func (i *Issuer) stillDelegated(c *auth.Client, tc *auth.Claims) bool {
	for _, aud := range tc.Audience {
		if !slices.Contains(c.ExchangeAudiences, aud) {
			return false
		}
	}
	subject := i.clients.Lookup(tc.Subject)
	if subject == nil || subject.Disabled {
		return false
	}
	for s := range strings.SplitSeq(tc.Scope, " ") {
		if s != "" && !slices.Contains(subject.Scopes, s) {
			return false
		}
	}
	return len(tc.Audience) > 0
}

// jwsAlgorithms are the algorithms this server signs with.
var jwsAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// Introspect answers an introspection request (RFC 7662) from an
// authenticated caller, which must be allowed the scope auth:introspect.
func (i *Issuer) Introspect(ctx context.Context, caller *auth.Client, token string) (*Introspection, error) {
	if !slices.Contains(caller.Scopes, auth.ScopeIntrospect) {
		return nil, auth.ErrUnauthorizedClient.WithDescription("this client may not introspect tokens: it needs the scope " + auth.ScopeIntrospect)
	}
	return i.Inspect(ctx, token)
}

// Revoke revokes a token for an authenticated caller (RFC 7009 §2.1): a
// client may revoke its own tokens only. Revoking a token that is invalid,
// already expired or revoked, or another client's, changes nothing and is
// not an error (§2.2), so that the answer reveals nothing either.
func (i *Issuer) Revoke(ctx context.Context, caller *auth.Client, token string) error {
	tc, ok, err := i.inspect(ctx, token)
	if err != nil || !ok || tc.ClientID != caller.ID {
		return err
	}
	if i.cfg.Revocations == nil {
		return auth.ErrUnsupportedTokenType.WithDescription("this server does not revoke single tokens")
	}
	ctx = auth.WithAudit(ctx, auth.Audit{Actor: "client:" + caller.ID, Action: auth.ActionTokenRevoke, RemoteAddr: auditAddr(ctx)})
	err = i.cfg.Revocations.RevokeToken(ctx, auth.RevokedToken{
		JTI: tc.JWTID, ClientID: tc.ClientID, ExpiresAt: time.Unix(tc.Expiry, 0).UTC(), RevokedAt: i.clock.Now().UTC(),
	})
	if err == nil {
		// The revoked token may be one this node gives again; the other
		// nodes hear of it through the store's change feed.
		i.cfg.Tokens.Forget(caller.ID)
	}
	return err
}

// auditAddr keeps the remote address the caller put in the context's
// Audit, if any.
func auditAddr(ctx context.Context) string { return auth.AuditFrom(ctx, "").RemoteAddr }
