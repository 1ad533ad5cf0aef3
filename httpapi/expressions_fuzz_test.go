package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/policy"
)

// FuzzClientExpressions saves any expression as a claim or as the
// condition of a client through the admin API: it never answers 5xx (a
// bad one is a 400), and one it accepts compiles and evaluates without
// panicking, within the runtime cost limit, unbound and bound to the
// client.
func FuzzClientExpressions(f *testing.F) {
	h, svc := fuzzAdmin(f)
	if _, _, err := svc.CreateClient(f.Context(), admin.ClientSpec{ID: "fixed", Name: "fixed", Scopes: []string{"read"}}); err != nil {
		f.Fatal(err)
	}
	for _, e := range []string{
		"client.metadata.tenant", "has(client.metadata.tenant) ? client.metadata.tenant : null", `ip_in(request.remote_ip, ["10.0.0.0/8"])`,
		`hour_in(now, "Europe/Paris", 9, 18)`, "clinet.x", "client.metadata.", "[1,2,3].map(x, [1,2,3].map(y, [1,2].map(z, x*y*z)))",
		`request.scope.exists(s, s.startsWith("claims:"))`, `{"a": [1.5, true, null], 1: 2}`, "1/0", `"x" * 3`, "now", "size(client.scopes) > 0",
		strings.Repeat("(", 200), `string(now)`, `request.federated_claims.sub`, `ip_in("::ffff:10.1.1.1", ["10.0.0.0/33"])`,
	} {
		f.Add(e, false)
		f.Add(e, true)
	}
	in := &policy.Input{
		ClientID: "fixed", ClientName: "fixed", Scopes: []string{"read"}, Metadata: map[string]string{"tenant": "acme"},
		Scope: []string{"read"}, Audience: "https://api", AuthMethod: "client_secret_basic", RemoteIP: "10.1.2.3", Now: time.Unix(1795728216, 0),
	}
	f.Fuzz(func(t *testing.T, expr string, condition bool) {
		body := map[string]any{"claims": map[string]string{"x": expr}}
		if condition {
			body = map[string]any{"condition": expr}
		}
		b, w := serveJSON(h, http.MethodPatch, "/v1/admin/clients/fixed", body)
		// Tried before it is saved: the same checks, never a 5xx.
		body["client_id"] = "fixed"
		if _, e := serveJSON(h, http.MethodPost, "/v1/admin/policies/evaluate", body); e.Code >= 500 {
			t.Fatalf("POST /v1/admin/policies/evaluate %s: %d %s", b, e.Code, e.Body)
		}
		switch {
		case w.Code >= 500:
			t.Fatalf("PATCH %s: %d %s", b, w.Code, w.Body)
		case w.Code != http.StatusOK:
			return
		}
		claims := map[string]string{"x": expr}
		cond := ""
		if condition {
			claims, cond = nil, expr
		}
		set, err := policy.Compile(claims, nil, cond)
		if err != nil {
			t.Fatalf("%q was saved but does not compile: %v", expr, err)
		}
		set.Eval(in) // an error is fine; a panic or a runaway is not
		// Bound to the client, as the issuer evaluates it. (Not compared with
		// the above: CEL leaves the order of a map's keys open, so
		// {"a": 1, "b": 2}.map(k, k) may differ from one evaluation to the
		// next. TestEvalMatchesReference compares.)
		set.Bind(in).Eval(in)
	})
}

// serveJSON sends h body as JSON, as admin client ops; it returns the
// body sent and the answer.
func serveJSON(h http.Handler, method, path string, body any) ([]byte, *httptest.ResponseRecorder) {
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(method, path, strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(testClientHeader, "ops")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return b, w
}
