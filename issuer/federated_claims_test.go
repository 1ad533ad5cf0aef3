package issuer_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/issuer"
)

// ghEnvironment is the subject GitHub Actions gives a job of the prod
// environment of gooclaim/claims, whatever its branch: the binding a
// deployment should use, with the branch checked by a condition.
const ghEnvironment = "repo:gooclaim/claims:environment:prod"

// TestFederatedClaimsInExpressions: a federated client's claims and
// condition read the verified token's claims, through a client assertion
// and through a token exchange, with numbers as ints and objects as maps;
// an actor that authenticated with a trusted issuer's token sees its
// claims; a client that authenticated otherwise sees an empty map.
func TestFederatedClaimsInExpressions(t *testing.T) {
	f := newFedFixture(t)
	f.clients["svc-deploy"] = &auth.Client{ID: "svc-deploy", Scopes: []string{"deploy"},
		Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: ghEnvironment}},
		Claims: map[string]string{
			"repo":   "request.federated_claims.repository",
			"issued": "request.federated_claims.iat",
			"fresh":  "request.federated_claims.exp - request.federated_claims.iat <= 3600",
		},
		Condition: `request.federated_claims.ref == "refs/heads/main"`}
	f.clients["svc-ns"] = &auth.Client{ID: "svc-ns", Scopes: []string{"read"},
		Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "system:serviceaccount:prod:ns-reader"}},
		Claims:    map[string]string{"ns": `request.federated_claims["kubernetes.io"].namespace`}}
	f.clients["svc-plain"] = &auth.Client{ID: "svc-plain", Scopes: []string{"read"}, Secrets: f.clients["svc-actor"].Secrets,
		Claims:    map[string]string{"fed_count": "size(request.federated_claims)"},
		Condition: "size(request.federated_claims) == 0"}

	job := func(ref string) string {
		return f.op.GitHubActions("gooclaim/claims", ref, testIssuer, testoidc.Claim("sub", ghEnvironment))
	}
	exchange := func(token string) auth.TokenRequest { return exchangeRequest(token, auth.TokenTypeJWT) }
	for _, path := range []struct {
		name string
		req  func(token string) auth.TokenRequest
	}{
		{"assertion", func(token string) auth.TokenRequest { return assertionRequest(token, "") }},
		{"exchange", exchange},
	} {
		t.Run(path.name, func(t *testing.T) {
			tok, _, err := f.issue(t, path.req(job("refs/heads/main")))
			if err != nil {
				t.Fatal(err)
			}
			c := claimsOf(t, tok.AccessToken)
			if c["client_id"] != "svc-deploy" || c["repo"] != "gooclaim/claims" || c["fresh"] != true {
				t.Fatalf("claims %v; want repo gooclaim/claims from the job's token", c)
			}
			// iat is an int to expressions: it comes out as the same digits.
			if payload := payloadOf(t, tok.AccessToken); !strings.Contains(payload, `"issued":`+strconv.FormatInt(f.clock.Now().Unix(), 10)+`,`) {
				t.Fatalf("payload %s; want issued, the job token's iat, as an integer", payload)
			}

			// The same binding from another branch: the condition refuses.
			_, _, err = f.issue(t, path.req(job("refs/heads/feature")))
			var oe *auth.OAuthError
			if !errors.As(err, &oe) || oe.Code != "unauthorized_client" || !strings.HasPrefix(issuer.FailureReason(err), "condition_false:") {
				t.Fatalf("a job of another branch: %v (reason %q); want unauthorized_client, condition_false", err, issuer.FailureReason(err))
			}

			// A nested object is a map.
			tok, _, err = f.issue(t, path.req(f.op.Kubernetes("prod", "ns-reader", []string{testIssuer})))
			if err != nil {
				t.Fatal(err)
			}
			if c := claimsOf(t, tok.AccessToken); c["ns"] != "prod" {
				t.Fatalf("claims %v; want ns prod from kubernetes.io.namespace", c)
			}
		})
	}

	// Delegation: the actor's expressions see the claims of the token it
	// authenticated with, not of the subject token (one of ours).
	t.Run("delegation by a federated actor", func(t *testing.T) {
		f.clients["svc-gateway"] = &auth.Client{ID: "svc-gateway", ExchangeAudiences: []string{"https://downstream.test"},
			Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "system:serviceaccount:prod:gateway"}},
			Claims:    map[string]string{"actor_ns": `request.federated_claims["kubernetes.io"].namespace`}}
		req := exchangeRequest(f.token(t, "svc-a", secretA), auth.TokenTypeAccessToken)
		req.AuthMethod, req.ClientAssertion = auth.AuthPrivateKeyJWT, f.op.Kubernetes("prod", "gateway", []string{testIssuer})
		tok, _, err := f.issue(t, req)
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, tok.AccessToken); c["sub"] != "svc-a" || c["client_id"] != "svc-gateway" || c["actor_ns"] != "prod" {
			t.Fatalf("claims %v; want svc-gateway acting for svc-a, actor_ns prod", c)
		}
	})

	t.Run("not federated", func(t *testing.T) {
		tok, _, err := f.issue(t, creds("svc-plain", secretActor))
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, tok.AccessToken); c["fed_count"] != float64(0) {
			t.Fatalf("claims %v; want fed_count 0", c)
		}
	})
}

// payloadOf is a JWT's payload, as its JSON text.
func payloadOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
