package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/verify"
)

// jwksKIDs returns the kids of the node's published JWK Set.
func (ts *testServer) jwksKIDs() []string {
	ts.t.Helper()
	var kids []string
	for _, k := range fetchJWKS(ts.t, ts).Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// activeKID is the kid `keys list` shows as active.
func (ts *testServer) activeKID() string {
	ts.t.Helper()
	out, errOut, code := ts.cli("", "keys", "list", "-o", "json")
	if code != 0 {
		ts.t.Fatalf("keys list: exit %d: %s", code, errOut)
	}
	var keys []struct{ KID, State string }
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		ts.t.Fatalf("keys list -o json printed %q: %v", out, err)
	}
	for _, k := range keys {
		if k.State == "active" {
			return k.KID
		}
	}
	ts.t.Fatalf("no active key in %s", out)
	return ""
}

// TestKeyRevoke is the key-compromise drill, on SQLite and on a two-node
// PostgreSQL fleet: `keys revoke` on the active key removes it from the
// JWK Set of every node, a new key signs at once, introspection refuses the
// revoked key's tokens at once, and a verify.Verifier that cached the old
// JWK Set keeps accepting them until its cache lifetime (the JWKS max-age,
// 5 minutes) has passed and it has refetched — then refuses them. A second
// revocation through the admin API does the same and both are audited.
func TestKeyRevoke(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		ctx := context.Background()
		nodes := []*testServer{a, b}
		id, secret := createOn(t, nodes, "--name", "svc", "--scope", "claims:read")
		rs, rsSecret := createOn(t, nodes, "--name", "api", "--scope", auth.ScopeIntrospect)
		old := a.activeKID()
		tok := a.tokenFor(id, secret)
		if kid := headerOf(t, tok)["kid"]; kid != old {
			t.Fatalf("token signed by %v, want the active key %s", kid, old)
		}

		// A resource server whose clock the test moves.
		var skew atomic.Int64
		v, err := verify.New(ctx, verify.Config{
			Issuer: a.srv.Issuer(), Audience: "https://api.gooclaim.com",
			JWKSURL: b.url + "/.well-known/jwks.json",
			Now:     func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}

		out, errOut, code := a.cli("", "keys", "revoke", "--kid="+old, "--reason", "drill: key material leaked", "-o", "json")
		if code != 0 {
			t.Fatalf("keys revoke: exit %d: %s", code, errOut)
		}
		var res struct {
			Revoked     struct{ KID, State string }
			Replacement *struct {
				KID         string
				SigningFrom time.Time `json:"signing_from"`
			}
			Reason string
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Revoked.KID != old || res.Revoked.State != "active" ||
			res.Replacement == nil || res.Reason != "drill: key material leaked" {
			t.Fatalf("keys revoke -o json printed %s (%v)", out, err)
		}
		if d := time.Since(res.Replacement.SigningFrom); d < 0 || d > time.Minute {
			t.Errorf("the replacement signs from %v, want now", res.Replacement.SigningFrom)
		}
		// Every node: the kid leaves the JWKS, the replacement signs.
		for _, n := range nodes {
			waitUntil(t, func() bool {
				kids := n.jwksKIDs()
				return !slices.Contains(kids, old) && slices.Contains(kids, res.Replacement.KID)
			})
			if kid := headerOf(t, n.tokenFor(id, secret))["kid"]; kid != res.Replacement.KID {
				t.Errorf("%s signs with %v after the revocation, want %s", n.url, kid, res.Replacement.KID)
			}
			if m := introspection(t, n.operation("/v1/auth/introspect", rs, rsSecret, tok)); m["active"] != false || len(m) != 1 {
				t.Errorf("%s: introspection of a token of the revoked key: %v, want exactly {active:false}", n.url, m)
			}
		}

		// The verifier's cached JWK Set still holds the revoked key.
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("a verifier with a cached JWK Set refused at once (%v); the documented behaviour is to accept until its cache expires", err)
		}
		// After the cache lifetime (max-age 300 s), the next Verify starts a
		// refresh (and is still answered from the cache); once it is done,
		// the token is refused.
		fetches := v.Stats().Fetches
		skew.Store(int64(5*time.Minute + time.Second))
		v.Verify(ctx, tok)
		waitUntil(t, func() bool { return v.Stats().Fetches > fetches && !v.Stats().LastFetch.IsZero() })
		waitUntil(t, func() bool { _, err := v.Verify(ctx, tok); return err != nil })
		if _, err := v.Verify(ctx, tok); !strings.Contains(err.Error(), "unknown key ID") {
			t.Errorf("after the refresh the token is refused with %v, want an unknown key ID", err)
		}
		if _, err := v.Verify(ctx, b.tokenFor(id, secret)); err != nil {
			t.Errorf("a token of the replacement key: %v", err)
		}

		// The same through the admin API on the other node.
		adminID, adminSecret := createOn(t, nodes, "--name", "ops", "--admin")
		adminTok := b.tokenFor(adminID, adminSecret, "audience", "urn:gooclaim:auth:admin")
		cur := res.Replacement.KID
		r := b.do("POST", "/v1/admin/keys/"+cur+"/revoke", "application/json", `{"reason":"second drill"}`, "Authorization", "Bearer "+adminTok)
		if r.StatusCode != 200 {
			t.Fatalf("admin revoke: %d %s", r.StatusCode, r.body)
		}
		var api struct {
			Revoked     struct{ KID, State string }
			Replacement *struct{ KID string }
		}
		if err := json.Unmarshal(r.body, &api); err != nil || api.Revoked.KID != cur || api.Replacement == nil {
			t.Fatalf("admin revoke answered %s (%v)", r.body, err)
		}
		for _, n := range nodes {
			waitUntil(t, func() bool {
				kids := n.jwksKIDs()
				return !slices.Contains(kids, cur) && slices.Contains(kids, api.Replacement.KID)
			})
		}
		// The admin token was signed by the revoked key: refused now.
		if r := b.do("GET", "/v1/admin/keys", "", "", "Authorization", "Bearer "+adminTok); r.StatusCode != 401 {
			t.Errorf("an admin token of the revoked key: %d %s, want 401", r.StatusCode, r.body)
		}

		out, errOut, code = a.cli("", "audit", "--action", auth.ActionKeysRevoke, "-o", "json")
		if code != 0 {
			t.Fatalf("audit: exit %d: %s", code, errOut)
		}
		var events []struct {
			Actor  string
			Before json.RawMessage
			After  json.RawMessage
		}
		if err := json.Unmarshal([]byte(out), &events); err != nil || len(events) != 2 {
			t.Fatalf("audit --action keys.revoke: %s (%v), want two events", out, err)
		}
		if !strings.HasPrefix(events[0].Actor, "cli:") || events[1].Actor != "client:"+adminID ||
			!strings.Contains(string(events[0].Before), old) || strings.Contains(string(events[0].After), old) {
			t.Errorf("audit events %s", out)
		}

		// Revoking an unknown key is an error that says so.
		if _, errOut, code := a.cli("", "keys", "revoke", "--kid="+old); code == 0 || !strings.Contains(errOut, "no signing key") {
			t.Errorf("revoking a revoked key: exit %d, %q", code, errOut)
		}
	})
}

// TestKeyRevokeArguments: the kid as the argument or with --kid (a kid is
// base64url and may start with "-"), never both, never neither.
func TestKeyRevokeArguments(t *testing.T) {
	ts := startTestServer(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "revoke"}, "which key?"},
		{[]string{"keys", "revoke", "a", "--kid=b"}, "give the kid once"},
		{[]string{"keys", "revoke", "--kid=-nosuchkey"}, "no signing key"},
		{[]string{"keys", "revoke", "nosuchkey"}, "no signing key"},
	} {
		if _, errOut, code := ts.cli("", tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want a refusal saying %q", tc.args, code, errOut, tc.want)
		}
	}
}
