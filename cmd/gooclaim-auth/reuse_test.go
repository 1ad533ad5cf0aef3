package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// Server-side token reuse (issue 19, point 4): a client that reuses its
// tokens gets the same token again — same jti, the remaining expires_in —
// while it has over half its lifetime left, and never once anything it was
// issued under has changed.

// reuseBackends runs fn on one SQLite node and on two PostgreSQL nodes,
// every node reusing tokens by default (serve --reuse-tokens), on a clock
// fn may move — or, with real, on the system clock (clock nil), the one
// the CLI's changes are made on.
func reuseBackends(t *testing.T, real bool, fn func(t *testing.T, clock *authtest.Clock, a, b *testServer)) {
	on := func(c *serveConfig) { c.reuseTokens = true }
	newClock := func() *authtest.Clock {
		if real {
			return nil
		}
		return authtest.NewClock(time.Now().UTC().Truncate(time.Second))
	}
	t.Run("sqlite", func(t *testing.T) {
		clock := newClock()
		var ts *testServer
		if clock == nil {
			ts = startTestServer(t, nil, on)
		} else {
			ts = startTestServer(t, clock, on)
		}
		fn(t, clock, ts, ts)
	})
	t.Run("postgres", func(t *testing.T) {
		clock := newClock()
		f := startFleet(t, 2, clock, on, func(c *serveConfig) { c.issuer = "https://auth.fleet.test" })
		fn(t, clock, f.nodes[0], f.nodes[1])
	})
}

// reuseToken asks ts for a token of (id, secret) and returns it whole.
func (ts *testServer) reuseToken(id, secret string, extra ...string) auth.Token {
	ts.t.Helper()
	return ts.form(tokenBody(id, secret, extra...)).token(ts.t)
}

// TestTokenReuse: the same request gets the same token, with the remaining
// lifetime, until half of it has passed; another scope or audience gets
// another token; each node keeps its own; the reused token is logged as
// such and counts for the rate limit.
func TestTokenReuse(t *testing.T) {
	reuseBackends(t, false, func(t *testing.T, clock *authtest.Clock, a, b *testServer) {
		nodes := []*testServer{a, b}
		id, secret := createOn(t, nodes, "--name", "reuser", "--scope", "claims:read claims:write",
			"--audience", "https://api.one", "--audience", "https://api.two", "--token-ttl", "10m", "--rate-limit", "1000/1m")

		first := a.reuseToken(id, secret)
		clock.Advance(90 * time.Second)
		again := a.reuseToken(id, secret)
		if again.AccessToken != first.AccessToken {
			t.Fatal("the same request 90 s later got a new token; want the first one again")
		}
		if first.ExpiresIn != 600 || again.ExpiresIn != 510 {
			t.Errorf("expires_in %d then %d; want 600 then 510 (what is left of the same token)", first.ExpiresIn, again.ExpiresIn)
		}
		if again.Scope != first.Scope || again.TokenType != "Bearer" {
			t.Errorf("reused token: scope %q type %q; want %q Bearer", again.Scope, again.TokenType, first.Scope)
		}
		jti := claimsOf(t, first.AccessToken)["jti"]
		waitUntil(t, func() bool { // the request log line is written after the answer
			for line := range strings.SplitSeq(a.logs.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["event"] == "token.reused" && m["outcome"] == "reused" && m["jti"] == jti && m["client_id"] == id {
					return true
				}
			}
			return false
		})

		for _, other := range [][]string{{"scope", "claims:read"}, {"resource", "https://api.two"}} {
			if tok := a.reuseToken(id, secret, other...); tok.AccessToken == first.AccessToken {
				t.Errorf("a request with %s=%s got the token issued for another", other[0], other[1])
			}
		}
		if b != a {
			if tok := b.reuseToken(id, secret); tok.AccessToken == first.AccessToken {
				t.Error("node B gave node A's token: each node keeps its own")
			}
		}

		clock.Advance(209 * time.Second) // 299 s of 600: one second short of half
		if tok := a.reuseToken(id, secret); tok.AccessToken != first.AccessToken || tok.ExpiresIn != 301 {
			t.Fatalf("at 299 s of 600: expires_in %d, same token %v; want the same token with 301 s left", tok.ExpiresIn, tok.AccessToken == first.AccessToken)
		}
		clock.Advance(time.Second)
		fresh := a.reuseToken(id, secret)
		if fresh.AccessToken == first.AccessToken || fresh.ExpiresIn != 600 {
			t.Fatalf("at half its lifetime the token was given again (expires_in %d); want a new one of 600 s", fresh.ExpiresIn)
		}
	})
}

// TestTokenReuseEndsWithEveryChange: a token is no longer given again once
// anything it was issued under changes, on every node: all the client's
// tokens revoked, its secret rotated, the client disabled, a scope taken
// away, the client deleted and created again with its ID, the signing key
// revoked, and the token itself revoked (RFC 7009) on the node that keeps
// it (at once) or on another (through the change feed).
func TestTokenReuseEndsWithEveryChange(t *testing.T) {
	reuseBackends(t, true, func(t *testing.T, _ *authtest.Clock, a, b *testServer) {
		nodes := []*testServer{a, b}
		rs, rsSecret := createOn(t, nodes, "--name", "resource-server", "--scope", auth.ScopeIntrospect, "--rate-limit", "10000/1m")
		newClient := func(t *testing.T, name string) (string, string) {
			return createOn(t, nodes, "--name", name, "--scope", "claims:read claims:write", "--rate-limit", "10000/1m")
		}
		// kept returns the token each node gives (id, secret) now, after
		// checking that it is given again.
		kept := func(t *testing.T, id, secret string) map[*testServer]string {
			t.Helper()
			toks := map[*testServer]string{}
			for _, n := range nodes {
				tok := n.reuseToken(id, secret).AccessToken
				if again := n.reuseToken(id, secret).AccessToken; again != tok {
					t.Fatal("the token was not given again before the change")
				}
				toks[n] = tok
			}
			return toks
		}
		// replaced waits until every node gives (id, secret) a token other
		// than the one it kept, and returns node a's.
		replaced := func(t *testing.T, id, secret string, old map[*testServer]string) string {
			t.Helper()
			for _, n := range nodes {
				waitUntil(t, func() bool {
					r := n.form(tokenBody(id, secret))
					return r.StatusCode == http.StatusOK && r.token(t).AccessToken != old[n]
				})
			}
			return a.reuseToken(id, secret).AccessToken
		}

		t.Run("revoke-tokens", func(t *testing.T) {
			id, secret := newClient(t, "revoke-all")
			old := kept(t, id, secret)
			a.mustCLI("", "clients", "revoke-tokens", id)
			time.Sleep(time.Second) // tokens issued within the second of a revoke-all are revoked too
			tok := replaced(t, id, secret, old)
			if a.active(rs, rsSecret, old[a]) || !a.active(rs, rsSecret, tok) {
				t.Error("after revoke-tokens: the old token is active or the new one is not")
			}
		})
		t.Run("rotate-secret", func(t *testing.T) {
			id, secret := newClient(t, "rotated")
			old := kept(t, id, secret)
			var rot struct {
				ClientSecret string `json:"client_secret"`
			}
			json.Unmarshal([]byte(a.mustCLI("", "clients", "rotate-secret", id, "-o", "json")), &rot)
			replaced(t, id, rot.ClientSecret, old)
		})
		t.Run("disable", func(t *testing.T) {
			id, secret := newClient(t, "disabled")
			old := kept(t, id, secret)
			a.mustCLI("", "clients", "disable", id)
			for _, n := range nodes {
				waitUntil(t, func() bool { return n.form(tokenBody(id, secret)).StatusCode == http.StatusUnauthorized })
			}
			a.mustCLI("", "clients", "enable", id)
			replaced(t, id, secret, old)
		})
		t.Run("scope-taken-away", func(t *testing.T) {
			id, secret := newClient(t, "narrowed")
			old := kept(t, id, secret)
			a.mustCLI("", "clients", "update", id, "--scope", "claims:read")
			if tok := replaced(t, id, secret, old); a.active(rs, rsSecret, old[a]) || !a.active(rs, rsSecret, tok) {
				t.Error("after a scope was taken away: the old token is active or the new one is not")
			}
		})
		t.Run("deleted-and-recreated", func(t *testing.T) {
			id, secret := newClient(t, "reborn")
			old := kept(t, id, secret)
			a.mustCLI("", "clients", "delete", id)
			waitGone(nodes, id)
			_, secret2 := createOn(t, nodes, "--client-id", id, "--name", "reborn", "--scope", "claims:read claims:write", "--rate-limit", "10000/1m")
			if tok := replaced(t, id, secret2, old); a.active(rs, rsSecret, old[a]) || !a.active(rs, rsSecret, tok) {
				t.Error("after delete and create: the old incarnation's token is active or the new one is not")
			}
		})
		t.Run("key-revoked", func(t *testing.T) {
			id, secret := newClient(t, "key-drill")
			old := kept(t, id, secret)
			kid, _ := headerOf(t, old[a])["kid"].(string)
			a.mustCLI("", "keys", "rotate")
			a.mustCLI("", "keys", "revoke", "--kid="+kid, "--reason", "drill")
			if tok := replaced(t, id, secret, old); headerOf(t, tok)["kid"] == kid {
				t.Errorf("the token after the key's revocation is signed with it (%s)", kid)
			}
		})
		t.Run("revoked-on-the-node-that-keeps-it", func(t *testing.T) {
			id, secret := newClient(t, "revoked-here")
			old := kept(t, id, secret)
			if r := a.operation("/v1/auth/revoke", id, secret, old[a]); r.StatusCode != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
			}
			if tok := a.reuseToken(id, secret).AccessToken; tok == old[a] {
				t.Fatal("the node that revoked the token gave it again right after")
			}
		})
		t.Run("revoked-on-another-node", func(t *testing.T) {
			id, secret := newClient(t, "revoked-there")
			old := kept(t, id, secret)
			if r := b.operation("/v1/auth/revoke", id, secret, old[a]); r.StatusCode != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
			}
			tok := replaced(t, id, secret, old)
			if a.active(rs, rsSecret, old[a]) || !a.active(rs, rsSecret, tok) {
				t.Error("after RFC 7009 revocation: the old token is active or the new one is not")
			}
		})
	})
}

// TestTokenReuseQuotaAndCondition: a token given again counts against no
// quota (none is issued) but the condition is checked on every request,
// and a client whose claims depend on the request is never given another
// request's token.
func TestTokenReuseQuotaAndCondition(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Hour).Add(10 * time.Minute)
	clock := authtest.NewClock(start)
	ts := startTestServer(t, clock, func(c *serveConfig) { c.reuseTokens = true })

	id, secret := ts.createClient("--name", "quota-1", "--scope", "a b", "--quota", "2/1h")
	tok := ts.reuseToken(id, secret)
	for range 5 {
		if again := ts.reuseToken(id, secret); again.AccessToken != tok.AccessToken {
			t.Fatal("a request for the same token got another")
		}
	}
	ts.reuseToken(id, secret, "scope", "a") // the second token of the hour
	if r := ts.form(tokenBody(id, secret, "scope", "b")); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third new token within a quota of 2/1h: status %d; want 429 (given-again tokens did not count)", r.StatusCode)
	}

	limited, limitedSecret := ts.createClient("--name", "rate-3", "--scope", "a", "--rate-limit", "3/1m")
	for range 3 {
		ts.reuseToken(limited, limitedSecret)
	}
	if r := ts.form(tokenBody(limited, limitedSecret)); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fourth request within 3/1m: status %d; want 429 (given-again tokens count for the rate limit)", r.StatusCode)
	}

	until := clock.Now().Add(time.Minute).Format(time.RFC3339)
	gated, gatedSecret := ts.createClient("--name", "until", "--scope", "a", "--condition", `now < timestamp("`+until+`")`)
	ts.reuseToken(gated, gatedSecret)
	clock.Advance(2 * time.Minute)
	if r := ts.form(tokenBody(gated, gatedSecret)); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a kept token after the condition stopped holding: status %d; want 400 unauthorized_client", r.StatusCode)
	}

	perRequest, prSecret := ts.createClient("--name", "stamped", "--scope", "a", "--claim", `at=string(now)`)
	tok = ts.reuseToken(perRequest, prSecret)
	clock.Advance(time.Second)
	if again := ts.reuseToken(perRequest, prSecret); again.AccessToken == tok.AccessToken {
		t.Fatal("a client whose claim reads now was given a token made for another request")
	}
	constant, cSecret := ts.createClient("--name", "tenant", "--scope", "a", "--metadata", "tenant=acme", "--claim", "tenant=client.metadata.tenant")
	tok = ts.reuseToken(constant, cSecret)
	if again := ts.reuseToken(constant, cSecret); again.AccessToken != tok.AccessToken {
		t.Fatal("a client whose claims read only the client was not given its token again")
	}
}

// TestTokenReuseClientSetting: on a server that does not reuse tokens by
// default, a client created with --reuse-tokens gets its token again and
// one without does not; --reuse-tokens=off on a server that does turns it
// off for that client.
func TestTokenReuseClientSetting(t *testing.T) {
	for _, serverDefault := range []bool{false, true} {
		ts := startTestServer(t, nil, func(c *serveConfig) { c.reuseTokens = serverDefault })
		for _, tc := range []struct {
			flag string
			want bool
		}{{"--reuse-tokens", true}, {"--reuse-tokens=off", false}, {"--reuse-tokens=default", serverDefault}} {
			id, secret := ts.createClient("--name", "setting", "--scope", "a", tc.flag)
			first := ts.reuseToken(id, secret)
			if got := ts.reuseToken(id, secret).AccessToken == first.AccessToken; got != tc.want {
				t.Errorf("server --reuse-tokens=%v, client %s: given again %v; want %v", serverDefault, tc.flag, got, tc.want)
			}
		}
	}
}
