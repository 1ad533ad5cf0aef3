package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/console"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/issuer"
)

// The routes httpapi serves (server.go's Handler and admin.go's Admin
// routes), as "METHOD /path" with the document's path templates. The
// document must describe exactly these, and the test must exercise each.
var servedRoutes = []string{
	"POST /v1/auth/token",
	"POST /v1/auth/introspect",
	"POST /v1/auth/revoke",
	"GET /.well-known/jwks.json",
	"GET /.well-known/oauth-authorization-server",
	"GET /.well-known/openid-configuration",
	"GET /healthz",
	"GET /readyz",
	"GET /openapi.yaml",
	"GET /v1/admin/clients",
	"POST /v1/admin/clients",
	"GET /v1/admin/clients/{id}",
	"PATCH /v1/admin/clients/{id}",
	"DELETE /v1/admin/clients/{id}",
	"POST /v1/admin/clients/{id}/disable",
	"POST /v1/admin/clients/{id}/enable",
	"POST /v1/admin/clients/{id}/rotate-secret",
	"POST /v1/admin/clients/{id}/revoke-secret",
	"POST /v1/admin/clients/{id}/revoke-tokens",
	"GET /v1/admin/issuers",
	"POST /v1/admin/issuers",
	"GET /v1/admin/issuers/{name}",
	"PATCH /v1/admin/issuers/{name}",
	"DELETE /v1/admin/issuers/{name}",
	"GET /v1/admin/keys",
	"POST /v1/admin/keys/rotate",
	"POST /v1/admin/keys/{kid}/revoke",
	"GET /v1/admin/audit",
	"POST /v1/admin/apply",
	"GET /v1/admin/stats",
	"GET /v1/admin/policies",
	"POST /v1/admin/policies/evaluate",
	"GET /schemas/auth/v1/auth-config.json",
	"GET /console/",
	"POST /console/session",
}

// notReproducible lists the documented responses no request to a working
// server can cause, with the reason: "METHOD /path status", or "* status"
// for every operation.
var notReproducible = map[string]string{
	"* 500": "server_error comes only from a recovered panic or an unexpected failure (an admin store error that is " +
		"not not-found, conflict, invalid or unavailable; a signing key that cannot be encoded as a JWK)",
}

// The seed's schemas, which the served document must hold unchanged; the
// last two are referenced by the first three.
var seedSchemas = []string{"TokenRequest", "TokenResponse", "Error", "TokenRequestGrantType", "TokenResponseTokenType"}

// reqExpect says whether a request is meant to conform to the document.
type reqExpect int

const (
	conforms    reqExpect = iota // the request is valid per the document
	nonconform                   // deliberately not (the server must refuse it)
	conformsAny                  // the document cannot tell (the problem is outside what OpenAPI describes)
)

// call is one request of the contract test and what the server must answer.
type call struct {
	name         string
	method, path string
	contentType  string
	body         string
	headers      []string // name, value pairs
	status       int
	code         string // the error code expected, "" for a success
	req          reqExpect
}

// contract checks real exchanges against the document and records which
// documented responses they produced.
type contract struct {
	t       *testing.T
	doc     *openapi3.T
	router  routers.Router
	covered map[string]map[int]bool // "METHOD /template" → statuses seen
}

func newContract(t *testing.T, doc *openapi3.T) *contract {
	t.Helper()
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &contract{t: t, doc: doc, router: router, covered: map[string]map[int]bool{}}
}

// authenticate tells kin-openapi whether the request carries the
// credentials a security scheme names; checking them is the server's job.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, _, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	want := map[string]string{"clientSecretBasic": "basic", "bearerAuth": "bearer"}[in.SecuritySchemeName]
	if want == "" || !strings.EqualFold(scheme, want) {
		return fmt.Errorf("no %s credentials", in.SecuritySchemeName)
	}
	return nil
}

// run sends each call to ts and checks the pair against the document:
// the status is the expected one and documented for the operation, the
// response's headers and body match its schema, and the request conforms
// (or, when meant not to, does not). It returns the responses.
func (c *contract) run(ts *testServer, calls ...call) []response {
	c.t.Helper()
	out := make([]response, 0, len(calls))
	for _, cl := range calls {
		out = append(out, c.exchange(ts, cl))
	}
	return out
}

func (c *contract) exchange(ts *testServer, cl call) response {
	t := c.t
	t.Helper()
	newReq := func() *http.Request {
		req, err := http.NewRequest(cl.method, ts.url+cl.path, strings.NewReader(cl.body))
		if err != nil {
			t.Fatal(err)
		}
		if cl.body == "" {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		if cl.contentType != "" {
			req.Header.Set("Content-Type", cl.contentType)
		}
		for i := 0; i+1 < len(cl.headers); i += 2 {
			req.Header.Add(cl.headers[i], cl.headers[i+1])
		}
		return req
	}
	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		t.Fatalf("%s: %s %s: %v", cl.name, cl.method, cl.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := response{resp, body}
	label := fmt.Sprintf("%s (%s %s → %d)", cl.name, cl.method, cl.path, resp.StatusCode)
	if resp.StatusCode != cl.status {
		t.Errorf("%s: status %d, want %d; body %s", label, resp.StatusCode, cl.status, body)
		return r
	}
	if cl.code != "" {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error != cl.code {
			t.Errorf("%s: body %s, want error %q", label, body, cl.code)
		}
	}

	// The operation: the request's own, or for a method the path does not
	// take (405), every operation of the path.
	route, params, err := c.router.FindRoute(newReq())
	routes := []*routers.Route{route}
	if err != nil {
		routes = nil
		for _, m := range []string{"GET", "POST", "PATCH", "DELETE", "PUT"} {
			alt := newReq()
			alt.Method = m
			if rt, p, err := c.router.FindRoute(alt); err == nil {
				routes, params = append(routes, rt), p
			}
		}
		if len(routes) == 0 {
			t.Errorf("%s: no path in the document: %v", label, err)
			return r
		}
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: the document has no %s operation on this path, but the server answered %d", label, cl.method, resp.StatusCode)
		}
	}

	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		in := &openapi3filter.RequestValidationInput{Request: newReq(), PathParams: params, Route: rt,
			Options: &openapi3filter.Options{AuthenticationFunc: authenticate}}
		if rt.Method == cl.method {
			reqErr := openapi3filter.ValidateRequest(context.Background(), in)
			switch {
			case cl.req == conforms && reqErr != nil:
				t.Errorf("%s: the request does not conform to the document: %v", label, reqErr)
			case cl.req == nonconform && reqErr == nil:
				t.Errorf("%s: the request conforms to the document, but it was meant not to (the document is too lax)", label)
			}
		}
		doc := rt.Operation.Responses.Status(resp.StatusCode)
		if doc == nil {
			t.Errorf("%s: status %d is not documented for %s", label, resp.StatusCode, key)
			continue
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s: the response does not match the document: %v\nheaders %v\nbody %s", label, err, resp.Header, body)
		}
		if resp.StatusCode == http.StatusNotModified { // which ValidateResponse skips
			for name, h := range doc.Value.Headers {
				if h.Value.Required && resp.Header.Get(name) == "" {
					t.Errorf("%s: required header %s missing", label, name)
				}
			}
			if len(body) != 0 {
				t.Errorf("%s: a 304 with a body", label)
			}
		}
		if c.covered[key] == nil {
			c.covered[key] = map[int]bool{}
		}
		c.covered[key][resp.StatusCode] = true
	}
	return r
}

// operations lists the document's operations as "METHOD /template".
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	return ops
}

// checkCoverage fails the test for a served route the document lacks (or
// the reverse), a route never exercised, and a documented response never
// produced that is not listed as not reproducible.
func (c *contract) checkCoverage() {
	t := c.t
	t.Helper()
	ops := operations(c.doc)
	var documented []string
	for k := range ops {
		documented = append(documented, k)
	}
	sort.Strings(documented)
	want := slices.Sorted(slices.Values(servedRoutes))
	if !slices.Equal(documented, want) {
		t.Errorf("the document's operations\n  %v\ndiffer from the routes the server serves\n  %v", documented, want)
	}
	responses, produced := 0, 0
	for _, key := range documented {
		if len(c.covered[key]) == 0 {
			t.Errorf("%s: never exercised", key)
		}
		for _, code := range slices.Sorted(func(yield func(string) bool) {
			for code := range ops[key].Responses.Map() {
				if !yield(code) {
					return
				}
			}
		}) {
			responses++
			n, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s: response %q is not a status code (no default or ranges: every answer is listed)", key, code)
				continue
			}
			reason, exempt := notReproducible[key+" "+code]
			if !exempt {
				reason, exempt = notReproducible["* "+code]
			}
			switch {
			case c.covered[key][n] && exempt:
				t.Errorf("%s %d: listed as not reproducible, but the test produced it", key, n)
			case c.covered[key][n]:
				produced++
			case exempt:
				t.Logf("%s %d: not reproduced: %s", key, n, reason)
			default:
				t.Errorf("%s: documented response %d never produced by the test", key, n)
			}
		}
	}
	t.Logf("%d operations, %d documented responses, %d produced by real requests", len(documented), responses, produced)
}

// checkSeed compares the served document with the seed: the same
// servers, the seed's schemas unchanged, and the seed's operation with
// the same request and responses in meaning.
func checkSeed(t *testing.T, served []byte, doc *openapi3.T) {
	t.Helper()
	seed, err := os.ReadFile("testdata/seed-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var s, d map[string]any
	if err := yaml.Unmarshal(seed, &s); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if err := yaml.Unmarshal(served, &d); err != nil {
		t.Fatalf("served document: %v", err)
	}
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, p := range path {
			mm, _ := v.(map[string]any)
			v = mm[p]
		}
		return v
	}
	for _, name := range seedSchemas {
		want, got := get(s, "components", "schemas", name), get(d, "components", "schemas", name)
		if want == nil || !reflect.DeepEqual(want, got) {
			t.Errorf("schema %s differs from the seed's:\n  seed:   %v\n  served: %v", name, want, got)
		}
	}
	var seedURLs, urls []string
	for _, sv := range get(s, "servers").([]any) {
		seedURLs = append(seedURLs, sv.(map[string]any)["url"].(string))
	}
	for _, sv := range doc.Servers {
		urls = append(urls, sv.URL)
	}
	if !slices.Equal(seedURLs, urls) {
		t.Errorf("servers %v, the seed's are %v", urls, seedURLs)
	}
	for _, k := range []string{"title", "version"} {
		if get(s, "info", k) != get(d, "info", k) {
			t.Errorf("info.%s %v, the seed's is %v", k, get(d, "info", k), get(s, "info", k))
		}
	}
	op := doc.Paths.Find("/v1/auth/token").Post
	if op == nil || op.OperationID != get(s, "paths", "/v1/auth/token", "post", "operationId") {
		t.Fatalf("the seed's operation create-token is missing")
	}
	mt := func(status int) *openapi3.SchemaRef {
		r := op.Responses.Status(status)
		if r == nil || r.Value.Content.Get("application/json") == nil {
			t.Fatalf("create-token: no JSON response %d", status)
		}
		return r.Value.Content.Get("application/json").Schema
	}
	for _, c := range []struct {
		what   string
		schema *openapi3.SchemaRef
		ref    string
	}{
		{"the JSON request", op.RequestBody.Value.Content.Get("application/json").Schema, "TokenRequest"},
		{"200", mt(200), "TokenResponse"},
		{"401", mt(401), "Error"},
		{"429", mt(429), "Error"},
	} {
		if !refersTo(c.schema, "#/components/schemas/"+c.ref, map[*openapi3.SchemaRef]bool{}) {
			t.Errorf("create-token: %s does not build on the seed's %s", c.what, c.ref)
		}
	}
}

// refersTo reports whether s is, or is built from (allOf, anyOf, oneOf), the schema ref.
func refersTo(s *openapi3.SchemaRef, ref string, seen map[*openapi3.SchemaRef]bool) bool {
	if s == nil || seen[s] {
		return false
	}
	seen[s] = true
	if s.Ref == ref {
		return true
	}
	if s.Value == nil {
		return false
	}
	for _, l := range []openapi3.SchemaRefs{s.Value.AllOf, s.Value.AnyOf, s.Value.OneOf} {
		for _, sub := range l {
			if refersTo(sub, ref, seen) {
				return true
			}
		}
	}
	return false
}

// TestOpenAPIContract starts a real server, reads its OpenAPI document
// from GET /openapi.yaml, and sends requests that cover every route and
// every documented response, each request and response checked against
// the document; the seed's schemas must be in it unchanged.
func TestOpenAPIContract(t *testing.T) {
	ctx := context.Background()
	ts := startTestServer(t, nil, func(c *serveConfig) { c.ipRateLimit = rateValue{Limit: 100000, Window: time.Minute} })

	// The document, as served.
	r := ts.do("GET", httpapi.OpenAPIPath, "", "")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if !bytes.Equal(r.body, httpapi.OpenAPIDocument()) {
		t.Fatal("GET /openapi.yaml is not the embedded document")
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load the served document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the served document is not a valid OpenAPI 3.1 document: %v", err)
	}
	checkSeed(t, r.body, doc)
	// Route the test server's requests: the document names production and development.
	doc.Servers = openapi3.Servers{{URL: ts.url}}
	c := newContract(t, doc)
	// The console's page is a string to the document, as text/plain is.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)

	// Clients, made with the CLI as an operator would.
	hi := []string{"--rate-limit", "100000/1m"}
	svcID, svcSecret := ts.createClient(append([]string{"--name", "svc", "--scope", "claims:read claims:write", "--audience", "https://api.gooclaim.com", "--audience", "https://reports.gooclaim.com"}, hi...)...)
	rsID, rsSecret := ts.createClient(append([]string{"--name", "resource-server", "--scope", auth.ScopeIntrospect}, hi...)...)
	// The token, introspection and revocation endpoints share a client's
	// budget: one limited client for each endpoint's pair of calls.
	limID, limSecret := ts.createClient("--name", "limited", "--scope", "claims:read", "--rate-limit", "1/1m")
	limIntroID, limIntroSecret := ts.createClient("--name", "limited-introspection", "--scope", "claims:read", "--rate-limit", "1/1m")
	limRevID, limRevSecret := ts.createClient("--name", "limited-revocation", "--scope", "claims:read", "--rate-limit", "2/1m")
	adminID, adminSecret := ts.createClient(append([]string{"--name", "ops", "--admin"}, hi...)...)
	auditorID, auditorSecret := ts.createClient(append([]string{"--name", "auditor", "--scope", "claims:read", "--audience", auth.AdminAudience}, hi...)...)
	key := newSigningKey(t)
	signerID, _ := ts.createClient(append([]string{"--name", "signer", "--scope", "claims:read", "--jwks-file", writeFile(t, string(key.jwks))}, hi...)...)
	iss := ts.srv.Issuer()

	form := "application/x-www-form-urlencoded"
	js := "application/json"
	basic := func(id, secret string) []string { return []string{"Authorization", basicAuth(id, secret)} }
	enc := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	svcPost := enc("grant_type", "client_credentials", "client_id", svcID, "client_secret", svcSecret)
	big := strings.Repeat("a", 65<<10)
	const tokenPath, introspectPath, revokePath = "/v1/auth/token", "/v1/auth/introspect", "/v1/auth/revoke"

	// The token endpoint.
	rs := c.run(ts,
		call{name: "the seed's JSON request", method: "POST", path: tokenPath, contentType: js, status: 200,
			body: fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, svcID, svcSecret)},
		call{name: "form, client_secret_basic, a scope", method: "POST", path: tokenPath, contentType: form, status: 200,
			body: enc("grant_type", "client_credentials", "scope", "claims:read"), headers: basic(svcID, svcSecret)},
		call{name: "JSON, client_secret_basic, charset", method: "POST", path: tokenPath, contentType: js + "; charset=utf-8", status: 200,
			body: `{"grant_type":"client_credentials","resource":"https://reports.gooclaim.com"}`, headers: basic(svcID, svcSecret)},
		call{name: "form, client_secret_post, audience", method: "POST", path: tokenPath, contentType: form, status: 200,
			body: svcPost + "&audience=https%3A%2F%2Freports.gooclaim.com"},
		call{name: "private_key_jwt", method: "POST", path: tokenPath, contentType: form, status: 200,
			body: enc("grant_type", "client_credentials", "client_assertion_type", auth.ClientAssertionTypeJWT,
				"client_assertion", key.assertion(t, assertionClaims(signerID, iss, time.Now(), time.Minute)))},
		call{name: "an unsupported content type", method: "POST", path: tokenPath, contentType: "text/plain", body: svcPost,
			status: 400, code: "invalid_request", req: nonconform},
		call{name: "malformed JSON", method: "POST", path: tokenPath, contentType: js, body: `{"grant_type":`,
			status: 400, code: "invalid_request", req: nonconform},
		call{name: "client_id of the wrong JSON type", method: "POST", path: tokenPath, contentType: js,
			body: `{"grant_type":"client_credentials","client_id":12345,"client_secret":"x"}`, status: 400, code: "invalid_request", req: nonconform},
		call{name: "grant_type missing", method: "POST", path: tokenPath, contentType: form,
			body: enc("client_id", svcID, "client_secret", svcSecret), status: 400, code: "invalid_request", req: nonconform},
		call{name: "Basic and client_secret at once", method: "POST", path: tokenPath, contentType: form,
			body: svcPost, headers: basic(svcID, svcSecret), status: 400, code: "invalid_request",
			req: conformsAny}, // the body alone is a valid client_secret_post request
		call{name: "unsupported grant_type", method: "POST", path: tokenPath, contentType: form,
			body: enc("grant_type", "password", "client_id", svcID, "client_secret", svcSecret), status: 400, code: "unsupported_grant_type", req: nonconform},
		call{name: "a scope the client may not have", method: "POST", path: tokenPath, contentType: form,
			body: svcPost + "&scope=claims%3Adelete", status: 400, code: "invalid_scope"},
		call{name: "a resource the client may not have", method: "POST", path: tokenPath, contentType: form,
			body: svcPost + "&resource=https%3A%2F%2Felsewhere.example", status: 400, code: "invalid_target"},
		call{name: "a wrong secret", method: "POST", path: tokenPath, contentType: js, status: 401, code: "invalid_client",
			body: fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":"gcs_wrong"}`, svcID)},
		call{name: "a wrong secret with Basic", method: "POST", path: tokenPath, contentType: form, status: 401, code: "invalid_client",
			body: enc("grant_type", "client_credentials"), headers: basic(svcID, "gcs_wrong")},
		call{name: "GET", method: "GET", path: tokenPath, status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "a body over 64 KiB", method: "POST", path: tokenPath, contentType: form, body: svcPost + "&pad=" + big,
			status: 413, code: "invalid_request"},
		call{name: "within the limit", method: "POST", path: tokenPath, contentType: form, status: 200,
			body: enc("grant_type", "client_credentials", "client_id", limID, "client_secret", limSecret)},
		call{name: "past the limit", method: "POST", path: tokenPath, contentType: form, status: 429, code: "rate_limited",
			body: enc("grant_type", "client_credentials", "client_id", limID, "client_secret", limSecret)},
	)
	if r := rs[len(rs)-1]; r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit") == "" {
		t.Errorf("429 without Retry-After or RateLimit: %v", r.Header)
	}
	if !strings.HasPrefix(rs[14].Header.Get("WWW-Authenticate"), `Basic realm="gooclaim"`) {
		t.Errorf("401 to a Basic request: WWW-Authenticate %q", rs[14].Header.Get("WWW-Authenticate"))
	}
	svcTok := ts.tokenFor(svcID, svcSecret)
	limTok := rs[len(rs)-2].token(t).AccessToken
	revTok := ts.tokenFor(limRevID, limRevSecret) // the first of its 2 requests a minute

	// Introspection and revocation.
	rs = c.run(ts,
		call{name: "an active token", method: "POST", path: introspectPath, contentType: form, status: 200,
			body: enc("token", svcTok), headers: basic(rsID, rsSecret)},
		call{name: "JSON, client_secret_post, a junk token", method: "POST", path: introspectPath, contentType: js, status: 200,
			body: fmt.Sprintf(`{"token":"junk","token_type_hint":"access_token","client_id":%q,"client_secret":%q}`, rsID, rsSecret)},
		call{name: "token missing", method: "POST", path: introspectPath, contentType: form, status: 400, code: "invalid_request",
			body: enc("client_id", rsID, "client_secret", rsSecret), req: nonconform},
		call{name: "a wrong secret", method: "POST", path: introspectPath, contentType: form, status: 401, code: "invalid_client",
			body: enc("token", svcTok), headers: basic(rsID, "gcs_wrong")},
		call{name: "a caller without auth:introspect", method: "POST", path: introspectPath, contentType: form, status: 403,
			code: "unauthorized_client", body: enc("token", svcTok), headers: basic(svcID, svcSecret)},
		call{name: "GET", method: "GET", path: introspectPath, status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "a body over 64 KiB", method: "POST", path: introspectPath, contentType: form, status: 413, code: "invalid_request",
			body: enc("token", big), headers: basic(rsID, rsSecret), req: nonconform}, // token is at most 16 KiB
		call{name: "within the limit", method: "POST", path: introspectPath, contentType: form, status: 403, code: "unauthorized_client",
			body: enc("token", limTok), headers: basic(limIntroID, limIntroSecret)},
		call{name: "past the limit", method: "POST", path: introspectPath, contentType: form, status: 429, code: "rate_limited",
			body: enc("token", limTok), headers: basic(limIntroID, limIntroSecret)},
		call{name: "past the limit its token requests spent", method: "POST", path: introspectPath, contentType: form, status: 429, code: "rate_limited",
			body: enc("token", limTok), headers: basic(limID, limSecret)},

		call{name: "revoke one's own token", method: "POST", path: revokePath, contentType: form, status: 200,
			body: enc("token", revTok, "token_type_hint", "access_token"), headers: basic(limRevID, limRevSecret)},
		call{name: "past the limit", method: "POST", path: revokePath, contentType: form, status: 429, code: "rate_limited",
			body: enc("token", revTok), headers: basic(limRevID, limRevSecret)},
		call{name: "another client's token: left alone", method: "POST", path: revokePath, contentType: js, status: 200,
			body: fmt.Sprintf(`{"token":%q,"client_id":%q,"client_secret":%q}`, svcTok, rsID, rsSecret)},
		call{name: "token missing", method: "POST", path: revokePath, contentType: form, status: 400, code: "invalid_request",
			body: "", headers: basic(svcID, svcSecret), req: nonconform},
		call{name: "a wrong secret", method: "POST", path: revokePath, contentType: form, status: 401, code: "invalid_client",
			body: enc("token", svcTok, "client_id", svcID, "client_secret", "gcs_wrong")},
		call{name: "GET", method: "GET", path: revokePath, status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "a body over 64 KiB", method: "POST", path: revokePath, contentType: form, status: 413, code: "invalid_request",
			body: enc("token", big), headers: basic(svcID, svcSecret), req: nonconform},
		call{name: "the revoked token is inactive", method: "POST", path: introspectPath, contentType: form, status: 200,
			body: enc("token", revTok), headers: basic(rsID, rsSecret)},
	)
	if m := introspection(t, rs[0]); m["active"] != true || m["client_id"] != svcID {
		t.Errorf("introspection of an active token: %v", m)
	}
	for _, i := range []int{1, len(rs) - 1} {
		if string(bytes.TrimSpace(rs[i].body)) != `{"active":false}` {
			t.Errorf("%d: an inactive token: %s", i, rs[i].body)
		}
	}

	// Discovery and operations.
	rs = c.run(ts,
		call{name: "the JWK Set", method: "GET", path: "/.well-known/jwks.json", status: 200},
		call{name: "POST", method: "POST", path: "/.well-known/jwks.json", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "metadata", method: "GET", path: "/.well-known/oauth-authorization-server", status: 200},
		call{name: "POST", method: "POST", path: "/.well-known/oauth-authorization-server", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "OpenID configuration", method: "GET", path: "/.well-known/openid-configuration", status: 200},
		call{name: "DELETE", method: "DELETE", path: "/.well-known/openid-configuration", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "liveness", method: "GET", path: "/healthz", status: 200},
		call{name: "POST", method: "POST", path: "/healthz", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "readiness", method: "GET", path: "/readyz", status: 200},
		call{name: "PUT", method: "PUT", path: "/readyz", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "this document", method: "GET", path: "/openapi.yaml", status: 200},
		call{name: "POST", method: "POST", path: "/openapi.yaml", status: 405, code: "method_not_allowed", req: nonconform},
	)
	c.run(ts, call{name: "a current cached copy", method: "GET", path: "/.well-known/jwks.json", status: 304,
		headers: []string{"If-None-Match", rs[0].Header.Get("ETag")}})

	// The admin API.
	adminTok := ts.tokenFor(adminID, adminSecret)
	bearer := []string{"Authorization", "Bearer " + adminTok}
	admin := func(cl call) call {
		if cl.headers == nil {
			cl.headers = bearer
		}
		return cl
	}
	adminCall := func(name, method, path, body string, status int, code string, req reqExpect) call {
		ct := ""
		if body != "" {
			ct = js
		}
		return admin(call{name: name, method: method, path: path, contentType: ct, body: body, status: status, code: code, req: req})
	}
	rs = c.run(ts,
		adminCall("create", "POST", "/v1/admin/clients", `{"name":"partner","scopes":["claims:read"],"audiences":["https://api.gooclaim.com"],"token_ttl":"15m","rate_limit":"600/1m","metadata":{"owner":"partners-team"}}`, 201, "", conforms),
		adminCall("import with keys", "POST", "/v1/admin/clients", fmt.Sprintf(`{"client_id":"gooclaim_app_imported","name":"imported","scopes":["claims:read"],"auth_methods":["private_key_jwt"],"jwks":%s}`, key.jwks), 201, "", conforms),
	)
	var created struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(rs[0].body, &created); err != nil || created.ClientSecret == "" || rs[0].Header.Get("Location") != "/v1/admin/clients/"+created.Client.ClientID {
		t.Fatalf("create: %s, Location %q (%v)", rs[0].body, rs[0].Header.Get("Location"), err)
	}
	id := created.Client.ClientID
	cp := "/v1/admin/clients/" + id
	const missing = "/v1/admin/clients/gooclaim_app_nosuchclient"
	megabyte := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
	// Token reuse: the view shows on, off or default, and a value
	// outside the enum is a 400 whose description names the field and
	// the values it takes.
	rs = c.run(ts,
		adminCall("create with token reuse", "POST", "/v1/admin/clients", `{"name":"reuser","scopes":["claims:read"],"token_reuse":"on"}`, 201, "", conforms),
		adminCall("a bad token_reuse", "POST", "/v1/admin/clients", `{"name":"x","token_reuse":"sometimes"}`, 400, "invalid_request", nonconform),
		adminCall("update token reuse", "PATCH", cp, `{"token_reuse":"off"}`, 200, "", conforms),
		adminCall("token reuse back to the default", "PATCH", cp, `{"token_reuse":"default"}`, 200, "", conforms),
		adminCall("a bad token_reuse", "PATCH", cp, `{"token_reuse":"true"}`, 400, "invalid_request", nonconform),
		adminCall("an empty token_reuse", "PATCH", cp, `{"token_reuse":""}`, 400, "invalid_request", nonconform),
	)
	for i, want := range map[int]string{0: "on", 2: "off", 3: "default"} {
		var v struct {
			Client struct {
				TokenReuse *string `json:"token_reuse"`
			} `json:"client"`
			TokenReuse *string `json:"token_reuse"`
		}
		json.Unmarshal(rs[i].body, &v)
		if got := cmp.Or(v.TokenReuse, v.Client.TokenReuse); got == nil || *got != want {
			t.Errorf("call %d: token_reuse in %s; want %q", i, rs[i].body, want)
		}
	}
	for _, i := range []int{1, 4, 5} {
		var e struct {
			Description string `json:"error_description"`
		}
		if json.Unmarshal(rs[i].body, &e); !strings.HasPrefix(e.Description, "token_reuse: ") ||
			!strings.Contains(e.Description, `"on"`) || !strings.Contains(e.Description, `"off"`) || !strings.Contains(e.Description, `"default"`) {
			t.Errorf("call %d: error_description %q; want it to name token_reuse and on, off and default", i, e.Description)
		}
	}
	c.run(ts,
		adminCall("list", "GET", "/v1/admin/clients?limit=2&name=partner&disabled=false&scope=claims:read&metadata.owner=partners-team", "", 200, "", conforms),
		adminCall("list, page 1", "GET", "/v1/admin/clients?limit=1", "", 200, "", conforms),
		adminCall("limit out of range", "GET", "/v1/admin/clients?limit=0", "", 400, "invalid_request", nonconform),
		adminCall("an unknown parameter", "GET", "/v1/admin/clients?colour=blue", "", 400, "invalid_request", conformsAny),
		adminCall("PUT", "PUT", "/v1/admin/clients", `{}`, 405, "method_not_allowed", nonconform),
		adminCall("name missing", "POST", "/v1/admin/clients", `{"scopes":["claims:read"]}`, 400, "invalid_request", nonconform),
		adminCall("an unknown field", "POST", "/v1/admin/clients", `{"name":"x","colour":"blue"}`, 400, "invalid_request", nonconform),
		adminCall("an invalid setting", "POST", "/v1/admin/clients", `{"name":"x","token_ttl":"48h"}`, 400, "invalid_request", conforms),
		adminCall("a bad claim expression", "POST", "/v1/admin/clients", `{"name":"x","claims":{"tenant":"clinet.metadata.tenant"}}`, 400, "invalid_request", conforms),
		adminCall("a registered claim", "POST", "/v1/admin/clients", `{"name":"x","claims":{"sub":"'x'"}}`, 400, "invalid_request", conforms),
		adminCall("a condition that is not a bool", "POST", "/v1/admin/clients", `{"name":"x","condition":"client.name"}`, 400, "invalid_request", conforms),
		adminCall("a taken client_id", "POST", "/v1/admin/clients", `{"client_id":"gooclaim_app_imported","name":"again"}`, 409, "conflict", conforms),
		adminCall("a body over 1 MiB", "POST", "/v1/admin/clients", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: "/v1/admin/clients", contentType: "text/plain", body: "name=x",
			status: 415, code: "unsupported_media_type", req: nonconform}),

		adminCall("show", "GET", cp, "", 200, "", conforms),
		adminCall("show the imported one", "GET", "/v1/admin/clients/gooclaim_app_imported", "", 200, "", conforms),
		adminCall("show a missing one", "GET", missing, "", 404, "not_found", conforms),
		adminCall("PUT", "PUT", cp, `{}`, 405, "method_not_allowed", nonconform),
		adminCall("update", "PATCH", cp, `{"name":"partner-2","scopes":["claims:read","claims:write"],"metadata":{"owner":"team-b"},"token_ttl":null,"jwks":null}`, 200, "", conforms),
		adminCall("update claims and condition", "PATCH", cp, `{"claims":{"tenant":"has(client.metadata.tenant) ? client.metadata.tenant : null"},"condition":"ip_in(request.remote_ip, ['127.0.0.0/8', '::1/128'])"}`, 200, "", conforms),
		adminCall("a bad claim expression", "PATCH", cp, `{"claims":{"tenant":"client.metadata."}}`, 400, "invalid_request", conforms),
		adminCall("remove claims and condition", "PATCH", cp, `{"claims":{},"condition":""}`, 200, "", conforms),
		adminCall("nothing to change", "PATCH", cp, `{}`, 400, "invalid_request", nonconform),
		adminCall("update a missing one", "PATCH", missing, `{"name":"x"}`, 404, "not_found", conforms),
		adminCall("a body over 1 MiB", "PATCH", cp, megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "PATCH", path: cp, contentType: "text/plain", body: "name=x",
			status: 415, code: "unsupported_media_type", req: nonconform}),

		adminCall("disable", "POST", cp+"/disable", "", 200, "", conforms),
		adminCall("disable, an empty object", "POST", cp+"/disable", `{}`, 200, "", conforms),
		adminCall("disable, an unknown field", "POST", cp+"/disable", `{"why":"x"}`, 400, "invalid_request", nonconform),
		adminCall("disable a missing one", "POST", missing+"/disable", "", 404, "not_found", conforms),
		adminCall("GET", "GET", cp+"/disable", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", cp+"/disable", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: cp + "/disable", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("enable", "POST", cp+"/enable", "", 200, "", conforms),
		adminCall("enable, an unknown field", "POST", cp+"/enable", `{"why":"x"}`, 400, "invalid_request", nonconform),
		adminCall("enable a missing one", "POST", missing+"/enable", "", 404, "not_found", conforms),
		adminCall("GET", "GET", cp+"/enable", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", cp+"/enable", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: cp + "/enable", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),

		adminCall("revoke old secrets: there are none", "POST", cp+"/revoke-secret", `{"old":true}`, 400, "invalid_request", conforms),
		adminCall("rotate the secret", "POST", cp+"/rotate-secret", `{"grace":"1h"}`, 200, "", conforms),
		adminCall("rotate, a bad grace", "POST", cp+"/rotate-secret", `{"grace":"forever"}`, 400, "invalid_request", conforms),
		adminCall("rotate a missing one", "POST", missing+"/rotate-secret", "", 404, "not_found", conforms),
		adminCall("GET", "GET", cp+"/rotate-secret", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", cp+"/rotate-secret", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: cp + "/rotate-secret", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("revoke old secrets", "POST", cp+"/revoke-secret", `{"old":true}`, 200, "", conforms),
		adminCall("revoke-secret, old false", "POST", cp+"/revoke-secret", `{"old":false}`, 400, "invalid_request", nonconform),
		adminCall("revoke-secret on a missing one", "POST", missing+"/revoke-secret", `{"old":true}`, 404, "not_found", conforms),
		adminCall("GET", "GET", cp+"/revoke-secret", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", cp+"/revoke-secret", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: cp + "/revoke-secret", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("revoke its tokens", "POST", cp+"/revoke-tokens", "", 200, "", conforms),
		adminCall("revoke-tokens, an unknown field", "POST", cp+"/revoke-tokens", `{"all":true}`, 400, "invalid_request", nonconform),
		adminCall("revoke-tokens on a missing one", "POST", missing+"/revoke-tokens", "", 404, "not_found", conforms),
		adminCall("GET", "GET", cp+"/revoke-tokens", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", cp+"/revoke-tokens", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: cp + "/revoke-tokens", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),

		adminCall("keys", "GET", "/v1/admin/keys", "", 200, "", conforms),
		adminCall("POST", "POST", "/v1/admin/keys", "", 405, "method_not_allowed", nonconform),
		adminCall("rotate keys", "POST", "/v1/admin/keys/rotate", `{"publish_ahead":"10m"}`, 200, "", conforms),
		adminCall("rotate keys, the default", "POST", "/v1/admin/keys/rotate", "", 200, "", conforms),
		adminCall("rotate keys, a bad publish_ahead", "POST", "/v1/admin/keys/rotate", `{"publish_ahead":"soon"}`, 400, "invalid_request", conforms),
		adminCall("GET", "GET", "/v1/admin/keys/rotate", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", "/v1/admin/keys/rotate", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: "/v1/admin/keys/rotate", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("keys after rotations", "GET", "/v1/admin/keys", "", 200, "", conforms),
		adminCall("stats", "GET", "/v1/admin/stats", "", 200, "", conforms),
		adminCall("DELETE", "DELETE", "/v1/admin/stats", "", 405, "method_not_allowed", nonconform),
		adminCall("policies", "GET", "/v1/admin/policies", "", 200, "", conforms),
		adminCall("POST", "POST", "/v1/admin/policies", "", 405, "method_not_allowed", nonconform),
		adminCall("evaluate", "POST", "/v1/admin/policies/evaluate", `{"client_id":"`+id+`","claims":{"owner":"client.metadata.owner"},"condition":"ip_in(request.remote_ip, [\"10.0.0.0/8\"])","request":{"remote_ip":"10.1.2.3"}}`, 200, "", conforms),
		adminCall("evaluate the client's own", "POST", "/v1/admin/policies/evaluate", `{"client_id":"`+id+`"}`, 200, "", conforms),
		adminCall("evaluate, a syntax error", "POST", "/v1/admin/policies/evaluate", `{"client_id":"`+id+`","claims":{"owner":"client.metadata."}}`, 400, "invalid_request", conforms),
		adminCall("evaluate, an unknown client", "POST", "/v1/admin/policies/evaluate", `{"client_id":"gooclaim_app_nosuchclient"}`, 404, "not_found", conforms),
		adminCall("GET", "GET", "/v1/admin/policies/evaluate", "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", "/v1/admin/policies/evaluate", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: "/v1/admin/policies/evaluate", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),

		adminCall("audit", "GET", "/v1/admin/audit?limit=3&since=2020-01-02T15:04:05Z", "", 200, "", conforms),
		adminCall("audit of a client", "GET", "/v1/admin/audit?target_id="+id+"&actor=client:"+adminID+"&action=client.update&after=0&until=2999-01-01T00:00:00Z", "", 200, "", conforms),
		adminCall("audit, a bad after", "GET", "/v1/admin/audit?after=-1", "", 400, "invalid_request", nonconform),
		adminCall("audit, since after until", "GET", "/v1/admin/audit?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z", "", 400, "invalid_request", conforms),
		adminCall("DELETE", "DELETE", "/v1/admin/audit", "", 405, "method_not_allowed", nonconform),

		adminCall("delete", "DELETE", cp, "", 204, "", conforms),
		adminCall("delete a missing one", "DELETE", cp, "", 404, "not_found", conforms),
	)

	// Trusted issuers, and clients bound to them.
	const ip, ip2, missingIssuer = "/v1/admin/issuers/k8s", "/v1/admin/issuers/gh", "/v1/admin/issuers/nosuchissuer"
	c.run(ts,
		adminCall("trust an issuer", "POST", "/v1/admin/issuers", fmt.Sprintf(`{"name":"k8s","issuer":"https://k8s.example.com","jwks":%s,"max_token_age":"30m"}`, key.jwks), 201, "", conforms),
		adminCall("trust another", "POST", "/v1/admin/issuers", `{"name":"gh","issuer":"https://token.actions.githubusercontent.com","audience":"https://auth.example.com"}`, 201, "", conforms),
		adminCall("a taken name", "POST", "/v1/admin/issuers", `{"name":"k8s","issuer":"https://other.example.com"}`, 409, "conflict", conforms),
		adminCall("an invalid setting", "POST", "/v1/admin/issuers", `{"name":"x","issuer":"https://x.example.com","max_token_age":"48h"}`, 400, "invalid_request", conforms),
		adminCall("an unknown field", "POST", "/v1/admin/issuers", `{"name":"x","issuer":"https://x.example.com","colour":"blue"}`, 400, "invalid_request", nonconform),
		adminCall("a body over 1 MiB", "POST", "/v1/admin/issuers", megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: "/v1/admin/issuers", contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("PUT", "PUT", "/v1/admin/issuers", `{}`, 405, "method_not_allowed", nonconform),
		adminCall("list the issuers", "GET", "/v1/admin/issuers", "", 200, "", conforms),
		adminCall("list, a parameter", "GET", "/v1/admin/issuers?limit=1", "", 400, "invalid_request", conformsAny),
		adminCall("show an issuer", "GET", ip, "", 200, "", conforms),
		adminCall("show a missing issuer", "GET", missingIssuer, "", 404, "not_found", conforms),
		adminCall("PUT", "PUT", ip, `{}`, 405, "method_not_allowed", nonconform),
		adminCall("disable an issuer", "PATCH", ip, `{"disabled":true,"audience":"https://auth.example.com","max_token_age":"default"}`, 200, "", conforms),
		adminCall("enable it, keys by discovery", "PATCH", ip, `{"disabled":false,"jwks":null}`, 200, "", conforms),
		adminCall("another's issuer URL", "PATCH", ip2, `{"issuer":"https://k8s.example.com"}`, 409, "conflict", conforms),
		adminCall("nothing to change", "PATCH", ip, `{}`, 400, "invalid_request", nonconform),
		adminCall("update a missing issuer", "PATCH", missingIssuer, `{"disabled":true}`, 404, "not_found", conforms),
		adminCall("a body over 1 MiB", "PATCH", ip, megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "PATCH", path: ip, contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("a federated client", "POST", "/v1/admin/clients", `{"name":"workload","scopes":["claims:read"],"federated":[{"issuer":"k8s","subject":"system:serviceaccount:pay:worker"}],"exchange_audiences":["https://ledger.example.com"]}`, 201, "", conforms),
		adminCall("an identity bound to another", "POST", "/v1/admin/clients", `{"name":"thief","federated":[{"issuer":"k8s","subject":"system:serviceaccount:pay:worker"}]}`, 409, "conflict", conforms),
		adminCall("delete a bound issuer", "DELETE", ip, "", 409, "conflict", conforms),
		adminCall("delete an issuer", "DELETE", ip2, "", 204, "", conforms),
		adminCall("delete a missing issuer", "DELETE", ip2, "", 404, "not_found", conforms),
	)

	// Configuration as code: POST /v1/admin/apply and the schema.
	yaml := "application/yaml"
	cfgDoc := "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n  - {client_id: from-file, name: From a file, scopes: [claims:read], secret: {from_env: X}}\n"
	envelope, _ := json.Marshal(map[string]any{"document": cfgDoc, "file": "auth.yaml", "secrets": map[string]string{"from-file": "a-secret-sent-with-the-document-0123"}})
	stolen := "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n  - {client_id: thief2, name: Thief, federated: [{issuer: k8s, subject: \"system:serviceaccount:pay:worker\"}]}\n"
	c.run(ts,
		admin(call{name: "plan a document", method: "POST", path: "/v1/admin/apply?dry_run=true", contentType: js, body: string(envelope), status: 200}),
		admin(call{name: "apply it", method: "POST", path: "/v1/admin/apply?prune=false", contentType: js, body: string(envelope), status: 200}),
		admin(call{name: "a secret not sent", method: "POST", path: "/v1/admin/apply", contentType: yaml, body: cfgDoc, status: 400, code: "invalid_request"}),
		admin(call{name: "not a document", method: "POST", path: "/v1/admin/apply?dry_run=true", contentType: yaml, body: "kind: Nothing", status: 400, code: "invalid_request", req: nonconform}),
		admin(call{name: "an identity bound to another", method: "POST", path: "/v1/admin/apply", contentType: yaml, body: stolen, status: 409, code: "conflict"}),
		admin(call{name: "an unknown parameter", method: "POST", path: "/v1/admin/apply?force=true", contentType: yaml, body: cfgDoc, status: 400, code: "invalid_request", req: conformsAny}),
		admin(call{name: "too large", method: "POST", path: "/v1/admin/apply", contentType: yaml, body: strings.Repeat("#", 18<<20), status: 413, code: "invalid_request", req: conformsAny}),
		admin(call{name: "not YAML or JSON", method: "POST", path: "/v1/admin/apply", contentType: "text/plain", body: cfgDoc, status: 415, code: "unsupported_media_type", req: nonconform}),
		adminCall("GET", "GET", "/v1/admin/apply", "", 405, "method_not_allowed", nonconform),
		call{name: "the schema", method: "GET", path: "/schemas/auth/v1/auth-config.json", status: 200},
		call{name: "POST the schema", method: "POST", path: "/schemas/auth/v1/auth-config.json", status: 405, code: "method_not_allowed", req: nonconform},
	)

	// Sender-constrained clients: DPoP and mutual TLS (RFC 9449, RFC 8705).
	const mp = "/v1/admin/clients/mtls-svc"
	c.run(ts,
		adminCall("a tls_client_auth client", "POST", "/v1/admin/clients", `{"client_id":"mtls-svc","name":"mtls","tls_client_auth_subject_dn":"CN = svc, O = Gooclaim","tls_client_certificate_bound_access_tokens":true,"auth_methods":["tls_client_auth"]}`, 201, "", conforms),
		adminCall("two certificate fields", "POST", "/v1/admin/clients", `{"name":"x","tls_client_auth_san_dns":"svc.example.com","tls_client_auth_san_ip":"192.0.2.7"}`, 400, "invalid_request", conforms),
		adminCall("require DPoP, a SAN instead", "PATCH", mp, `{"dpop_bound_access_tokens":true,"tls_client_auth_san_uri":"spiffe://example.com/ns/pay/sa/svc"}`, 200, "", conforms),
		adminCall("show it", "GET", mp, "", 200, "", conforms),
		adminCall("a bad SAN IP", "PATCH", mp, `{"tls_client_auth_san_ip":"192.0.2"}`, 400, "invalid_request", conforms),
		adminCall("delete it", "DELETE", mp, "", 204, "", conforms),
	)

	// Revoke a key that does not sign (the admin token's key must keep working).
	nextKID := ""
	for _, st := range ts.srv.Keys().Statuses(time.Now()) {
		if st.State == issuer.KeyNext {
			nextKID = st.Key.ID
		}
	}
	if nextKID == "" {
		t.Fatal("no next key after the rotations")
	}
	kp := "/v1/admin/keys/" + nextKID + "/revoke"
	c.run(ts,
		adminCall("revoke a key", "POST", kp, `{"reason":"contract test"}`, 200, "", conforms),
		adminCall("revoke it again", "POST", kp, "", 404, "not_found", conforms),
		adminCall("revoke, a reason with a control character", "POST", "/v1/admin/keys/x/revoke", `{"reason":"a\u0007b"}`, 400, "invalid_request", conforms),
		adminCall("revoke, an unknown field", "POST", "/v1/admin/keys/x/revoke", `{"why":"x"}`, 400, "invalid_request", nonconform),
		adminCall("GET", "GET", kp, "", 405, "method_not_allowed", nonconform),
		adminCall("a body over 1 MiB", "POST", kp, megabyte, 413, "invalid_request", nonconform),
		admin(call{name: "not JSON", method: "POST", path: kp, contentType: "text/plain", body: "x",
			status: 415, code: "unsupported_media_type", req: nonconform}),
	)

	// Refusals of the admin API's guard, on every operation.
	auditorTok := ts.tokenFor(auditorID, auditorSecret)
	svcTokAdmin := ts.tokenFor(svcID, svcSecret)
	adminOps := []struct{ method, path, body string }{
		{"GET", "/v1/admin/clients", ""},
		{"POST", "/v1/admin/clients", `{"name":"x"}`},
		{"GET", "/v1/admin/clients/gooclaim_app_imported", ""},
		{"PATCH", "/v1/admin/clients/gooclaim_app_imported", `{"name":"x"}`},
		{"DELETE", "/v1/admin/clients/gooclaim_app_imported", ""},
		{"POST", "/v1/admin/clients/gooclaim_app_imported/disable", ""},
		{"POST", "/v1/admin/clients/gooclaim_app_imported/enable", ""},
		{"POST", "/v1/admin/clients/gooclaim_app_imported/rotate-secret", ""},
		{"POST", "/v1/admin/clients/gooclaim_app_imported/revoke-secret", `{"old":true}`},
		{"POST", "/v1/admin/clients/gooclaim_app_imported/revoke-tokens", ""},
		{"GET", "/v1/admin/issuers", ""},
		{"POST", "/v1/admin/issuers", `{"name":"x","issuer":"https://x.example.com"}`},
		{"GET", "/v1/admin/issuers/k8s", ""},
		{"PATCH", "/v1/admin/issuers/k8s", `{"disabled":true}`},
		{"DELETE", "/v1/admin/issuers/k8s", ""},
		{"GET", "/v1/admin/keys", ""},
		{"POST", "/v1/admin/keys/rotate", ""},
		{"POST", "/v1/admin/keys/some-kid/revoke", ""},
		{"GET", "/v1/admin/audit", ""},
		{"POST", "/v1/admin/apply", `{"document":"kind: AuthConfig"}`},
		{"GET", "/v1/admin/stats", ""},
		{"GET", "/v1/admin/policies", ""},
		{"POST", "/v1/admin/policies/evaluate", `{"client_id":"gooclaim_app_imported"}`},
	}
	var refusals []call
	for _, op := range adminOps {
		ct := ""
		if op.body != "" {
			ct = js
		}
		for _, g := range []struct {
			name, auth string
			status     int
			code       string
			req        reqExpect
		}{
			{"no token", "", 401, "unauthorized", nonconform},
			{"a junk token", "Bearer junk", 401, "invalid_token", conforms},
			{"a token for another audience", "Bearer " + svcTokAdmin, 401, "invalid_token", conforms},
			{"without auth:admin", "Bearer " + auditorTok, 403, "insufficient_scope", conforms},
			{"two Authorization headers", "Bearer " + adminTok, 400, "invalid_request", conformsAny},
		} {
			h := []string{}
			if g.auth != "" {
				h = []string{"Authorization", g.auth}
			}
			if g.status == 400 {
				h = append(h, h...)
			}
			refusals = append(refusals, call{name: g.name, method: op.method, path: op.path, contentType: ct, body: op.body,
				headers: h, status: g.status, code: g.code, req: g.req})
		}
	}
	c.run(ts, refusals...)
	// A revoked admin token is refused at once.
	c.run(ts,
		call{name: "revoke the admin token", method: "POST", path: revokePath, contentType: form, status: 200,
			body: enc("token", adminTok), headers: basic(adminID, adminSecret)},
		call{name: "a revoked admin token", method: "GET", path: "/v1/admin/keys", headers: bearer, status: 401, code: "invalid_token"},
	)

	// The console: its files, and sign-in codes for admin tokens.
	index := c.run(ts, call{name: "the console", method: "GET", path: "/console/", status: 200})[0]
	code, _ := ts.signInLink()
	ts.waitForClient(console.ClientID, true)
	session := `{"code":"` + code + `"}`
	c.run(ts,
		call{name: "the console, cached", method: "GET", path: "/console/", headers: []string{"If-None-Match", index.Header.Get("ETag")}, status: 304},
		call{name: "POST", method: "POST", path: "/console/", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "a sign-in code", method: "POST", path: "/console/session", contentType: js, body: session, status: 200},
		call{name: "a used sign-in code", method: "POST", path: "/console/session", contentType: js, body: session, status: 400, code: "invalid_code"},
		call{name: "no code", method: "POST", path: "/console/session", contentType: js, body: `{"code":""}`, status: 400, code: "invalid_request", req: nonconform},
		call{name: "GET", method: "GET", path: "/console/session", status: 405, code: "method_not_allowed", req: nonconform},
		call{name: "a body over 4 KiB", method: "POST", path: "/console/session", contentType: js, body: `{"code":"` + strings.Repeat("A", 5000) + `"}`,
			status: 413, code: "invalid_request", req: nonconform},
		call{name: "not JSON", method: "POST", path: "/console/session", contentType: "text/plain", body: session, status: 415,
			code: "unsupported_media_type", req: nonconform},
	)

	// The store fails: the admin API's guard, introspection and revocation
	// cannot read revocations, and say so with 503.
	adminTok = ts.tokenFor(adminID, adminSecret)
	svcTok = ts.tokenFor(svcID, svcSecret)
	if err := ts.srv.Store().Close(); err != nil {
		t.Fatal(err)
	}
	var down []call
	for _, op := range adminOps {
		ct := ""
		if op.body != "" {
			ct = js
		}
		down = append(down, call{name: "the store is down", method: op.method, path: op.path, contentType: ct, body: op.body,
			headers: []string{"Authorization", "Bearer " + adminTok}, status: 503, code: "temporarily_unavailable"})
	}
	down = append(down,
		call{name: "the store is down", method: "POST", path: introspectPath, contentType: form, status: 503, code: "temporarily_unavailable",
			body: enc("token", svcTok), headers: basic(rsID, rsSecret)},
		call{name: "the store is down", method: "POST", path: revokePath, contentType: form, status: 503, code: "temporarily_unavailable",
			body: enc("token", svcTok), headers: basic(svcID, svcSecret)},
	)
	c.run(ts, down...)

	// A node whose rate limiter is unreachable under --rate-limit-fail
	// closed answers 503; and one shutting down fails /readyz first.
	closed := startTestServer(t, nil, func(c *serveConfig) {
		c.redisURL, c.rateLimitFail = "redis://127.0.0.1:1/0", "closed"
		c.shutdownDelay = durationValue(2 * time.Second)
	})
	c.doc.Servers = openapi3.Servers{{URL: ts.url}, {URL: closed.url}}
	if c.router, err = legacy.NewRouter(c.doc); err != nil {
		t.Fatal(err)
	}
	c.run(closed,
		call{name: "the limiter is unreachable", method: "POST", path: tokenPath, contentType: js, status: 503, code: "temporarily_unavailable",
			body: `{"grant_type":"client_credentials","client_id":"gooclaim_app_12345","client_secret":"S3cureP@ssw0rd!"}`},
		call{name: "the limiter is unreachable", method: "POST", path: introspectPath, contentType: form, status: 503, code: "temporarily_unavailable",
			body: enc("token", "x"), headers: basic("gooclaim_app_12345", "S3cureP@ssw0rd!")},
		call{name: "the limiter is unreachable", method: "POST", path: revokePath, contentType: form, status: 503, code: "temporarily_unavailable",
			body: enc("token", "x"), headers: basic("gooclaim_app_12345", "S3cureP@ssw0rd!")},
	)
	closedCode, _ := closed.signInLink()
	c.run(closed, call{name: "the replay cache is unreachable", method: "POST", path: "/console/session", contentType: js,
		body: `{"code":"` + closedCode + `"}`, status: 503, code: "temporarily_unavailable"})
	closed.cancel() // SIGTERM: readiness fails for --shutdown-delay while the node still serves
	waitUntil(t, func() bool { return closed.srv.Health().Reason == "shutting down" })
	c.run(closed, call{name: "shutting down", method: "GET", path: "/readyz", status: 503})

	c.checkCoverage()
}
