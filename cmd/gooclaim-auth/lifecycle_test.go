package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/verify"
)

// backends runs fn against the embedded service (one SQLite node, used as
// both "nodes") and against two nodes sharing PostgreSQL and Redis, so that
// every lifecycle feature is tested on both stores and across nodes.
func backends(t *testing.T, fn func(t *testing.T, a, b *testServer)) {
	t.Run("sqlite", func(t *testing.T) {
		ts := startTestServer(t, nil)
		fn(t, ts, ts)
	})
	t.Run("postgres", func(t *testing.T) {
		// One issuer for the fleet, as behind a load balancer.
		f := startFleet(t, 2, nil, func(c *serveConfig) { c.issuer = "https://auth.fleet.test" })
		fn(t, f.nodes[0], f.nodes[1])
	})
}

// createOn creates a client through the CLI and waits until every node has it.
func createOn(t *testing.T, nodes []*testServer, args ...string) (id, secret string) {
	t.Helper()
	id, secret = nodes[0].createClient(args...)
	for _, n := range nodes {
		n.waitForClient(id, true)
	}
	return id, secret
}

func (ts *testServer) tokenFor(id, secret string, extra ...string) string {
	ts.t.Helper()
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		body.Set(extra[i], extra[i+1])
	}
	return ts.form(body.Encode()).token(ts.t).AccessToken
}

// operation posts token=… to the introspection or revocation endpoint with
// HTTP Basic client credentials.
func (ts *testServer) operation(path, id, secret, token string) response {
	ts.t.Helper()
	return ts.do("POST", path, "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode(), "Authorization", basicAuth(id, secret))
}

func introspection(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %d %s", r.StatusCode, r.body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("introspection Cache-Control %q, want no-store", cc)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("introspection body %s: %v", r.body, err)
	}
	return m
}

func TestIntrospectionAndRevocation(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		id, secret := createOn(t, nodes, "--name", "svc", "--scope", "claims:read claims:write")
		// A resource server that introspects needs a higher limit than the default 60/1m.
		rs, rsSecret := createOn(t, nodes, "--name", "resource-server", "--scope", auth.ScopeIntrospect, "--rate-limit", "10000/1m")
		other, otherSecret := createOn(t, nodes, "--name", "other", "--scope", "claims:read")

		tok := a.tokenFor(id, secret, "scope", "claims:read")
		m := introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, tok))
		if m["active"] != true || m["client_id"] != id || m["sub"] != id || m["scope"] != "claims:read" || m["token_type"] != "Bearer" ||
			m["iss"] != a.srv.Issuer() || m["aud"] != "https://api.gooclaim.com" || m["jti"] == nil || m["exp"] == nil || m["iat"] == nil {
			t.Fatalf("introspection of a fresh token on the other node: %v", m)
		}

		// The caller must authenticate, and hold auth:introspect.
		r := b.do("POST", "/v1/auth/introspect", "application/x-www-form-urlencoded", "token="+tok)
		if code, _ := r.errorBody(t); r.StatusCode != 401 || code != "invalid_client" {
			t.Errorf("introspection without client authentication: %d %s", r.StatusCode, r.body)
		}
		r = b.operation("/v1/auth/introspect", rs, "wrong", tok)
		if code, _ := r.errorBody(t); r.StatusCode != 401 || code != "invalid_client" || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("introspection with a wrong secret by Basic: %d %s (challenge %q)", r.StatusCode, r.body, r.Header.Get("WWW-Authenticate"))
		}
		r = b.operation("/v1/auth/introspect", other, otherSecret, tok)
		if code, desc := r.errorBody(t); r.StatusCode != 403 || code != "unauthorized_client" || !strings.Contains(desc, auth.ScopeIntrospect) {
			t.Errorf("introspection by a client without %s: %d %s", auth.ScopeIntrospect, r.StatusCode, r.body)
		}
		r = b.do("POST", "/v1/auth/introspect", "application/x-www-form-urlencoded", "", "Authorization", basicAuth(rs, rsSecret))
		if code, desc := r.errorBody(t); r.StatusCode != 400 || code != "invalid_request" || !strings.Contains(desc, "token") {
			t.Errorf("introspection without a token: %d %s", r.StatusCode, r.body)
		}
		if r := b.do("GET", "/v1/auth/introspect", "", ""); r.StatusCode != 405 {
			t.Errorf("GET introspect: %d", r.StatusCode)
		}

		// Junk and foreign tokens are inactive, and say nothing more.
		for _, junk := range []string{"junk", tok[:len(tok)-4] + "AAAA", strings.Join(strings.Split(tok, ".")[:2], ".") + "."} {
			if m := introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, junk)); len(m) != 1 || m["active"] != false {
				t.Errorf("introspection of junk: %v, want exactly {active:false}", m)
			}
		}

		// Revoking another client's token: 200 and nothing happens (RFC 7009 §2.1).
		if r := a.operation("/v1/auth/revoke", other, otherSecret, tok); r.StatusCode != 200 {
			t.Fatalf("revoking another client's token: %d %s, want 200", r.StatusCode, r.body)
		}
		if m := introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, tok)); m["active"] != true {
			t.Fatal("another client revoked the token")
		}
		if r := a.operation("/v1/auth/revoke", other, otherSecret, "junk"); r.StatusCode != 200 {
			t.Errorf("revoking junk: %d, want 200", r.StatusCode)
		}
		// Its own, on node A; inactive on node B at once (read from the shared store).
		if r := a.operation("/v1/auth/revoke", id, secret, tok); r.StatusCode != 200 || len(r.body) != 0 {
			t.Fatalf("revoking its own token: %d %q", r.StatusCode, r.body)
		}
		if m := introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, tok)); len(m) != 1 || m["active"] != false {
			t.Fatalf("a token revoked on node A is %v on node B", m)
		}
		if r := a.operation("/v1/auth/revoke", id, "wrong", tok); r.StatusCode != 401 {
			t.Errorf("revocation with a wrong secret: %d, want 401", r.StatusCode)
		}

		// Revoke-all from the CLI, and disabling, end every token of the client.
		tok2 := a.tokenFor(id, secret)
		time.Sleep(1100 * time.Millisecond) // iat has a resolution of one second
		if _, errOut, code := a.cli("", "clients", "revoke-tokens", id); code != 0 {
			t.Fatalf("clients revoke-tokens: %s", errOut)
		}
		waitUntil(t, func() bool {
			return introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, tok2))["active"] == false
		})
		time.Sleep(1100 * time.Millisecond)
		tok3 := a.tokenFor(id, secret)
		if m := introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, tok3)); m["active"] != true {
			t.Fatalf("a token issued after revoke-tokens is %v", m)
		}
		if _, errOut, code := a.cli("", "clients", "disable", id); code != 0 {
			t.Fatal(errOut)
		}
		waitUntil(t, func() bool {
			return introspection(t, b.operation("/v1/auth/introspect", rs, rsSecret, tok3))["active"] == false
		})

		// Every revocation is in the audit trail.
		events, err := a.srv.Store().AuditEvents(context.Background(), auth.AuditQuery{Action: auth.ActionTokenRevoke})
		if err != nil || len(events) != 1 || events[0].Actor != "client:"+id {
			t.Errorf("audit of the revocation: %+v, %v; want one event by client:%s", events, err, id)
		}
	})
}

func TestDiscoveryListsLifecycleEndpoints(t *testing.T) {
	ts := startTestServer(t, nil)
	r := ts.do("GET", "/.well-known/oauth-authorization-server", "", "")
	var md map[string]any
	if err := json.Unmarshal(r.body, &md); err != nil {
		t.Fatal(err)
	}
	iss := ts.srv.Issuer()
	if md["introspection_endpoint"] != iss+"/v1/auth/introspect" || md["revocation_endpoint"] != iss+"/v1/auth/revoke" {
		t.Errorf("metadata endpoints: %v", md)
	}
	methods, _ := json.Marshal(md["token_endpoint_auth_methods_supported"])
	if string(methods) != `["client_secret_basic","client_secret_post","private_key_jwt"]` {
		t.Errorf("token_endpoint_auth_methods_supported %s", methods)
	}
	algs, _ := json.Marshal(md["token_endpoint_auth_signing_alg_values_supported"])
	if strings.Contains(string(algs), "none") || strings.Contains(string(algs), "HS") || !strings.Contains(string(algs), "ES256") {
		t.Errorf("token_endpoint_auth_signing_alg_values_supported %s", algs)
	}
}

// TestVerifyKitOnlineCheck: a resource server using the verification kit
// with introspection refuses a revoked token within its cache time.
func TestVerifyKitOnlineCheck(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read")
	rs, rsSecret := ts.createClient("--name", "api", "--scope", auth.ScopeIntrospect)
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{
		Issuer: ts.srv.Issuer(), Audience: "https://api.gooclaim.com",
		Introspection: &verify.Introspection{ClientID: rs, ClientSecret: rsSecret, CacheTTL: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := ts.tokenFor(id, secret)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("a fresh token: %v", err)
	}
	if r := ts.operation("/v1/auth/revoke", id, secret, tok); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	waitUntil(t, func() bool { _, err := v.Verify(ctx, tok); return err != nil })
	if _, err := v.Verify(ctx, tok); !strings.Contains(err.Error(), "no longer active") {
		t.Errorf("revoked token refused with %v, want it to say it is no longer active", err)
	}
	if st := v.Stats(); st.Introspections < 2 || st.IntrospectionEndpoint != ts.srv.Issuer()+"/v1/auth/introspect" {
		t.Errorf("stats %+v", st)
	}
}

// basicAuth is an HTTP Basic Authorization value, each part form-url-encoded
// first (RFC 6749 §2.3.1).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// TestTokenEventsAreLogged: issuance and failed authentication are
// structured log events with client_id, jti, scope, remote address and
// outcome — on the request line, or on their own with --no-request-log —
// and never the secret or the token.
func TestTokenEventsAreLogged(t *testing.T) {
	for _, noRequestLog := range []bool{false, true} {
		t.Run(map[bool]string{false: "request log", true: "no request log"}[noRequestLog], func(t *testing.T) {
			ts := startTestServer(t, nil, func(c *serveConfig) { c.noRequestLog = noRequestLog })
			id, secret := ts.createClient("--name", "svc", "--scope", "claims:read")
			tok := ts.tokenFor(id, secret)
			ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"gcs_wrong"}}.Encode())
			var claims struct {
				JTI string `json:"jti"`
			}
			payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			json.Unmarshal(payload, &claims)

			var issued, refused map[string]any
			waitUntil(t, func() bool {
				issued, refused = nil, nil
				for line := range strings.SplitSeq(ts.logs.String(), "\n") {
					var m map[string]any
					if json.Unmarshal([]byte(line), &m) != nil {
						continue
					}
					switch m["event"] {
					case "token.issued":
						issued = m
					case "token.refused":
						refused = m
					}
				}
				return issued != nil && refused != nil
			})
			if issued["client_id"] != id || issued["jti"] != claims.JTI || claims.JTI == "" || issued["scope"] != "claims:read" ||
				issued["outcome"] != "issued" || issued["remote"] != "127.0.0.1" || issued["auth_method"] != "client_secret_post" {
				t.Errorf("issuance event %v", issued)
			}
			if refused["client_id"] != id || refused["outcome"] != "invalid_client" || refused["remote"] != "127.0.0.1" {
				t.Errorf("failed authentication event %v", refused)
			}
			if logs := ts.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, tok) || strings.Contains(logs, "gcs_wrong") {
				t.Error("the log holds a secret or a token")
			}
		})
	}
}

// TestPerClientPolicy: the policy set with the CLI is enforced by the token
// endpoint on every node: allowed methods, scopes, audiences, TTL.
func TestPerClientPolicy(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		id, secret := createOn(t, nodes, "--name", "basic-only", "--scope", "claims:read", "--auth-method", "client_secret_basic",
			"--token-ttl", "15m", "--audience", "https://partner-api.example", "--metadata", "owner=claims-team")
		post := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
		r := b.form(post)
		if code, desc := r.errorBody(t); r.StatusCode != 401 || code != "invalid_client" || !strings.Contains(desc, "client_secret_post") {
			t.Errorf("body secret for a Basic-only client: %d %s", r.StatusCode, r.body)
		}
		r = b.form("grant_type=client_credentials", "Authorization", basicAuth(id, secret))
		tok := r.token(t)
		if tok.ExpiresIn != 900 {
			t.Errorf("expires_in %d, want the client's 15m", tok.ExpiresIn)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
		var claims map[string]any
		json.Unmarshal(payload, &claims)
		if claims["aud"] != "https://partner-api.example" {
			t.Errorf("aud %v, want the client's default audience", claims["aud"])
		}
		// Allow the body method too, from the CLI: every node follows.
		if _, errOut, code := a.cli("", "clients", "update", id, "--auth-method", "client_secret_basic", "--auth-method", "client_secret_post"); code != 0 {
			t.Fatal(errOut)
		}
		waitUntil(t, func() bool { return b.form(post).StatusCode == 200 })
	})
}
