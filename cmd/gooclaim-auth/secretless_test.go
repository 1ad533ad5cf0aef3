package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/client"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/verify"
)

// federatedClient creates, through the CLI, a client with no credential
// but its federated identities, and returns its ID.
func (ts *testServer) federatedClient(args ...string) string {
	ts.t.Helper()
	out := ts.mustCLI("", append([]string{"clients", "create", "-o", "json"}, args...)...)
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		ts.t.Fatalf("clients create -o json printed %q: %v", out, err)
	}
	if v.ClientSecret != "" {
		ts.t.Fatalf("a client created with only federated identities got a secret")
	}
	ts.waitForClient(v.ClientID, true)
	return v.ClientID
}

// federatedRequest is a client credentials request authenticated by a
// trusted issuer's token, without client_id.
func (ts *testServer) federatedRequest(token string, extra ...string) response {
	ts.t.Helper()
	v := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.ClientAssertionTypeJWT}, "client_assertion": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return ts.form(v.Encode())
}

// TestSecretlessWorkloads (issue 15): the three set-ups of
// docs/secretless.md end to end, from the command line to a token a
// resource server verifies: a Kubernetes service account (keys by OIDC
// discovery, the token file rotated as the kubelet does), a GitHub Actions
// job (token exchange without client authentication), a SPIFFE workload
// (keys from a JWK Set file, for an issuer the server cannot reach); a
// claim and a condition over the GitHub job's token; then delegation, and
// the state changes an attacker would try.
func TestSecretlessWorkloads(t *testing.T) {
	ts := startTestServer(t, nil)
	ctx := context.Background()
	aud := []string{ts.srv.Issuer()}
	k8s := testoidc.New(t, "ES256")
	github := testoidc.New(t, "RS256")
	spiffe := testoidc.New(t, "ES256")
	spiffe.SetDown(true) // reachable only through its bundle, as across a network boundary

	ts.mustCLI("", "issuers", "add", "k8s", "--issuer", k8s.URL, "--max-token-age", "30m", "--allow-http-jwks-uri", "--allow-private-addresses")
	ts.mustCLI("", "issuers", "add", "github", "--issuer", github.URL, "--allow-http-jwks-uri", "--allow-private-addresses")
	bundle := filepath.Join(t.TempDir(), "bundle.jwks")
	if err := os.WriteFile(bundle, spiffe.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.mustCLI("", "issuers", "add", "spiffe", "--issuer", spiffe.URL, "--jwks-file", bundle, "--audience", "spiffe://gooclaim.com/auth", "--allow-http-jwks-uri", "--allow-private-addresses")
	waitUntil(t, func() bool { return ts.srv.Replica().IssuerByURL(spiffe.URL) != nil })

	importer := ts.federatedClient("--name", "importer", "--scope", "claims:read claims:write", "--federated", "k8s=system:serviceaccount:claims:importer")
	deployer := ts.federatedClient("--name", "deployer", "--scope", "deploy", "--federated", "github=repo:gooclaim/claims:ref:refs/heads/main")
	mesh := ts.federatedClient("--name", "mesh", "--scope", "claims:read", "--federated", "spiffe=spiffe://gooclaim.com/claims/importer")

	v, err := verify.New(ctx, verify.Config{Issuer: ts.srv.Issuer(), Audience: "https://api.gooclaim.com"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Kubernetes: the client kit reads the projected token file on every fetch", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(k8s.Kubernetes("claims", "importer", aud)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := &client.Config{TokenURL: ts.url + "/v1/auth/token", AuthStyle: client.AuthFederatedJWT, FederatedTokenFile: file}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		claims, err := v.Verify(ctx, tok.AccessToken)
		if err != nil || claims.ClientID != importer || claims.Subject != importer {
			t.Fatalf("claims %+v, %v; want the token of client %s", claims, err, importer)
		}
		// The kubelet rotates the token, and the cluster its signing key.
		k8s.Rotate(t, false)
		if err := os.WriteFile(file, []byte(k8s.Kubernetes("claims", "importer", aud)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Token(ctx); err != nil {
			t.Fatalf("after the cluster rotated its key and the kubelet the token: %v", err)
		}
		// And the CLI, the same way.
		out := ts.mustCLI("", "token", "--issuer", ts.srv.Issuer(), "--federated-token-file", file, "-o", "json")
		if !strings.Contains(out, `"access_token"`) {
			t.Fatalf("gooclaim-auth token --federated-token-file printed %s", out)
		}
	})

	t.Run("GitHub Actions: token exchange without client authentication", func(t *testing.T) {
		r := ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token_type": {auth.TokenTypeJWT},
			"subject_token": {github.GitHubActions("gooclaim/claims", "refs/heads/main", ts.srv.Issuer())}}.Encode())
		tok := r.token(t)
		var raw map[string]any
		json.Unmarshal(r.body, &raw)
		if raw["issued_token_type"] != auth.TokenTypeAccessToken || tok.Scope != "deploy" {
			t.Fatalf("exchange answered %s", r.body)
		}
		if claims, err := v.Verify(ctx, tok.AccessToken); err != nil || claims.ClientID != deployer {
			t.Fatalf("claims %+v, %v", claims, err)
		}
		// Another branch of the same repository is another subject, bound to no one.
		r = ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token_type": {auth.TokenTypeJWT},
			"subject_token": {github.GitHubActions("gooclaim/claims", "refs/heads/feature", ts.srv.Issuer())}}.Encode())
		if code, _ := r.errorBody(t); r.StatusCode != 400 || code != "invalid_request" {
			t.Fatalf("a pull request's branch: %d %s", r.StatusCode, r.body)
		}
	})

	t.Run("GitHub Actions: a claim and a condition over the job's token", func(t *testing.T) {
		// The prod environment's subject, whatever the branch; the
		// condition keeps deployments to main.
		const environment = "repo:gooclaim/claims:environment:prod"
		ts.mustCLI("", "clients", "update", deployer, "--federated", "github="+environment,
			"--claim", "repo=request.federated_claims.repository", "--condition", `request.federated_claims.ref == "refs/heads/main"`)
		job := func(ref string) string {
			return github.GitHubActions("gooclaim/claims", ref, ts.srv.Issuer(), testoidc.Claim("sub", environment))
		}
		exchange := func(token string) response {
			return ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token_type": {auth.TokenTypeJWT}, "subject_token": {token}}.Encode())
		}
		waitUntil(t, func() bool { return ts.federatedRequest(job("refs/heads/main")).StatusCode == 200 })
		for name, send := range map[string]func(string) response{"assertion": func(tok string) response { return ts.federatedRequest(tok) }, "exchange": exchange} {
			tok := send(job("refs/heads/main")).token(t)
			if c := claimsOf(t, tok.AccessToken); c["client_id"] != deployer || c["repo"] != "gooclaim/claims" {
				t.Errorf("%s: claims %v; want client %s with repo gooclaim/claims", name, c, deployer)
			}
			r := send(job("refs/heads/feature"))
			if code, _ := r.errorBody(t); r.StatusCode != 400 || code != "unauthorized_client" {
				t.Errorf("%s from another branch of the environment: %d %s; want 400 unauthorized_client", name, r.StatusCode, r.body)
			}
		}
	})

	t.Run("SPIFFE: keys from the bundle file, the issuer's own audience", func(t *testing.T) {
		tok := ts.federatedRequest(spiffe.SPIFFE("spiffe://gooclaim.com/claims/importer", []string{"spiffe://gooclaim.com/auth"})).token(t)
		if claims, err := v.Verify(ctx, tok.AccessToken); err != nil || claims.ClientID != mesh {
			t.Fatalf("claims %+v, %v", claims, err)
		}
		// The server's own audience is not this issuer's: --audience replaced it.
		if r := ts.federatedRequest(spiffe.SPIFFE("spiffe://gooclaim.com/claims/importer", aud)); r.StatusCode != 401 {
			t.Fatalf("an SVID for the server's issuer URL, where the issuer says spiffe://gooclaim.com/auth: %d", r.StatusCode)
		}
	})

	t.Run("one answer for every refusal", func(t *testing.T) {
		refusals := map[string]string{
			"unknown issuer":   testoidc.New(t, "ES256").Kubernetes("claims", "importer", aud),
			"unbound subject":  k8s.Kubernetes("default", "default", aud),
			"unknown key":      k8s.Kubernetes("claims", "importer", aud, testoidc.SignedWith(k8s.NewKey(t))),
			"bad signature":    tamper(k8s.Kubernetes("claims", "importer", aud), k8s.Kubernetes("claims", "exporter", aud)),
			"expired":          k8s.Kubernetes("claims", "importer", aud, testoidc.Expired()),
			"too old":          k8s.Kubernetes("claims", "importer", aud, testoidc.IssuedAt(time.Now().Add(-31*time.Minute))),
			"wrong audience":   k8s.Kubernetes("claims", "importer", []string{"https://other.example.com"}),
			"alg none":         k8s.Kubernetes("claims", "importer", aud, testoidc.AlgNone()),
			"HMAC, public key": k8s.Kubernetes("claims", "importer", aud, testoidc.HMACWithPublicKey()),
		}
		var first string
		for name, tok := range refusals {
			r := ts.federatedRequest(tok)
			if r.StatusCode != 401 {
				t.Errorf("%s: status %d %s", name, r.StatusCode, r.body)
				continue
			}
			if first == "" {
				first = string(r.body)
			} else if string(r.body) != first {
				t.Errorf("%s: answered %s, where another refusal answered %s: the answer tells them apart", name, r.body, first)
			}
		}
		// The reasons are in the server's log, not in the answers.
		for _, reason := range []string{"unknown_issuer", "unbound_subject", "bad_signature", "unknown_key", "expired", "too_old", "wrong_audience", "malformed"} {
			if !strings.Contains(ts.logs.String(), reason) {
				t.Errorf("the server's log lacks the reason %q", reason)
			}
		}
	})

	t.Run("a pair is bound to one client; the CLI names the owner", func(t *testing.T) {
		_, errOut, code := ts.cli("", "clients", "create", "--name", "thief", "--federated", "k8s=system:serviceaccount:claims:importer")
		if code == 0 || !strings.Contains(errOut, importer) {
			t.Fatalf("exit %d, %q: want a conflict naming %s", code, errOut, importer)
		}
	})

	t.Run("delegation: the act claim, scope and expiry narrowed", func(t *testing.T) {
		gw, gwSecret := ts.createClient("--name", "gateway", "--scope", "gateway", "--exchange-audience", "https://payments.gooclaim.com")
		subject := ts.federatedRequest(k8s.Kubernetes("claims", "importer", aud)).token(t)
		r := ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "client_id": {gw}, "client_secret": {gwSecret},
			"subject_token_type": {auth.TokenTypeAccessToken}, "subject_token": {subject.AccessToken}, "scope": {"claims:read"}}.Encode())
		tok := r.token(t)
		pv, err := verify.New(ctx, verify.Config{Issuer: ts.srv.Issuer(), Audience: "https://payments.gooclaim.com"})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := pv.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != importer || claims.ClientID != gw || claims.Act == nil || claims.Act.Subject != gw || strings.Join(claims.Scopes, " ") != "claims:read" || !claims.Expiry.After(time.Now()) || claims.Expiry.After(time.Unix(0, 0).Add(time.Duration(subjectExp(t, subject.AccessToken))*time.Second)) {
			t.Fatalf("delegated claims %+v", claims)
		}
		// Wider than the subject's scope, or an audience the actor may not have.
		r = ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "client_id": {gw}, "client_secret": {gwSecret},
			"subject_token_type": {auth.TokenTypeAccessToken}, "subject_token": {subject.AccessToken}, "scope": {"admin"}}.Encode())
		if code, _ := r.errorBody(t); code != "invalid_scope" {
			t.Errorf("a wider scope: %d %s", r.StatusCode, r.body)
		}
		r = ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "client_id": {gw}, "client_secret": {gwSecret},
			"subject_token_type": {auth.TokenTypeAccessToken}, "subject_token": {subject.AccessToken}, "audience": {"https://api.gooclaim.com"}}.Encode())
		if code, _ := r.errorBody(t); code != "invalid_target" {
			t.Errorf("an audience outside the exchange audiences: %d %s", r.StatusCode, r.body)
		}
		// The subject token revoked: no more exchanges of it.
		svc := &admin.Service{Store: ts.srv.Replica()}
		if _, err := svc.RevokeClientTokens(ctx, importer); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // revoke-all has a resolution of one second
		r = ts.form(url.Values{"grant_type": {auth.GrantTokenExchange}, "client_id": {gw}, "client_secret": {gwSecret},
			"subject_token_type": {auth.TokenTypeAccessToken}, "subject_token": {subject.AccessToken}}.Encode())
		if code, _ := r.errorBody(t); r.StatusCode != 400 || code != "invalid_request" {
			t.Errorf("exchange of a revoked subject token: %d %s", r.StatusCode, r.body)
		}
	})

	t.Run("state changes: issuer disabled, binding removed, client deleted and re-created", func(t *testing.T) {
		token := k8s.Kubernetes("claims", "importer", aud)
		ts.mustCLI("", "issuers", "update", "k8s", "--disable")
		waitUntil(t, func() bool { return ts.federatedRequest(token).StatusCode == 401 })
		ts.mustCLI("", "issuers", "update", "k8s", "--enable")
		waitUntil(t, func() bool { return ts.federatedRequest(token).StatusCode == 200 })

		// The workload moves to another service account (a client cannot
		// be left with no way to authenticate at all).
		ts.mustCLI("", "clients", "update", importer, "--remove-federated", "k8s=system:serviceaccount:claims:importer",
			"--federated", "k8s=system:serviceaccount:claims:importer-v2")
		waitUntil(t, func() bool { return ts.federatedRequest(token).StatusCode == 401 })

		// The pair, free again, goes to a new client: the same token now
		// authenticates that client, never the old one.
		other := ts.federatedClient("--name", "importer-2", "--scope", "claims:read", "--federated", "k8s=system:serviceaccount:claims:importer")
		tok := ts.federatedRequest(token).token(t)
		if claims, err := v.Verify(ctx, tok.AccessToken); err != nil || claims.ClientID != other {
			t.Fatalf("claims %+v, %v; want client %s", claims, err, other)
		}
		ts.mustCLI("", "clients", "delete", other)
		ts.waitForClient(other, false)
		if r := ts.federatedRequest(token); r.StatusCode != 401 {
			t.Fatalf("the deleted client's binding still authenticates: %d %s", r.StatusCode, r.body)
		}
		// An issuer with bindings cannot be removed from under its clients.
		_, errOut, code := ts.cli("", "issuers", "remove", "github")
		if code == 0 || !strings.Contains(errOut, deployer) {
			t.Errorf("issuers remove github: exit %d, %q; want a refusal naming %s", code, errOut, deployer)
		}
	})

	t.Run("audit trail", func(t *testing.T) {
		out := ts.mustCLI("", "audit", "--action", auth.ActionIssuerUpdate, "-o", "json")
		if strings.Count(out, `"issuer.update"`) < 2 || !strings.Contains(out, `"disabled": true`) {
			t.Errorf("audit --action issuer.update:\n%s", out)
		}
	})
}

// subjectExp is the exp of a JWT, unverified.
func subjectExp(t *testing.T, token string) int64 {
	t.Helper()
	var c struct {
		Exp int64 `json:"exp"`
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil {
		t.Fatalf("the JWT's claims do not decode: %v", err)
	}
	return c.Exp
}

// tamper returns token with other's signature: its kid and alg are the
// issuer's, its signature is not over its own header and claims.
func tamper(token, other string) string {
	return token[:strings.LastIndexByte(token, '.')] + other[strings.LastIndexByte(other, '.'):]
}
