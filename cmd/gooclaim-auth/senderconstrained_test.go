package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
)

// TestSenderConstrainedClientsCLI: clients create, update and show with
// the settings of sender-constrained tokens (RFC 9449, RFC 8705), on a
// running server's database; a tls_client_auth-only client has no secret,
// and the server's replica sees each change.
func TestSenderConstrainedClientsCLI(t *testing.T) {
	ts := startTestServer(t, nil)
	fails := func(want string, args ...string) {
		t.Helper()
		_, errOut, code := ts.cli("", args...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, %q; want a failure saying %q", args, code, errOut, want)
		}
	}

	out := ts.mustCLI("", "clients", "create", "--name", "sync", "--scope", "claims:read", "--tls-subject-dn", "CN = sync, O = Gooclaim",
		"--require-certificate-bound-tokens", "--auth-method", "tls_client_auth")
	if !strings.Contains(out, "It has no secret: it authenticates by mutual TLS with its certificate (tls_client_auth).") || strings.Contains(out, "client_secret:") {
		t.Errorf("clients create --tls-subject-dn printed:\n%s", out)
	}
	for _, want := range []string{"TLS client auth:", "subject DN CN=sync,O=Gooclaim", "Require cert-bound:", "yes (every token bound", "Require DPoP:", "none (tls_client_auth only"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients create lacks %q:\n%s", want, out)
		}
	}
	id := strings.Fields(out[strings.Index(out, "client_id:"):])[1]
	waitUntil(t, func() bool {
		c := ts.srv.Replica().Lookup(id)
		return c != nil && c.TLSClientAuth.SubjectDN == "CN=sync,O=Gooclaim" && c.RequireCertificateBoundTokens && !c.RequireDPoP
	})

	// JSON names as RFC 8705 and RFC 9449 do.
	v := ts.showJSON(id)
	if v["tls_client_auth_subject_dn"] != "CN=sync,O=Gooclaim" || v["tls_client_certificate_bound_access_tokens"] != true || v["dpop_bound_access_tokens"] != false ||
		v["client_secret"] != nil || len(v["secrets"].([]any)) != 0 {
		t.Errorf("clients show -o json = %v", v)
	}
	if out = ts.mustCLI("", "clients", "list"); !strings.Contains(out, "tls") {
		t.Errorf("clients list does not show the tls credential:\n%s", out)
	}

	// Update: a SAN replaces the DN, DPoP on, the certificate binding off.
	ts.mustCLI("", "clients", "update", id, "--tls-san-ip", "2001:DB8::7", "--require-dpop", "--require-certificate-bound-tokens=false")
	v = ts.showJSON(id)
	if v["tls_client_auth_san_ip"] != "2001:db8::7" || v["tls_client_auth_subject_dn"] != nil || v["dpop_bound_access_tokens"] != true ||
		v["tls_client_certificate_bound_access_tokens"] != false {
		t.Errorf("after update: %v", v)
	}
	waitUntil(t, func() bool {
		c := ts.srv.Replica().Lookup(id)
		return c != nil && c.TLSClientAuth == auth.TLSClientAuth{SANIP: "2001:db8::7"} && c.RequireDPoP && !c.RequireCertificateBoundTokens
	})
	out = ts.mustCLI("", "clients", "update", id, "--require-dpop=false")
	if !strings.Contains(out, "SAN IP 2001:db8::7") || !regexp.MustCompile(`Require DPoP:\s+no\n`).MatchString(out) {
		t.Errorf("clients update --require-dpop=false printed:\n%s", out)
	}

	fails("not several", "clients", "update", id, "--tls-san-dns", "sync.example.com", "--tls-san-uri", "spiffe://example.com/sync")
	fails("give one", "clients", "update", id, "--tls-san-dns", "sync.example.com", "--no-tls-client-auth")
	fails("could never authenticate", "clients", "update", id, "--no-tls-client-auth")
	fails("not an IP address", "clients", "create", "--name", "x", "--tls-san-ip", "192.0.2")
	fails("not an absolute URI", "clients", "create", "--name", "x", "--tls-san-uri", "sync.example.com")
	fails("not a host name", "clients", "create", "--name", "x", "--tls-san-dns", "*.example.com")
	fails("not an e-mail address", "clients", "create", "--name", "x", "--tls-san-email", "Sync <sync@example.com>")
	fails("unknown attribute type", "clients", "create", "--name", "x", "--tls-subject-dn", "FOO=bar")
	fails("self_signed_tls_client_auth needs", "clients", "create", "--name", "x", "--auth-method", "self_signed_tls_client_auth")
	fails("tls_client_auth needs", "clients", "create", "--name", "x", "--auth-method", "tls_client_auth")

	// With a secret as well, and then the certificate field removed.
	ts.mustCLI("", "clients", "rotate-secret", id)
	fails("tls_client_auth needs", "clients", "update", id, "--no-tls-client-auth")
	ts.mustCLI("", "clients", "update", id, "--no-tls-client-auth", "--auth-method", "")
	v = ts.showJSON(id)
	for _, k := range []string{"tls_client_auth_subject_dn", "tls_client_auth_san_dns", "tls_client_auth_san_uri", "tls_client_auth_san_ip", "tls_client_auth_san_email"} {
		if v[k] != nil {
			t.Errorf("after --no-tls-client-auth %s = %v", k, v[k])
		}
	}
	waitUntil(t, func() bool { c := ts.srv.Replica().Lookup(id); return c != nil && c.TLSClientAuth.IsZero() })

	// A client whose only credential is its certificate, DNS SAN, created as JSON.
	var created map[string]any
	out = ts.mustCLI("", "clients", "create", "--name", "edge", "--tls-san-dns", "Edge.Example.com", "--require-dpop", "-o", "json")
	if err := json.Unmarshal([]byte(out), &created); err != nil || created["client_secret"] != nil || created["tls_client_auth_san_dns"] != "edge.example.com" ||
		created["dpop_bound_access_tokens"] != true || strings.Join(toStrings(created["allowed_auth_methods"]), " ") != auth.AuthTLSClientAuth {
		t.Errorf("clients create --tls-san-dns -o json = %s, %v", out, err)
	}
}

// TestSenderConstrainedClientsAdminAPI: the admin API's client fields of
// sender-constrained tokens, named as RFC 9449 §5.2 and RFC 8705 §2.1.2 and
// §3.4 name the client metadata, on both backends and two nodes: what one
// node writes, the other's replica sees.
func TestSenderConstrainedClientsAdminAPI(t *testing.T) {
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
		want := func(r response, status int, what string) map[string]any {
			t.Helper()
			if r.StatusCode != status {
				t.Fatalf("%s: %d %s; want %d", what, r.StatusCode, r.body, status)
			}
			var v map[string]any
			json.Unmarshal(r.body, &v)
			return v
		}

		r := want(call(a, "POST", "/v1/admin/clients", `{"name":"sync","tls_client_auth_subject_dn":"O=Gooclaim, CN=sync","tls_client_certificate_bound_access_tokens":true}`), 201, "create")
		c, _ := r["client"].(map[string]any)
		if r["client_secret"] != nil || c["tls_client_auth_subject_dn"] != "CN=sync,O=Gooclaim" || c["tls_client_certificate_bound_access_tokens"] != true ||
			c["dpop_bound_access_tokens"] != false || strings.Join(toStrings(c["allowed_auth_methods"]), " ") != auth.AuthTLSClientAuth {
			t.Errorf("created: %v", r)
		}
		id, _ := c["client_id"].(string)
		path := "/v1/admin/clients/" + id
		waitUntil(t, func() bool {
			c := b.srv.Replica().Lookup(id)
			return c != nil && c.TLSClientAuth.SubjectDN == "CN=sync,O=Gooclaim" && c.RequireCertificateBoundTokens
		})

		v := want(call(b, "PATCH", path, `{"tls_client_auth_san_email":"sync@example.com","dpop_bound_access_tokens":true,"tls_client_certificate_bound_access_tokens":false}`), 200, "patch")
		if v["tls_client_auth_san_email"] != "sync@example.com" || v["tls_client_auth_subject_dn"] != nil || v["dpop_bound_access_tokens"] != true ||
			v["tls_client_certificate_bound_access_tokens"] != false {
			t.Errorf("patched: %v", v)
		}
		waitUntil(t, func() bool {
			c := a.srv.Replica().Lookup(id)
			return c != nil && c.TLSClientAuth == auth.TLSClientAuth{SANEmail: "sync@example.com"} && c.RequireDPoP && !c.RequireCertificateBoundTokens
		})
		if v = want(call(a, "GET", path, ""), 200, "show"); v["tls_client_auth_san_email"] != "sync@example.com" {
			t.Errorf("show: %v", v)
		}
		v = want(call(a, "GET", "/v1/admin/clients", ""), 200, "list")
		found := false
		for _, e := range v["clients"].([]any) {
			if e := e.(map[string]any); e["client_id"] == id {
				found = e["tls_client_auth_san_email"] == "sync@example.com" && e["dpop_bound_access_tokens"] == true
			}
		}
		if !found {
			t.Errorf("list does not show the client's fields: %v", v)
		}

		resp := call(b, "PATCH", path, `{"tls_client_auth_san_dns":"a.example.com","tls_client_auth_san_uri":"spiffe://example.com/a"}`)
		want(resp, 400, "two certificate fields")
		if _, d := resp.errorBody(t); !strings.Contains(d, "RFC 8705 §2.1.2") {
			t.Errorf("two fields: description %q", d)
		}
		resp = call(b, "PATCH", path, `{"tls_client_auth_san_email":""}`)
		want(resp, 400, "removing the only credential")
		if _, d := resp.errorBody(t); !strings.Contains(d, "could never authenticate") {
			t.Errorf("no credential left: description %q", d)
		}
		want(call(b, "POST", "/v1/admin/clients", `{"name":"x","tls_client_auth_subject_dn":"CN=a\"b"}`), 400, "a bad DN")
		want(call(b, "POST", "/v1/admin/clients", `{"name":"x","auth_methods":["self_signed_tls_client_auth"]}`), 400, "self-signed without keys")
		want(call(b, "DELETE", path, ""), 204, "delete")
	})
}
