package main

import (
	"encoding/json"
	"testing"

	"github.com/gooclaim/auth"
)

// Attacks across state changes (issue 12): a token must die with the
// client, the right or the incarnation it was issued for, on every node,
// and never come back when the state changes again.

// adminCall sends an admin API request with a Bearer token.
func (ts *testServer) adminCall(method, path, token, body string) response {
	ts.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return ts.do(method, path, ct, body, "Authorization", "Bearer "+token)
}

// active introspects tok on ts with the resource server rs.
func (ts *testServer) active(rs, rsSecret, tok string) bool {
	ts.t.Helper()
	return introspection(ts.t, ts.operation("/v1/auth/introspect", rs, rsSecret, tok))["active"] == true
}

// waitGone deletes nothing: it waits until every node has dropped id.
func waitGone(nodes []*testServer, id string) {
	for _, n := range nodes {
		n.waitForClient(id, false)
	}
}

// TestDeletedClientTokensStayDead reproduces issue 12's first attack: an
// admin token of a deleted client came back to life when a client with
// the same client_id was created again — as a partner without admin
// rights (the token then rotated the signing keys, audited as the
// partner), or with the very same settings (incident response: delete the
// compromised client, recreate it). Each client now has an incarnation
// that its tokens carry; a token of an earlier incarnation is refused by
// the admin API and inactive for introspection, on every node.
func TestDeletedClientTokensStayDead(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		rs, rsSecret := createOn(t, nodes, "--name", "resource-server", "--scope", auth.ScopeIntrospect, "--rate-limit", "10000/1m")
		opsID, opsSecret := createOn(t, nodes, "--name", "ops", "--admin")
		opsTok := a.tokenFor(opsID, opsSecret)

		rootID, rootSecret := createOn(t, nodes, "--client-id", "ops-root", "--name", "ops root", "--admin")
		rootTok := a.tokenFor(rootID, rootSecret)
		for _, n := range nodes {
			if r := n.adminCall("GET", "/v1/admin/clients?limit=1", rootTok, ""); r.StatusCode != 200 {
				t.Fatalf("the admin token before deletion: %d %s", r.StatusCode, r.body)
			}
		}

		// Deleted on node A (through the admin API): refused on every node.
		if r := a.adminCall("DELETE", "/v1/admin/clients/ops-root", opsTok, ""); r.StatusCode != 204 {
			t.Fatalf("DELETE ops-root: %d %s", r.StatusCode, r.body)
		}
		waitGone(nodes, rootID)
		for _, n := range nodes {
			if r := n.adminCall("GET", "/v1/admin/clients?limit=1", rootTok, ""); r.StatusCode != 401 {
				t.Fatalf("the deleted client's admin token: %d %s", r.StatusCode, r.body)
			}
		}

		// Created again, as a partner without admin rights.
		r := b.adminCall("POST", "/v1/admin/clients", opsTok, `{"client_id":"ops-root","name":"partner","scopes":["claims:read"]}`)
		if r.StatusCode != 201 {
			t.Fatalf("recreate ops-root: %d %s", r.StatusCode, r.body)
		}
		for _, n := range nodes {
			n.waitForClient(rootID, true)
			if r := n.adminCall("POST", "/v1/admin/keys/rotate", rootTok, ""); r.StatusCode != 401 {
				t.Fatalf("the deleted client's admin token rotated keys after its ID was reused: %d %s", r.StatusCode, r.body)
			}
			if n.active(rs, rsSecret, rootTok) {
				t.Fatal("introspection: the deleted client's token is active after its ID was reused")
			}
		}

		// Deleted and created again with its admin rights (the same
		// settings as the first one): the old token stays dead, new
		// tokens work.
		if _, errOut, code := a.cli("", "clients", "delete", rootID); code != 0 {
			t.Fatal(errOut)
		}
		waitGone(nodes, rootID)
		_, newSecret := createOn(t, nodes, "--client-id", "ops-root", "--name", "ops root", "--admin")
		fresh := b.tokenFor(rootID, newSecret)
		for _, n := range nodes {
			if r := n.adminCall("GET", "/v1/admin/clients?limit=1", rootTok, ""); r.StatusCode != 401 {
				t.Fatalf("an admin token of the first ops-root works for the third: %d %s", r.StatusCode, r.body)
			}
			if n.active(rs, rsSecret, rootTok) {
				t.Fatal("introspection: a token of the first ops-root is active for the third")
			}
			if r := n.adminCall("GET", "/v1/admin/clients?limit=1", fresh, ""); r.StatusCode != 200 {
				t.Fatalf("the recreated client's own token: %d %s", r.StatusCode, r.body)
			}
			if !n.active(rs, rsSecret, fresh) {
				t.Fatal("introspection: the recreated client's own token is inactive")
			}
		}

		// Disable, revoke every token, delete, recreate: the revoked
		// tokens stay revoked.
		svc, svcSecret := createOn(t, nodes, "--client-id", "claims-importer", "--name", "importer", "--scope", "claims:read")
		svcTok := a.tokenFor(svc, svcSecret)
		for _, step := range [][]string{{"clients", "disable", svc}, {"clients", "revoke-tokens", svc}, {"clients", "delete", svc}} {
			if _, errOut, code := a.cli("", step...); code != 0 {
				t.Fatalf("%v: %s", step, errOut)
			}
		}
		waitGone(nodes, svc)
		createOn(t, nodes, "--client-id", "claims-importer", "--name", "importer", "--scope", "claims:read")
		for _, n := range nodes {
			if n.active(rs, rsSecret, svcTok) {
				t.Fatal("introspection: a revoked token of a deleted client is active again after its ID was reused")
			}
			// Revocation (RFC 7009) by the new client does not see it either.
			if r := n.operation("/v1/auth/revoke", svc, svcSecret, svcTok); r.StatusCode != 401 {
				t.Fatalf("the old secret authenticates the recreated client: %d %s", r.StatusCode, r.body)
			}
		}

		// The tokens say which incarnation they belong to; the client
		// shows its own.
		var view struct {
			Incarnation string `json:"incarnation"`
		}
		r = a.adminCall("GET", "/v1/admin/clients/ops-root", fresh, "")
		if err := json.Unmarshal(r.body, &view); err != nil || r.StatusCode != 200 {
			t.Fatalf("GET ops-root: %d %s", r.StatusCode, r.body)
		}
		if claim := claimsOf(t, fresh)["client_incarnation"]; view.Incarnation == "" || claim != view.Incarnation {
			t.Fatalf("client_incarnation claim %v, the client's incarnation %q", claim, view.Incarnation)
		}
		if claimsOf(t, rootTok)["client_incarnation"] == view.Incarnation {
			t.Fatal("two incarnations of ops-root share one value")
		}
	})
}

// TestRightsTakenAwayEndTheirTokens reproduces issue 12's third attack:
// PATCH removing auth:admin and the admin audience from a client left its
// live admin token working for its whole lifetime. The admin API and
// introspection now require that the client still holds every scope and
// the audience a token carries.
func TestRightsTakenAwayEndTheirTokens(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		rs, rsSecret := createOn(t, nodes, "--name", "resource-server", "--scope", auth.ScopeIntrospect, "--rate-limit", "10000/1m")
		opsID, opsSecret := createOn(t, nodes, "--name", "ops", "--admin")
		opsTok := a.tokenFor(opsID, opsSecret)
		admID, admSecret := createOn(t, nodes, "--name", "contractor", "--admin")
		admTok := a.tokenFor(admID, admSecret)
		if r := b.adminCall("GET", "/v1/admin/clients?limit=1", admTok, ""); r.StatusCode != 200 {
			t.Fatalf("before: %d %s", r.StatusCode, r.body)
		}

		// Admin rights removed on node A: the live token is refused on
		// every node, and inactive.
		r := a.adminCall("PATCH", "/v1/admin/clients/"+admID, opsTok, `{"scopes":["claims:read"],"audiences":["https://api.gooclaim.com"]}`)
		if r.StatusCode != 200 {
			t.Fatalf("PATCH: %d %s", r.StatusCode, r.body)
		}
		for _, n := range nodes {
			waitUntil(t, func() bool { return !hasScope(n.srv.Replica().Lookup(admID), auth.ScopeAdmin) })
			if r := n.adminCall("POST", "/v1/admin/keys/rotate", admTok, ""); r.StatusCode != 401 {
				t.Fatalf("an admin token after its client lost auth:admin: %d %s", r.StatusCode, r.body)
			}
			if n.active(rs, rsSecret, admTok) {
				t.Fatal("introspection: a token carrying a scope its client no longer holds is active")
			}
		}
		// Given back: a right restored restores the tokens that carry it
		// (the client may have them again; revoke-tokens ends them for good).
		r = a.adminCall("PATCH", "/v1/admin/clients/"+admID, opsTok, `{"scopes":["`+auth.ScopeAdmin+`"],"audiences":["`+auth.AdminAudience+`"]}`)
		if r.StatusCode != 200 {
			t.Fatalf("PATCH back: %d %s", r.StatusCode, r.body)
		}
		waitUntil(t, func() bool { return hasScope(b.srv.Replica().Lookup(admID), auth.ScopeAdmin) })

		// One scope of several removed: tokens carrying it die, tokens
		// without it live; an audience removed ends the tokens for it.
		svc, svcSecret := createOn(t, nodes, "--name", "svc", "--scope", "claims:read claims:write",
			"--audience", "https://api.gooclaim.com", "--audience", "https://billing.gooclaim.com")
		both := a.tokenFor(svc, svcSecret)
		readOnly := a.tokenFor(svc, svcSecret, "scope", "claims:read")
		billing := a.tokenFor(svc, svcSecret, "scope", "claims:read", "resource", "https://billing.gooclaim.com")
		if _, errOut, code := a.cli("", "clients", "update", svc, "--scope", "claims:read", "--audience", "https://api.gooclaim.com"); code != 0 {
			t.Fatal(errOut)
		}
		for _, n := range nodes {
			waitUntil(t, func() bool { return !hasScope(n.srv.Replica().Lookup(svc), "claims:write") })
			if n.active(rs, rsSecret, both) {
				t.Error("a token with a scope taken away is active")
			}
			if n.active(rs, rsSecret, billing) {
				t.Error("a token for an audience taken away is active")
			}
			if !n.active(rs, rsSecret, readOnly) {
				t.Error("a token with only the scope and audience the client still holds is inactive")
			}
		}
	})
}

// TestDisableEndsTokensForGood: disabling a client used to hide its tokens
// only while it stayed disabled: enabling it again (after rotating the
// secret an attacker had, say) brought the stolen tokens back. Disabling
// now revokes every token the client holds.
func TestDisableEndsTokensForGood(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		rs, rsSecret := createOn(t, nodes, "--name", "resource-server", "--scope", auth.ScopeIntrospect, "--rate-limit", "10000/1m")
		id, secret := createOn(t, nodes, "--name", "svc", "--scope", "claims:read")
		stolen := a.tokenFor(id, secret)
		first := a.srv.Replica().Lookup(id).Secrets[0].ID
		for _, step := range []string{"disable", "rotate-secret", "enable"} {
			if _, errOut, code := a.cli("", "clients", step, id); code != 0 {
				t.Fatalf("clients %s: %s", step, errOut)
			}
		}
		for _, n := range nodes {
			waitUntil(t, func() bool {
				c := n.srv.Replica().Lookup(id)
				return c != nil && !c.Disabled && c.Secrets[len(c.Secrets)-1].ID != first
			})
			if n.active(rs, rsSecret, stolen) {
				t.Fatal("a token issued before the client was disabled is active again after it was enabled")
			}
		}
	})
}

func hasScope(c *auth.Client, scope string) bool {
	if c == nil {
		return false
	}
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}
