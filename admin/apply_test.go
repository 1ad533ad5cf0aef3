package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/authconfig"
	"github.com/gooclaim/auth/credential"
)

const jwks = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`

func parse(t *testing.T, doc string) *authconfig.Document {
	t.Helper()
	d, err := authconfig.Parse("auth.yaml", []byte("apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\n"+doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func apply(t *testing.T, svc *admin.Service, doc string, opts admin.ApplyOptions) (*admin.Plan, error) {
	t.Helper()
	ctx := auth.WithAudit(context.Background(), auth.Audit{Actor: "cli:test"})
	return svc.Apply(ctx, parse(t, doc), opts)
}

func mustApply(t *testing.T, svc *admin.Service, doc string, opts admin.ApplyOptions) *admin.Plan {
	t.Helper()
	p, err := apply(t, svc, doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func secretFrom(value string) func(authconfig.Client) (string, error) {
	return func(authconfig.Client) (string, error) { return value, nil }
}

// TestApplySecrets: from_file secrets are hashed, kept while they match
// and replaced when they change; generate keeps the secret a client has;
// no secret removes it.
func TestApplySecrets(t *testing.T) {
	svc := newService(t)
	const doc = "clients:\n  - {client_id: c, name: C, scopes: [a], secret: {from_env: S}}\n"
	p := mustApply(t, svc, doc, admin.ApplyOptions{ResolveSecret: secretFrom("first-secret-of-sufficient-length")})
	if !p.Applied || p.GeneratedSecrets() != nil {
		t.Fatalf("first apply %+v", p)
	}
	c, _ := svc.Client(t.Context(), "c")
	if credential.KindOf(c.Secrets[0].Hash) != credential.KindArgon2id || c.ManagedBy != auth.ManagedByApply {
		t.Fatalf("stored %+v", c)
	}
	if p := mustApply(t, svc, doc, admin.ApplyOptions{ResolveSecret: secretFrom("first-secret-of-sufficient-length")}); p.Changed {
		t.Fatalf("the same secret again: %+v", p.Objects)
	}
	p = mustApply(t, svc, doc, admin.ApplyOptions{ResolveSecret: secretFrom("second-secret-of-sufficient-length")})
	if o := p.Objects[0]; o.Action != admin.PlanUpdate || len(o.Fields) != 1 || o.Fields[0].Field != "secret" || o.Fields[0].New != "replaced" {
		t.Fatalf("a new secret: %+v", p.Objects)
	}
	c, _ = svc.Client(t.Context(), "c")
	if ok, _ := credential.NewVerifier(0).Verify(c, "second-secret-of-sufficient-length", time.Now()); !ok || len(c.Secrets) != 1 {
		t.Fatal("the replaced secret does not verify, or the old one stayed")
	}
	generate := strings.Replace(doc, "{from_env: S}", "{generate: true}", 1)
	if p := mustApply(t, svc, generate, admin.ApplyOptions{}); p.Changed {
		t.Fatalf("generate over an existing secret: %+v", p.Objects)
	}
	// No secret and nothing else to authenticate with: a problem, not a lockout.
	_, err := apply(t, svc, "clients:\n  - {client_id: c, name: C, scopes: [a]}\n", admin.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "could never authenticate") {
		t.Fatalf("removing the only credential: %v", err)
	}
	// Keys instead: the secret goes.
	mustApply(t, svc, "clients:\n  - {client_id: c, name: C, scopes: [a], jwks: "+jwks+"}\n", admin.ApplyOptions{})
	c, _ = svc.Client(t.Context(), "c")
	if len(c.Secrets) != 0 || len(c.JWKS) == 0 {
		t.Fatalf("secret replaced by keys: %+v", c)
	}
}

// TestApplyDisableRevokesTokens: disabling a client through a file revokes
// its tokens, as clients disable does.
func TestApplyDisableRevokesTokens(t *testing.T) {
	svc := newService(t)
	doc := "clients:\n  - {client_id: c, name: C, scopes: [a], jwks: " + jwks + "}\n"
	mustApply(t, svc, doc, admin.ApplyOptions{})
	mustApply(t, svc, strings.Replace(doc, "scopes: [a]", "scopes: [a], disabled: true", 1), admin.ApplyOptions{})
	c, _ := svc.Client(t.Context(), "c")
	if !c.Disabled || c.TokensRevokedBefore.IsZero() {
		t.Fatalf("disabled by a file: %+v", c)
	}
}

// TestApplyEquivalentJWKS: a JWK Set written differently (key order,
// spaces) is the same set: no change.
func TestApplyEquivalentJWKS(t *testing.T) {
	svc := newService(t)
	if _, _, err := svc.CreateClient(t.Context(), admin.ClientSpec{ID: "c", Name: "C", Scopes: []string{"a"},
		JWKS: []byte(`{ "keys": [ {"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid":"k1", "crv":"Ed25519", "kty":"OKP"} ] }`)}); err != nil {
		t.Fatal(err)
	}
	p := mustApply(t, svc, "clients:\n  - {client_id: c, name: C, scopes: [a], jwks: "+jwks+"}\n", admin.ApplyOptions{})
	if p.Changed || p.Objects[0].Action != admin.PlanUnchanged || !p.Objects[0].Unmanaged {
		t.Fatalf("the same JWK Set: %+v", p.Objects)
	}
}

// TestApplyPruneKeepsBoundIssuer: --prune does not delete an issuer a
// client made by hand is bound to; it says so and writes nothing.
func TestApplyPruneKeepsBoundIssuer(t *testing.T) {
	svc := newService(t)
	issuer := "issuers:\n  - {name: k8s, issuer: https://k8s.example.com, jwks: " + jwks + "}\n"
	mustApply(t, svc, issuer+"clients:\n  - {client_id: managed, name: M, scopes: [a], federated: [k8s=sa-1]}\n", admin.ApplyOptions{})
	if _, _, err := svc.CreateClient(t.Context(), admin.ClientSpec{ID: "hand", Name: "H", Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "sa-2"}}}); err != nil {
		t.Fatal(err)
	}
	_, err := apply(t, svc, "clients: []\n", admin.ApplyOptions{Prune: true})
	if err == nil || !strings.Contains(err.Error(), `client "hand" (made by hand) is still bound`) {
		t.Fatalf("prune of a bound issuer: %v", err)
	}
	if _, err := svc.Client(t.Context(), "managed"); err != nil {
		t.Fatalf("a refused prune deleted a client: %v", err)
	}
	// A client of the file bound to an issuer the prune would delete.
	_, err = apply(t, svc, "clients:\n  - {client_id: managed, name: M, scopes: [a], federated: [k8s=sa-1]}\n", admin.ApplyOptions{Prune: true})
	if err == nil || !strings.Contains(err.Error(), "--prune would delete it") {
		t.Fatalf("a file client bound to a pruned issuer: %v", err)
	}
}

// TestApplyRetriesAStalePlan: a change made between a plan and its write
// fails the write as a whole, and Apply plans again from the new state.
func TestApplyRetriesAStalePlan(t *testing.T) {
	svc := newService(t)
	doc := "clients:\n  - {client_id: c, name: C, scopes: [a], jwks: " + jwks + "}\n"
	mustApply(t, svc, doc, admin.ApplyOptions{})
	racing := &racingStore{Store: svc.Store, svc: svc}
	svc2 := &admin.Service{Store: racing}
	p, err := svc2.Apply(t.Context(), parse(t, strings.Replace(doc, "name: C", "name: C2", 1)), admin.ApplyOptions{})
	if err != nil || !p.Applied || racing.batches != 2 {
		t.Fatalf("apply over a concurrent change: %+v, %v, %d batches", p, err, racing.batches)
	}
	c, _ := svc.Client(t.Context(), "c")
	if c.Name != "C2" || len(c.Scopes) != 1 {
		t.Fatalf("after the retry: %+v", c)
	}
}

// racingStore changes the client by hand just before the first batch, as
// a concurrent writer would.
type racingStore struct {
	auth.Store
	svc     *admin.Service
	batches int
}

func (r *racingStore) ApplyBatch(ctx context.Context, b auth.Batch) error {
	r.batches++
	if r.batches == 1 {
		name := "changed meanwhile"
		if _, err := r.svc.UpdateClient(ctx, "c", admin.ClientUpdate{Name: &name}); err != nil {
			return err
		}
	}
	return r.Store.ApplyBatch(ctx, b)
}
