package issuer

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/policy"
)

// errConditionFalse refuses a token whose client's condition does not
// hold. It names no detail of the rule: the caller learns that it may not,
// not how to get around it (the server's log has the reason).
var errConditionFalse = auth.ErrUnauthorizedClient.WithDescription("the client may not obtain a token for this request")

// maxCachedPolicies bounds the compiled expressions kept: past it the
// cache starts again, and each client compiles on its next token.
const maxCachedPolicies = 10_000

// policies holds the compiled expressions of each client version, bound
// to it (policy.Set.Bind), so that an expression is compiled once per
// client change and a claim that reads only the client is evaluated once
// per client change, never per request.
type policies struct {
	defaults    *policy.Set // the server's default claims alone; nil for none
	defaultsErr error
	claims      map[string]string // the server's default claims, by name

	mu      sync.Mutex
	entries map[string]policyEntry // by client ID
}

type policyEntry struct {
	updatedAt   time.Time
	incarnation string
	set         *policy.Set
	err         error
}

func newPolicies(defaults map[string]string) *policies {
	p := &policies{claims: defaults, entries: map[string]policyEntry{}}
	p.defaults, p.defaultsErr = policy.Compile(nil, defaults, "")
	return p
}

// set returns c's compiled expressions; nil, nil when there are none, so
// that a client without expressions on a server without default claims
// costs nothing more. A client without expressions on a server with
// default claims shares the server's, unbound: its claims are evaluated
// at every token (as many clients as tokens would otherwise churn the
// cache). audiences gives c's audiences, asked for on a cache miss.
//
// The key is the client version: its ID, updated_at and incarnation. A
// bound Set holds values computed from the client's name, scopes,
// audiences and metadata, and every change of those stamps a new
// updated_at (the stores' contract, authtest.RunClientStoreTests).
func (p *policies) set(c *auth.Client, audiences func(*auth.Client) []string) (*policy.Set, error) {
	if len(c.Claims) == 0 && c.Condition == "" {
		return p.defaults, p.defaultsErr
	}
	p.mu.Lock()
	e, ok := p.entries[c.ID]
	p.mu.Unlock()
	if ok && e.updatedAt.Equal(c.UpdatedAt) && e.incarnation == c.Incarnation {
		return e.set, e.err
	}
	e = policyEntry{updatedAt: c.UpdatedAt, incarnation: c.Incarnation}
	e.set, e.err = policy.Compile(c.Claims, p.claims, c.Condition)
	if e.err == nil {
		in := clientInput(c, audiences(c))
		e.set = e.set.Bind(&in)
	}
	p.mu.Lock()
	if len(p.entries) >= maxCachedPolicies {
		clear(p.entries)
	}
	p.entries[c.ID] = e
	p.mu.Unlock()
	return e.set, e.err
}

// clientInput is what expressions see of client c.
func clientInput(c *auth.Client, audiences []string) policy.Input {
	return policy.Input{ClientID: c.ID, ClientName: c.Name, Scopes: c.Scopes, Audiences: audiences, Metadata: c.Metadata}
}

// applyPolicy evaluates client c's condition and claims for a token of
// scope and aud: the claims as JSON members to append to the token's (nil
// for none), an unauthorized_client error when the condition does not
// hold, and a failure of the server (500, logged with the client and the
// expression) when an expression fails. federated are the claims of the
// trusted issuer's token the request presented, nil for none. It also
// returns c's compiled expressions (nil for none), for what else depends
// on them (reuses).
func (i *Issuer) applyPolicy(c *auth.Client, req *auth.TokenRequest, scope, aud string, now time.Time, federated map[string]any) ([]byte, *policy.Set, error) {
	set, err := i.policies.set(c, i.audiences)
	if err != nil {
		return nil, nil, fmt.Errorf("client %q: compile its expressions: %w", c.ID, err)
	}
	if set == nil {
		return nil, nil, nil
	}
	method := req.AuthMethod
	if method == auth.AuthNone {
		method = auth.AuthClientSecretPost
	}
	in := clientInput(c, i.audiences(c)) // for an unbound Set: a bound one has them
	in.Scope, in.Audience, in.AuthMethod, in.RemoteIP, in.Now = strings.Fields(scope), aud, method, req.RemoteAddr, now
	in.FederatedClaims = celClaims(federated)
	allowed, members, err := set.Eval(&in)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("client %q: %w", c.ID, err)
	case !allowed:
		return nil, nil, &failure{errConditionFalse, "condition_false: the condition of client " + fmt.Sprintf("%q", c.ID) + " does not hold for this request"}
	}
	return members, set, nil
}
