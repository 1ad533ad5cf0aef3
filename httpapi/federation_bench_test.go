package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/testoidc"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
)

// fedBenchStack is the token endpoint of newStackOf with federation as
// serve assembles it: the replica as auth.Federation, a
// clientauth.FederatedVerifier, one trusted issuer "github" with inline
// keys, and GitHub Actions subjects bound to two clients: one without
// expressions, one with a claim and a condition over
// request.federated_claims.
type fedBenchStack struct {
	h                 http.Handler
	plain, withPolicy string // a GitHub Actions token of each client's subject
}

func newFedBenchStack(b testing.TB, alg string) *fedBenchStack {
	b.Helper()
	ctx := context.Background()
	db, dir := migratedDB(b)
	op := testoidc.New(b, "ES256")
	svc := &admin.Service{Store: db, AllowHTTPJWKSURI: true, AllowPrivateAddresses: true}
	if _, err := svc.CreateIssuer(ctx, admin.IssuerSpec{Name: "github", Issuer: op.URL, JWKS: op.JWKS()}); err != nil {
		b.Fatal(err)
	}
	st := &fedBenchStack{
		plain:      op.GitHubActions("gooclaim/plain", "refs/heads/main", benchIssuer),
		withPolicy: op.GitHubActions("gooclaim/claims", "refs/heads/main", benchIssuer),
	}
	for _, spec := range []admin.ClientSpec{
		{Name: "plain", Scopes: []string{"claims:read"},
			Federated: []auth.FederatedIdentity{{Issuer: "github", Subject: "repo:gooclaim/plain:ref:refs/heads/main"}}},
		{Name: "policy", Scopes: []string{"claims:read"},
			Federated: []auth.FederatedIdentity{{Issuer: "github", Subject: "repo:gooclaim/claims:ref:refs/heads/main"}},
			Claims:    map[string]string{"repo": "request.federated_claims.repository"},
			Condition: `request.federated_claims.ref == "refs/heads/main"`},
	} {
		if _, _, err := svc.CreateClient(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	kek, err := signing.CreateKEKFile(filepath.Join(dir, "auth.kek"))
	if err != nil {
		b.Fatal(err)
	}
	discard := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var keys *issuer.KeyRing
	replica := inmem.NewReplica(db, inmem.ReplicaOptions{Logger: discard, OnKeys: func(k []auth.Key) error { return keys.Load(k) }})
	keys = issuer.NewKeyRing(issuer.KeyPolicy{Algorithm: alg}, kek, replica, nil)
	if err := replica.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := keys.Maintain(ctx); err != nil {
		b.Fatal(err)
	}
	fed, err := clientauth.NewFederatedVerifier(clientauth.Config{Issuer: benchIssuer, TokenEndpoint: benchIssuer + httpapi.TokenPath})
	if err != nil {
		b.Fatal(err)
	}
	limiter := inmem.NewLimiter(inmem.LimiterOptions{})
	b.Cleanup(limiter.Close)
	never := auth.Rate{Limit: 1 << 30, Window: time.Minute}
	iss := issuer.New(issuer.Config{Issuer: benchIssuer, RateLimit: never, IPRateLimit: never, Federation: replica, FederatedTokens: fed},
		replica, keys, limiter, nil)
	st.h = (&httpapi.Server{Issuer: iss, Keys: keys, Scopes: replica, Logger: discard, RequestLogJSON: io.Discard}).Handler()
	return st
}

func federatedAssertionRequest(token string) *http.Request {
	body := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.ClientAssertionTypeJWT}, "client_assertion": {token}}.Encode()
	r := httptest.NewRequest(http.MethodPost, httpapi.TokenPath, bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func federatedExchangeRequest(token string) *http.Request {
	body := url.Values{"grant_type": {auth.GrantTokenExchange}, "subject_token_type": {auth.TokenTypeJWT}, "subject_token": {token}}.Encode()
	r := httptest.NewRequest(http.MethodPost, httpapi.TokenPath, bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// BenchmarkTokenHandlerFederated is a token request authenticated by a
// trusted issuer's token (ES256, GitHub Actions claims, keys inline)
// through the whole handler, signed with alg: as a client assertion and
// by token exchange, for a client without expressions (what every
// federated request pays) and, policy_*, for one with a claim and a
// condition over request.federated_claims (what exposing the claims
// costs the clients that read them).
func BenchmarkTokenHandlerFederated(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			st := newFedBenchStack(b, alg)
			for _, bc := range []struct {
				name string
				req  func() *http.Request
			}{
				{"assertion", func() *http.Request { return federatedAssertionRequest(st.plain) }},
				{"exchange", func() *http.Request { return federatedExchangeRequest(st.plain) }},
				{"policy_assertion", func() *http.Request { return federatedAssertionRequest(st.withPolicy) }},
				{"policy_exchange", func() *http.Request { return federatedExchangeRequest(st.withPolicy) }},
			} {
				b.Run(bc.name, func(b *testing.B) {
					b.ReportAllocs()
					defer reportCPU(b)()
					for b.Loop() {
						serve(b, st.h, bc.req())
					}
				})
			}
		})
	}
}
