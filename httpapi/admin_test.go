package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
	"github.com/gooclaim/auth/verify"
)

// testClientHeader names the admin client a request acts as, for testGuard.
const testClientHeader = "X-Test-Client"

// testGuard stands in for the Bearer guard main wires (tested end to end
// there): it takes the caller from a header and grants it the admin scope;
// without the header it lets the request through without claims, which
// the API must refuse.
func testGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(testClientHeader); id != "" {
			r = r.WithContext(verify.NewContext(r.Context(), &verify.Claims{ClientID: id, Scopes: []string{auth.ScopeAdmin}}))
		}
		next.ServeHTTP(w, r)
	})
}

// adminEnv is the admin API over a real SQLite store, served over HTTP.
type adminEnv struct {
	t   *testing.T
	db  *sqlite.DB
	svc *admin.Service
	srv *httptest.Server
	// bodies holds every response body, for the no-secret-hash check.
	bodies [][]byte
}

// testKEK is a fixed key-encryption key for the key-rotation tests.
func testKEK(t *testing.T) *signing.KEK {
	t.Helper()
	kek, err := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// newAdminEnv serves the admin API; withKeys gives its service a key ring.
func newAdminEnv(t *testing.T, withKeys bool) *adminEnv {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc := &admin.Service{Store: db}
	if withKeys {
		svc.Keys = issuer.NewKeyRing(issuer.KeyPolicy{}, testKEK(t), db, nil)
	}
	a := &httpapi.Admin{Service: svc, Guard: testGuard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &adminEnv{t: t, db: db, svc: svc, srv: srv}
}

type adminResponse struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request as the admin client "ops".
func (e *adminEnv) call(method, path, body string) *adminResponse {
	e.t.Helper()
	return e.callAs("ops", method, path, body, "application/json")
}

// callAs sends a request as the given admin client ("" for none) with the
// given Content-Type ("" for none) when there is a body.
func (e *adminEnv) callAs(client, method, path, body, contentType string) *adminResponse {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if client != "" {
		req.Header.Set(testClientHeader, client)
	}
	if body != "" && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.bodies = append(e.bodies, b)
	r := &adminResponse{status: resp.StatusCode, header: resp.Header, body: b}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusNoContent && ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return r
}

// decode reads the body into v, failing unless the status is the wanted one.
func (r *adminResponse) decode(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

// wantError checks an answer in the Error shape {error, error_description}
// whose description holds every one of the given strings.
func (r *adminResponse) wantError(t *testing.T, status int, code string, desc ...string) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d, body %q is not JSON: %v", r.status, r.body, err)
	}
	if r.status != status || e["error"] != code {
		t.Fatalf("status %d error %v, want %d %s; body %s", r.status, e["error"], status, code, r.body)
	}
	d, _ := e["error_description"].(string)
	if len(e) != 2 || d == "" {
		t.Fatalf("body %s: want exactly error and a non-empty error_description", r.body)
	}
	for _, s := range desc {
		if !strings.Contains(d, s) {
			t.Errorf("error_description %q does not mention %q", d, s)
		}
	}
}

type clientView struct {
	ClientID            string            `json:"client_id"`
	Name                string            `json:"name"`
	Scopes              []string          `json:"scopes"`
	Audiences           []string          `json:"audiences"`
	TokenTTL            string            `json:"token_ttl"`
	RateLimit           string            `json:"rate_limit"`
	Disabled            bool              `json:"disabled"`
	AuthMethods         []string          `json:"auth_methods"`
	JWKS                json.RawMessage   `json:"jwks"`
	JWKSURI             string            `json:"jwks_uri"`
	Metadata            map[string]string `json:"metadata"`
	TokenReuse          string            `json:"token_reuse"`
	TokensRevokedBefore *time.Time        `json:"tokens_revoked_before"`
	Secrets             []struct {
		ID        string     `json:"id"`
		Kind      string     `json:"kind"`
		CreatedAt time.Time  `json:"created_at"`
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"secrets"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type withSecret struct {
	Client       clientView `json:"client"`
	ClientSecret string     `json:"client_secret"`
}

// create makes a client through the API and returns it with its secret.
func (e *adminEnv) create(body string) withSecret {
	e.t.Helper()
	var out withSecret
	e.call("POST", "/v1/admin/clients", body).decode(e.t, http.StatusCreated, &out)
	return out
}

// testJWKS is a public JWK Set of a fresh P-256 key.
func testJWKS(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	b := pub.Bytes() // 0x04 || X || Y
	enc := base64.RawURLEncoding.EncodeToString
	return fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":%q,"y":%q}]}`, enc(b[1:33]), enc(b[33:]))
}

func TestAdminWithoutClaims(t *testing.T) {
	e := newAdminEnv(t, false)
	for _, guard := range []struct {
		name  string
		guard func(http.Handler) http.Handler
	}{
		{"no guard", nil},
		{"guard that sets no claims", func(next http.Handler) http.Handler { return next }},
	} {
		t.Run(guard.name, func(t *testing.T) {
			a := &httpapi.Admin{Service: e.svc, Guard: guard.guard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			srv := httptest.NewServer(a.Handler())
			defer srv.Close()
			for _, rq := range []struct{ method, path, body string }{
				{"GET", "/v1/admin/clients", ""},
				{"POST", "/v1/admin/clients", `{"name":"sneaky"}`},
				{"GET", "/v1/admin/audit", ""},
				{"GET", "/v1/admin/nowhere", ""},
				{"DELETE", "/v1/admin/audit", ""},
			} {
				req, _ := http.NewRequest(rq.method, srv.URL+rq.path, strings.NewReader(rq.body))
				req.Header.Set(testClientHeader, "ops") // ignored: only the guard may set claims
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r := &adminResponse{status: resp.StatusCode, header: resp.Header, body: b}
				r.wantError(t, http.StatusUnauthorized, "unauthorized", auth.ScopeAdmin)
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	if n, _ := e.db.CountClients(t.Context()); n != 0 {
		t.Fatalf("%d clients created without claims", n)
	}

	// Claims without the admin scope are refused too.
	a := &httpapi.Admin{Service: e.svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Guard: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(verify.NewContext(r.Context(), &verify.Claims{ClientID: "reader", Scopes: []string{"claims:read"}})))
		})
	}}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/v1/admin/clients")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	(&adminResponse{status: resp.StatusCode, body: b}).wantError(t, http.StatusForbidden, "insufficient_scope", auth.ScopeAdmin)
}

func TestAdminCreateClient(t *testing.T) {
	e := newAdminEnv(t, false)
	jwks := testJWKS(t)
	before := time.Now().Add(-time.Second)

	t.Run("generated", func(t *testing.T) {
		r := e.call("POST", "/v1/admin/clients", `{"name":"claims-importer","scopes":["claims:read","claims:write","claims:read"],
			"audiences":["https://api.gooclaim.com"],"token_ttl":"15m","rate_limit":"100/1m","metadata":{"owner":"team-a"}}`)
		var out withSecret
		r.decode(t, http.StatusCreated, &out)
		c := out.Client
		if !strings.HasPrefix(c.ClientID, credential.ClientIDPrefix) || !strings.HasPrefix(out.ClientSecret, credential.SecretPrefix) {
			t.Fatalf("client_id %q, client_secret %q", c.ClientID, out.ClientSecret)
		}
		if loc := r.header.Get("Location"); loc != "/v1/admin/clients/"+c.ClientID {
			t.Errorf("Location %q", loc)
		}
		if c.TokenReuse != "default" {
			t.Errorf("token_reuse %q; want default, the server's setting", c.TokenReuse)
		}
		if c.Name != "claims-importer" || !slices.Equal(c.Scopes, []string{"claims:read", "claims:write"}) ||
			!slices.Equal(c.Audiences, []string{"https://api.gooclaim.com"}) || c.TokenTTL != "15m" || c.RateLimit != "100/1m" ||
			c.Disabled || c.Metadata["owner"] != "team-a" || c.CreatedAt.Before(before) {
			t.Fatalf("view %+v", c)
		}
		if len(c.Secrets) != 1 || c.Secrets[0].Kind != "generated" || c.Secrets[0].ID == "" || c.Secrets[0].ExpiresAt != nil {
			t.Fatalf("secrets %+v", c.Secrets)
		}
		stored, err := e.db.Client(t.Context(), c.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := credential.NewVerifier(0).Verify(stored, out.ClientSecret, time.Now()); !ok || err != nil {
			t.Fatal("the returned secret does not verify against the stored client")
		}
		var got withSecret
		e.call("GET", "/v1/admin/clients/"+c.ClientID, "").decode(t, http.StatusOK, &got.Client)
		if got.Client.ClientID != c.ClientID || got.Client.TokenTTL != "15m" || strings.Contains(string(e.bodies[len(e.bodies)-1]), out.ClientSecret) {
			t.Fatalf("GET %s", e.bodies[len(e.bodies)-1])
		}
	})

	t.Run("imported", func(t *testing.T) {
		out := e.create(`{"client_id":"gooclaim_app_12345","name":"legacy","scopes":["claims:read"],"client_secret":"S3cureP@ssw0rd!"}`)
		if out.ClientSecret != "" || strings.Contains(string(e.bodies[len(e.bodies)-1]), "S3cureP@ssw0rd!") {
			t.Fatalf("an imported secret is echoed: %s", e.bodies[len(e.bodies)-1])
		}
		if out.Client.ClientID != "gooclaim_app_12345" || len(out.Client.Secrets) != 1 || out.Client.Secrets[0].Kind != "imported" {
			t.Fatalf("view %+v", out.Client)
		}
		stored, _ := e.db.Client(t.Context(), "gooclaim_app_12345")
		if ok, err := credential.NewVerifier(0).Verify(stored, "S3cureP@ssw0rd!", time.Now()); !ok || err != nil {
			t.Fatal("the imported secret does not verify")
		}
	})

	t.Run("token reuse", func(t *testing.T) {
		for body, want := range map[string]string{
			`{"name":"reuse-on","token_reuse":"on"}`:           "on",
			`{"name":"reuse-off","token_reuse":"off"}`:         "off",
			`{"name":"reuse-default","token_reuse":"default"}`: "default",
		} {
			out := e.create(body)
			stored, _ := e.db.Client(t.Context(), out.Client.ClientID)
			if out.Client.TokenReuse != want || admin.TokenReuseName(stored.TokenReuse) != want {
				t.Errorf("%s: token_reuse %q, stored %q; want %s", body, out.Client.TokenReuse, stored.TokenReuse, want)
			}
		}
	})

	t.Run("public keys only", func(t *testing.T) {
		out := e.create(`{"name":"signer","scopes":["a"],"jwks":` + jwks + `,"auth_methods":["private_key_jwt"]}`)
		if out.ClientSecret != "" || len(out.Client.Secrets) != 0 || !slices.Equal(out.Client.AuthMethods, []string{"private_key_jwt"}) {
			t.Fatalf("%s", e.bodies[len(e.bodies)-1])
		}
		var keys struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(out.Client.JWKS, &keys); err != nil || len(keys.Keys) != 1 || keys.Keys[0]["kid"] != "k1" {
			t.Fatalf("jwks %s: %v", out.Client.JWKS, err)
		}
	})

	for _, tc := range []struct {
		name, body, contentType string
		status                  int
		code                    string
		desc                    []string
	}{
		{"duplicate client_id", `{"client_id":"gooclaim_app_12345","name":"again"}`, "", 409, "conflict", []string{"gooclaim_app_12345", "client_id"}},
		{"no name", `{"scopes":["a"]}`, "", 400, "invalid_request", []string{"name"}},
		{"blank name", `{"name":"  "}`, "", 400, "invalid_request", []string{"name"}},
		{"bad client_id", `{"client_id":"has space","name":"x"}`, "", 400, "invalid_request", []string{"client ID"}},
		{"bad token_ttl", `{"name":"x","token_ttl":"soon"}`, "", 400, "invalid_request", []string{"token_ttl", "soon"}},
		{"token_ttl too short", `{"name":"x","token_ttl":"1s"}`, "", 400, "invalid_request", []string{"token TTL", "10s"}},
		{"token_ttl too long", `{"name":"x","token_ttl":"2d"}`, "", 400, "invalid_request", []string{"token TTL"}},
		{"negative token_ttl", `{"name":"x","token_ttl":"-5m"}`, "", 400, "invalid_request", []string{"token_ttl"}},
		{"bad rate_limit", `{"name":"x","rate_limit":"lots"}`, "", 400, "invalid_request", []string{"rate_limit", "lots"}},
		{"rate_limit window too short", `{"name":"x","rate_limit":"5/1ms"}`, "", 400, "invalid_request", []string{"rate_limit"}},
		{"bad scope", `{"name":"x","scopes":["a\"b"]}`, "", 400, "invalid_request", []string{"scope"}},
		{"bad audience", `{"name":"x","audiences":["has space"]}`, "", 400, "invalid_request", []string{"audience"}},
		{"bad auth method", `{"name":"x","auth_methods":["client_secret_jwt"]}`, "", 400, "invalid_request", []string{"auth method", "client_secret_jwt"}},
		{"private_key_jwt without keys", `{"name":"x","auth_methods":["private_key_jwt"]}`, "", 400, "invalid_request", []string{"private_key_jwt", "jwks_uri"}},
		{"jwks not an object", `{"name":"x","jwks":"k"}`, "", 400, "invalid_request", []string{"jwks"}},
		{"jwks without keys", `{"name":"x","jwks":{"keys":[]}}`, "", 400, "invalid_request", []string{"jwks"}},
		{"jwks and jwks_uri", `{"name":"x","jwks":` + jwks + `,"jwks_uri":"https://keys.example.com/jwks.json"}`, "", 400, "invalid_request", []string{"jwks_uri"}},
		{"plain http jwks_uri", `{"name":"x","jwks_uri":"http://keys.example.com/jwks.json"}`, "", 400, "invalid_request", []string{"jwks_uri", "https"}},
		{"bad metadata key", `{"name":"x","metadata":{"a b":"c"}}`, "", 400, "invalid_request", []string{"metadata", "a b"}},
		{"bad token_reuse", `{"name":"x","token_reuse":"sometimes"}`, "", 400, "invalid_request", []string{"token_reuse", `"sometimes"`, `"on"`, `"off"`, `"default"`}},
		{"token_reuse true", `{"name":"x","token_reuse":"true"}`, "", 400, "invalid_request", []string{"token_reuse", `"true"`}},
		{"token_reuse a boolean", `{"name":"x","token_reuse":true}`, "", 400, "invalid_request", []string{"token_reuse", "string"}},
		{"unknown field", `{"name":"x","scope":"a"}`, "", 400, "invalid_request", []string{`unknown field "scope"`, "scopes"}},
		{"wrong type", `{"name":5}`, "", 400, "invalid_request", []string{"name", "string", "number"}},
		{"scopes not an array", `{"name":"x","scopes":"a b"}`, "", 400, "invalid_request", []string{"scopes", "array"}},
		{"not an object", `["x"]`, "", 400, "invalid_request", []string{"object"}},
		{"empty body", ``, "", 400, "invalid_request", []string{"empty", "name"}},
		{"bad JSON", `{"name":`, "", 400, "invalid_request", []string{"JSON"}},
		{"two values", `{"name":"x"} {"name":"y"}`, "", 400, "invalid_request", []string{"more than one"}},
		{"not JSON", `name=x`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", []string{"application/json"}},
		{"oversize", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, "", 413, "invalid_request", []string{"larger than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := e.db.CountClients(t.Context())
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			e.callAs("ops", "POST", "/v1/admin/clients", tc.body, ct).wantError(t, tc.status, tc.code, tc.desc...)
			if m, _ := e.db.CountClients(t.Context()); m != n {
				t.Fatalf("a refused request created a client (%d → %d)", n, m)
			}
		})
	}
}

func TestAdminGetAndDeleteClient(t *testing.T) {
	e := newAdminEnv(t, false)
	id := e.create(`{"name":"short-lived"}`).Client.ClientID
	var v clientView
	e.call("GET", "/v1/admin/clients/"+id, "").decode(t, http.StatusOK, &v)
	if v.ClientID != id || v.Name != "short-lived" || v.Scopes == nil || v.Audiences == nil {
		t.Fatalf("%+v", v)
	}
	e.call("GET", "/v1/admin/clients/nobody", "").wantError(t, 404, "not_found", `"nobody"`)
	r := e.call("DELETE", "/v1/admin/clients/"+id, "")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	e.call("GET", "/v1/admin/clients/"+id, "").wantError(t, 404, "not_found", id)
	e.call("DELETE", "/v1/admin/clients/"+id, "").wantError(t, 404, "not_found", id)
}

func TestAdminUpdateClient(t *testing.T) {
	e := newAdminEnv(t, false)
	jwks := testJWKS(t)
	id := e.create(`{"name":"svc","scopes":["a"],"token_ttl":"15m","rate_limit":"10/1s","metadata":{"owner":"team-a","tier":"1"},
		"jwks":` + jwks + `,"auth_methods":["client_secret_basic","private_key_jwt"]}`).Client.ClientID
	path := "/v1/admin/clients/" + id
	for _, tc := range []struct {
		name, body string
		check      func(clientView) bool
	}{
		{"name", `{"name":"svc-2"}`, func(v clientView) bool { return v.Name == "svc-2" && v.TokenTTL == "15m" }},
		{"scopes and audiences", `{"scopes":["b","c"],"audiences":["https://x.example"]}`, func(v clientView) bool {
			return slices.Equal(v.Scopes, []string{"b", "c"}) && slices.Equal(v.Audiences, []string{"https://x.example"})
		}},
		{"token_ttl", `{"token_ttl":"1h30m"}`, func(v clientView) bool { return v.TokenTTL == "1h30m" }},
		{"token_ttl empty resets", `{"token_ttl":""}`, func(v clientView) bool { return v.TokenTTL == "" }},
		{"token_ttl again", `{"token_ttl":"1d"}`, func(v clientView) bool { return v.TokenTTL == "1d" }},
		{"token_ttl 0 resets", `{"token_ttl":"0"}`, func(v clientView) bool { return v.TokenTTL == "" }},
		{"rate_limit", `{"rate_limit":"100/1m"}`, func(v clientView) bool { return v.RateLimit == "100/1m" }},
		{"rate_limit resets", `{"rate_limit":""}`, func(v clientView) bool { return v.RateLimit == "" }},
		{"metadata replaced", `{"metadata":{"owner":"team-b"}}`, func(v clientView) bool {
			return len(v.Metadata) == 1 && v.Metadata["owner"] == "team-b"
		}},
		{"auth_methods", `{"auth_methods":["client_secret_basic"]}`, func(v clientView) bool {
			return slices.Equal(v.AuthMethods, []string{"client_secret_basic"})
		}},
		{"jwks null removes", `{"jwks":null}`, func(v clientView) bool { return v.JWKS == nil && len(v.Secrets) == 1 }},
		{"jwks_uri", `{"jwks_uri":"https://keys.example.com/jwks.json"}`, func(v clientView) bool { return v.JWKSURI == "https://keys.example.com/jwks.json" }},
		{"token_reuse on", `{"token_reuse":"on"}`, func(v clientView) bool { return v.TokenReuse == "on" }},
		{"token_reuse off", `{"token_reuse":"off"}`, func(v clientView) bool { return v.TokenReuse == "off" }},
		{"token_reuse default", `{"token_reuse":"default"}`, func(v clientView) bool { return v.TokenReuse == "default" }},
		{"disabled", `{"disabled":true}`, func(v clientView) bool { return v.Disabled }},
		{"enabled", `{"disabled":false}`, func(v clientView) bool { return !v.Disabled }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v clientView
			e.call("PATCH", path, tc.body).decode(t, http.StatusOK, &v)
			if !tc.check(v) {
				t.Fatalf("after %s: %s", tc.body, e.bodies[len(e.bodies)-1])
			}
			var stored clientView
			e.call("GET", path, "").decode(t, http.StatusOK, &stored)
			if !tc.check(stored) {
				t.Fatalf("GET after %s: %s", tc.body, e.bodies[len(e.bodies)-1])
			}
		})
	}
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
		desc             []string
	}{
		{"nothing to change", path, `{}`, 400, "invalid_request", []string{"nothing to change", "token_ttl"}},
		{"empty body", path, ``, 400, "invalid_request", []string{"empty"}},
		{"unknown field", path, `{"disable":true}`, 400, "invalid_request", []string{`"disable"`, "disabled"}},
		{"blank name", path, `{"name":""}`, 400, "invalid_request", []string{"name"}},
		{"bad token_ttl", path, `{"token_ttl":"forever"}`, 400, "invalid_request", []string{"token_ttl"}},
		{"bad rate_limit", path, `{"rate_limit":"0/1m"}`, 400, "invalid_request", []string{"rate_limit"}},
		{"disabled not a boolean", path, `{"disabled":"yes"}`, 400, "invalid_request", []string{"disabled", "true or false"}},
		{"bad metadata", path, `{"metadata":{"k":"line\nbreak"}}`, 400, "invalid_request", []string{"metadata"}},
		{"bad token_reuse", path, `{"token_reuse":"maybe"}`, 400, "invalid_request", []string{"token_reuse", `"maybe"`, `"on"`, `"off"`, `"default"`}},
		{"empty token_reuse", path, `{"token_reuse":""}`, 400, "invalid_request", []string{"token_reuse", `""`}},
		{"private_key_jwt without keys", path, `{"jwks_uri":"","auth_methods":["private_key_jwt"]}`, 400, "invalid_request", []string{"private_key_jwt"}},
		{"oversize", path, `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "invalid_request", []string{"larger than"}},
		{"missing client", "/v1/admin/clients/nobody", `{"name":"x"}`, 404, "not_found", []string{"nobody"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.db.Client(t.Context(), id)
			e.call("PATCH", tc.path, tc.body).wantError(t, tc.status, tc.code, tc.desc...)
			after, _ := e.db.Client(t.Context(), id)
			if !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatal("a refused update changed the client")
			}
		})
	}
}

func TestAdminDisableEnable(t *testing.T) {
	e := newAdminEnv(t, false)
	id := e.create(`{"name":"svc"}`).Client.ClientID
	var v clientView
	e.call("POST", "/v1/admin/clients/"+id+"/disable", "").decode(t, http.StatusOK, &v)
	if !v.Disabled {
		t.Fatal("not disabled")
	}
	if c, _ := e.db.Client(t.Context(), id); !c.Disabled {
		t.Fatal("not disabled in the store")
	}
	e.call("POST", "/v1/admin/clients/"+id+"/enable", "{}").decode(t, http.StatusOK, &v)
	if v.Disabled {
		t.Fatal("still disabled")
	}
	e.call("POST", "/v1/admin/clients/nobody/disable", "").wantError(t, 404, "not_found", "nobody")
	e.call("POST", "/v1/admin/clients/"+id+"/disable", `{"reason":"x"}`).wantError(t, 400, "invalid_request", `"reason"`)
}

func TestAdminListPages(t *testing.T) {
	e := newAdminEnv(t, false)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("client-%d", i)
		e.create(fmt.Sprintf(`{"client_id":%q,"name":"svc %d"}`, id, i))
		want = append(want, id)
	}
	type page struct {
		Clients   []clientView `json:"clients"`
		NextAfter *string      `json:"next_after"`
	}
	var got []string
	after, pages := "", 0
	for {
		var p page
		e.call("GET", "/v1/admin/clients?limit=3&after="+after, "").decode(t, http.StatusOK, &p)
		pages++
		for _, c := range p.Clients {
			got = append(got, c.ClientID)
		}
		if p.NextAfter == nil || *p.NextAfter == "" {
			if len(p.Clients) != 1 {
				t.Fatalf("last page has %d clients", len(p.Clients))
			}
			break
		}
		if len(p.Clients) != 3 || *p.NextAfter != p.Clients[2].ClientID || pages > 3 {
			t.Fatalf("page %d: %s", pages, e.bodies[len(e.bodies)-1])
		}
		after = *p.NextAfter
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, clients %v, want %v", pages, got, want)
	}
	// Without a limit, one page of everything.
	var all page
	e.call("GET", "/v1/admin/clients", "").decode(t, http.StatusOK, &all)
	if len(all.Clients) != 7 || all.NextAfter == nil || *all.NextAfter != "" {
		t.Fatalf("%s", e.bodies[len(e.bodies)-1])
	}
	// Exactly a page's worth left: the page is the last.
	var exact page
	e.call("GET", "/v1/admin/clients?limit=7", "").decode(t, http.StatusOK, &exact)
	if len(exact.Clients) != 7 || *exact.NextAfter != "" {
		t.Fatalf("%s", e.bodies[len(e.bodies)-1])
	}
}

func TestAdminListFilters(t *testing.T) {
	e := newAdminEnv(t, false)
	for _, c := range []struct{ id, body string }{
		{"a-importer", `{"client_id":"a-importer","name":"Claims Importer","scopes":["claims:write"],"metadata":{"owner":"team-a","env":"prod"}}`},
		{"b-reader", `{"client_id":"b-reader","name":"claims reader","scopes":["claims:read"],"metadata":{"owner":"team-b","env":"prod"}}`},
		{"c-billing", `{"client_id":"c-billing","name":"billing","scopes":["claims:read","billing:write"],"metadata":{"owner":"team-a","env":"dev"}}`},
		{"d-old", `{"client_id":"d-old","name":"old importer","scopes":["claims:write"]}`},
	} {
		e.create(c.body)
	}
	e.call("POST", "/v1/admin/clients/d-old/disable", "").decode(t, http.StatusOK, nil)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"name=importer", []string{"a-importer", "d-old"}},
		{"name=CLAIMS", []string{"a-importer", "b-reader"}},
		{"disabled=true", []string{"d-old"}},
		{"disabled=false", []string{"a-importer", "b-reader", "c-billing"}},
		{"scope=claims:read", []string{"b-reader", "c-billing"}},
		{"metadata.owner=team-a", []string{"a-importer", "c-billing"}},
		{"metadata.owner=team-a&metadata.env=prod", []string{"a-importer"}},
		{"scope=claims:write&disabled=false", []string{"a-importer"}},
		{"name=nothing-like-this", []string{}},
		{"scope=claims:read&limit=1", []string{"b-reader"}},
		{"scope=claims:read&limit=1&after=b-reader", []string{"c-billing"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var p struct {
				Clients []clientView `json:"clients"`
			}
			e.call("GET", "/v1/admin/clients?"+tc.query, "").decode(t, http.StatusOK, &p)
			got := []string{}
			for _, c := range p.Clients {
				got = append(got, c.ClientID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ query, desc string }{
		{"disabled=yes", "disabled"},
		{"disabled=1", "disabled"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"owner=team-a", `"owner"`},
		{"metadata.=x", "metadata"},
		{"name=a&name=b", "name"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e.call("GET", "/v1/admin/clients?"+tc.query, "").wantError(t, 400, "invalid_request", tc.desc)
		})
	}
}
