package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// Token type identifiers (RFC 8693 §3), for ExchangeRequest.SubjectTokenType.
const (
	// TokenTypeAccessToken is an access token of the authorization server
	// itself: the subject token of a delegation.
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	// TokenTypeJWT is a JWT of another issuer the server trusts: a
	// workload's federated token.
	TokenTypeJWT = "urn:ietf:params:oauth:token-type:jwt"
	// TokenTypeIDToken is an OpenID Connect ID token of a trusted issuer.
	TokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
)

// grantTokenExchange is the grant_type of token exchange (RFC 8693 §2.1).
const grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// ExchangeRequest is a token exchange request (RFC 8693 §2.1). Config's
// Scopes and Audience are those of the client's own tokens and are not
// used: an exchange asks for what its request says.
type ExchangeRequest struct {
	// SubjectToken is the token exchanged: one of the server's access
	// tokens, for a delegation (the new token acts for its subject), or a
	// workload's token of a trusted issuer (the new token is the bound
	// client's). Required, except with ExchangeTokenSource.
	SubjectToken string

	// SubjectTokenType says which: TokenTypeAccessToken, TokenTypeJWT or
	// TokenTypeIDToken. Required.
	SubjectTokenType string

	// Audience and Resource name the API the new token is for, sent as
	// "audience" and "resource" (RFC 8693 §2.1, RFC 8707); Gooclaim Auth
	// takes either. A delegation must name one of the actor's exchange
	// audiences. Empty sends none.
	Audience string
	Resource string

	// Scopes are the scopes requested, each one scope token; none means
	// those of the subject token (a delegation cannot widen them).
	Scopes []string
}

// grant checks the request and returns its parameters, with subjectToken.
func (r *ExchangeRequest) grant(subjectToken string) (*grant, error) {
	var problems []string
	if subjectToken == "" {
		problems = append(problems, "SubjectToken is empty")
	}
	switch r.SubjectTokenType {
	case TokenTypeAccessToken, TokenTypeJWT, TokenTypeIDToken:
	case "":
		problems = append(problems, "SubjectTokenType is empty: use TokenTypeAccessToken for a delegation, TokenTypeJWT for a workload's token")
	default:
		problems = append(problems, fmt.Sprintf("SubjectTokenType %q is not one of TokenTypeAccessToken, TokenTypeJWT, TokenTypeIDToken", r.SubjectTokenType))
	}
	for _, sc := range r.Scopes {
		if !isScopeToken(sc) {
			problems = append(problems, fmt.Sprintf("scope %q is not one scope token (RFC 6749 §3.3): give each scope as its own element, without spaces or quotes", sc))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("client: invalid ExchangeRequest: %s", strings.Join(problems, "; "))
	}
	g := &grant{exchange: true, scope: strings.Join(r.Scopes, " "), params: [][2]string{
		{"grant_type", grantTokenExchange},
		{"subject_token", subjectToken},
		{"subject_token_type", r.SubjectTokenType},
	}}
	if g.scope != "" {
		g.params = append(g.params, [2]string{"scope", g.scope})
	}
	if r.Resource != "" {
		g.params = append(g.params, [2]string{"resource", r.Resource})
	}
	if r.Audience != "" {
		g.params = append(g.params, [2]string{"audience", r.Audience})
	}
	return g, nil
}

// Exchange exchanges r.SubjectToken for an access token with the token
// exchange grant (RFC 8693), retrying as Token does. The client
// authenticates as the Config says — the actor of a delegation — or, with
// AuthNone, not at all, when the subject token is a workload's token that
// names the client by itself. The token's Expiry is set from "expires_in",
// Extra("scope") is the granted scope and Extra("issued_token_type") what
// was issued (TokenTypeAccessToken). Error answers are *Error.
func (c *Config) Exchange(ctx context.Context, r ExchangeRequest) (*oauth2.Token, error) {
	return c.exchange(ctx, r, r.SubjectToken)
}

func (c *Config) exchange(ctx context.Context, r ExchangeRequest, subjectToken string) (*oauth2.Token, error) {
	g, err := r.grant(subjectToken)
	if err != nil {
		return nil, err
	}
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	endpoint, err := c.tokenEndpoint(ctx, s)
	if err != nil {
		return nil, err
	}
	return s.fetch(ctx, endpoint, g)
}

// ExchangeTokenSource returns a TokenSource of exchanged tokens, cached as
// Config.TokenSource caches its tokens: a service that calls another API on
// behalf of the caller of its own, say, with subject returning the
// caller's token. subject is called for every exchange (retries use the
// token it returned); r.SubjectToken is not used. An error of subject
// fails the exchange and is not retried. Each call returns a source with
// its own cache: make one per subject.
func (c *Config) ExchangeTokenSource(ctx context.Context, r ExchangeRequest, subject func(ctx context.Context) (string, error)) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	fetch := func(ctx context.Context) (*oauth2.Token, error) {
		if subject == nil {
			return nil, errors.New("client: ExchangeTokenSource: subject is nil")
		}
		tok, err := subject(ctx)
		if err != nil {
			return nil, fmt.Errorf("token exchange: the subject token: %w", err)
		}
		return c.exchange(ctx, r, tok)
	}
	return &tokenSource{ctx: ctx, conf: c, fetch: fetch}
}

// checkIssuedTokenType checks the issued_token_type of an exchange's
// response (RFC 8693 §2.2.1, required): the token is sent as a Bearer
// access token, so it must be one.
func checkIssuedTokenType(tok *oauth2.Token) error {
	switch typ, _ := tok.Extra("issued_token_type").(string); typ {
	case TokenTypeAccessToken, TokenTypeJWT:
		return nil
	case "":
		return errors.New("no issued_token_type: not a token exchange response (RFC 8693 §2.2.1)")
	default:
		return fmt.Errorf("issued_token_type %q is not an access token, the only kind this client can send", typ)
	}
}
