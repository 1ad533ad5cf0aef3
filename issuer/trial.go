package issuer

import (
	"fmt"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/policy"
)

// PolicyRequest is the token request a trial of a client's expressions
// supposes (TryPolicy). Empty fields take what a request that leaves them
// out gets: every scope of the client, its default audience,
// client_secret_post; RemoteIP stays empty.
type PolicyRequest struct {
	Scope, Audience, AuthMethod, RemoteIP string
}

// PolicyTrial is the outcome of TryPolicy: what the expressions saw of
// the request, and what each gave.
type PolicyTrial struct {
	Scope                []string
	Audience, AuthMethod string
	RemoteIP             string
	Now                  time.Time
	policy.Trial
}

// TryPolicy evaluates client c's claims (with the server's default claims
// it does not set) and condition for a token request like r, as issuance
// would (applyPolicy) but without issuing, signing, or counting anything:
// the scope and audience are granted as for a token, and c's expressions
// are compiled apart from the issuer's cache, so that c may hold
// expressions not saved yet. Errors are *auth.OAuthError values for a
// request c could not make (a scope or audience it may not have), others
// for expressions that do not compile (check them first with
// policy.CheckClaims and policy.CheckCondition).
func (i *Issuer) TryPolicy(c *auth.Client, r PolicyRequest) (*PolicyTrial, error) {
	scope, err := grantScope(c, r.Scope)
	if err != nil {
		return nil, err
	}
	aud, err := i.audience(c, auth.TokenRequest{Audience: r.Audience})
	if err != nil {
		return nil, err
	}
	set, err := policy.Compile(c.Claims, i.policies.claims, c.Condition)
	if err != nil {
		return nil, fmt.Errorf("client %q: compile its expressions: %w", c.ID, err)
	}
	method := r.AuthMethod
	if method == "" {
		method = auth.AuthClientSecretPost // as applyPolicy: a request that did not say
	}
	in := clientInput(c, i.audiences(c))
	in.Scope, in.Audience, in.AuthMethod, in.RemoteIP, in.Now = strings.Fields(scope), aud, method, r.RemoteIP, i.clock.Now()
	return &PolicyTrial{Scope: in.Scope, Audience: aud, AuthMethod: method, RemoteIP: r.RemoteIP, Now: in.Now, Trial: set.Try(&in)}, nil
}
