package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/client"
)

const filesAPI = "https://files.gooclaim.com"

// newDelegationServer is a fake whose client "claims-api" (secret
// "s3cret") may delegate to filesAPI, and which knows the access token
// "user-token" of "gooclaim_app_partner" with two scopes.
func newDelegationServer(t *testing.T) *federationServer {
	f := newFederationServer(t)
	f.secrets["claims-api"] = "s3cret"
	f.exchangeAudiences["claims-api"] = []string{filesAPI}
	f.accessTokens["user-token"] = subjectToken{sub: "gooclaim_app_partner", scope: "claims:read files:read"}
	f.accessTokens["delegated-token"] = subjectToken{sub: "gooclaim_app_partner", scope: "files:read", act: "gateway"}
	return f
}

// TestExchangeDelegation: the actor authenticates as its Config says and
// sends exactly the RFC 8693 parameters; the answer's issued_token_type
// and scope are in the token.
func TestExchangeDelegation(t *testing.T) {
	t.Parallel()
	f := newDelegationServer(t)
	for _, tc := range []struct {
		name  string
		style client.AuthStyle
		enc   client.Encoding
	}{
		{"basic+form", client.AuthBasic, client.EncodingForm},
		{"post+json", client.AuthPost, client.EncodingJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &client.Config{TokenURL: f.tokenURL(), ClientID: "claims-api", ClientSecret: "s3cret", AuthStyle: tc.style, Encoding: tc.enc,
				Scopes: []string{"claims:write"}, Audience: "https://api.gooclaim.com"} // the actor's own: not used by Exchange
			tok, err := c.Exchange(context.Background(), client.ExchangeRequest{
				SubjectToken: "user-token", SubjectTokenType: client.TokenTypeAccessToken,
				Resource: filesAPI, Scopes: []string{"files:read"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok.AccessToken, "sub=gooclaim_app_partner;client_id=claims-api;act=claims-api;") {
				t.Errorf("token %q, want the partner's, acted by claims-api", tok.AccessToken)
			}
			if tok.Extra("issued_token_type") != client.TokenTypeAccessToken || tok.Extra("scope") != "files:read" || tok.TokenType != "Bearer" {
				t.Errorf("issued_token_type %v, scope %v, type %q", tok.Extra("issued_token_type"), tok.Extra("scope"), tok.TokenType)
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
				t.Errorf("expiry in %v, want about 1h", d)
			}
			req := f.last()
			want := map[string]string{"grant_type": auth.GrantTokenExchange, "subject_token": "user-token",
				"subject_token_type": auth.TokenTypeAccessToken, "resource": filesAPI, "scope": "files:read"}
			if tc.style == client.AuthPost {
				want["client_id"], want["client_secret"] = "claims-api", "s3cret"
			}
			if !equalParams(req.params, want) || (req.authorization != "") != (tc.style == client.AuthBasic) {
				t.Errorf("parameters %v, Authorization %q; want %v", req.params, req.authorization, want)
			}
		})
	}

	// A token that was already delegated: the answer is the server's; the
	// kit only passes it on. No scope asked: the subject token's.
	c := &client.Config{TokenURL: f.tokenURL(), ClientID: "claims-api", ClientSecret: "s3cret"}
	tok, err := c.Exchange(context.Background(), client.ExchangeRequest{SubjectToken: "delegated-token", SubjectTokenType: client.TokenTypeAccessToken, Audience: filesAPI})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tok.AccessToken, ";act=claims-api<gateway;") || tok.Extra("scope") != "files:read" {
		t.Errorf("token %q scope %v", tok.AccessToken, tok.Extra("scope"))
	}
	if p := f.last().params; p["audience"] != filesAPI || p["resource"] != "" || p["scope"] != "" {
		t.Errorf("parameters %v: want audience alone, no scope", p)
	}
}

// TestExchangeFederation: with AuthNone no client authentication is sent,
// and a workload's token exchanged as a jwt gets the bound client's token;
// with AuthFederatedJWT the actor authenticates with its own workload token.
func TestExchangeFederation(t *testing.T) {
	t.Parallel()
	f := newDelegationServer(t)
	wl := workloadToken(k8sIssuer, "system:serviceaccount:claims:importer", 1)
	f.federated[wl] = "importer"
	c := &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthNone}
	tok, err := c.Exchange(context.Background(), client.ExchangeRequest{SubjectToken: wl, SubjectTokenType: client.TokenTypeJWT, Scopes: []string{"claims:read"}})
	if err != nil {
		t.Fatal(err)
	}
	req := f.last()
	want := map[string]string{"grant_type": auth.GrantTokenExchange, "subject_token": wl, "subject_token_type": auth.TokenTypeJWT, "scope": "claims:read"}
	if !strings.HasPrefix(tok.AccessToken, "sub=importer;client_id=importer;act=;") || req.authorization != "" || !equalParams(req.params, want) {
		t.Errorf("token %q; request %v with Authorization %q; want importer's token from %v, no authentication", tok.AccessToken, req.params, req.authorization, want)
	}

	// A delegation whose actor authenticates with a workload token.
	gw := workloadToken(k8sIssuer, "system:serviceaccount:claims:api", 2)
	f.federated[gw] = "claims-api"
	c = &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT,
		FederatedToken: func(context.Context) (string, error) { return gw, nil }}
	tok, err = c.Exchange(context.Background(), client.ExchangeRequest{SubjectToken: "user-token", SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI})
	if err != nil {
		t.Fatal(err)
	}
	if p := f.last().params; !strings.HasPrefix(tok.AccessToken, "sub=gooclaim_app_partner;client_id=claims-api;") || p["client_assertion"] != gw || p["client_assertion_type"] != jwtBearer {
		t.Errorf("token %q, parameters %v", tok.AccessToken, p)
	}
}

// TestExchangeErrors: the server's refusals are *Error, not retried; a bad
// request is refused before any is sent; an answer that is not an
// exchange's is an error.
func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	f := newDelegationServer(t)
	basic := &client.Config{TokenURL: f.tokenURL(), ClientID: "claims-api", ClientSecret: "s3cret", MinBackoff: time.Millisecond}
	for _, tc := range []struct {
		name   string
		conf   *client.Config
		req    client.ExchangeRequest
		status int
		code   string
	}{
		{"wrong secret", &client.Config{TokenURL: f.tokenURL(), ClientID: "claims-api", ClientSecret: "nope"},
			client.ExchangeRequest{SubjectToken: "user-token", SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI}, 401, "invalid_client"},
		{"delegation without authentication", &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthNone},
			client.ExchangeRequest{SubjectToken: "user-token", SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI}, 401, "invalid_client"},
		{"not an exchange audience", basic,
			client.ExchangeRequest{SubjectToken: "user-token", SubjectTokenType: client.TokenTypeAccessToken, Resource: "https://evil.example"}, 400, "invalid_target"},
		{"wider scope", basic,
			client.ExchangeRequest{SubjectToken: "user-token", SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI, Scopes: []string{"claims:write"}}, 400, "invalid_scope"},
		{"unknown subject", basic,
			client.ExchangeRequest{SubjectToken: "revoked", SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI}, 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.requests())
			_, err := tc.conf.Exchange(context.Background(), tc.req)
			var e *client.Error
			if !errors.As(err, &e) || e.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("error %v, want a %d %s *Error", err, tc.status, tc.code)
			}
			if n := len(f.requests()) - before; n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}

	before := len(f.requests())
	for _, tc := range []struct {
		name string
		req  client.ExchangeRequest
		want []string
	}{
		{"empty", client.ExchangeRequest{}, []string{"SubjectToken is empty", "SubjectTokenType is empty"}},
		{"unknown type", client.ExchangeRequest{SubjectToken: "t", SubjectTokenType: "access_token"}, []string{`SubjectTokenType "access_token"`}},
		{"bad scope", client.ExchangeRequest{SubjectToken: "t", SubjectTokenType: client.TokenTypeJWT, Scopes: []string{"a b"}}, []string{`scope "a b"`}},
	} {
		_, err := basic.Exchange(context.Background(), tc.req)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v does not say %q", tc.name, err, w)
			}
		}
	}
	if n := len(f.requests()) - before; n != 0 {
		t.Errorf("%d requests for invalid ExchangeRequests, want 0", n)
	}

	// A server that answers as if for client_credentials.
	plain := newFakeEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) { writeToken(w, n, 3600) })
	c := &client.Config{TokenURL: plain.URL, ClientID: "claims-api", ClientSecret: "s3cret"}
	if _, err := c.Exchange(context.Background(), client.ExchangeRequest{SubjectToken: "t", SubjectTokenType: client.TokenTypeAccessToken}); err == nil || !strings.Contains(err.Error(), "issued_token_type") {
		t.Errorf("response without issued_token_type: error %v", err)
	}
}

// TestExchangeTokenSource: exchanged tokens are cached like the client's
// own, the subject is asked for each exchange, and its error is returned.
func TestExchangeTokenSource(t *testing.T) {
	t.Parallel()
	f := newDelegationServer(t)
	c := &client.Config{TokenURL: f.tokenURL(), ClientID: "claims-api", ClientSecret: "s3cret"}
	var asked atomic.Int32
	src := c.ExchangeTokenSource(context.Background(),
		client.ExchangeRequest{SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI, Scopes: []string{"files:read"}},
		func(context.Context) (string, error) { asked.Add(1); return "user-token", nil })
	for range 3 {
		tok, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.AccessToken, "sub=gooclaim_app_partner;client_id=claims-api;") {
			t.Fatalf("token %q", tok.AccessToken)
		}
	}
	if asked.Load() != 1 || len(f.requests()) != 1 {
		t.Errorf("subject asked %d times, %d requests; want 1 and 1 (cached)", asked.Load(), len(f.requests()))
	}

	errGone := errors.New("no caller token")
	src = c.ExchangeTokenSource(context.Background(), client.ExchangeRequest{SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI},
		func(context.Context) (string, error) { return "", errGone })
	if _, err := src.Token(); !errors.Is(err, errGone) || !strings.Contains(err.Error(), "subject token") {
		t.Errorf("error %v, want the subject's, saying it was the subject token", err)
	}
}

// TestExchangeRealServer: against the real server, an exchange it refuses
// is a 400 *Error after one request, whatever the reason — unsupported
// grant until the server side of issue 15 lands, an inactive subject
// token after.
func TestExchangeRealServer(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	wire := newCounter()
	c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret, HTTPClient: wire.client(), MinBackoff: time.Millisecond}
	_, err := c.Exchange(context.Background(), client.ExchangeRequest{SubjectToken: "not-a-token", SubjectTokenType: client.TokenTypeAccessToken, Resource: filesAPI})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Code == "" {
		t.Fatalf("error %v, want a 400 *Error", err)
	}
	if n := wire.count(tokenPath); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if p := wire.last().params(t); p["grant_type"] != auth.GrantTokenExchange || p["subject_token_type"] != auth.TokenTypeAccessToken {
		t.Errorf("parameters %v", p)
	}
}
