package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gooclaim/auth/client"
)

// TestDiscover reads the real server's metadata.
func TestDiscover(t *testing.T) {
	t.Parallel()
	s, _, _ := newServer(t)
	md, err := client.Discover(context.Background(), s.Issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if md.Issuer != s.Issuer || md.TokenEndpoint != s.TokenURL() || md.JWKSURI != s.Issuer+"/.well-known/jwks.json" {
		t.Errorf("metadata %+v", md)
	}
	if !slices.Contains(md.GrantTypesSupported, "client_credentials") || !slices.Contains(md.TokenEndpointAuthMethodsSupported, "client_secret_basic") ||
		!slices.Contains(md.ScopesSupported, "claims:write") {
		t.Errorf("metadata %+v lacks the grant, auth method or scopes", md)
	}
}

// TestTokenViaIssuer finds the token endpoint through the real server's
// metadata, once.
func TestTokenViaIssuer(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	wire := newCounter()
	c := &client.Config{Issuer: s.Issuer, ClientID: id, ClientSecret: secret, HTTPClient: wire.client()}
	for range 2 {
		tok, err := c.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cl := decodeClaims(t, tok.AccessToken); cl.Sub != id {
			t.Errorf("sub %q, want %q", cl.Sub, id)
		}
	}
	if n := wire.count("/.well-known/oauth-authorization-server"); n != 1 {
		t.Errorf("metadata fetched %d times, want 1 (cached)", n)
	}
	if n := wire.count(tokenPath); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// TestDiscoveryFallsBackToOpenIDConfiguration: an issuer without the RFC
// 8414 document is read from /.well-known/openid-configuration.
func TestDiscoveryFallsBackToOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	s, id, secret := newServer(t)
	var issuer string
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "token_endpoint": s.TokenURL()})
	}))
	defer meta.Close()
	issuer = meta.URL
	c := &client.Config{Issuer: issuer, ClientID: id, ClientSecret: secret}
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDiscoveryRefusals: a document naming another issuer (RFC 8414 §3.3),
// one without a token endpoint, and one sending an https issuer's secret
// to plain http are refused, and no token request is made.
func TestDiscoveryRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		doc  func(issuer string) map[string]string
		want string
	}{
		{"another issuer", func(string) map[string]string {
			return map[string]string{"issuer": "https://evil.example", "token_endpoint": "https://evil.example/token"}
		}, "RFC 8414 §3.3"},
		{"no token endpoint", func(iss string) map[string]string {
			return map[string]string{"issuer": iss}
		}, "no token_endpoint"},
		{"http token endpoint", func(iss string) map[string]string {
			return map[string]string{"issuer": iss, "token_endpoint": "http://" + strings.TrimPrefix(iss, "https://") + "/token"}
		}, "not https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var issuer string
			var tokenRequests atomic.Int32
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/.well-known/oauth-authorization-server" {
					json.NewEncoder(w).Encode(tc.doc(issuer))
					return
				}
				tokenRequests.Add(1)
				writeToken(w, 1, 60)
			}))
			defer srv.Close()
			issuer = srv.URL
			c := &client.Config{Issuer: issuer, ClientID: "app", HTTPClient: srv.Client()}
			_, err := c.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if n := tokenRequests.Load(); n != 0 {
				t.Errorf("%d token requests, want none", n)
			}
		})
	}
}

// TestDiscoveryIssuerWithPath tries the RFC 8414 §3.1 location, with the
// well-known path inserted before the issuer's path.
func TestDiscoveryIssuerWithPath(t *testing.T) {
	t.Parallel()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/oauth-authorization-server/tenant/a" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "token_endpoint": issuer + "/token"})
	}))
	defer srv.Close()
	issuer = srv.URL + "/tenant/a"
	md, err := client.Discover(context.Background(), issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if md.TokenEndpoint != issuer+"/token" {
		t.Errorf("token endpoint %q", md.TokenEndpoint)
	}
	if _, err := client.Discover(context.Background(), srv.URL+"/other", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("an issuer without metadata: %v", err)
	}
}
