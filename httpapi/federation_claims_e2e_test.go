package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/oauthwire"
)

// fedClaimsServer is a real server trusting one GitHub-Actions-like
// issuer, "github", whose prod-environment subjects of the given
// repositories are bound to clients created with the given specs.
type fedClaimsServer struct {
	ts *testserver.Server
	op *testoidc.Issuer
}

func newFedClaimsServer(t *testing.T, specs map[string]admin.ClientSpec) *fedClaimsServer {
	t.Helper()
	op := testoidc.New(t, "ES256")
	fed := &bindings{bound: map[auth.FederatedIdentity]string{}}
	ts := testserver.New(t, testserver.Options{Federation: fed})
	fed.srv = ts
	fed.issuers = map[string]*auth.TrustedIssuer{op.URL: {Name: "github", Issuer: op.URL}}
	for repo, spec := range specs {
		c, _, err := ts.Admin.CreateClient(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		fed.bound[auth.FederatedIdentity{Issuer: "github", Subject: environmentSubject(repo)}] = c.ID
	}
	return &fedClaimsServer{ts: ts, op: op}
}

// environmentSubject is the sub of a GitHub Actions job of repo's prod
// environment, whatever its branch.
func environmentSubject(repo string) string { return "repo:" + repo + ":environment:prod" }

// job is a token of a job of repo's prod environment on ref.
func (s *fedClaimsServer) job(repo, ref string, opts ...testoidc.Option) string {
	return s.op.GitHubActions(repo, ref, s.ts.Issuer, append([]testoidc.Option{testoidc.Claim("sub", environmentSubject(repo))}, opts...)...)
}

// post sends a token request and returns the status and the decoded body.
func (s *fedClaimsServer) post(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.ts.Client().PostForm(s.ts.URL+httpapi.TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, body, err)
	}
	return resp.StatusCode, m
}

func assertionForm(token string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.ClientAssertionTypeJWT}, "client_assertion": {token}}
}

func exchangeForm(token string) url.Values {
	return url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token_type": {auth.TokenTypeJWT}, "subject_token": {token}}
}

// accessTokenClaims decodes the claims of the access token in a token
// response, unverified.
func accessTokenClaims(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	tok, _ := m["access_token"].(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("no JWT in %v", m)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// deploySpec is a client that deploys from main only: its tokens carry
// the job's repository, and its condition reads the job's ref.
var deploySpec = admin.ClientSpec{Name: "deployer", Scopes: []string{"deploy"},
	Claims:    map[string]string{"repo": "request.federated_claims.repository"},
	Condition: `request.federated_claims.ref == "refs/heads/main"`}

// TestFederatedClaimsEndToEnd: through HTTP, a federated client's claim and
// condition read the GitHub Actions token it authenticated with, as a
// client assertion and by token exchange; a job of another branch is
// refused with 400 unauthorized_client; a client with a secret sees an
// empty request.federated_claims.
func TestFederatedClaimsEndToEnd(t *testing.T) {
	s := newFedClaimsServer(t, map[string]admin.ClientSpec{"gooclaim/claims": deploySpec})
	for name, form := range map[string]func(string) url.Values{"assertion": assertionForm, "exchange": exchangeForm} {
		t.Run(name, func(t *testing.T) {
			status, m := s.post(t, form(s.job("gooclaim/claims", "refs/heads/main")))
			if status != http.StatusOK {
				t.Fatalf("a job on main: %d %v", status, m)
			}
			if c := accessTokenClaims(t, m); c["repo"] != "gooclaim/claims" {
				t.Fatalf("claims %v; want repo gooclaim/claims", c)
			}
			status, m = s.post(t, form(s.job("gooclaim/claims", "refs/heads/feature")))
			if status != http.StatusBadRequest || m["error"] != "unauthorized_client" {
				t.Fatalf("a job on another branch: %d %v; want 400 unauthorized_client", status, m)
			}
		})
	}
	t.Run("not federated", func(t *testing.T) {
		c, secret, err := s.ts.Admin.CreateClient(context.Background(), admin.ClientSpec{Name: "plain", Scopes: []string{"read"},
			Claims: map[string]string{"fed_count": "size(request.federated_claims)"}, Condition: "size(request.federated_claims) == 0"})
		if err != nil {
			t.Fatal(err)
		}
		status, m := s.post(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}})
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, m)
		}
		if c := accessTokenClaims(t, m); c["fed_count"] != float64(0) {
			t.Fatalf("claims %v; want fed_count 0", c)
		}
	})
}

// TestFederatedClaimsHostile: a trusted issuer's token built to make
// expressions costly — hundreds of claims, arrays and objects nested
// thousands deep, strings of kilobytes — gets a clear answer, never a
// panic: a token when the expressions can be evaluated; 500 server_error
// when one exceeds the runtime cost limit or makes a claim nested past 16
// levels, as for any expression that fails at issuance; the condition's
// 400 unauthorized_client when it is false; 400 invalid_request for a
// token over the request's bounds (a client_assertion of 8 KiB, a
// subject_token of 16 KiB).
func TestFederatedClaimsHostile(t *testing.T) {
	s := newFedClaimsServer(t, map[string]admin.ClientSpec{
		"gooclaim/claims": deploySpec,
		// Accepted when saved (a map of 64 entries is assumed), over the
		// runtime cost limit on a map of 400.
		"gooclaim/walker": {Name: "walker", Scopes: []string{"deploy"},
			Condition: `request.federated_claims.map(k, [k, k, k]).size() >= 0`},
		// Copies the whole map into the token.
		"gooclaim/echo": {Name: "echo", Scopes: []string{"deploy"}, Claims: map[string]string{"job": "request.federated_claims"}},
	})
	claims := func(n int) []testoidc.Option {
		var opts []testoidc.Option
		for i := range n {
			opts = append(opts, testoidc.Claim("c"+strconv.Itoa(i), 0))
		}
		return opts
	}
	var deepList any = "bottom"
	for range 2000 {
		deepList = []any{deepList}
	}
	var deepObject any = "bottom"
	for range 700 {
		deepObject = map[string]any{"a": deepObject}
	}
	long := strings.Repeat("x", 4000)
	type answer struct {
		status int
		error  string
	}
	token, refused := answer{http.StatusOK, ""}, answer{http.StatusBadRequest, "unauthorized_client"}
	failed, tooLong := answer{http.StatusInternalServerError, "server_error"}, answer{http.StatusBadRequest, "invalid_request"}
	const main = "refs/heads/main"
	for _, tc := range []struct {
		name, repo          string
		opts                []testoidc.Option
		assertion, exchange answer
		check               func(t *testing.T, claims map[string]any)
	}{
		{"500 claims", "gooclaim/claims", claims(500), token, token, func(t *testing.T, c map[string]any) {
			if c["repo"] != "gooclaim/claims" {
				t.Errorf("repo %v", c["repo"])
			}
		}},
		// Within a subject_token's 16 KiB, over a client assertion's 8 KiB.
		{"1000 claims", "gooclaim/claims", claims(1000), tooLong, token, nil},
		{"arrays 2000 deep", "gooclaim/claims", []testoidc.Option{testoidc.Claim("deep", deepList)}, token, token, nil},
		{"objects 700 deep", "gooclaim/claims", []testoidc.Option{testoidc.Claim("deep", deepObject)}, token, token, nil},
		{"long repository", "gooclaim/claims", []testoidc.Option{testoidc.Claim("repository", long)}, token, token, func(t *testing.T, c map[string]any) {
			if c["repo"] != long {
				t.Errorf("repo of %d bytes, want %d", len(c["repo"].(string)), len(long))
			}
		}},
		{"long ref", "gooclaim/claims", []testoidc.Option{testoidc.Claim("ref", "refs/heads/"+long)}, refused, refused, nil},
		{"over 16 KiB", "gooclaim/claims", []testoidc.Option{testoidc.Claim("pad", strings.Repeat(long, 4))}, tooLong, tooLong, nil},
		{"walker, ordinary token", "gooclaim/walker", nil, token, token, nil},
		{"walker, 500 claims", "gooclaim/walker", claims(500), failed, failed, nil},
		{"echo, 500 claims", "gooclaim/echo", claims(500), token, token, func(t *testing.T, c map[string]any) {
			if job, _ := c["job"].(map[string]any); job["c499"] != float64(0) || job["ref"] != main {
				t.Errorf("job claim without the token's claims: %.200v", c["job"])
			}
		}},
		{"echo, arrays 2000 deep", "gooclaim/echo", []testoidc.Option{testoidc.Claim("deep", deepList)}, failed, failed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.job(tc.repo, main, tc.opts...)
			for _, p := range []struct {
				name  string
				form  func(string) url.Values
				limit int
				want  answer
			}{
				{"assertion", assertionForm, oauthwire.MaxAssertionLength, tc.assertion},
				{"exchange", exchangeForm, oauthwire.MaxTokenLength, tc.exchange},
			} {
				if over := len(tok) > p.limit; over != (p.want == tooLong) {
					t.Fatalf("%s: the token is %d bytes, the limit %d: the case does not test what it says", p.name, len(tok), p.limit)
				}
				status, m := s.post(t, p.form(tok))
				got := answer{status, ""}
				got.error, _ = m["error"].(string)
				if got != p.want {
					t.Fatalf("%s of a token of %d bytes: %d %v; want %v", p.name, len(tok), status, m, p.want)
				}
				if status == http.StatusOK && tc.check != nil {
					tc.check(t, accessTokenClaims(t, m))
				}
			}
		})
	}
}
