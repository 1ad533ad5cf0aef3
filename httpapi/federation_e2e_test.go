package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/internal/testserver"
)

// bindings is an auth.Federation over a running server's replica: the
// trusted issuers it is given, and clients of the replica bound to
// subjects (returned with the binding, as the replica will keep it).
type bindings struct {
	issuers map[string]*auth.TrustedIssuer
	bound   map[auth.FederatedIdentity]string // → client ID
	srv     *testserver.Server
}

func (b *bindings) IssuerByURL(iss string) *auth.TrustedIssuer { return b.issuers[iss] }

func (b *bindings) FederatedClient(name, subject string) *auth.Client {
	id := auth.FederatedIdentity{Issuer: name, Subject: subject}
	c := b.srv.Replica.Lookup(b.bound[id])
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.Federated = []auth.FederatedIdentity{id}
	return c
}

// TestFederatedTokenEndpoint runs federation end to end: a real server,
// a real OIDC issuer on loopback (keys found by discovery), HTTP requests.
func TestFederatedTokenEndpoint(t *testing.T) {
	op := testoidc.New(t, "RS256")
	stranger := testoidc.New(t, "RS256")
	fed := &bindings{bound: map[auth.FederatedIdentity]string{}}
	ts := testserver.New(t, testserver.Options{Federation: fed})
	fed.srv = ts
	fed.issuers = map[string]*auth.TrustedIssuer{op.URL: {Name: "k8s", Issuer: op.URL}}
	id, _ := ts.CreateClient(t, []string{"claims:read"})
	fed.bound[auth.FederatedIdentity{Issuer: "k8s", Subject: "system:serviceaccount:prod:billing"}] = id

	post := func(form url.Values) (int, map[string]any, string) {
		t.Helper()
		resp, err := ts.Client().PostForm(ts.URL+httpapi.TokenPath, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(body, &m)
		return resp.StatusCode, m, string(body)
	}
	assertion := func(tok string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.ClientAssertionTypeJWT}, "client_assertion": {tok}}
	}
	aud := []string{ts.Issuer}

	status, m, body := post(assertion(op.Kubernetes("prod", "billing", aud)))
	if status != http.StatusOK || m["access_token"] == nil || m["issued_token_type"] != nil {
		t.Fatalf("federated assertion: %d %s", status, body)
	}
	// Key rotation at the issuer: a token of the new key is accepted once
	// the verifier fetches the keys again (the first unknown kid may).
	op.Rotate(t, false)
	if status, _, body := post(assertion(op.Kubernetes("prod", "billing", aud))); status != http.StatusOK {
		t.Fatalf("after the issuer's key rotation: %d %s", status, body)
	}

	// Every failure is the same 401, byte for byte.
	var bodies []string
	for name, tok := range map[string]string{
		"unknown issuer":  stranger.Kubernetes("prod", "billing", aud),
		"unbound subject": op.Kubernetes("prod", "nobody", aud),
		"bad signature":   op.Mint("system:serviceaccount:prod:billing", ts.Issuer, testoidc.SignedWith(op.NewKey(t)), testoidc.Header("kid", op.Current().KID)),
		"expired":         op.Kubernetes("prod", "billing", aud, testoidc.Expired()),
	} {
		status, _, body := post(assertion(tok))
		if status != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", name, status, body)
		}
		bodies = append(bodies, body)
	}
	if distinct := slices.Compact(slices.Clone(bodies)); len(distinct) != 1 {
		t.Fatalf("the refusals differ: %q", bodies)
	}

	// Token exchange of the same token, with no client authentication.
	status, m, body = post(url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token": {op.Kubernetes("prod", "billing", aud)},
		"subject_token_type": {auth.TokenTypeJWT}})
	if status != http.StatusOK || m["issued_token_type"] != auth.TokenTypeAccessToken || m["token_type"] != "Bearer" {
		t.Fatalf("token exchange: %d %s", status, body)
	}
	status, m, _ = post(url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token": {op.Kubernetes("prod", "nobody", aud)},
		"subject_token_type": {auth.TokenTypeJWT}})
	if status != http.StatusBadRequest || m["error"] != "invalid_request" {
		t.Fatalf("token exchange of an unbound subject: %d %v", status, m)
	}

	resp, err := ts.Client().Get(ts.URL + httpapi.MetadataPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md httpapi.Metadata
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(md.GrantTypesSupported, auth.GrantTokenExchange) || slices.Contains(md.TokenEndpointAuthMethodsSupported, auth.AuthFederatedJWT) {
		t.Fatalf("metadata %+v", md)
	}
}
