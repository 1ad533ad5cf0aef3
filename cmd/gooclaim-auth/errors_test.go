package main

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// TestTokenErrors: every error of the token endpoint, one row each, with its
// status, RFC 6749 §5.2 code, and a fragment of the description that tells
// the caller what was wrong.
func TestTokenErrors(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read claims:write", "--audience", "https://claims.gooclaim.com")
	offID, offSecret := ts.createClient("--name", "off", "--scope", "claims:read")
	if _, e, code := ts.cli("", "clients", "disable", offID); code != 0 {
		t.Fatal(e)
	}
	waitUntil(t, func() bool { return ts.srv.Replica().Lookup(offID).Disabled })
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	good := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	creds := "&client_id=" + id + "&client_secret=" + secret
	const form, js = "application/x-www-form-urlencoded", "application/json"

	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		headers     []string
		status      int
		code        string
		desc        string // fragment of error_description
	}{
		{"no content type", "POST", "", good, nil, 400, "invalid_request", "application/json or application/x-www-form-urlencoded"},
		{"text/plain", "POST", "text/plain", good, nil, 400, "invalid_request", "unsupported Content-Type"},
		{"multipart", "POST", "multipart/form-data; boundary=x", good, nil, 400, "invalid_request", "application/x-www-form-urlencoded"},
		{"latin1 charset", "POST", "application/x-www-form-urlencoded; charset=iso-8859-1", good, nil, 400, "invalid_request", "UTF-8"},
		{"malformed JSON", "POST", js, `{"grant_type": "client_credentials",`, nil, 400, "invalid_request", "JSON"},
		{"JSON array", "POST", js, `["client_credentials"]`, nil, 400, "invalid_request", "object"},
		{"number for client_id", "POST", js, `{"grant_type":"client_credentials","client_id":12345,"client_secret":"x"}`, nil, 400, "invalid_request", "client_id must be a string, not a number"},
		{"object for secret", "POST", js, `{"grant_type":"client_credentials","client_id":"a","client_secret":{"x":1}}`, nil, 400, "invalid_request", "client_secret must be a string"},
		{"duplicate JSON member", "POST", js, `{"grant_type":"client_credentials","client_id":"a","client_id":"b","client_secret":"x"}`, nil, 400, "invalid_request", "more than once"},
		{"invalid UTF-8", "POST", form, "grant_type=client_credentials&client_id=\xff\xfe" + "&client_secret=x", nil, 400, "invalid_request", "UTF-8"},
		{"repeated form parameter", "POST", form, good + "&scope=claims:read&scope=claims:write", nil, 400, "invalid_request", "scope is repeated"},
		{"bad percent escape", "POST", form, good + "&scope=%zz", nil, 400, "invalid_request", "percent-escape"},
		{"control character in client_id", "POST", form, "grant_type=client_credentials&client_id=a%00b&client_secret=x", nil, 400, "invalid_request", "printable ASCII"},
		{"grant_type missing", "POST", form, strings.TrimPrefix(creds, "&"), nil, 400, "invalid_request", "grant_type is required"},
		{"grant_type empty counts as absent", "POST", form, "grant_type=" + creds, nil, 400, "invalid_request", "grant_type is required"},
		{"grant_type password", "POST", form, "grant_type=password" + creds, nil, 400, "unsupported_grant_type", "client_credentials"},
		{"grant_type authorization_code JSON", "POST", js, `{"grant_type":"authorization_code","client_id":"` + id + `","client_secret":"` + secret + `"}`, nil, 400, "unsupported_grant_type", "client_credentials"},
		{"two auth methods", "POST", form, good, []string{"Authorization", basic(id, secret)}, 400, "invalid_request", "exactly one method"},
		{"basic and other client_id in body", "POST", form, "grant_type=client_credentials&client_id=other", []string{"Authorization", basic(id, secret)}, 400, "invalid_request", "differs"},
		{"unknown scope", "POST", form, good + "&scope=claims:read+claims:delete", nil, 400, "invalid_scope", `"claims:delete"`},
		{"scope is case-sensitive", "POST", form, good + "&scope=Claims:Read", nil, 400, "invalid_scope", `"Claims:Read"`},
		{"resource not allowed", "POST", form, good + "&resource=https://evil.example", nil, 400, "invalid_target", "not allowed"},
		{"audience not allowed", "POST", js, `{"grant_type":"client_credentials","client_id":"` + id + `","client_secret":"` + secret + `","audience":"https://api.gooclaim.com"}`, nil, 400, "invalid_target", "not allowed"},
		{"no client authentication", "POST", form, "grant_type=client_credentials", nil, 401, "invalid_client", "client authentication is required"},
		{"client_id without secret", "POST", form, "grant_type=client_credentials&client_id=" + id, nil, 401, "invalid_client", "client_secret is required"},
		{"unknown client", "POST", form, "grant_type=client_credentials&client_id=gooclaim_app_nobody&client_secret=" + secret, nil, 401, "invalid_client", "client authentication failed"},
		{"wrong secret", "POST", form, "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret + "x", nil, 401, "invalid_client", "client authentication failed"},
		{"disabled client", "POST", form, "grant_type=client_credentials&client_id=" + offID + "&client_secret=" + offSecret, nil, 401, "invalid_client", "client authentication failed"},
		{"wrong secret by Basic", "POST", form, "grant_type=client_credentials", []string{"Authorization", basic(id, "nope")}, 401, "invalid_client", "client authentication failed"},
		{"Basic not base64", "POST", form, "grant_type=client_credentials", []string{"Authorization", "Basic !!!"}, 401, "invalid_client", "base64"},
		{"Basic without colon", "POST", form, "grant_type=client_credentials", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id))}, 401, "invalid_client", "colon"},
		{"Bearer on the token endpoint", "POST", form, good, []string{"Authorization", "Bearer abc"}, 401, "invalid_client", "Basic"},
		{"body over 64 KiB", "POST", form, good + "&pad=" + strings.Repeat("a", 64<<10), nil, 413, "invalid_request", "larger than"},
		{"GET token endpoint", "GET", "", "", nil, 405, "method_not_allowed", "POST"},
		{"PUT token endpoint", "PUT", form, good, nil, 405, "method_not_allowed", "POST"},
		{"POST JWKS", "POST", form, "", nil, 405, "method_not_allowed", "GET"},
		{"unknown path", "GET", "", "", nil, 404, "not_found", "/v1/auth/token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/auth/token"
			switch {
			case tc.name == "POST JWKS":
				path = "/.well-known/jwks.json"
			case tc.name == "unknown path":
				path = "/v1/auth/nothing"
			}
			r := ts.do(tc.method, path, tc.contentType, tc.body, tc.headers...)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.StatusCode, tc.status, r.body)
			}
			code, desc := r.errorBody(t)
			if code != tc.code || !strings.Contains(desc, tc.desc) {
				t.Fatalf("error %q %q, want %q containing %q", code, desc, tc.code, tc.desc)
			}
			if tc.status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			usedBasic := len(tc.headers) > 0 && tc.headers[0] == "Authorization"
			if got := r.Header.Get("WWW-Authenticate"); tc.status == 401 && usedBasic != strings.HasPrefix(got, `Basic realm="gooclaim"`) {
				t.Errorf("WWW-Authenticate %q (request used Basic: %v)", got, usedBasic)
			}
			if path == "/v1/auth/token" && tc.status != 405 && r.Header.Get("RateLimit") == "" {
				t.Error("token response without RateLimit header")
			}
		})
	}
}

// TestInvalidClientIndistinguishable: unknown client, wrong secret and
// disabled client get byte-identical bodies (no client enumeration).
func TestInvalidClientIndistinguishable(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	offID, offSecret := ts.createClient("--name", "off", "--scope", "a")
	ts.cli("", "clients", "disable", offID)
	waitUntil(t, func() bool { return ts.srv.Replica().Lookup(offID).Disabled })
	bodies := map[string]string{}
	for name, q := range map[string]string{
		"unknown":  "client_id=gooclaim_app_nobody&client_secret=" + secret,
		"wrong":    "client_id=" + id + "&client_secret=wrong",
		"disabled": "client_id=" + offID + "&client_secret=" + offSecret,
	} {
		r := ts.form("grant_type=client_credentials&" + q)
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d", name, r.StatusCode)
		}
		bodies[string(r.body)] = name
	}
	if len(bodies) != 1 {
		t.Fatalf("the three failures are distinguishable: %v", bodies)
	}
}
