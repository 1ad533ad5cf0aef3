package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// policiesServer is a server with a default claim, a default quota and
// token reuse on, and an admin token for it.
func policiesServer(t *testing.T) (ts *testServer, bearer []string) {
	t.Helper()
	ts = startTestServer(t, nil, func(c *serveConfig) {
		c.defaultClaims = claimsValue{"region": `"eu"`}
		c.defaultQuotas = quotasValue{{Limit: 10000, Window: 24 * time.Hour}}
		c.reuseTokens = true
		c.reuseMaxTokens = 500
		c.tokenTTL = durationValue(90 * time.Minute)
	})
	adminID, adminSecret := ts.createClient("--name", "ops", "--admin")
	return ts, []string{"Authorization", "Bearer " + ts.tokenFor(adminID, adminSecret)}
}

// evaluation is the answer of POST /v1/admin/policies/evaluate.
type evaluation struct {
	Claims    map[string]any `json:"claims"`
	Condition *bool          `json:"condition"`
	Issuable  bool           `json:"issuable"`
	Request   struct {
		Scope    []string `json:"scope"`
		Audience string   `json:"audience"`
		RemoteIP string   `json:"remote_ip"`
	} `json:"request"`
	Errors []struct {
		Expression string `json:"expression"`
		Error      string `json:"error"`
	} `json:"errors"`
}

// TestPoliciesAPI: GET /v1/admin/policies shows the defaults the server
// was started with; POST /v1/admin/policies/evaluate evaluates a client's
// expressions (or the body's in their place) with the default claims as
// issuance would, refuses what saving a client refuses, and issues,
// counts and audits nothing.
func TestPoliciesAPI(t *testing.T) {
	ts, bearer := policiesServer(t)

	// Admin only: 401 without a token, on both routes.
	if r := ts.do("GET", "/v1/admin/policies", "", ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/admin/policies without a token: %d, want 401", r.StatusCode)
	}
	if r := ts.do("POST", "/v1/admin/policies/evaluate", "application/json", `{"client_id":"x"}`); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /v1/admin/policies/evaluate without a token: %d, want 401", r.StatusCode)
	}

	r := ts.do("GET", "/v1/admin/policies", "", "", bearer...)
	var p struct {
		DefaultClaims  map[string]string `json:"default_claims"`
		DefaultQuotas  []string          `json:"default_quotas"`
		ReuseTokens    bool              `json:"reuse_tokens"`
		ReuseMaxTokens int               `json:"reuse_max_tokens"`
		DefaultTTL     string            `json:"default_token_ttl"`
	}
	if err := json.Unmarshal(r.body, &p); r.StatusCode != 200 || err != nil {
		t.Fatalf("GET /v1/admin/policies: %d %s (%v)", r.StatusCode, r.body, err)
	}
	if p.DefaultClaims["region"] != `"eu"` || len(p.DefaultClaims) != 1 || len(p.DefaultQuotas) != 1 || p.DefaultQuotas[0] != "10000/1d" || !p.ReuseTokens || p.ReuseMaxTokens != 500 ||
		p.DefaultTTL != "1h30m" {
		t.Errorf("GET /v1/admin/policies: %s; want the server's flags: region \"eu\", 10000/1d, reuse on, 500, a lifetime of 1h30m (as --token-ttl takes it)", r.body)
	}

	// A client with one token a day and one request a minute: whatever
	// the evaluations, its first real token request succeeds.
	id, secret := ts.createClient("--name", "tenant-svc", "--scope", "claims:read", "--metadata", "tenant=acme",
		"--claim", "tenant=client.metadata.tenant", "--quota", "1/1d", "--rate-limit", "1/1m")
	events := ts.do("GET", "/v1/admin/audit", "", "", bearer...).body

	evaluate := func(body string) response {
		t.Helper()
		return ts.do("POST", "/v1/admin/policies/evaluate", "application/json", body, bearer...)
	}
	ok := func(body string) evaluation {
		t.Helper()
		r := evaluate(body)
		var e evaluation
		if err := json.Unmarshal(r.body, &e); r.StatusCode != 200 || err != nil {
			t.Fatalf("evaluate %s: %d %s (%v)", body, r.StatusCode, r.body, err)
		}
		return e
	}

	// The client's own claim, and the server's default.
	e := ok(`{"client_id":"` + id + `"}`)
	if e.Claims["tenant"] != "acme" || e.Claims["region"] != "eu" || e.Condition != nil || !e.Issuable || len(e.Errors) != 0 {
		t.Errorf("the client's own expressions: %+v; want tenant acme, region eu, no condition, issuable", e)
	}
	if len(e.Request.Scope) != 1 || e.Request.Scope[0] != "claims:read" || e.Request.Audience != "https://api.gooclaim.com" {
		t.Errorf("the request the expressions saw: %+v; want the client's scope and the default audience", e.Request)
	}

	// The body's claims in place of the stored ones.
	e = ok(`{"client_id":"` + id + `","claims":{"tenant":"client.name + \"-x\""}}`)
	if e.Claims["tenant"] != "tenant-svc-x" || e.Claims["region"] != "eu" {
		t.Errorf("a claim of the body: %v; want tenant tenant-svc-x (not the stored acme), region eu", e.Claims)
	}

	// A condition, true from 10.1.2.3 and false from 192.0.2.1.
	cond := `"condition":"ip_in(request.remote_ip, [\"10.0.0.0/8\"])"`
	for ip, want := range map[string]bool{"10.1.2.3": true, "192.0.2.1": false} {
		e = ok(`{"client_id":"` + id + `",` + cond + `,"request":{"remote_ip":"` + ip + `"}}`)
		if e.Condition == nil || *e.Condition != want || e.Issuable != want || e.Request.RemoteIP != ip {
			t.Errorf("condition from %s: %+v; want %v", ip, e, want)
		}
	}

	// A metadata key the client lacks: a runtime error for that claim
	// alone, and no token would be issued.
	e = ok(`{"client_id":"` + id + `","claims":{"team":"client.metadata.team","tenant":"client.metadata.tenant"}}`)
	if len(e.Errors) != 1 || e.Errors[0].Expression != `claim "team"` || !strings.Contains(e.Errors[0].Error, "no such key") || e.Issuable || e.Claims["tenant"] != "acme" {
		t.Errorf("a missing metadata key: %+v; want one error for claim \"team\" (no such key), tenant still acme, not issuable", e)
	}

	// Refusals, in the Error shape.
	for _, tc := range []struct {
		name, body string
		status     int
		code, want string
	}{
		{"a syntax error", `{"client_id":"` + id + `","claims":{"tenant":"client.metadata."}}`, 400, "invalid_request", `claim "tenant": ERROR: <input>:1:17: Syntax error`},
		{"a registered claim", `{"client_id":"` + id + `","claims":{"iss":"\"x\""}}`, 400, "invalid_request", `claim "iss": a registered claim`},
		{"a condition that is not a bool", `{"client_id":"` + id + `","condition":"client.name"}`, 400, "invalid_request", "condition: the condition is a dyn"},
		{"a bad remote_ip", `{"client_id":"` + id + `","request":{"remote_ip":"nowhere"}}`, 400, "invalid_request", "remote_ip"},
		{"a scope the client may not have", `{"client_id":"` + id + `","request":{"scope":"claims:write"}}`, 400, "invalid_request", `request: scope "claims:write" is not allowed`},
		{"an unknown client", `{"client_id":"gooclaim_app_nosuchclient"}`, 404, "not_found", "gooclaim_app_nosuchclient"},
		{"no client_id", `{}`, 400, "invalid_request", "client_id is required"},
		{"an unknown field", `{"client_id":"` + id + `","claim":{}}`, 400, "invalid_request", "unknown field"},
	} {
		r := evaluate(tc.body)
		code, desc := r.errorBody(t)
		if r.StatusCode != tc.status || code != tc.code || !strings.Contains(desc, tc.want) {
			t.Errorf("%s: %d %s %q; want %d %s containing %q", tc.name, r.StatusCode, code, desc, tc.status, tc.code, tc.want)
		}
	}
	if r := ts.do("POST", "/v1/admin/policies/evaluate", "application/json", `{"client_id":"`+strings.Repeat("a", 1<<20)+`"}`, bearer...); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 1 MiB: %d, want 413", r.StatusCode)
	}

	// Nothing counted, nothing written: the one token of the day and of
	// the minute is still there, and the audit trail did not grow.
	tok := claimsOf(t, ts.tokenFor(id, secret))
	if tok["tenant"] != "acme" || tok["region"] != "eu" {
		t.Errorf("the token's claims %v; want what evaluate said: tenant acme, region eu", tok)
	}
	if after := ts.do("GET", "/v1/admin/audit", "", "", bearer...).body; string(after) != string(events) {
		t.Errorf("evaluate wrote audit events:\nbefore %s\nafter  %s", events, after)
	}
}

// TestPoliciesCLI: policies show reads serve's settings; policies evaluate
// runs the admin service's evaluation against the database, with --claim
// and --condition in place of the client's own, and refuses a bad
// expression naming its position.
func TestPoliciesCLI(t *testing.T) {
	ts := startTestServer(t, nil)
	out, errOut, code := ts.cli("", "policies", "show", "-o", "json", "--default-claim", `region="eu"`, "--default-quota", "10000/1d", "--reuse-tokens")
	var p struct {
		DefaultClaims map[string]string `json:"default_claims"`
		DefaultQuotas []string          `json:"default_quotas"`
		ReuseTokens   bool              `json:"reuse_tokens"`
	}
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || p.DefaultClaims["region"] != `"eu"` || len(p.DefaultQuotas) != 1 || p.DefaultQuotas[0] != "10000/1d" || !p.ReuseTokens {
		t.Errorf("policies show: exit %d, %s %s (%v); want region, 10000/1d, reuse on", code, out, errOut, err)
	}

	id, _ := ts.createClient("--name", "tenant-svc", "--scope", "claims:read", "--metadata", "tenant=acme", "--claim", "tenant=client.metadata.tenant")
	out, errOut, code = ts.cli("", "policies", "evaluate", "--client", id, "--default-claim", `region="eu"`,
		"--claim", `team="x"`, "--condition", `ip_in(request.remote_ip, ["10.0.0.0/8"])`, "--remote-ip", "192.0.2.1")
	var e evaluation
	if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil || e.Claims["team"] != "x" || e.Claims["region"] != "eu" || e.Claims["tenant"] != nil ||
		e.Condition == nil || *e.Condition || e.Issuable {
		t.Errorf("policies evaluate: exit %d, %s %s (%v); want team x and region eu (not the stored tenant), the condition false", code, out, errOut, err)
	}
	_, errOut, code = ts.cli("", "policies", "evaluate", "--client", id, "--claim", "tenant=client.metadata.")
	if code == 0 || !strings.Contains(errOut, `claim "tenant": ERROR: <input>:1:17: Syntax error`) {
		t.Errorf("policies evaluate with a syntax error: exit %d, %q; want the claim and the position", code, errOut)
	}
}
