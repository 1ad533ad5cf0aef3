package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/client"
)

const k8sIssuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"

// writeTokenFile replaces path's content the way the kubelet does: a new
// file renamed over the old one, so that a reader sees one or the other.
func writeTokenFile(t testing.TB, path, tok string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestFederatedTokenFile: the token in the file is the client assertion,
// unchanged, with the jwt-bearer type; no secret, no Authorization header,
// client_id only when configured; and the file is read again for every
// request, so a token the platform rotated is the one sent.
func TestFederatedTokenFile(t *testing.T) {
	t.Parallel()
	f := newFederationServer(t)
	first := workloadToken(k8sIssuer, "system:serviceaccount:claims:importer", 1)
	second := workloadToken(k8sIssuer, "system:serviceaccount:claims:importer", 2)
	f.federated[first], f.federated[second] = "importer", "importer"
	for _, tc := range []struct {
		name     string
		clientID string
		encoding client.Encoding
	}{
		{"form without client_id", "", client.EncodingForm},
		{"form with client_id", "importer", client.EncodingForm},
		{"json", "", client.EncodingJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			writeTokenFile(t, path, first)
			c := &client.Config{TokenURL: f.tokenURL(), ClientID: tc.clientID, AuthStyle: client.AuthFederatedJWT,
				FederatedTokenFile: path, Encoding: tc.encoding, Scopes: []string{"claims:read"}}
			for i, want := range []string{first, second} {
				if i == 1 {
					writeTokenFile(t, path, second)
				}
				tok, err := c.Token(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(tok.AccessToken, "sub=importer;client_id=importer;") {
					t.Errorf("token %q, want one for importer", tok.AccessToken)
				}
				req := f.last()
				if req.contentType != tc.encoding.String() {
					t.Errorf("Content-Type %q, want %q", req.contentType, tc.encoding)
				}
				want := map[string]string{"grant_type": "client_credentials", "scope": "claims:read",
					"client_assertion_type": jwtBearer, "client_assertion": want}
				if tc.clientID != "" {
					want["client_id"] = tc.clientID
				}
				if req.authorization != "" || !equalParams(req.params, want) {
					t.Errorf("request %d: Authorization %q, parameters %v; want none and %v", i+1, req.authorization, req.params, want)
				}
			}
		})
	}
}

func equalParams(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestFederatedTokenFileRereadOnRetry: a retry after a 503 reads the file
// again, and sends the token the platform wrote meanwhile.
func TestFederatedTokenFileRereadOnRetry(t *testing.T) {
	t.Parallel()
	f := newFederationServer(t)
	path := filepath.Join(t.TempDir(), "token")
	old, fresh := workloadToken(k8sIssuer, "system:serviceaccount:claims:importer", 1), workloadToken(k8sIssuer, "system:serviceaccount:claims:importer", 2)
	f.federated[fresh] = "importer"
	writeTokenFile(t, path, old)
	f.before = func(n int, w http.ResponseWriter) bool {
		if n > 1 {
			return false
		}
		writeTokenFile(t, path, fresh) // the kubelet rotates the token while the server is unavailable
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again")
		return true
	}
	c := &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT, FederatedTokenFile: path, MinBackoff: time.Millisecond}
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].params["client_assertion"] != old || reqs[1].params["client_assertion"] != fresh {
		t.Fatalf("%d requests; want 2, the first with the old token and the retry with the new one", len(reqs))
	}
}

// TestFederatedTokenFileErrors: a missing, empty, oversized or non-JWT
// file fails before any request, naming the path and never quoting the
// file's content.
func TestFederatedTokenFileErrors(t *testing.T) {
	t.Parallel()
	f := newFederationServer(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope"), []string{filepath.Join(dir, "nope"), "no such file", "mounted"}},
		{"empty", write("empty", " \n"), []string{filepath.Join(dir, "empty"), "empty"}},
		{"not a JWT", write("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []string{filepath.Join(dir, "ca.crt"), "not hold a JWT"}},
		{"two parts", write("two", "secret-part-one.secret-part-two"), []string{filepath.Join(dir, "two"), "2 dot-separated parts"}},
		{"too big", write("big", strings.Repeat("a", 40<<10)), []string{filepath.Join(dir, "big"), "over"}},
		{"a directory", dir, []string{dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT, FederatedTokenFile: tc.path}
			_, err := c.Token(context.Background())
			if err == nil {
				t.Fatal("got a token")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret-part") || strings.Contains(err.Error(), "MIIB") {
				t.Errorf("error %q quotes the file", err)
			}
		})
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached the token endpoint, want 0", n)
	}
}

// TestFederatedTokenFunc: FederatedToken is called for every request,
// retries included; its error fails the request at once, unchanged for
// errors.Is.
func TestFederatedTokenFunc(t *testing.T) {
	t.Parallel()
	f := newFederationServer(t)
	var calls atomic.Int32
	f.before = func(n int, w http.ResponseWriter) bool {
		if n == 1 {
			writeError(w, http.StatusBadGateway, "", "")
			return true
		}
		return false
	}
	src := func(ctx context.Context) (string, error) {
		n := int(calls.Add(1))
		tok := workloadToken("https://token.actions.githubusercontent.com", "repo:gooclaim/claims:ref:refs/heads/main", n)
		f.federated[tok] = "ci-deployer" // before the request that carries it
		return tok, nil
	}
	c := &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT, FederatedToken: src, MinBackoff: time.Millisecond}
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || !strings.HasPrefix(tok.AccessToken, "sub=ci-deployer;") {
		t.Errorf("%d calls, token %q; want 2 calls (one per attempt) and a token for ci-deployer", calls.Load(), tok.AccessToken)
	}

	errNoToken := errors.New("the CI gave no token")
	before := len(f.requests())
	c = &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT,
		FederatedToken: func(context.Context) (string, error) { return "", errNoToken }}
	if _, err := c.Token(context.Background()); !errors.Is(err, errNoToken) {
		t.Errorf("error %v, want the source's", err)
	}
	if n := len(f.requests()) - before; n != 0 {
		t.Errorf("%d requests after the source failed, want 0", n)
	}
}

// TestFederatedInvalidClient: an unknown workload token gets the server's
// generic 401 invalid_client as an *Error, after one request.
func TestFederatedInvalidClient(t *testing.T) {
	t.Parallel()
	f := newFederationServer(t)
	path := filepath.Join(t.TempDir(), "token")
	writeTokenFile(t, path, workloadToken(k8sIssuer, "system:serviceaccount:claims:default", 1))
	c := &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT, FederatedTokenFile: path, MinBackoff: time.Millisecond}
	_, err := c.Token(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 401 || e.Code != "invalid_client" {
		t.Fatalf("error %v, want a 401 invalid_client *Error", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestFederatedConfigProblems: the federated settings are checked with the
// rest, and every problem is named.
func TestFederatedConfigProblems(t *testing.T) {
	t.Parallel()
	src := func(context.Context) (string, error) { return "", nil }
	for _, tc := range []struct {
		name string
		conf client.Config
		want string
	}{
		{"neither source", client.Config{AuthStyle: client.AuthFederatedJWT}, "needs FederatedTokenFile"},
		{"both sources", client.Config{AuthStyle: client.AuthFederatedJWT, FederatedTokenFile: "/t", FederatedToken: src}, "not both"},
		{"file without the style", client.Config{ClientID: "x", FederatedTokenFile: "/t"}, "set AuthStyle to AuthFederatedJWT"},
		{"func with private_key_jwt", client.Config{ClientID: "x", AuthStyle: client.AuthPrivateKeyJWT, FederatedToken: src}, "set AuthStyle to AuthFederatedJWT"},
		{"none for client credentials", client.Config{AuthStyle: client.AuthNone}, "Exchange only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.conf.TokenURL = "https://auth.example/v1/auth/token"
			_, err := tc.conf.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "ClientID is empty") && tc.conf.AuthStyle != client.AuthPrivateKeyJWT && tc.conf.ClientID == "" {
				t.Errorf("error %v: ClientID is optional with %v", err, tc.conf.AuthStyle)
			}
		})
	}
}

func TestAuthStyleNames(t *testing.T) {
	if s := client.AuthFederatedJWT.String(); s != auth.AuthFederatedJWT {
		t.Errorf("AuthFederatedJWT.String() = %q, want %q", s, auth.AuthFederatedJWT)
	}
	if s := client.AuthNone.String(); s != "none" {
		t.Errorf("AuthNone.String() = %q, want none (RFC 8414)", s)
	}
}

// TestGitHubActionsToken: the helper asks the job's token service with its
// bearer token and the audience, keeping the URL's own query, and its
// token authenticates the client.
func TestGitHubActionsToken(t *testing.T) {
	const bearer = "actions-request-bearer"
	idToken := workloadToken("https://token.actions.githubusercontent.com", "repo:gooclaim/claims:environment:prod", 1)
	var asked atomic.Int32
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		q := r.URL.Query()
		switch {
		case r.Method != http.MethodGet || r.URL.Path != "/_apis/distributedtask/oidc":
			http.NotFound(w, r)
		case r.Header.Get("Authorization") != "Bearer "+bearer:
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		case q.Get("api-version") != "2.0" || q.Get("audience") != "https://auth.gooclaim.com":
			http.Error(w, "query "+r.URL.RawQuery, http.StatusBadRequest)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"count":1708,"value":"` + idToken + `"}`))
		}
	}))
	defer gh.Close()
	f := newFederationServer(t)
	f.federated[idToken] = "deployer"

	t.Setenv(client.GitHubActionsRequestURLEnv, gh.URL+"/_apis/distributedtask/oidc?api-version=2.0")
	t.Setenv(client.GitHubActionsRequestTokenEnv, bearer)
	c := &client.Config{TokenURL: f.tokenURL(), AuthStyle: client.AuthFederatedJWT,
		FederatedToken: client.GitHubActionsToken("https://auth.gooclaim.com", nil)}
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "sub=deployer;") || f.last().params["client_assertion"] != idToken {
		t.Errorf("token %q; want one for deployer, with the job's token as the assertion", tok.AccessToken)
	}

	// A wrong bearer: GitHub's answer is in the error.
	t.Setenv(client.GitHubActionsRequestTokenEnv, "wrong")
	if _, err := c.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("wrong bearer: error %v, want GitHub's 401", err)
	}
	// A job without id-token: write has neither variable.
	t.Setenv(client.GitHubActionsRequestURLEnv, "")
	before := asked.Load()
	if _, err := c.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("no variables: error %v, want one naming the permission", err)
	}
	if asked.Load() != before {
		t.Error("asked GitHub without a URL")
	}
}
