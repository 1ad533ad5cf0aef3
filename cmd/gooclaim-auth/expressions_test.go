package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// exprBackends is backends with the server's default claims region="eu"
// and tenant="none" on every node.
func exprBackends(t *testing.T, fn func(t *testing.T, a, b *testServer)) {
	defaults := func(c *serveConfig) { c.defaultClaims = claimsValue{"region": `"eu"`, "tenant": `"none"`} }
	t.Run("sqlite", func(t *testing.T) {
		ts := startTestServer(t, nil, defaults)
		fn(t, ts, ts)
	})
	t.Run("postgres", func(t *testing.T) {
		f := startFleet(t, 2, nil, func(c *serveConfig) { c.issuer = "https://auth.fleet.test"; defaults(c) })
		fn(t, f.nodes[0], f.nodes[1])
	})
}

// TestClaimExpressions: a tenant claim from metadata appears in the
// token, the server's default claims apply, a client's own claim
// overrides the default of the same name, and a null value leaves the
// claim out — on SQLite and on two PostgreSQL nodes (created on one,
// issued by the other).
func TestClaimExpressions(t *testing.T) {
	exprBackends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		id, secret := createOn(t, nodes, "--name", "tenant", "--scope", "claims:read", "--metadata", "tenant=acme",
			"--claim", "tenant=client.metadata.tenant", "--claim", "env=has(client.metadata.env) ? client.metadata.env : null",
			"--claim", `scopes=request.scope`)
		c := claimsOf(t, b.tokenFor(id, secret))
		if c["tenant"] != "acme" || c["region"] != "eu" || c["client_id"] != id {
			t.Errorf("token claims %v; want tenant acme (the client's), region eu (the default)", c)
		}
		if _, ok := c["env"]; ok {
			t.Errorf("token claims %v; want no env (its expression was null)", c)
		}
		if s, _ := c["scopes"].([]any); len(s) != 1 || s[0] != "claims:read" {
			t.Errorf("scopes claim %v; want [claims:read]", c["scopes"])
		}

		plain, plainSecret := createOn(t, nodes, "--name", "plain", "--scope", "claims:read")
		if c := claimsOf(t, a.tokenFor(plain, plainSecret)); c["tenant"] != "none" || c["region"] != "eu" {
			t.Errorf("a client without claims: %v; want the defaults tenant none, region eu", c)
		}

		// A runtime error (a metadata key the client lacks): 500 with a
		// generic description, and a log line naming the client and claim.
		broken, brokenSecret := createOn(t, nodes, "--name", "broken", "--claim", "tenant=client.metadata.tenant")
		r := a.form(tokenBody(broken, brokenSecret))
		if code, desc := r.errorBody(t); r.StatusCode != http.StatusInternalServerError || code != "server_error" || strings.Contains(desc, "tenant") {
			t.Errorf("a claim that fails at run time: %d %s %q; want 500 server_error naming nothing", r.StatusCode, code, desc)
		}
		if logs := a.logs.String(); !strings.Contains(logs, `client \"`+broken+`\": claim \"tenant\"`) {
			t.Errorf("the log does not name the client and the claim:\n%s", logs)
		}
	})
}

// TestClaimExpressionsRefused: a registered claim, an expression that
// does not compile (told with its position), a condition that is not a
// bool, and a bad --default-claim at serve start are all refused.
func TestClaimExpressionsRefused(t *testing.T) {
	ts := startTestServer(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--claim", `sub="x"`}, `claim "sub": a registered claim`},
		{[]string{"--claim", `client_incarnation="x"`}, `claim "client_incarnation": a registered claim`},
		{[]string{"--claim", "tenant=clinet.metadata.tenant"}, `claim "tenant": ERROR: <input>:1:1: undeclared reference to 'clinet'`},
		{[]string{"--claim", "tenant=client.metadata."}, `claim "tenant": ERROR: <input>:1:17: Syntax error`},
		{[]string{"--claim", "tenant"}, "use NAME=EXPR"},
		{[]string{"--condition", "client.name"}, "condition: the condition is a dyn; it must be a bool"},
	} {
		_, errOut, code := ts.cli("", append([]string{"clients", "create", "--name", "refused"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("clients create %q: exit %d, %q; want an error containing %q", tc.args, code, errOut, tc.want)
		}
	}
	var v claimsValue
	if err := v.Set("tenant=clinet.x"); err == nil || !strings.Contains(err.Error(), `claim "tenant": ERROR: <input>:1:1: undeclared reference to 'clinet'`) {
		t.Errorf("--default-claim with a bad expression: %v; want the claim and the position", err)
	}
	if err := v.Set(`iss="x"`); err == nil {
		t.Error("--default-claim iss accepted")
	}
}

// TestConditionIPAllowList: a client whose condition allows 10.0.0.0/8
// alone is refused from 127.0.0.1 with 400 unauthorized_client naming no
// rule; once its condition allows loopback, it gets its token.
func TestConditionIPAllowList(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		id, secret := createOn(t, nodes, "--name", "office", "--condition", `ip_in(request.remote_ip, ["10.0.0.0/8"])`)
		r := b.form(tokenBody(id, secret))
		code, desc := r.errorBody(t)
		if r.StatusCode != http.StatusBadRequest || code != "unauthorized_client" || desc != "the client may not obtain a token for this request" {
			t.Fatalf("from outside the allow-list: %d %s %q; want 400 unauthorized_client", r.StatusCode, code, desc)
		}
		loopback := `ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"]) && hour_in(now, "UTC", 0, 24)`
		if _, errOut, code := a.cli("", "clients", "update", id, "--condition", loopback); code != 0 {
			t.Fatalf("clients update --condition: exit %d: %s", code, errOut)
		}
		for _, n := range nodes {
			deadline := time.Now().Add(waitLimit)
			for n.srv.Replica().Lookup(id).Condition != loopback {
				if time.Now().After(deadline) {
					t.Fatal("the node never saw the new condition")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		b.tokenFor(id, secret)
		if out, errOut, code := a.cli("", "clients", "show", id); code != 0 || !strings.Contains(out, "Condition:") {
			t.Errorf("clients show: exit %d, %s %s; want the condition", code, out, errOut)
		}
		if _, errOut, code := a.cli("", "clients", "update", id, "--no-condition"); code != 0 {
			t.Fatalf("clients update --no-condition: exit %d: %s", code, errOut)
		}
	})
}
