package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/client"
	"github.com/gooclaim/auth/internal/testserver"
)

// TestTokenAuthStylesAndEncodings gets a token from the real server in each
// combination of client authentication and body encoding, with a scope and
// an audience, and checks both the wire and the token's claims.
func TestTokenAuthStylesAndEncodings(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	for _, tc := range []struct {
		name        string
		style       client.AuthStyle
		encoding    client.Encoding
		contentType string
	}{
		{"basic+form", client.AuthBasic, client.EncodingForm, "application/x-www-form-urlencoded"},
		{"post+form", client.AuthPost, client.EncodingForm, "application/x-www-form-urlencoded"},
		{"basic+json", client.AuthBasic, client.EncodingJSON, "application/json"},
		{"post+json", client.AuthPost, client.EncodingJSON, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := newCounter()
			c := &client.Config{
				TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret,
				Scopes: []string{"claims:read"}, Audience: "https://files.gooclaim.com",
				AuthStyle: tc.style, Encoding: tc.encoding, HTTPClient: wire.client(),
			}
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Extra("scope") != "claims:read" {
				t.Errorf("token type %q, scope %v; want Bearer, claims:read", tok.TokenType, tok.Extra("scope"))
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
				t.Errorf("expiry in %v, want about 1h", d)
			}
			cl := decodeClaims(t, tok.AccessToken)
			if cl.Sub != id || cl.ClientID != id || cl.Scope != "claims:read" || cl.Aud != "https://files.gooclaim.com" || cl.Iss != s.Issuer {
				t.Errorf("claims %+v; want sub and client_id %s, scope claims:read, aud https://files.gooclaim.com, iss %s", cl, id, s.Issuer)
			}

			req := wire.last()
			if req.contentType != tc.contentType {
				t.Errorf("Content-Type %q, want %q", req.contentType, tc.contentType)
			}
			p := req.params(t)
			hasBasic := strings.HasPrefix(req.authorization, "Basic ")
			_, inBody := p["client_secret"]
			if hasBasic != (tc.style == client.AuthBasic) || inBody != (tc.style == client.AuthPost) {
				t.Errorf("Authorization %q, body %s: the secret went the wrong way for %v", req.authorization, req.body, tc.style)
			}
			if p["grant_type"] != "client_credentials" || p["scope"] != "claims:read" || p["resource"] != "https://files.gooclaim.com" {
				t.Errorf("body parameters %v", p)
			}
		})
	}
}

// TestTokenDefaults: no scope and no audience get all the client's scopes
// and its default audience.
func TestTokenDefaults(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret}
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cl := decodeClaims(t, tok.AccessToken)
	if cl.Scope != "claims:read claims:write" || cl.Aud != "https://api.gooclaim.com" {
		t.Errorf("scope %q, aud %v; want all scopes and the default audience", cl.Scope, cl.Aud)
	}
	if tok.Extra("scope") != "claims:read claims:write" {
		t.Errorf("Extra(scope) = %v", tok.Extra("scope"))
	}
}

// TestBasicFormURLEncodesCredentials: RFC 6749 §2.3.1 — a secret with
// characters that mean something in a form (space, +, %, &, =, :) reaches
// the server intact, by Basic and by post.
func TestBasicFormURLEncodesCredentials(t *testing.T) {
	t.Parallel()
	s := testserver.New(t, testserver.Options{})
	const secret = "S3cure P@ss+w0rd:%!&=/?"
	cl, _, err := s.Admin.CreateClient(context.Background(), admin.ClientSpec{
		ID: "gooclaim_app_12345", Name: "imported", Scopes: []string{"claims:read"}, Secret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []client.AuthStyle{client.AuthBasic, client.AuthPost} {
		wire := newCounter()
		c := &client.Config{TokenURL: s.TokenURL(), ClientID: cl.ID, ClientSecret: secret, AuthStyle: style, HTTPClient: wire.client()}
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatalf("%v: %v", style, err)
		}
		if style == client.AuthBasic {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(wire.last().authorization, "Basic "))
			if want := cl.ID + ":" + url.QueryEscape(secret); string(raw) != want {
				t.Errorf("Basic credentials %q, want %q", raw, want)
			}
		}
	}
}

// TestInvalidClientIsNotRetried: a wrong secret gets the real server's 401
// invalid_client after exactly one request.
func TestInvalidClientIsNotRetried(t *testing.T) {
	t.Parallel()
	s, id, _ := newServer(t)
	for _, style := range []client.AuthStyle{client.AuthBasic, client.AuthPost} {
		wire := newCounter()
		c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: "gcs_wrong", AuthStyle: style,
			HTTPClient: wire.client(), MinBackoff: time.Millisecond}
		_, err := c.Token(context.Background())
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != 401 || e.Code != "invalid_client" {
			t.Fatalf("%v: error %v, want a 401 invalid_client *Error", style, err)
		}
		if n := wire.count(tokenPath); n != 1 {
			t.Errorf("%v: %d requests, want 1", style, n)
		}
		if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("Error() = %q", err)
		}
	}
}

// TestClientErrorsAreNotRetried: the real server's 400s are returned after
// one request.
func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	for _, tc := range []struct {
		name     string
		scopes   []string
		audience string
		code     string
	}{
		{"scope not allowed", []string{"claims:delete"}, "", "invalid_scope"},
		{"audience not allowed", nil, "https://evil.example", "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := newCounter()
			c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret,
				Scopes: tc.scopes, Audience: tc.audience, HTTPClient: wire.client()}
			_, err := c.Token(context.Background())
			var e *client.Error
			if !errors.As(err, &e) || e.StatusCode != 400 || e.Code != tc.code || e.Description == "" {
				t.Fatalf("error %v, want a 400 %s *Error with a description", err, tc.code)
			}
			if n := wire.count(tokenPath); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestRealServerRateLimit: past the real server's limit, the client waits
// the 429's Retry-After and gets its token.
func TestRealServerRateLimit(t *testing.T) {
	t.Parallel()
	s := testserver.New(t, testserver.Options{RateLimit: ratePerSecond})
	id, secret := s.CreateClient(t, []string{"claims:read"})
	wire := newCounter()
	c := &client.Config{TokenURL: s.TokenURL(), ClientID: id, ClientSecret: secret, HTTPClient: wire.client()}
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 15*time.Second { // the upper bound only catches a hang
		t.Errorf("second token after %v, want about the 1s Retry-After", d)
	}
	if n := wire.count(tokenPath); n != 3 {
		t.Errorf("%d requests, want 3 (one refused)", n)
	}

	// A Retry-After longer than MaxRetryAfter is not waited for.
	c.MaxRetryAfter = 100 * time.Millisecond
	start = time.Now()
	_, err := c.Token(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 429 || e.Code != "rate_limited" || e.RetryAfter < time.Second {
		t.Fatalf("error %v, want a 429 rate_limited *Error with RetryAfter", err)
	}
	if d := time.Since(start); d >= e.RetryAfter { // waiting would take the Retry-After
		t.Errorf("returned after %v, want at once", d)
	}
}

// ratePerSecond lets one request a second through.
var ratePerSecond = auth.Rate{Limit: 1, Window: time.Second}

// TestConfigProblems: a bad Config is refused before any request, with
// every problem named.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	_, err := new(client.Config).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "TokenURL or Issuer") || !strings.Contains(err.Error(), "ClientID") {
		t.Errorf("zero Config: %v", err)
	}
	c := &client.Config{TokenURL: "localhost:8080/token", ClientID: "x", Scopes: []string{"a b"},
		AuthStyle: 7, Encoding: 9, MinBackoff: time.Minute}
	_, err = c.Token(context.Background())
	for _, want := range []string{"TokenURL", `scope "a b"`, "AuthStyle(7)", "Encoding(9)", "MinBackoff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
