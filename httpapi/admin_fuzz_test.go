package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// adminFuzzOps are the admin endpoints that read a body or a query the
// fuzzer writes: the body, or the query string for the GETs.
var adminFuzzOps = []struct {
	method, path string
	query        bool
}{
	{http.MethodPost, "/v1/admin/clients", false},
	{http.MethodPatch, "/v1/admin/clients/fixed", false},
	{http.MethodPost, "/v1/admin/clients/fixed/rotate-secret", false},
	{http.MethodPost, "/v1/admin/clients/fixed/revoke-secret", false},
	{http.MethodPost, "/v1/admin/keys/rotate", false},
	{http.MethodGet, "/v1/admin/clients", true},
	{http.MethodGet, "/v1/admin/audit", true},
	{http.MethodPost, "/v1/admin/apply?dry_run=true&prune=true", false},
	{http.MethodPost, "/v1/admin/apply?generate_secrets=true", false},
	{http.MethodPost, "/v1/admin/policies/evaluate", false},
}

// FuzzAdminAPI sends the admin API (over a real SQLite store) any body or
// query: it never answers 5xx, and every error has the Error shape,
// {"error","error_description"}, both said, no control character.
func FuzzAdminAPI(f *testing.F) {
	h, svc := fuzzAdmin(f)
	f.Add(uint8(0), "application/json", []byte(`{"client_id":"svc-a","name":"A","scopes":["read","write"],"audiences":["https://api"],"token_ttl":"15m","rate_limit":"100/m","metadata":{"owner":"team-a"}}`))
	f.Add(uint8(0), "application/json", []byte(`{"client_id":"x","client_id":"y","scopes":"read"}`))
	f.Add(uint8(0), "application/json; charset=utf-8", []byte(`{"jwks":{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}]},"auth_methods":["private_key_jwt"]}`))
	f.Add(uint8(0), "text/plain", []byte(`{"name":"a"}`))
	f.Add(uint8(0), "", []byte("{\"name\":\"\xff\x00\",\"token_ttl\":\"99999999999h\",\"rate_limit\":\"1e999/s\"}"))
	f.Add(uint8(1), "application/json", []byte(`{"jwks":null,"disabled":true,"metadata":{"a=b":"c"}}`))
	f.Add(uint8(1), "application/json", []byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add(uint8(2), "application/json", []byte(`{"grace":"-5s"}`))
	f.Add(uint8(3), "application/json", []byte(`{"old":true}{}`))
	f.Add(uint8(4), "application/json", []byte(`{}`))
	f.Add(uint8(4), "application/json", []byte(`{"publish_ahead":"9223372036854775807s"}`))
	f.Add(uint8(5), "", []byte("limit=1000&after=svc&metadata.owner=team-a&disabled=true&scope=read"))
	f.Add(uint8(5), "", []byte("limit=0&limit=1&metadata.=x&%zz"))
	f.Add(uint8(6), "", []byte("after=-1&since=2026-01-02T15:04:05Z&until=2025-01-01T00:00:00Z&actor=ops"))
	f.Add(uint8(6), "", []byte("limit=99999999999999999999&action=client.create&x%00=1"))
	doc := "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nissuers:\n  - {name: k8s, issuer: https://k8s.example.com, jwks: {keys: [{kty: OKP, crv: Ed25519, x: 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo}]}}\n" +
		"clients:\n  - {client_id: svc-b, name: B, scopes: [read], token_ttl: 15m, rate_limit: 10/1m, secret: {generate: true}, federated: [k8s=sa]}\n"
	f.Add(uint8(7), "application/yaml", []byte(doc))
	f.Add(uint8(8), "application/yaml", []byte(doc))
	f.Add(uint8(7), "application/json", []byte(`{"document":"kind: AuthConfig\nclients: [{client_id: fixed, name: x, adopt: true}]","secrets":{"fixed":"s"}}`))
	f.Add(uint8(8), "application/yaml", []byte("a: &x [*x, *x]\nb: [\x00]\n---\nc: 1"))
	f.Add(uint8(0), "application/json", []byte(`{"name":"c","claims":{"tenant":"client.metadata.tenant","sub":"1"},"condition":"ip_in(request.remote_ip, ['10.0.0.0/8'])"}`))
	f.Add(uint8(1), "application/json", []byte(`{"claims":{"t":"[1,2].map(x, [1,2].map(y, x*y))"},"condition":"now.getHours('UTC') > 8"}`))
	f.Add(uint8(1), "application/json", []byte(`{"claims":{"t":"clinet."},"condition":"1"}`))
	f.Add(uint8(9), "application/json", []byte(`{"client_id":"fixed","claims":{"tenant":"client.metadata.tenant"},"condition":"ip_in(request.remote_ip, ['10.0.0.0/8'])","request":{"remote_ip":"10.1.2.3","scope":"read","auth_method":"private_key_jwt"}}`))
	f.Add(uint8(9), "application/json", []byte(`{"client_id":"fixed","claims":{"iss":"1","t":"clinet."},"request":{"remote_ip":"::ffff:10.0.0.1","audience":"https://elsewhere","scope":"read  write"}}`))
	f.Add(uint8(9), "application/json", []byte(`{"client_id":"nosuch","condition":"","claims":{}}`))
	f.Add(uint8(9), "application/json", []byte(`{"client_id":"fixed","claims":{"x":"1/0","y":"double('nan')","z":"{1: 2}"},"condition":"1/0 == 1"}`))
	if _, _, err := svc.CreateClient(f.Context(), admin.ClientSpec{ID: "fixed", Name: "fixed", Scopes: []string{"read"}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, op uint8, contentType string, body []byte) {
		o := adminFuzzOps[int(op)%len(adminFuzzOps)]
		var r *http.Request
		if o.query {
			r = httptest.NewRequest(o.method, o.path, nil)
			r.URL.RawQuery = string(body)
		} else {
			r = httptest.NewRequest(o.method, o.path, bytes.NewReader(body))
			if contentType != "" {
				r.Header["Content-Type"] = []string{contentType}
			}
		}
		r.Header.Set(testClientHeader, "ops")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", o.method, o.path, body, w.Code, w.Body)
		}
		if w.Code == http.StatusNoContent {
			return
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q", o.method, o.path, ct)
		}
		if w.Code < 400 {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: %d with a body that is not JSON: %q", o.method, o.path, w.Code, w.Body)
			}
			return
		}
		var e map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: %d body %q: %v", o.method, o.path, w.Code, w.Body, err)
		}
		code, _ := e["error"].(string)
		desc, _ := e["error_description"].(string)
		// A document's problems come with the Error shape, listed apart.
		_, problems := e["problems"]
		if len(e) != 2 && !(len(e) == 3 && problems && o.path[:15] == "/v1/admin/apply") || code == "" || desc == "" {
			t.Fatalf("%s %s: %d body %s, want the Error shape", o.method, o.path, w.Code, w.Body)
		}
		for _, c := range desc {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("%s %s: description holds control character %U: %q", o.method, o.path, c, desc)
			}
		}
	})
}

// fuzzAdmin is an admin API over a real SQLite store in a temporary
// directory, and its service.
func fuzzAdmin(f *testing.F) (http.Handler, *admin.Service) {
	db, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if err := db.Migrate(f.Context()); err != nil {
		f.Fatal(err)
	}
	kek, err := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	if err != nil {
		f.Fatal(err)
	}
	// The issuer evaluates expressions alone here (policies/evaluate): it
	// has the server's default claims, and neither clients nor keys.
	iss := issuer.New(issuer.Config{Issuer: "https://auth.example", DefaultClaims: map[string]string{"region": `"eu"`}}, nil, nil, nil, nil)
	svc := &admin.Service{Store: db, Keys: issuer.NewKeyRing(issuer.KeyPolicy{}, kek, db, nil), TokenIssuer: iss}
	a := &httpapi.Admin{Service: svc, Guard: testGuard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := a.Handler()
	return h, svc
}
