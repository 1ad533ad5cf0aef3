package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
)

const testIssuerJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k8s-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`

// TestIssuersCLI: issuers add, list, show, update and remove, and clients
// bound to them with --federated, on a running server's database; the
// server's replica sees each change.
func TestIssuersCLI(t *testing.T) {
	ts := startTestServer(t, nil)
	jwksFile := filepath.Join(t.TempDir(), "k8s.jwks.json")
	if err := os.WriteFile(jwksFile, []byte(testIssuerJWKS), 0o600); err != nil {
		t.Fatal(err)
	}
	fails := func(want string, args ...string) {
		t.Helper()
		_, errOut, code := ts.cli("", args...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, %q; want a failure saying %q", args, code, errOut, want)
		}
	}

	out := ts.mustCLI("", "issuers", "add", "k8s", "--issuer", "https://kubernetes.default.svc.cluster.local", "--jwks-file", jwksFile, "--max-token-age", "30m")
	if !strings.Contains(out, "Trusted issuer k8s added") || !strings.Contains(out, "JWK Set, 1 key(s)") || !strings.Contains(out, "30m") {
		t.Errorf("issuers add printed:\n%s", out)
	}
	waitUntil(t, func() bool {
		return ts.srv.Replica().IssuerByURL("https://kubernetes.default.svc.cluster.local") != nil
	})
	var view map[string]any
	out = ts.mustCLI("", "issuers", "add", "github", "--issuer", "https://token.actions.githubusercontent.com", "--audience", "https://auth.example.com", "-o", "json")
	if err := json.Unmarshal([]byte(out), &view); err != nil || view["name"] != "github" || view["audience"] != "https://auth.example.com" || view["disabled"] != false {
		t.Errorf("issuers add -o json = %s, %v", out, err)
	}

	fails(`a trusted issuer named "k8s" already exists`, "issuers", "add", "k8s", "--issuer", "https://other.example.com")
	fails(`already trusted as "k8s"`, "issuers", "add", "k8s-2", "--issuer", "https://kubernetes.default.svc.cluster.local", "--jwks-file", jwksFile)
	fails("plain http", "issuers", "add", "dev", "--issuer", "http://dev.example.com")
	fails(`issuer name "K8S"`, "issuers", "add", "K8S", "--issuer", "https://k.example.com")
	fails("between 1m and 24h", "issuers", "add", "x", "--issuer", "https://x.example.com", "--max-token-age", "2d")
	fails("give one", "issuers", "add", "x", "--issuer", "https://x.example.com", "--jwks-file", jwksFile, "--jwks-uri", "https://x.example.com/k")
	ts.mustCLI("", "issuers", "add", "dev", "--issuer", "http://127.0.0.1:9", "--allow-http-jwks-uri", "--allow-private-addresses")

	out = ts.mustCLI("", "issuers", "list")
	for _, want := range []string{"NAME", "dev", "github", "k8s", "discovery", "jwks", "30m", "1h"} {
		if !strings.Contains(out, want) {
			t.Errorf("issuers list lacks %q:\n%s", want, out)
		}
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(ts.mustCLI("", "issuers", "list", "-o", "json")), &list); err != nil || len(list) != 3 || list[0]["name"] != "dev" {
		t.Errorf("issuers list -o json = %v, %v", list, err)
	}
	if out = ts.mustCLI("", "issuers", "show", "github"); !strings.Contains(out, "OpenID discovery (https://token.actions.githubusercontent.com/.well-known/openid-configuration)") {
		t.Errorf("issuers show github:\n%s", out)
	}
	fails(`trusted issuer "nope" not found`, "issuers", "show", "nope")

	// Updates: keys source, audience, age, disable, enable.
	out = ts.mustCLI("", "issuers", "update", "k8s", "--jwks-uri", "https://k8s.example.com/openid/v1/jwks", "--audience", "https://auth.example.com", "--max-token-age", "default", "--disable", "-o", "json")
	if err := json.Unmarshal([]byte(out), &view); err != nil || view["jwks"] != nil || view["jwks_uri"] != "https://k8s.example.com/openid/v1/jwks" || view["disabled"] != true || view["max_token_age"] != nil {
		t.Errorf("issuers update -o json = %s, %v", out, err)
	}
	waitUntil(t, func() bool {
		ti := ts.srv.Replica().IssuerByURL("https://kubernetes.default.svc.cluster.local")
		return ti != nil && ti.Disabled
	})
	out = ts.mustCLI("", "issuers", "update", "k8s", "--discovery", "--audience", "default", "--enable")
	if !strings.Contains(out, "OpenID discovery") || !strings.Contains(out, "enabled") || !strings.Contains(out, "(this server's issuer or token endpoint)") {
		t.Errorf("issuers update --discovery --enable:\n%s", out)
	}
	fails("nothing to change", "issuers", "update", "k8s")
	fails("give one", "issuers", "update", "k8s", "--disable", "--enable")
	fails("give one", "issuers", "update", "k8s", "--discovery", "--jwks-file", jwksFile)
	fails(`the issuer "https://token.actions.githubusercontent.com" is already trusted as "github"`, "issuers", "update", "k8s", "--issuer", "https://token.actions.githubusercontent.com")

	// A secretless client: --federated alone, no secret made.
	sa := "system:serviceaccount:payments:worker"
	out = ts.mustCLI("", "clients", "create", "--name", "worker", "--scope", "claims:read", "--federated", "k8s="+sa, "--exchange-audience", "https://ledger.example.com", "-o", "json")
	var created struct {
		ClientID           string `json:"client_id"`
		ClientSecret       string `json:"client_secret"`
		AllowedAuthMethods []string
		Federated          []struct{ Issuer, Subject string }
		ExchangeAudiences  []string `json:"exchange_audiences"`
		Secrets            []any
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	if created.ClientSecret != "" || len(created.Secrets) != 0 || len(created.Federated) != 1 || created.Federated[0].Subject != sa ||
		!slices.Equal(created.ExchangeAudiences, []string{"https://ledger.example.com"}) || !slices.Equal(toStrings(raw["allowed_auth_methods"]), []string{auth.AuthFederatedJWT}) {
		t.Errorf("clients create --federated -o json = %s", out)
	}
	id := created.ClientID
	waitUntil(t, func() bool {
		c := ts.srv.Replica().FederatedClient("k8s", sa)
		return c != nil && c.ID == id
	})
	out = ts.mustCLI("", "clients", "create", "--name", "worker-2", "--federated", "k8s=system:serviceaccount:payments:batch")
	if !strings.Contains(out, "It has no secret: it authenticates with a token of a trusted issuer") || strings.Contains(out, "client_secret:") {
		t.Errorf("clients create --federated printed:\n%s", out)
	}
	out = ts.mustCLI("", "clients", "show", id)
	for _, want := range []string{"Federated:", "k8s=" + sa, "Exchange audiences:", "https://ledger.example.com", "federated_jwt"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients show lacks %q:\n%s", want, out)
		}
	}
	if out = ts.mustCLI("", "clients", "list"); !strings.Contains(out, "federated") {
		t.Errorf("clients list does not show the federated credential:\n%s", out)
	}

	// Conflicts name the owner; unknown issuers are named.
	fails(`federated identity k8s=`+sa+` is already bound to client "`+id+`"`, "clients", "create", "--name", "thief", "--federated", "k8s="+sa)
	fails(`"nowhere"`, "clients", "create", "--name", "lost", "--federated", "nowhere=x")
	fails("write ISSUER=SUBJECT", "clients", "create", "--name", "bad", "--federated", "k8s")
	fails(`federated_jwt needs federated identities`, "clients", "create", "--name", "bad", "--auth-method", "federated_jwt")

	// Update: add, remove, exchange audiences replaced and cleared.
	ts.mustCLI("", "clients", "update", id, "--federated", "github=repo:acme/app:ref:refs/heads/main", "--exchange-audience", "https://a.example.com", "--exchange-audience", "https://b.example.com")
	v := ts.showJSON(id)
	if fed := v["federated"].([]any); len(fed) != 2 || !slices.Equal(toStrings(v["exchange_audiences"]), []string{"https://a.example.com", "https://b.example.com"}) {
		t.Errorf("after update: %v", v)
	}
	fails("has no federated identity k8s=nobody to remove", "clients", "update", id, "--remove-federated", "k8s=nobody")
	fails("give one", "clients", "update", id, "--exchange-audience", "x", "--no-exchange-audience")
	ts.mustCLI("", "clients", "update", id, "--remove-federated", "k8s="+sa, "--no-exchange-audience")
	v = ts.showJSON(id)
	if fed := v["federated"].([]any); len(fed) != 1 || len(toStrings(v["exchange_audiences"])) != 0 {
		t.Errorf("after removals: %v", v)
	}
	waitUntil(t, func() bool { return ts.srv.Replica().FederatedClient("k8s", sa) == nil })
	fails("could never authenticate", "clients", "update", id, "--remove-federated", "github=repo:acme/app:ref:refs/heads/main")

	// An issuer with clients bound is not removed; the refusal names them.
	fails(`trusted issuer "github" still has 1 federated identities bound (clients "`+id+`")`, "issuers", "remove", "github")
	ts.mustCLI("", "clients", "delete", id)
	if out = ts.mustCLI("", "issuers", "remove", "github"); !strings.Contains(out, "Trusted issuer github removed") {
		t.Errorf("issuers remove printed %q", out)
	}
	fails(`trusted issuer "github" not found`, "issuers", "remove", "github")
	waitUntil(t, func() bool { return ts.srv.Replica().IssuerByURL("https://token.actions.githubusercontent.com") == nil })

	// The audit trail has every issuer change.
	var events []map[string]any
	if err := json.Unmarshal([]byte(ts.mustCLI("", "audit", "--client", "k8s", "-o", "json")), &events); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e["action"].(string))
	}
	if !slices.Equal(actions, []string{auth.ActionIssuerCreate, auth.ActionIssuerUpdate, auth.ActionIssuerUpdate}) {
		t.Errorf("audit of k8s: %v", actions)
	}
}

// toStrings turns a decoded JSON array of strings into a []string.
func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// TestIssuersAdminAPI: the admin API's issuers and federated clients on
// both backends and two nodes: what one node writes, the other's replica
// sees; conflicts name the owner; the audit trail names the admin client.
func TestIssuersAdminAPI(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		adminID, adminSecret := createOn(t, nodes, "--name", "ops", "--scope", auth.ScopeAdmin, "--audience", auth.AdminAudience)
		tok := a.tokenFor(adminID, adminSecret)
		call := func(ts *testServer, method, path, body string) response {
			t.Helper()
			ct := ""
			if body != "" {
				ct = "application/json"
			}
			return ts.do(method, path, ct, body, "Authorization", "Bearer "+tok)
		}
		want := func(r response, status int, what string) {
			t.Helper()
			if r.StatusCode != status {
				t.Fatalf("%s: %d %s; want %d", what, r.StatusCode, r.body, status)
			}
		}

		r := call(a, "POST", "/v1/admin/issuers", `{"name":"k8s","issuer":"https://k8s.example.com","jwks":`+testIssuerJWKS+`,"max_token_age":"1h"}`)
		want(r, 201, "create an issuer")
		if r.Header.Get("Location") != "/v1/admin/issuers/k8s" || !strings.Contains(string(r.body), `"max_token_age":"1h"`) {
			t.Errorf("created: Location %q, body %s", r.Header.Get("Location"), r.body)
		}
		waitUntil(t, func() bool { return b.srv.Replica().IssuerByURL("https://k8s.example.com") != nil })
		r = call(b, "POST", "/v1/admin/issuers", `{"name":"other","issuer":"https://k8s.example.com"}`)
		want(r, 409, "an issuer URL taken")
		if _, d := r.errorBody(t); !strings.Contains(d, `already trusted as "k8s"`) {
			t.Errorf("conflict description %q", d)
		}
		want(call(b, "POST", "/v1/admin/issuers", `{"name":"bad","issuer":"https://x.example.com","jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}`), 400, "a symmetric key")
		want(call(b, "GET", "/v1/admin/issuers/k8s", ""), 200, "show")
		want(call(b, "GET", "/v1/admin/issuers/none", ""), 404, "show a missing one")
		r = call(b, "PATCH", "/v1/admin/issuers/k8s", `{"disabled":true}`)
		want(r, 200, "disable")
		waitUntil(t, func() bool {
			ti := a.srv.Replica().IssuerByURL("https://k8s.example.com")
			return ti != nil && ti.Disabled
		})
		want(call(a, "PATCH", "/v1/admin/issuers/k8s", `{"disabled":false}`), 200, "enable")

		sa := "system:serviceaccount:x:y"
		r = call(a, "POST", "/v1/admin/clients", `{"name":"wl","scopes":["claims:read"],"federated":[{"issuer":"k8s","subject":"`+sa+`"}],"exchange_audiences":["https://ledger"]}`)
		want(r, 201, "a federated client")
		var created struct {
			Client struct {
				ClientID          string   `json:"client_id"`
				ExchangeAudiences []string `json:"exchange_audiences"`
				Secrets           []any    `json:"secrets"`
			} `json:"client"`
			ClientSecret *string `json:"client_secret"`
		}
		if err := json.Unmarshal(r.body, &created); err != nil || created.ClientSecret != nil || len(created.Client.Secrets) != 0 {
			t.Fatalf("federated client created: %s, %v; want no secret", r.body, err)
		}
		id := created.Client.ClientID
		waitUntil(t, func() bool {
			c := b.srv.Replica().FederatedClient("k8s", sa)
			return c != nil && c.ID == id
		})
		r = call(b, "POST", "/v1/admin/clients", `{"name":"thief","federated":[{"issuer":"k8s","subject":"`+sa+`"}]}`)
		want(r, 409, "an identity bound to another")
		if _, d := r.errorBody(t); !strings.Contains(d, `is already bound to client "`+id+`"`) {
			t.Errorf("conflict description %q; want it to name %q", d, id)
		}
		r = call(b, "PATCH", "/v1/admin/clients/"+id, `{"federated":[{"issuer":"none","subject":"s"}]}`)
		want(r, 400, "an unknown issuer")
		if _, d := r.errorBody(t); !strings.Contains(d, `"none"`) {
			t.Errorf("unknown issuer description %q", d)
		}
		r = call(b, "DELETE", "/v1/admin/issuers/k8s", "")
		want(r, 409, "delete a bound issuer")
		if _, d := r.errorBody(t); !strings.Contains(d, id) {
			t.Errorf("delete conflict description %q; want it to name %q", d, id)
		}
		want(call(b, "PATCH", "/v1/admin/clients/"+id, `{"federated":[],"client_secret":"x"}`), 400, "an unknown field")
		// Emptying the identities of a client that has nothing else is refused.
		want(call(b, "PATCH", "/v1/admin/clients/"+id, `{"federated":[]}`), 400, "no credential left")
		want(call(b, "DELETE", "/v1/admin/clients/"+id, ""), 204, "delete the client")
		want(call(a, "DELETE", "/v1/admin/issuers/k8s", ""), 204, "delete the issuer")
		waitUntil(t, func() bool { return b.srv.Replica().IssuerByURL("https://k8s.example.com") == nil })

		r = call(a, "GET", "/v1/admin/audit?target_id=k8s", "")
		want(r, 200, "audit")
		var page struct {
			Events []struct {
				Actor, Action string
				TargetKind    string `json:"target_kind"`
			} `json:"events"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Events) != 4 {
			t.Fatalf("audit of k8s: %s, %v; want 4 events", r.body, err)
		}
		for _, e := range page.Events {
			if e.Actor != "client:"+adminID || e.TargetKind != "issuer" {
				t.Errorf("audit event %+v; want actor client:%s, target kind issuer", e, adminID)
			}
		}
	})
}
