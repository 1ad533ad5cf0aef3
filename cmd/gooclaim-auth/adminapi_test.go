package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
)

// TestAdminAPIWithRealTokens: the admin API accepts only this server's own
// access tokens for the admin audience with the scope auth:admin, checked as
// a resource server would, plus revocation; the audit trail names the admin
// client.
func TestAdminAPIWithRealTokens(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		// Bootstrap: the first admin client, straight into the database.
		adminID, adminSecret := createOn(t, nodes, "--name", "ops", "--scope", auth.ScopeAdmin, "--audience", auth.AdminAudience)
		plainID, plainSecret := createOn(t, nodes, "--name", "svc", "--scope", "claims:read")
		adminTok := a.tokenFor(adminID, adminSecret)

		get := func(ts *testServer, path, token string) response {
			t.Helper()
			if token == "" {
				return ts.do("GET", path, "", "")
			}
			return ts.do("GET", path, "", "", "Authorization", "Bearer "+token)
		}

		// A token from node A works on node B.
		r := get(b, "/v1/admin/clients?limit=10", adminTok)
		if r.StatusCode != 200 {
			t.Fatalf("GET /v1/admin/clients with an admin token: %d %s", r.StatusCode, r.body)
		}
		var page struct {
			Clients []struct {
				ClientID string `json:"client_id"`
			} `json:"clients"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Clients) != 2 {
			t.Fatalf("client list %s: %v", r.body, err)
		}

		// Refusals, each with an RFC 6750 challenge and the Error shape.
		plainTok := a.tokenFor(plainID, plainSecret)
		for _, tc := range []struct {
			name, token string
			status      int
			code        string
		}{
			{"no token", "", 401, ""},
			{"junk", "junk", 401, "invalid_token"},
			{"a token for another audience", plainTok, 401, "invalid_token"},
			{"tampered", adminTok[:len(adminTok)-6] + "AAAAAA", 401, "invalid_token"},
		} {
			r := get(b, "/v1/admin/clients", tc.token)
			ch := r.Header.Get("WWW-Authenticate")
			if r.StatusCode != tc.status || !strings.HasPrefix(ch, "Bearer") || (tc.code != "" && !strings.Contains(ch, `error="`+tc.code+`"`)) {
				t.Errorf("%s: %d, WWW-Authenticate %q; want %d %s", tc.name, r.StatusCode, ch, tc.status, tc.code)
			}
			var e map[string]any
			if json.Unmarshal(r.body, &e) != nil || e["error"] == nil {
				t.Errorf("%s: body %s is not the Error shape", tc.name, r.body)
			}
		}

		// A client with the admin audience but without the scope: 403.
		noScope, noScopeSecret := createOn(t, nodes, "--name", "auditor", "--scope", "claims:read", "--audience", auth.AdminAudience)
		r = get(b, "/v1/admin/clients", a.tokenFor(noScope, noScopeSecret))
		if r.StatusCode != 403 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("admin audience without auth:admin: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}

		// Create a client over the API; it can get a token; the audit names the admin.
		r = b.do("POST", "/v1/admin/clients", "application/json", `{"name":"made-by-api","scopes":["claims:read"],"metadata":{"owner":"claims-team"}}`, "Authorization", "Bearer "+adminTok)
		if r.StatusCode != 201 {
			t.Fatalf("POST /v1/admin/clients: %d %s", r.StatusCode, r.body)
		}
		var created struct {
			Client struct {
				ClientID string `json:"client_id"`
			} `json:"client"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal(r.body, &created); err != nil || created.ClientSecret == "" {
			t.Fatalf("created %s: %v", r.body, err)
		}
		for _, n := range nodes {
			n.waitForClient(created.Client.ClientID, true)
		}
		a.tokenFor(created.Client.ClientID, created.ClientSecret)

		r = get(a, "/v1/admin/audit?target_id="+created.Client.ClientID, adminTok)
		var audit struct {
			Events []struct {
				Actor  string `json:"actor"`
				Action string `json:"action"`
				Remote string `json:"remote_addr"`
			} `json:"events"`
		}
		if err := json.Unmarshal(r.body, &audit); err != nil || len(audit.Events) != 1 ||
			audit.Events[0].Actor != "client:"+adminID || audit.Events[0].Action != auth.ActionClientCreate || audit.Events[0].Remote == "" {
			t.Errorf("audit of the API's create: %s (%v)", r.body, err)
		}
		if strings.Contains(string(r.body), created.ClientSecret) || strings.Contains(string(r.body), "sha256:") {
			t.Error("the audit trail shows a secret or its hash")
		}
		if r := a.do("DELETE", "/v1/admin/audit", "", "", "Authorization", "Bearer "+adminTok); r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE /v1/admin/audit: %d, want 405", r.StatusCode)
		}

		// Revoking the admin token (RFC 7009) shuts it out of the API at once, on every node.
		if r := a.operation("/v1/auth/revoke", adminID, adminSecret, adminTok); r.StatusCode != 200 {
			t.Fatal(r.StatusCode)
		}
		if r := get(b, "/v1/admin/clients", adminTok); r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("a revoked admin token: %d %s", r.StatusCode, r.body)
		}
		// Disabling the admin client ends its other tokens too.
		tok2 := a.tokenFor(adminID, adminSecret)
		if _, errOut, code := a.cli("", "clients", "disable", adminID); code != 0 {
			t.Fatal(errOut)
		}
		waitUntil(t, func() bool { return get(b, "/v1/admin/clients", tok2).StatusCode == 401 })
	})
}

// TestAdminAPIBehindAPathPrefix: with an issuer that has a path (a proxy
// strips it before the request reaches the node), the admin API still
// verifies its tokens against the node's own metadata and keys.
func TestAdminAPIBehindAPathPrefix(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.issuer = "https://gateway.example/auth" })
	id, secret := ts.createClient("--name", "ops", "--admin")
	tok := ts.tokenFor(id, secret)
	if r := ts.do("GET", "/v1/admin/clients", "", "", "Authorization", "Bearer "+tok); r.StatusCode != 200 {
		t.Fatalf("admin API with issuer https://gateway.example/auth: %d %s", r.StatusCode, r.body)
	}
}
