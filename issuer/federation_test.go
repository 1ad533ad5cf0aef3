package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/issuer"
)

// federation is a small in-memory auth.Federation: the trusted issuers by
// Issuer URL, and the bindings of the clients it is given.
type federation struct {
	issuers map[string]*auth.TrustedIssuer
	clients clientMap
}

func (f *federation) IssuerByURL(iss string) *auth.TrustedIssuer { return f.issuers[iss] }

func (f *federation) FederatedClient(name, subject string) *auth.Client {
	for _, c := range f.clients {
		for _, id := range c.Federated {
			if id.Issuer == name && id.Subject == subject {
				return c
			}
		}
	}
	return nil
}

var _ auth.Federation = (*federation)(nil)

// observed counts ObserveFederated calls by "issuer outcome".
type observed map[string]int

func (o observed) ObserveFederated(issuer, outcome string) { o[issuer+" "+outcome]++ }

const k8sSubject = "system:serviceaccount:prod:billing"

// fedFixture is a lifecycle whose issuer trusts a loopback OIDC issuer,
// "k8s", whose subject k8sSubject is bound to the client svc-fed.
type fedFixture struct {
	*lifecycle
	op       *testoidc.Issuer
	fed      *federation
	observed observed
}

var secretActor = credential.NewSecret()

func newFedFixture(t *testing.T) *fedFixture {
	t.Helper()
	l := newLifecycle(t)
	op := testoidc.New(t, "ES256")
	op.Now = l.clock.Now
	secret := []auth.Secret{{ID: "s1", Hash: credential.HashGenerated(secretActor), CreatedAt: t0}}
	l.clients["svc-fed"] = &auth.Client{ID: "svc-fed", Incarnation: "inc-fed", Scopes: []string{"read", "write"},
		Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: k8sSubject}}}
	l.clients["svc-fed-off"] = &auth.Client{ID: "svc-fed-off", Scopes: []string{"read"}, Disabled: true,
		Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "system:serviceaccount:prod:off"}}}
	l.clients["svc-fed-secret-only"] = &auth.Client{ID: "svc-fed-secret-only", Scopes: []string{"read"}, AuthMethods: []string{auth.AuthClientSecretPost},
		Secrets: secret, Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "system:serviceaccount:prod:secret-only"}}}
	l.clients["svc-actor"] = &auth.Client{ID: "svc-actor", Incarnation: "inc-actor", Scopes: []string{"own"}, Secrets: secret,
		ExchangeAudiences: []string{"https://downstream.test", "https://other.test"}}
	l.clients["svc-noexchange"] = &auth.Client{ID: "svc-noexchange", Scopes: []string{"own"}, Secrets: secret}
	fed := &federation{issuers: map[string]*auth.TrustedIssuer{
		op.URL: {Name: "k8s", Issuer: op.URL},
	}, clients: l.clients}
	v, err := clientauth.NewFederatedVerifier(clientauth.Config{Issuer: testIssuer, TokenEndpoint: testIssuer + "/v1/auth/token",
		Clock: l.clock, AllowHTTP: true, AllowPrivateAddresses: true})
	if err != nil {
		t.Fatal(err)
	}
	obs := observed{}
	cfg := testConfig()
	cfg.Revocations = l.db
	cfg.Federation, cfg.FederatedTokens, cfg.FederationObserver = fed, v, obs
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: l.clock, SweepInterval: -1})
	t.Cleanup(limiter.Close)
	l.issuer = issuer.New(cfg, l.clients, l.ring, limiter, l.clock)
	return &fedFixture{lifecycle: l, op: op, fed: fed, observed: obs}
}

// assertionRequest is a client_credentials request authenticated by a
// client assertion, as oauthwire reads it (client_id left empty for an
// assertion whose iss is not its sub).
func assertionRequest(assertion, clientID string) auth.TokenRequest {
	return auth.TokenRequest{GrantType: auth.GrantClientCredentials, AuthMethod: auth.AuthPrivateKeyJWT,
		ClientAssertion: assertion, ClientID: clientID, RemoteAddr: "192.0.2.7"}
}

// issue runs a request as the token endpoint does: Lookup, LimitClient, IssueClient.
func (f *fedFixture) issue(t *testing.T, req auth.TokenRequest) (*auth.Token, auth.TokenRequest, error) {
	t.Helper()
	c := f.issuer.Lookup(&req)
	if _, _, err := f.issuer.LimitClient(context.Background(), &req, c); err != nil {
		t.Fatal(err)
	}
	tok, err := f.issuer.IssueClient(context.Background(), req, c)
	return tok, req, err
}

// claimsOf decodes a token's claims, unverified.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFederatedAssertion(t *testing.T) {
	f := newFedFixture(t)
	stranger := testoidc.New(t, "ES256")
	stranger.Now = f.clock.Now
	good := f.op.Kubernetes("prod", "billing", []string{testIssuer})
	for _, tc := range []struct {
		name     string
		req      auth.TokenRequest
		reason   string // "" when it succeeds
		observed string
	}{
		{"without client_id", assertionRequest(good, ""), "", "k8s ok"},
		{"with its client_id", assertionRequest(good, "svc-fed"), "", "k8s ok"},
		{"with another client_id", assertionRequest(good, "svc-a"), "client_mismatch", "k8s client_mismatch"},
		{"to the token endpoint", assertionRequest(f.op.Kubernetes("prod", "billing", []string{testIssuer + "/v1/auth/token"}), ""), "", "k8s ok"},
		{"unknown issuer", assertionRequest(stranger.Kubernetes("prod", "billing", []string{testIssuer}), ""), "unknown_issuer", "unknown unknown_issuer"},
		{"unknown issuer with client_id", assertionRequest(stranger.Kubernetes("prod", "billing", []string{testIssuer}), "svc-fed"), "unknown_issuer", "unknown unknown_issuer"},
		{"unbound subject", assertionRequest(f.op.Kubernetes("prod", "nobody", []string{testIssuer}), ""), "unbound_subject", "k8s unbound_subject"},
		{"disabled client", assertionRequest(f.op.Kubernetes("prod", "off", []string{testIssuer}), ""), "client_disabled", "k8s client_disabled"},
		{"method not allowed", assertionRequest(f.op.Kubernetes("prod", "secret-only", []string{testIssuer}), ""), "method_refused", "k8s method_refused"},
		{"bad signature", assertionRequest(f.op.Mint(k8sSubject, testIssuer, testoidc.SignedWith(f.op.NewKey(t)), testoidc.Header("kid", f.op.Current().KID)), ""), "bad_signature", "k8s bad_signature"},
		{"expired", assertionRequest(f.op.Kubernetes("prod", "billing", []string{testIssuer}, testoidc.Expired()), ""), "expired", "k8s expired"},
		{"wrong aud", assertionRequest(f.op.Kubernetes("prod", "billing", []string{"https://elsewhere"}), ""), "wrong_audience", "k8s wrong_audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clear(f.observed)
			tok, req, err := f.issue(t, tc.req)
			if req.AuthMethod != auth.AuthFederatedJWT {
				t.Fatalf("AuthMethod %q, want %q", req.AuthMethod, auth.AuthFederatedJWT)
			}
			if f.observed[tc.observed] != 1 {
				t.Errorf("observed %v, want %q", f.observed, tc.observed)
			}
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c := claimsOf(t, tok.AccessToken); c["sub"] != "svc-fed" || c["client_id"] != "svc-fed" || c["client_incarnation"] != "inc-fed" || c["scope"] != "read write" {
					t.Fatalf("claims %v", c)
				}
				return
			}
			var oe *auth.OAuthError
			if !errors.As(err, &oe) || oe.Code != "invalid_client" || oe.Description != "client authentication failed: the client assertion is not accepted" {
				t.Fatalf("error %v, want the generic invalid_client", err)
			}
			if got := issuer.FailureReason(err); !strings.HasPrefix(got, tc.reason+":") {
				t.Fatalf("reason %q, want %s", got, tc.reason)
			}
			if strings.Contains(issuer.FailureReason(err), tc.req.ClientAssertion) {
				t.Fatal("the reason holds the token")
			}
		})
	}
}

// TestFederatedRateLimitKey: a federated assertion is charged to the
// bound client, or to the address when there is none, never to its sub.
func TestFederatedRateLimitKey(t *testing.T) {
	f := newFedFixture(t)
	for _, tc := range []struct {
		name  string
		req   auth.TokenRequest
		scope issuer.LimitScope
		id    string
	}{
		{"bound", assertionRequest(f.op.Kubernetes("prod", "billing", []string{testIssuer}), ""), issuer.LimitClient, "svc-fed"},
		{"unbound", assertionRequest(f.op.Kubernetes("prod", "nobody", []string{testIssuer}), ""), issuer.LimitAddress, ""},
		{"exchange, no client authentication", auth.TokenRequest{GrantType: auth.GrantTokenExchange, SubjectTokenType: auth.TokenTypeJWT,
			SubjectToken: f.op.Kubernetes("prod", "billing", []string{testIssuer}), RemoteAddr: "192.0.2.7"}, issuer.LimitClient, "svc-fed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			c := f.issuer.Lookup(&req)
			if (c == nil) != (tc.id == "") || c != nil && c.ID != tc.id {
				t.Fatalf("Lookup gave %v, want %q", c, tc.id)
			}
			_, scope, err := f.issuer.LimitClient(context.Background(), &req, c)
			if err != nil || scope != tc.scope {
				t.Fatalf("scope %v, %v; want %v", scope, err, tc.scope)
			}
		})
	}
	// The address's budget (3 a minute in testConfig) is what unbound
	// subjects spend.
	for n := range 4 {
		req := assertionRequest(f.op.Kubernetes("prod", "nobody", []string{testIssuer}), "")
		c := f.issuer.Lookup(&req)
		d, _, _ := f.issuer.LimitClient(context.Background(), &req, c)
		if want := n < 2; d.Allowed != want { // one spent above
			t.Fatalf("request %d: allowed %v", n, d.Allowed)
		}
	}
}

// TestFederationOff: without a Federation, a client assertion is
// private_key_jwt as before.
func TestFederationOff(t *testing.T) {
	f := newLifecycle(t)
	op := testoidc.New(t, "ES256")
	req := assertionRequest(op.Kubernetes("prod", "billing", []string{testIssuer}), "")
	c := f.issuer.Lookup(&req)
	if req.AuthMethod != auth.AuthPrivateKeyJWT || req.ClientID != k8sSubject || c != nil {
		t.Fatalf("request %+v, client %v", req, c)
	}
}

func exchangeRequest(subject, typ string) auth.TokenRequest {
	return auth.TokenRequest{GrantType: auth.GrantTokenExchange, SubjectToken: subject, SubjectTokenType: typ, RemoteAddr: "192.0.2.7"}
}

func TestExchangeFederated(t *testing.T) {
	f := newFedFixture(t)
	k8s := f.op.Kubernetes("prod", "billing", []string{testIssuer})
	for _, typ := range []string{auth.TokenTypeJWT, auth.TokenTypeIDToken} {
		tok, _, err := f.issue(t, with(exchangeRequest(k8s, typ), func(r *auth.TokenRequest) { r.Scope = "read" }))
		if err != nil {
			t.Fatal(err)
		}
		if tok.IssuedTokenType != auth.TokenTypeAccessToken || tok.TokenType != "Bearer" || tok.Scope != "read" {
			t.Fatalf("token %+v", tok)
		}
		if c := claimsOf(t, tok.AccessToken); c["sub"] != "svc-fed" || c["aud"] != testAudience || c["act"] != nil {
			t.Fatalf("claims %v", c)
		}
	}
	generic := "the subject_token is invalid, expired, revoked, or not accepted by this server"
	for _, tc := range []struct {
		name   string
		req    auth.TokenRequest
		code   string
		reason string
	}{
		{"scope not allowed", with(exchangeRequest(k8s, auth.TokenTypeJWT), func(r *auth.TokenRequest) { r.Scope = "admin" }), "invalid_scope", ""},
		{"audience not allowed", with(exchangeRequest(k8s, auth.TokenTypeJWT), func(r *auth.TokenRequest) { r.Resource = "https://x" }), "invalid_target", ""},
		{"unbound", exchangeRequest(f.op.Kubernetes("prod", "nobody", []string{testIssuer}), auth.TokenTypeJWT), "invalid_request", "unbound_subject"},
		{"expired", exchangeRequest(f.op.Kubernetes("prod", "billing", []string{testIssuer}, testoidc.Expired()), auth.TokenTypeJWT), "invalid_request", "expired"},
		{"other client_id", with(exchangeRequest(k8s, auth.TokenTypeJWT), func(r *auth.TokenRequest) { r.ClientID = "svc-a" }), "invalid_request", "client_mismatch"},
		{"another authenticated client", with(exchangeRequest(k8s, auth.TokenTypeJWT), func(r *auth.TokenRequest) {
			r.ClientID, r.ClientSecret, r.AuthMethod = "svc-actor", secretActor, auth.AuthClientSecretPost
		}), "invalid_request", "client_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.issue(t, tc.req)
			var oe *auth.OAuthError
			if !errors.As(err, &oe) || oe.Code != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
			if tc.reason != "" && (oe.Description != generic || !strings.HasPrefix(issuer.FailureReason(err), tc.reason+":")) {
				t.Fatalf("error %v, reason %q; want the generic answer and %s", err, issuer.FailureReason(err), tc.reason)
			}
		})
	}
}

// delegated issues svc-a a token and has svc-actor exchange it.
func TestExchangeDelegation(t *testing.T) {
	f := newFedFixture(t)
	subject := f.token(t, "svc-a", secretA) // scope "read write admin"
	actorReq := func(subject string, fn func(*auth.TokenRequest)) auth.TokenRequest {
		r := with(exchangeRequest(subject, auth.TokenTypeAccessToken), func(r *auth.TokenRequest) {
			r.ClientID, r.ClientSecret, r.AuthMethod = "svc-actor", secretActor, auth.AuthClientSecretPost
		})
		if fn != nil {
			fn(&r)
		}
		return r
	}
	tok, _, err := f.issue(t, actorReq(subject, func(r *auth.TokenRequest) { r.Scope = "read" }))
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, tok.AccessToken)
	if c["sub"] != "svc-a" || c["client_id"] != "svc-actor" || c["client_incarnation"] != "inc-actor" || c["scope"] != "read" ||
		c["aud"] != "https://downstream.test" || tok.IssuedTokenType != auth.TokenTypeAccessToken {
		t.Fatalf("claims %v, token %+v", c, tok)
	}
	if act, _ := c["act"].(map[string]any); act == nil || act["sub"] != "svc-actor" || act["act"] != nil {
		t.Fatalf("act %v", c["act"])
	}
	if exp, sexp := c["exp"].(float64), claimsOf(t, subject)["exp"].(float64); exp > sexp {
		t.Fatalf("exp %v after the subject token's %v", exp, sexp)
	}
	if res := f.introspect(t, tok.AccessToken); !res.Active || res.Subject != "svc-a" || res.ClientID != "svc-actor" {
		t.Fatalf("introspection of the delegated token: %+v", res)
	}

	// A chain: the delegated token delegated again nests the first actor.
	f.clients["svc-actor2"] = &auth.Client{ID: "svc-actor2", Secrets: f.clients["svc-actor"].Secrets, ExchangeAudiences: []string{"https://third.test"}}
	tok2, _, err := f.issue(t, actorReq(tok.AccessToken, func(r *auth.TokenRequest) { r.ClientID = "svc-actor2" }))
	if err != nil {
		t.Fatal(err)
	}
	act := claimsOf(t, tok2.AccessToken)["act"].(map[string]any)
	if inner, _ := act["act"].(map[string]any); act["sub"] != "svc-actor2" || inner["sub"] != "svc-actor" {
		t.Fatalf("chained act %v", act)
	}

	// requested_token_type jwt: the same token, said to be a JWT.
	tokJWT, _, err := f.issue(t, actorReq(subject, func(r *auth.TokenRequest) { r.RequestedTokenType = auth.TokenTypeJWT }))
	if err != nil || tokJWT.IssuedTokenType != auth.TokenTypeJWT {
		t.Fatalf("requested_token_type jwt: token %+v, %v", tokJWT, err)
	}

	// Absent scope: the subject token's whole scope.
	tok3, _, err := f.issue(t, actorReq(subject, func(r *auth.TokenRequest) { r.Audience = "https://other.test" }))
	if err != nil || tok3.Scope != "read write admin" || claimsOf(t, tok3.AccessToken)["aud"] != "https://other.test" {
		t.Fatalf("token %+v, %v", tok3, err)
	}

	revoked := f.token(t, "svc-a", secretA)
	if err := f.issuer.Revoke(context.Background(), f.clients["svc-a"], revoked); err != nil {
		t.Fatal(err)
	}
	otherIssuer := f.op.Mint("svc-a", testAudience) // right shape, foreign key and issuer
	generic := "the subject_token is invalid, expired, revoked, or not accepted by this server"
	for _, tc := range []struct {
		name, code, desc string
		req              auth.TokenRequest
	}{
		{"scope beyond the subject's", "invalid_scope", "", actorReq(subject, func(r *auth.TokenRequest) { r.Scope = "read own" })},
		{"audience not allowed", "invalid_target", "", actorReq(subject, func(r *auth.TokenRequest) { r.Resource = testAudience })},
		{"actor without exchange audiences", "unauthorized_client", "", actorReq(subject, func(r *auth.TokenRequest) { r.ClientID = "svc-noexchange" })},
		{"no client authentication", "invalid_client", "", actorReq(subject, func(r *auth.TokenRequest) { r.ClientID, r.ClientSecret, r.AuthMethod = "", "", "" })},
		{"actor_token", "invalid_request", "", actorReq(subject, func(r *auth.TokenRequest) { r.ActorToken, r.ActorTokenType = "x", auth.TokenTypeJWT })},
		{"requested_token_type", "invalid_request", "", actorReq(subject, func(r *auth.TokenRequest) { r.RequestedTokenType = "urn:ietf:params:oauth:token-type:saml2" })},
		{"no subject_token", "invalid_request", "", actorReq("", nil)},
		{"no subject_token_type", "invalid_request", "", actorReq(subject, func(r *auth.TokenRequest) { r.SubjectTokenType = "" })},
		{"unsupported subject_token_type", "invalid_request", "", actorReq(subject, func(r *auth.TokenRequest) { r.SubjectTokenType = "urn:x" })},
		{"revoked", "invalid_request", generic, actorReq(revoked, nil)},
		{"foreign", "invalid_request", generic, actorReq(otherIssuer, nil)},
		{"malformed", "invalid_request", generic, actorReq("not.a.token", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.issue(t, tc.req)
			var oe *auth.OAuthError
			if !errors.As(err, &oe) || oe.Code != tc.code || tc.desc != "" && oe.Description != tc.desc {
				t.Fatalf("error %v, want %s %q", err, tc.code, tc.desc)
			}
		})
	}
	// Expired: the subject token's life has run out.
	f.clock.Advance(testTTL + time.Second)
	if _, _, err := f.issue(t, actorReq(subject, nil)); errorCode(err) != "invalid_request" {
		t.Fatalf("expired subject token: %v", err)
	}
	// exp no later than the subject token's.
	fresh := f.token(t, "svc-a", secretA)
	f.clock.Advance(testTTL - time.Minute)
	tok4, _, err := f.issue(t, actorReq(fresh, nil))
	if err != nil || tok4.ExpiresIn > 60 {
		t.Fatalf("token %+v, %v: expires_in should be at most the subject token's remaining 60s", tok4, err)
	}
}

func errorCode(err error) string {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}
