package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The server side of federation and token exchange (issue 15) lands
// separately: until it does, `token --federated-token-file` and `token
// --exchange` are tested against fakeExchangeServer, which refuses what a
// real token endpoint would and records what it received.

const (
	jwtBearerType      = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
	accessTokenType    = "urn:ietf:params:oauth:token-type:access_token"
	jwtTokenType       = "urn:ietf:params:oauth:token-type:jwt"
)

type fakeExchangeServer struct {
	*httptest.Server
	federated map[string]string // workload token → client
	mu        sync.Mutex
	got       []fakeRequest
}

type fakeRequest struct {
	params map[string]string
	basic  string // the Basic user, if any
}

// fakeJWT is a JWT-shaped workload token for sub.
func fakeJWT(sub string) string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return enc(`{"alg":"RS256","kid":"k"}`) + "." + enc(`{"iss":"https://kubernetes.default.svc","sub":"`+sub+`"}`) + "." + enc("sig")
}

func newFakeExchangeServer(t *testing.T) *fakeExchangeServer {
	f := &fakeExchangeServer{federated: map[string]string{}}
	fail := func(w http.ResponseWriter, status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"error_description":"refused by the fake"}`, code)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			fail(w, 400, "invalid_request")
			return
		}
		p := map[string]string{}
		for k, v := range r.PostForm {
			if len(v) != 1 {
				fail(w, 400, "invalid_request")
				return
			}
			p[k] = v[0]
		}
		user, pass, hasBasic := r.BasicAuth()
		f.mu.Lock()
		f.got = append(f.got, fakeRequest{params: p, basic: user})
		f.mu.Unlock()

		actor := ""
		switch {
		case hasBasic && p["client_assertion"] == "":
			if user != "claims-api" || pass != "s3cret" {
				fail(w, 401, "invalid_client")
				return
			}
			actor = user
		case p["client_assertion"] != "" && !hasBasic:
			id, ok := f.federated[p["client_assertion"]]
			if !ok || p["client_assertion_type"] != jwtBearerType || (p["client_id"] != "" && p["client_id"] != id) {
				fail(w, 401, "invalid_client")
				return
			}
			actor = id
		case hasBasic:
			fail(w, 400, "invalid_request") // two methods
			return
		}
		resp := map[string]any{"token_type": "Bearer", "expires_in": 3600}
		switch p["grant_type"] {
		case "client_credentials":
			if actor == "" {
				fail(w, 401, "invalid_client")
				return
			}
			resp["access_token"] = "cc:" + actor
		case tokenExchangeGrant:
			switch p["subject_token_type"] {
			case jwtTokenType:
				id, ok := f.federated[p["subject_token"]]
				if actor != "" || !ok {
					fail(w, 401, "invalid_client")
					return
				}
				resp["access_token"] = "federated:" + id
			case accessTokenType:
				if actor == "" {
					fail(w, 401, "invalid_client")
					return
				}
				if p["subject_token"] != "partner-token" || p["resource"] != "https://files.gooclaim.com" {
					fail(w, 400, "invalid_grant")
					return
				}
				resp["access_token"] = "delegated:partner:act=" + actor
			default:
				fail(w, 400, "invalid_request")
				return
			}
			resp["issued_token_type"] = accessTokenType
			if p["scope"] != "" {
				resp["scope"] = p["scope"]
			}
		default:
			fail(w, 400, "unsupported_grant_type")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeExchangeServer) last(t *testing.T) fakeRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("the token endpoint received nothing")
	}
	return f.got[len(f.got)-1]
}

func (f *fakeExchangeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func writeTempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTokenCommandFederated: `token --federated-token-file` sends the
// workload's token as the client assertion, client_id only when given.
func TestTokenCommandFederated(t *testing.T) {
	f := newFakeExchangeServer(t)
	wl := fakeJWT("system:serviceaccount:claims:importer")
	f.federated[wl] = "importer"
	file := writeTempFile(t, "token", wl+"\n")
	url := f.URL + "/v1/auth/token"

	out, errOut, code := runCLI(t, "", "token", "--token-url", url, "--federated-token-file", file, "--scope", "claims:read")
	if code != 0 || strings.TrimSpace(out) != "cc:importer" {
		t.Fatalf("token --federated-token-file: exit %d, %q %s", code, out, errOut)
	}
	p := f.last(t).params
	if p["client_assertion"] != wl || p["client_assertion_type"] != jwtBearerType || p["grant_type"] != "client_credentials" || p["scope"] != "claims:read" || len(p) != 4 {
		t.Errorf("parameters %v", p)
	}
	if _, errOut, code = runCLI(t, "", "token", "--token-url", url, "--federated-token-file", file, "--client-id", "importer"); code != 0 || f.last(t).params["client_id"] != "importer" {
		t.Errorf("with --client-id: exit %d, %s, parameters %v", code, errOut, f.last(t).params)
	}
	if _, errOut, code = runCLI(t, "", "token", "--token-url", url, "--federated-token-file", file, "--client-id", "someone-else"); code == 0 || !strings.Contains(errOut, "invalid_client") {
		t.Errorf("another client's id: exit %d, %q", code, errOut)
	}
}

// TestTokenCommandFederatedRealServer: against the real server, a workload
// token of no trusted issuer is refused with invalid_client.
func TestTokenCommandFederatedRealServer(t *testing.T) {
	ts := startTestServer(t, nil)
	file := writeTempFile(t, "token", fakeJWT("system:serviceaccount:claims:default"))
	_, errOut, code := runCLI(t, "", "token", "--issuer", ts.srv.Issuer(), "--federated-token-file", file)
	if code == 0 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "invalid_client") {
		t.Errorf("exit %d, %q; want a 401 invalid_client", code, errOut)
	}
}

// TestTokenCommandExchange: `token --exchange` as a delegation (the actor's
// credentials, an access token as subject) and as a federation without
// client authentication (a workload's token as subject, jwt by default).
func TestTokenCommandExchange(t *testing.T) {
	f := newFakeExchangeServer(t)
	url := f.URL + "/v1/auth/token"
	secret := writeTempFile(t, "secret", "s3cret\n")

	out, errOut, code := runCLI(t, "Bearer partner-token\n", "token", "--exchange", "--token-url", url,
		"--client-id", "claims-api", "--client-secret-file", secret, "--subject-token-file", "-",
		"--audience", "https://files.gooclaim.com", "--scope", "files:read", "-o", "json")
	if code != 0 {
		t.Fatalf("delegation: exit %d: %s", code, errOut)
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp["access_token"] != "delegated:partner:act=claims-api" ||
		resp["issued_token_type"] != accessTokenType || resp["scope"] != "files:read" {
		t.Fatalf("delegation printed %s (%v)", out, err)
	}
	req := f.last(t)
	want := map[string]string{"grant_type": tokenExchangeGrant, "subject_token": "partner-token", "subject_token_type": accessTokenType,
		"resource": "https://files.gooclaim.com", "scope": "files:read"}
	if req.basic != "claims-api" || fmt.Sprint(req.params) != fmt.Sprint(want) {
		t.Errorf("delegation sent %v (Basic %q), want %v with Basic claims-api", req.params, req.basic, want)
	}

	wl := fakeJWT("system:serviceaccount:claims:importer")
	f.federated[wl] = "importer"
	out, errOut, code = runCLI(t, "", "token", "--exchange", "--token-url", url, "--subject-token-file", writeTempFile(t, "wl", wl))
	if code != 0 || strings.TrimSpace(out) != "federated:importer" {
		t.Fatalf("federation: exit %d, %q %s", code, out, errOut)
	}
	req = f.last(t)
	if req.basic != "" || req.params["subject_token_type"] != jwtTokenType || req.params["client_assertion"] != "" || req.params["client_id"] != "" {
		t.Errorf("federation sent %v (Basic %q): want a jwt subject token and no client authentication", req.params, req.basic)
	}

	// An actor authenticating with its own workload token.
	gw := fakeJWT("system:serviceaccount:claims:api")
	f.federated[gw] = "claims-api"
	out, errOut, code = runCLI(t, "partner-token", "token", "--exchange", "--token-url", url, "--federated-token-file", writeTempFile(t, "gw", gw),
		"--subject-token-file", "-", "--subject-token-type", "access_token", "--audience", "https://files.gooclaim.com")
	if code != 0 || strings.TrimSpace(out) != "delegated:partner:act=claims-api" {
		t.Fatalf("delegation by a workload: exit %d, %q %s", code, out, errOut)
	}
}

func TestTokenCommandExchangeErrors(t *testing.T) {
	f := newFakeExchangeServer(t)
	url := f.URL + "/v1/auth/token"
	secret := writeTempFile(t, "secret", "s3cret\n")
	subject := writeTempFile(t, "subject", "partner-token\n")
	empty := writeTempFile(t, "empty", "\n")
	missing := filepath.Join(t.TempDir(), "no-such-token")
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no subject", "", []string{"--exchange", "--client-id", "claims-api", "--client-secret-file", secret}, "--exchange needs --subject-token-file"},
		{"subject without --exchange", "", []string{"--client-id", "claims-api", "--client-secret-file", secret, "--subject-token-file", subject}, "add --exchange"},
		{"unknown type", "", []string{"--exchange", "--subject-token-file", subject, "--subject-token-type", "saml2"}, "--subject-token-type \"saml2\""},
		{"delegation without credentials", "", []string{"--exchange", "--subject-token-file", subject, "--subject-token-type", "access_token"}, "needs the actor's credentials"},
		{"client id without credentials", "", []string{"--exchange", "--client-id", "claims-api", "--subject-token-file", subject}, "--client-id without credentials"},
		{"auth method without credentials", "", []string{"--exchange", "--auth-method", "client_secret_post", "--subject-token-file", subject}, "needs credentials"},
		{"both on standard input", "x", []string{"--exchange", "--client-id", "claims-api", "--client-secret-file", "-", "--subject-token-file", "-"}, "cannot both be -"},
		{"two credentials", "", []string{"--client-id", "claims-api", "--client-secret-file", secret, "--federated-token-file", subject}, "not --client-secret-file and --federated-token-file"},
		{"missing federated file", "", []string{"--federated-token-file", missing}, missing},
		{"federated file not a JWT", "", []string{"--federated-token-file", subject}, "does not hold a JWT"},
		{"federated method without file", "", []string{"--client-id", "x", "--client-secret-file", secret, "--auth-method", "federated_jwt"}, "needs --federated-token-file"},
		{"empty subject", "", []string{"--exchange", "--subject-token-file", empty}, "empty"},
		{"missing subject", "", []string{"--exchange", "--subject-token-file", missing}, missing},
		{"refused delegation", "", []string{"--exchange", "--client-id", "claims-api", "--client-secret-file", secret, "--subject-token-file", subject, "--audience", "https://evil.example"}, "invalid_grant"},
		{"unknown workload", "", []string{"--exchange", "--subject-token-file", writeTempFile(t, "other", fakeJWT("system:serviceaccount:x:default"))}, "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.count()
			out, errOut, code := runCLI(t, c.stdin, append([]string{"token", "--token-url", url}, c.args...)...)
			if code == 0 || out != "" {
				t.Fatalf("token succeeded: exit %d, printed %q", code, out)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("token said %q, want it to contain %q", errOut, c.want)
			}
			if n := f.count() - before; n > 1 || (n == 1) != (c.want == "invalid_grant" || c.want == "invalid_client") {
				t.Errorf("%d requests reached the token endpoint", n)
			}
		})
	}
}
