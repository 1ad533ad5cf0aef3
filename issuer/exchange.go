package issuer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gooclaim/auth"
)

// MaxDelegationDepth bounds the chain of actors in a token's act claim
// (RFC 8693 §4.1): each delegation nests the previous one, and the token
// grows with it.
const MaxDelegationDepth = 8

// exchange runs the token exchange grant (RFC 8693 §2) in one of two
// forms, chosen by subject_token_type:
//
//   - a trusted issuer's token (…:token-type:jwt or …:id_token): the
//     client bound to its subject obtains its own access token, as with
//     client_credentials but with no secret of ours (federation);
//   - one of our access tokens (…:token-type:access_token): the
//     authenticated client, the actor, obtains a token acting for the
//     token's subject (delegation), with an act claim naming it.
//
// c is the client Lookup returned. Errors follow §2.2.2: invalid_request
// for a missing, malformed, unsupported or unacceptable subject token (one
// generic description whatever the reason, which goes to the log through
// FailureReason), invalid_scope, invalid_target.
func (i *Issuer) exchange(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Token, error) {
	switch {
	case req.ActorToken != "" || req.ActorTokenType != "":
		return nil, auth.ErrInvalidRequest.WithDescription("actor_token is not supported: the actor is the client that authenticates the request; leave actor_token and actor_token_type out")
	case req.RequestedTokenType != "" && req.RequestedTokenType != auth.TokenTypeAccessToken && req.RequestedTokenType != auth.TokenTypeJWT:
		return nil, auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("requested_token_type %.128q is not supported: this server issues %s (which are JWTs, %s)", req.RequestedTokenType, auth.TokenTypeAccessToken, auth.TokenTypeJWT))
	case req.SubjectToken == "":
		return nil, auth.ErrInvalidRequest.WithDescription("subject_token is required for " + auth.GrantTokenExchange)
	case req.SubjectTokenType == "":
		return nil, auth.ErrInvalidRequest.WithDescription("subject_token_type is required: " + auth.TokenTypeJWT + " or " + auth.TokenTypeIDToken + " for a trusted issuer's token, " + auth.TokenTypeAccessToken + " for one of this server's")
	case isExternalTokenType(req.SubjectTokenType):
		return i.exchangeFederated(ctx, req, c)
	case req.SubjectTokenType == auth.TokenTypeAccessToken:
		return i.delegate(ctx, req, c)
	}
	return nil, auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("subject_token_type %.128q is not supported: use %s, %s or %s", req.SubjectTokenType, auth.TokenTypeJWT, auth.TokenTypeIDToken, auth.TokenTypeAccessToken))
}

// exchangeFederated issues the client bound to the subject of a trusted
// issuer's token its access token, with the checks of a federated client
// assertion (authenticateFederated). A request that also authenticates a
// client, or names one with client_id, must name that same client.
func (i *Issuer) exchangeFederated(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Token, error) {
	clientID := ""
	if req.AuthMethod == auth.AuthNone {
		clientID = req.ClientID
	}
	bound, federated, err := i.authenticateFederated(ctx, req.SubjectToken, clientID, errSubjectTokenRefused)
	if err != nil {
		return nil, err
	}
	if req.AuthMethod != auth.AuthNone {
		caller, err := i.AuthenticateClient(ctx, req, c)
		if err != nil {
			return nil, err
		}
		if caller.ID != bound.ID {
			return nil, &failure{errSubjectTokenRefused, fmt.Sprintf("%s: the authenticated client %q is not %q, bound to the subject_token", reasonClientMismatch, caller.ID, bound.ID)}
		}
	}
	// The subject token's claims, even when a client assertion of a
	// trusted issuer authenticated the same client: the token exchanged is
	// the one that names the client.
	tok, err := i.issueFor(ctx, bound, req, federated, true)
	if err != nil {
		return nil, err
	}
	tok.IssuedTokenType = issuedTokenType(req)
	return tok, nil
}

// delegate issues the authenticated client (the actor) a token acting for
// the subject of one of our access tokens (RFC 8693 §1.1, §4.1): sub the
// subject token's, client_id and client_incarnation the actor's, act
// naming the actor with the subject token's own act nested inside; scope
// the requested one, within the subject token's (all of it when absent);
// audience one of the actor's ExchangeAudiences (the first when absent);
// exp no later than the subject token's nor the actor's own lifetime. The
// subject token is checked as introspection checks it: signature, issuer,
// expiry, revocation (its jti, its client's revoke-all), its client
// unchanged and enabled.
func (i *Issuer) delegate(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Token, error) {
	actor, federated, err := i.authenticate(ctx, req, c)
	if err != nil {
		return nil, err
	}
	if len(actor.ExchangeAudiences) == 0 {
		return nil, auth.ErrUnauthorizedClient.WithDescription("this client may not act for another by token exchange: it has no exchange audiences; an administrator can give it some")
	}
	now := i.clock.Now()
	tc, ok, err := i.inspect(ctx, req.SubjectToken)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &failure{errSubjectTokenRefused, "subject_inactive: the subject_token is not an active access token of this server (bad signature, other issuer, expired, revoked, or its client changed)"}
	}
	depth := 0
	for a := tc.Act; a != nil; a = a.Act {
		depth++
	}
	if depth >= MaxDelegationDepth {
		return nil, auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the subject_token already has %d actors: at most %d delegations are chained", depth, MaxDelegationDepth))
	}
	scope, err := narrowScope(tc.Scope, req.Scope)
	if err != nil {
		return nil, err
	}
	aud, err := exchangeAudience(actor, req)
	if err != nil {
		return nil, err
	}
	cnf, err := confirmation(actor, req)
	if err != nil {
		return nil, err
	}
	exp := min(now.Add(i.tokenTTL(actor)).Unix(), tc.Expiry)
	if exp <= now.Unix() {
		return nil, &failure{errSubjectTokenRefused, "subject_expired: the subject_token expires within the second"}
	}
	// The actor's expressions apply: the token is issued to it (client_id);
	// federated_claims are those of its own client assertion, if federated.
	extra, _, err := i.applyPolicy(actor, &req, scope, aud, now, federated)
	if err != nil {
		return nil, err
	}
	if err := i.chargeQuota(ctx, actor, now); err != nil {
		return nil, err
	}
	tok, err := i.sign(now, scope, &auth.Claims{
		Subject:  tc.Subject,
		Audience: auth.Audience{aud},
		ClientID: actor.ID,
		Scope:    scope,
		Expiry:   exp,
		Act:      &auth.Actor{Subject: actor.ID, Act: tc.Act},

		ClientIncarnation: actor.Incarnation,
		Cnf:               cnf,
		Extra:             extra,
	})
	if err != nil {
		return nil, err
	}
	tok.IssuedTokenType = issuedTokenType(req)
	return tok, nil
}

// narrowScope is the scope of a delegated token: requested, each of whose
// scopes the subject token holds, or the subject token's whole scope when
// requested is empty.
func narrowScope(held, requested string) (string, error) {
	if requested == "" {
		return held, nil
	}
	have := strings.Fields(held)
	var granted []string
	for s := range strings.SplitSeq(requested, " ") {
		if s == "" {
			continue
		}
		if !ValidScopeToken(s) {
			return "", auth.ErrInvalidScope.WithDescription(fmt.Sprintf("scope %.64q is malformed: scope tokens are printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)", s))
		}
		if !slices.Contains(have, s) {
			return "", auth.ErrInvalidScope.WithDescription(fmt.Sprintf("scope %.64q is not in the subject_token's scope: a delegated token carries at most the subject's scopes", s))
		}
		if !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	if len(granted) == 0 {
		return "", auth.ErrInvalidScope.WithDescription("scope holds only spaces: send scope tokens separated by single spaces, or leave scope out for the subject_token's whole scope")
	}
	return strings.Join(granted, " "), nil
}

// exchangeAudience is the audience of a delegated token: the requested
// resource (or audience) if it is one of the actor's ExchangeAudiences,
// else the first of them when none is requested.
func exchangeAudience(actor *auth.Client, req auth.TokenRequest) (string, error) {
	return pickAudience(actor.ExchangeAudiences, req, "is not one this client may obtain by token exchange")
}

// issuedTokenType is the issued_token_type of an exchange (RFC 8693
// §2.2.1): what the client asked for with requested_token_type when it
// asked for a JWT — our access tokens are JWTs (RFC 9068) — else an access
// token.
func issuedTokenType(req auth.TokenRequest) string {
	if req.RequestedTokenType == auth.TokenTypeJWT {
		return auth.TokenTypeJWT
	}
	return auth.TokenTypeAccessToken
}
