package issuer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
)

func reuseConfig(max int) issuer.Config {
	cfg := testConfig()
	cfg.ReuseTokens = true
	cfg.Tokens = issuer.NewTokenCache(max)
	return cfg
}

func issue(t *testing.T, f *fixture, req auth.TokenRequest) *auth.Token {
	t.Helper()
	tok, err := f.issuer.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestReuseBinding: a sender-constrained token is given again only to a
// request bound to the same key, a Bearer token only to a Bearer request.
func TestReuseBinding(t *testing.T) {
	f := newFixture(t, reuseConfig(0))
	a := creds("svc-a", secretA)
	dpop := func(jkt string) auth.TokenRequest { return with(a, func(r *auth.TokenRequest) { r.DPoPJKT = jkt }) }
	cert := func(der string) auth.TokenRequest {
		return with(a, func(r *auth.TokenRequest) { r.ClientCertificate = []byte(der) })
	}

	bearer := issue(t, f, a)
	k1 := issue(t, f, dpop("key-1"))
	c1 := issue(t, f, cert("certificate-1"))
	if bearer.AccessToken == k1.AccessToken || bearer.AccessToken == c1.AccessToken || k1.AccessToken == c1.AccessToken {
		t.Fatal("a Bearer, a DPoP-bound and a certificate-bound request shared a token")
	}
	for _, tc := range []struct {
		name string
		req  auth.TokenRequest
		want *auth.Token
	}{
		{"bearer again", a, bearer},
		{"the same DPoP key", dpop("key-1"), k1},
		{"the same certificate", cert("certificate-1"), c1},
	} {
		if got := issue(t, f, tc.req); got.AccessToken != tc.want.AccessToken || !got.Reused || got.JTI != tc.want.JTI || got.TokenType != tc.want.TokenType {
			t.Errorf("%s: a new token (reused %v, type %s); want the kept one", tc.name, got.Reused, got.TokenType)
		}
	}
	for _, tc := range []struct {
		name string
		req  auth.TokenRequest
	}{
		{"another DPoP key", dpop("key-2")},
		{"another certificate", cert("certificate-2")},
		{"the DPoP key and a certificate", with(dpop("key-1"), func(r *auth.TokenRequest) { r.ClientCertificate = []byte("certificate-1") })},
	} {
		got := issue(t, f, tc.req)
		if got.Reused || got.AccessToken == k1.AccessToken || got.AccessToken == c1.AccessToken || got.AccessToken == bearer.AccessToken {
			t.Errorf("%s: given a token bound to another key", tc.name)
		}
	}
}

// TestReuseNeverAcrossClients: two clients asking for the same scope and
// audience get their own tokens.
func TestReuseNeverAcrossClients(t *testing.T) {
	f := newFixture(t, reuseConfig(0))
	x := issue(t, f, creds("svc-a", secretA))
	y := issue(t, f, creds("svc-long", secretA))
	if x.AccessToken == y.AccessToken {
		t.Fatal("two clients shared a token")
	}
	if again := issue(t, f, creds("svc-long", secretA)); again.AccessToken != y.AccessToken {
		t.Fatal("svc-long was not given its own token again")
	}
}

// TestReuseSettings: the client's own setting wins over the server's, and
// an issuer without a TokenCache reuses nothing.
func TestReuseSettings(t *testing.T) {
	for _, tc := range []struct {
		name          string
		serverDefault bool
		cache         bool
		client        string
		want          bool
	}{
		{"server on, client default", true, true, auth.ReuseDefault, true},
		{"server on, client off", true, true, auth.ReuseOff, false},
		{"server off, client default", false, true, auth.ReuseDefault, false},
		{"server off, client on", false, true, auth.ReuseOn, true},
		{"client on, no cache", false, false, auth.ReuseOn, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ReuseTokens = tc.serverDefault
			if tc.cache {
				cfg.Tokens = issuer.NewTokenCache(0)
			}
			f := newFixture(t, cfg)
			c := testClients()["svc-a"]
			c.TokenReuse = tc.client
			first, err := f.issuer.IssueClient(context.Background(), creds("svc-a", secretA), c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := f.issuer.IssueClient(context.Background(), creds("svc-a", secretA), c)
			if err != nil {
				t.Fatal(err)
			}
			if got := again.AccessToken == first.AccessToken; got != tc.want || again.Reused != tc.want {
				t.Fatalf("given again: %v (Reused %v); want %v", got, again.Reused, tc.want)
			}
		})
	}
}

// TestReuseNotForSignIns: IssueAuthenticated (the console's sign-in) gives
// each sign-in a token of its own.
func TestReuseNotForSignIns(t *testing.T) {
	f := newFixture(t, reuseConfig(0))
	c := testClients()["svc-a"]
	x, err := f.issuer.IssueAuthenticated(context.Background(), c, auth.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	y, err := f.issuer.IssueAuthenticated(context.Background(), c, auth.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if x.AccessToken == y.AccessToken {
		t.Fatal("two sign-ins shared a token")
	}
}

// TestTokenCacheBounds: the cache keeps at most its size in all and
// maxPerClient (8) per client, whatever the requests; one client's many
// combinations replace its own tokens, not other clients'.
func TestTokenCacheBounds(t *testing.T) {
	f := newFixture(t, reuseConfig(20))
	cache := f.issuer.Config().Tokens
	clients := testClients()
	for i := range 30 {
		c := *clients["svc-a"]
		c.ID = fmt.Sprintf("client-%02d", i)
		f.issuer.IssueAuthenticated(context.Background(), &c, auth.TokenRequest{}) // not kept: a sign-in
		if _, err := f.issuer.IssueClient(context.Background(), creds(c.ID, secretA), &c); err != nil {
			t.Fatal(err)
		}
		if n := cache.Len(); n > 20 {
			t.Fatalf("after %d clients the cache holds %d tokens; at most 20", i+1, n)
		}
	}
	if n := cache.Len(); n != 20 {
		t.Fatalf("the cache holds %d tokens; want it full (20)", n)
	}
	cache.Forget("")
	a := clients["svc-a"]
	scopes := []string{"read", "write", "admin", "read write", "write read", "admin read", "read admin", "write admin", "admin write", "read write admin"}
	for _, s := range scopes {
		if _, err := f.issuer.IssueClient(context.Background(), with(creds("svc-a", secretA), func(r *auth.TokenRequest) { r.Scope = s }), a); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.Len(); n != 8 {
		t.Fatalf("one client asking for %d scope combinations: %d kept; want 8", len(scopes), n)
	}
	// The last combination is kept: it replaced the one nearest its half-life.
	req := with(creds("svc-a", secretA), func(r *auth.TokenRequest) { r.Scope = scopes[len(scopes)-1] })
	if tok, _ := f.issuer.IssueClient(context.Background(), req, a); !tok.Reused {
		t.Fatal("the newest combination was not kept")
	}
}

// TestReuseHalfLife: given again while more than half the lifetime is
// left, with what is left as expires_in; signed anew after.
func TestReuseHalfLife(t *testing.T) {
	f := newFixture(t, reuseConfig(0))
	a := creds("svc-a", secretA)
	first := issue(t, f, a)
	f.clock.Advance(testTTL/2 - time.Second)
	if tok := issue(t, f, a); !tok.Reused || tok.ExpiresIn != int64((testTTL/2+time.Second)/time.Second) {
		t.Fatalf("a second before half-life: reused %v, expires_in %d", tok.Reused, tok.ExpiresIn)
	}
	f.clock.Advance(time.Second)
	if tok := issue(t, f, a); tok.Reused || tok.AccessToken == first.AccessToken {
		t.Fatal("at half-life the token was given again")
	}
}
