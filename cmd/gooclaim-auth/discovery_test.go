package main

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"
)

// TestDiscoveryWithRealClientLibrary: coreos/go-oidc, a widely used
// third-party library, reads our discovery document (it fetches
// /.well-known/openid-configuration and checks the issuer), finds the token
// endpoint there for golang.org/x/oauth2, and verifies the token it gets
// with keys it fetches itself from the jwks_uri it found.
func TestDiscoveryWithRealClientLibrary(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read")
	ctx := context.Background()

	provider, err := oidc.NewProvider(ctx, ts.srv.Issuer())
	if err != nil {
		t.Fatalf("go-oidc rejects the discovery document: %v", err)
	}
	if got := provider.Endpoint().TokenURL; got != ts.srv.Issuer()+"/v1/auth/token" {
		t.Fatalf("token endpoint %q", got)
	}
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: provider.Endpoint().TokenURL}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := provider.Verifier(&oidc.Config{ClientID: "https://api.gooclaim.com"})
	verified, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc cannot verify the token with the advertised JWKS: %v", err)
	}
	if verified.Subject != id || verified.Issuer != ts.srv.Issuer() {
		t.Fatalf("verified token: sub %q iss %q", verified.Subject, verified.Issuer)
	}
}
