package verify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

// challengeGrammar is RFC 6750 §3's WWW-Authenticate for our realm: every
// attribute value within the characters §3 allows.
var challengeGrammar = regexp.MustCompile(`^Bearer realm="gooclaim"(, error="[a-z_]+")?(, error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*")?(, scope="[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*")?$`)

func TestMiddleware(t *testing.T) {
	s := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"claims:read"})
	v := newVerifier(t, s, nil)
	tok := fetchToken(t, s, id, secret)
	now := time.Now()
	expired := signWith(t, s, now, "at+jwt", func() map[string]any {
		c := claims(s, now)
		c["exp"] = now.Add(-time.Hour).Unix()
		return c
	}())
	quoted := forge(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "a\"b\\c\r\nd"}, claims(s, now), signer(t, "ES256", newPrivateKey(t, "ES256")))

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := verify.FromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		w.Write([]byte("hello " + c.Subject))
	})
	read := v.Middleware("claims:read")(hello)
	admin := v.Middleware("claims:read claims:admin")(hello)

	bearer := func(value string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", value) }
	}
	const plain = `Bearer realm="gooclaim"`
	for _, tc := range []struct {
		name      string
		handler   http.Handler
		method    string
		target    string
		body      string
		setup     func(*http.Request)
		status    int
		challenge string // exact, or a prefix when it ends with "*"
		errorCode string
	}{
		{"no token", read, "GET", "/", "", nil, 401, plain, "unauthorized"},
		{"Basic credentials", read, "GET", "/", "", bearer("Basic Zm9vOmJhcg=="), 401, plain, "unauthorized"},
		{"token in the query string", read, "GET", "/?access_token=" + url.QueryEscape(tok), "", nil, 401, plain, "unauthorized"},
		{"token in a form body", read, "POST", "/", "access_token=" + url.QueryEscape(tok), func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, 401, plain, "unauthorized"},
		{"Bearer", read, "GET", "/", "", bearer("Bearer " + tok), 200, "", ""},
		{"lowercase bearer", read, "GET", "/", "", bearer("bearer " + tok), 200, "", ""},
		{"BEARER and two spaces", read, "GET", "/", "", bearer("BEARER  " + tok), 200, "", ""},
		{"garbage token", read, "GET", "/", "", bearer("Bearer abc.def.ghi"), 401,
			plain + `, error="invalid_token", error_description="the token's payload is not unpadded base64url"`, "invalid_token"},
		{"expired token", read, "GET", "/", "", bearer("Bearer " + expired), 401,
			plain + `, error="invalid_token", error_description="the token expired at *`, "invalid_token"},
		{"quotes and control characters in the kid", read, "GET", "/", "", bearer("Bearer " + quoted), 401,
			plain + `, error="invalid_token", error_description="unknown key ID 'a?b?c??d': not in the issuer's JWK Set"`, "invalid_token"},
		{"typ JWT, with a section sign", read, "GET", "/", "", bearer("Bearer " + signWith(t, s, now, "JWT", claims(s, now))), 401,
			plain + `, error="invalid_token", error_description="the token's typ 'JWT' is not at+jwt: not an access token (RFC 9068 section 4)"`, "invalid_token"},
		{"Bearer without a token", read, "GET", "/", "", bearer("Bearer"), 401,
			plain + `, error="invalid_token", error_description="the Authorization header has the Bearer scheme but no token"`, "invalid_token"},
		{"a token with a comma", read, "GET", "/", "", bearer("Bearer a,b"), 401, plain + `, error="invalid_token", *`, "invalid_token"},
		{"missing scope", admin, "GET", "/", "", bearer("Bearer " + tok), 403,
			plain + `, error="insufficient_scope", error_description="the token lacks the scope claims:admin", scope="claims:read claims:admin"`, "insufficient_scope"},
		{"two Authorization headers", read, "GET", "/", "", func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+tok)
			r.Header.Add("Authorization", "Bearer "+tok)
		}, 400, plain + `, error="invalid_request", error_description="the request has more than one Authorization header"`, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.setup != nil {
				tc.setup(req)
			}
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			got := rec.Header().Get("WWW-Authenticate")
			if tc.status == 200 {
				if got != "" || rec.Body.String() != "hello "+id {
					t.Errorf("challenge %q, body %q", got, rec.Body)
				}
				return
			}
			if want, prefix := strings.CutSuffix(tc.challenge, "*"); prefix && !strings.HasPrefix(got, want) || !prefix && got != want {
				t.Errorf("WWW-Authenticate\n %s\nwant\n %s", got, tc.challenge)
			}
			if !challengeGrammar.MatchString(got) {
				t.Errorf("WWW-Authenticate %q does not follow RFC 6750 §3", got)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.errorCode || body.Description == "" {
				t.Errorf("body %s (%v), want error %q with a description", rec.Body, err, tc.errorCode)
			}
			if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
		})
	}

	if c, ok := verify.FromContext(context.Background()); ok || c != nil {
		t.Errorf("FromContext of a bare context: %v, %v", c, ok)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "double quote") {
				t.Errorf("Middleware with a quoted scope: recovered %v, want a panic saying why", r)
			}
		}()
		v.Middleware(`a"b`)
	}()
}

// TestMiddlewareConfigScopes: Config.RequiredScopes and the route's scopes
// are named together in the challenge.
func TestMiddlewareConfigScopes(t *testing.T) {
	s := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"claims:read"})
	v := newVerifier(t, s, func(c *verify.Config) { c.RequiredScopes = []string{"claims:read", "api"} })
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+fetchToken(t, s, id, secret))
	rec := httptest.NewRecorder()
	v.Middleware("claims:write")(http.NotFoundHandler()).ServeHTTP(rec, req)
	want := `Bearer realm="gooclaim", error="insufficient_scope", error_description="the token lacks the scopes api, claims:write", scope="claims:read api claims:write"`
	if rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != want {
		t.Errorf("%d %s\nwant 403 %s", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
}
