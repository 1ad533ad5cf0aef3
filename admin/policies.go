package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/policy"
)

// errNoIssuer answers the policy use cases of a Service without the
// running issuer, whose settings they read.
var errNoIssuer = auth.Errorf(auth.EUNAVAILABLE, "the server-wide policies are known only to a running server: ask its admin API (GET /v1/admin/policies)")

// PoliciesView is how the server-wide policies are shown (GET
// /v1/admin/policies): what every client gets unless it sets its own.
// They are the settings of the node answering: serve's flags, which each
// node of a fleet is given (and should be given alike).
type PoliciesView struct {
	// DefaultClaims are the claim expressions of every client's tokens
	// (serve --default-claim); a client's own claim of the same name wins.
	DefaultClaims map[string]string `json:"default_claims"`
	// DefaultQuotas are the quotas of the clients that set none
	// (--default-quota), as "10000/1d".
	DefaultQuotas []string `json:"default_quotas"`
	// ReuseTokens is the token reuse of the clients whose token_reuse is
	// "default" (--reuse-tokens); ReuseMaxTokens bounds the tokens each
	// node keeps to give again (--reuse-max-tokens).
	ReuseTokens    bool `json:"reuse_tokens"`
	ReuseMaxTokens int  `json:"reuse_max_tokens"`
	// The defaults of the clients that set none: audience, token lifetime
	// ("1h") and rate limit per client_id ("60/1m").
	DefaultAudience  string `json:"default_audience"`
	DefaultTokenTTL  string `json:"default_token_ttl"`
	DefaultRateLimit string `json:"default_rate_limit"`
	// What every expression must keep to (package policy).
	Limits           PolicyLimitsView `json:"limits"`
	RegisteredClaims []string         `json:"registered_claims"`
}

// PolicyLimitsView are the bounds of expressions.
type PolicyLimitsView struct {
	MaxClaims           int `json:"max_claims"`
	MaxExpressionLength int `json:"max_expression_length"`
	MaxCost             int `json:"max_cost"`
}

// Policies returns the server-wide policies of s.TokenIssuer.
func (s *Service) Policies() (PoliciesView, error) {
	if s.TokenIssuer == nil {
		return PoliciesView{}, errNoIssuer
	}
	cfg := s.TokenIssuer.Config()
	claims := cfg.DefaultClaims
	if claims == nil {
		claims = map[string]string{}
	}
	return PoliciesView{
		DefaultClaims:    claims,
		DefaultQuotas:    nonNil(auth.FormatQuotas(cfg.DefaultQuotas)),
		ReuseTokens:      cfg.ReuseTokens,
		ReuseMaxTokens:   cfg.Tokens.Max(),
		DefaultAudience:  cfg.Audience,
		DefaultTokenTTL:  auth.FormatDuration(cfg.TokenTTL),
		DefaultRateLimit: cfg.RateLimit.String(),
		Limits:           PolicyLimitsView{MaxClaims: policy.MaxClaims, MaxExpressionLength: policy.MaxExpressionLength, MaxCost: policy.MaxCost},
		RegisteredClaims: slices.Clone(policy.Registered),
	}, nil
}

// PolicyEvaluation asks what a client's expressions give for a token
// request (EvaluatePolicy).
type PolicyEvaluation struct {
	ClientID string
	// Claims replace the client's own claim expressions when not nil (an
	// empty map: none); Condition its condition when not nil ("": none).
	// So expressions can be tried before they are saved.
	Claims    map[string]string
	Condition *string
	Request   issuer.PolicyRequest
}

// PolicyEvaluationView is the answer of EvaluatePolicy.
type PolicyEvaluationView struct {
	ClientID string `json:"client_id"`
	// Request is what the expressions saw as request and now.
	Request PolicyRequestView `json:"request"`
	// Claims are the claims the expressions add to a token, by name (a
	// claim whose value is null is left out, as in a token).
	Claims map[string]json.RawMessage `json:"claims"`
	// Condition is whether the condition holds: null when there is none
	// or it failed (then Errors says why).
	Condition *bool `json:"condition"`
	// Issuable says a token request like this one would pass the
	// expressions: the condition holds (or there is none) and nothing
	// failed. Quotas, rate limits and credentials are not looked at.
	Issuable bool `json:"issuable"`
	// Errors are the expressions that failed when evaluated.
	Errors []ExpressionErrorView `json:"errors"`
}

// PolicyRequestView is what the expressions saw of the token request.
type PolicyRequestView struct {
	Scope      []string  `json:"scope"`
	Audience   string    `json:"audience"`
	AuthMethod string    `json:"auth_method"`
	RemoteIP   string    `json:"remote_ip"`
	Now        time.Time `json:"now"`
}

// ExpressionErrorView is one expression's failure: Expression is
// `claim "tenant"` or `condition`.
type ExpressionErrorView struct {
	Expression string `json:"expression"`
	Error      string `json:"error"`
}

// EvaluatePolicy evaluates the stored client e.ClientID's expressions, or
// those e gives in their place, with the server's default claims, for a
// token request like e.Request: what issuance would evaluate, without
// issuing, signing, or counting a token against any quota or rate limit.
// It writes nothing, so it is not audited. Expressions are checked as
// when a client is saved (a problem is an auth.EINVALID error naming the
// expression and the position in it); an unknown client is ENOTFOUND.
func (s *Service) EvaluatePolicy(ctx context.Context, e PolicyEvaluation) (PolicyEvaluationView, error) {
	if s.TokenIssuer == nil {
		return PolicyEvaluationView{}, errNoIssuer
	}
	if problems := checkPolicyRequest(e); len(problems) > 0 {
		return PolicyEvaluationView{}, invalid(problems)
	}
	stored, err := s.Store.Client(ctx, e.ClientID)
	if err != nil {
		return PolicyEvaluationView{}, err
	}
	c := *stored // the store's client is shared: the trial's changes go to a copy
	if e.Claims != nil {
		c.Claims = emptyMapNil(e.Claims)
	}
	if e.Condition != nil {
		c.Condition = *e.Condition
	}
	if problems := checkExpressions(&c); len(problems) > 0 {
		return PolicyEvaluationView{}, invalid(problems)
	}
	t, err := s.TokenIssuer.TryPolicy(&c, e.Request)
	if err != nil {
		// A request the client could not make (a scope or audience it may
		// not have): the token endpoint's words, as a bad request here.
		if oe, ok := errors.AsType[*auth.OAuthError](err); ok {
			return PolicyEvaluationView{}, invalid([]string{"request: " + oe.Description})
		}
		return PolicyEvaluationView{}, fmt.Errorf("evaluate the expressions of client %q: %w", c.ID, err)
	}
	v := PolicyEvaluationView{
		ClientID: c.ID,
		Request:  PolicyRequestView{Scope: nonNil(t.Scope), Audience: t.Audience, AuthMethod: t.AuthMethod, RemoteIP: t.RemoteIP, Now: t.Now.UTC()},
		Claims:   t.Claims, Condition: t.Condition, Errors: []ExpressionErrorView{},
		Issuable: len(t.Errors) == 0 && (t.Condition == nil || *t.Condition),
	}
	for _, ee := range t.Errors {
		name := "condition"
		if ee.Claim != "" {
			name = fmt.Sprintf("claim %q", ee.Claim)
		}
		v.Errors = append(v.Errors, ExpressionErrorView{Expression: name, Error: ee.Err.Error()})
	}
	return v, nil
}

// checkPolicyRequest checks what EvaluatePolicy takes beside expressions.
func checkPolicyRequest(e PolicyEvaluation) []string {
	var p []string
	if e.ClientID == "" {
		p = append(p, "client_id is required: name the client whose expressions to evaluate")
	}
	if ip := e.Request.RemoteIP; ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			p = append(p, fmt.Sprintf("remote_ip %.64q is not an IP address (such as 10.1.2.3 or 2001:db8::1)", ip))
		}
	}
	if m := e.Request.AuthMethod; m != "" && !slices.Contains(AuthMethods, m) {
		p = append(p, fmt.Sprintf("auth_method %.64q: want one of %s", m, strings.Join(AuthMethods, ", ")))
	}
	return p
}
