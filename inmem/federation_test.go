package inmem_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/sqlite"
)

// replicas returns two loaded replicas of one SQLite file, each over a
// handle of its own, as two servers of a fleet are.
func replicas(t *testing.T) (*inmem.Replica, *inmem.Replica) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auth.db")
	var rs [2]*inmem.Replica
	for i := range rs {
		rs[i] = inmem.NewReplica(openDB(t, path, sqlite.Options{}), inmem.ReplicaOptions{})
		if err := rs[i].Load(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return rs[0], rs[1]
}

func fed(issuer, subject string) auth.FederatedIdentity {
	return auth.FederatedIdentity{Issuer: issuer, Subject: subject}
}

// wantBound fails unless every replica maps (issuer, subject) to the
// client id ("" for none).
func wantBound(t *testing.T, what string, f auth.FederatedIdentity, id string, rs ...*inmem.Replica) {
	t.Helper()
	for i, r := range rs {
		c := r.FederatedClient(f.Issuer, f.Subject)
		got := ""
		if c != nil {
			got = c.ID
		}
		if got != id {
			t.Errorf("%s: replica %d: FederatedClient(%q, %q) = %q; want %q", what, i, f.Issuer, f.Subject, got, id)
		}
	}
}

func syncAll(t *testing.T, rs ...*inmem.Replica) {
	t.Helper()
	for _, r := range rs {
		if err := r.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplicaFederation: what one replica writes, the other holds after
// Sync: trusted issuers by URL, and the clients bound to identities,
// through creates, moves, deletes and re-creations.
func TestReplicaFederation(t *testing.T) {
	ctx := t.Context()
	a, b := replicas(t)

	k8s := &auth.TrustedIssuer{Name: "k8s", Issuer: "https://k8s.example.com", MaxTokenAge: 0}
	if err := a.CreateIssuer(ctx, k8s); err != nil {
		t.Fatal(err)
	}
	if got := a.IssuerByURL(k8s.Issuer); got == nil || got.Name != "k8s" {
		t.Fatalf("writer: IssuerByURL = %+v; want k8s at once", got)
	}
	if b.IssuerByURL(k8s.Issuer) != nil {
		t.Fatal("other replica: holds the issuer before Sync")
	}
	syncAll(t, b)
	if got := b.IssuerByURL(k8s.Issuer); got == nil || got.Name != "k8s" {
		t.Fatalf("other replica after Sync: IssuerByURL = %+v; want k8s", got)
	}

	worker := fed("k8s", "system:serviceaccount:pay:worker")
	c := &auth.Client{ID: "pay", Name: "pay", Federated: []auth.FederatedIdentity{worker}, ExchangeAudiences: []string{"https://ledger"}}
	if err := a.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	syncAll(t, b)
	wantBound(t, "created", worker, "pay", a, b)
	if got := b.Lookup("pay"); got == nil || !slices.Equal(got.ExchangeAudiences, []string{"https://ledger"}) || !slices.Equal(got.Federated, c.Federated) {
		t.Errorf("other replica: Lookup(pay) = %+v; want its identity and exchange audiences", got)
	}
	wantBound(t, "other subject", fed("k8s", "system:serviceaccount:pay:other"), "", a, b)
	wantBound(t, "other issuer", fed("github", worker.Subject), "", a, b)

	// Moving the identity to another client: released, then taken.
	if err := b.CreateClient(ctx, &auth.Client{ID: "batch", Name: "batch"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateClient(ctx, "pay", func(c *auth.Client) error { c.Federated = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	wantBound(t, "released, by the writer", worker, "", b)
	if _, err := b.UpdateClient(ctx, "batch", func(c *auth.Client) error { c.Federated = []auth.FederatedIdentity{worker}; return nil }); err != nil {
		t.Fatal(err)
	}
	syncAll(t, a)
	wantBound(t, "moved", worker, "batch", a, b)

	// Deleting the client removes its binding.
	if err := a.DeleteClient(ctx, "batch"); err != nil {
		t.Fatal(err)
	}
	syncAll(t, b)
	wantBound(t, "client deleted", worker, "", a, b)

	// A client created again under the ID, bound again.
	if err := b.CreateClient(ctx, &auth.Client{ID: "batch", Name: "batch again", Federated: []auth.FederatedIdentity{worker}}); err != nil {
		t.Fatal(err)
	}
	syncAll(t, a)
	wantBound(t, "re-created", worker, "batch", a, b)
	if got := a.FederatedClient(worker.Issuer, worker.Subject); got == nil || got.Name != "batch again" {
		t.Errorf("re-created: FederatedClient = %+v; want the new client", got)
	}

	// Disabled clients and issuers are returned: refusing them is the caller's.
	if _, err := a.UpdateClient(ctx, "batch", func(c *auth.Client) error { c.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateIssuer(ctx, "k8s", func(ti *auth.TrustedIssuer) error {
		ti.Disabled, ti.Issuer = true, "https://k8s.example.net"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	syncAll(t, b)
	wantBound(t, "disabled", worker, "batch", a, b)
	for i, r := range []*inmem.Replica{a, b} {
		if r.IssuerByURL("https://k8s.example.com") != nil {
			t.Errorf("replica %d: the issuer's old URL still finds it", i)
		}
		if got := r.IssuerByURL("https://k8s.example.net"); got == nil || !got.Disabled {
			t.Errorf("replica %d: IssuerByURL(new URL) = %+v; want k8s, disabled", i, got)
		}
	}

	// A full load builds the same.
	fresh := inmem.NewReplica(b.Store, inmem.ReplicaOptions{})
	if err := fresh.Load(ctx); err != nil {
		t.Fatal(err)
	}
	wantBound(t, "full load", worker, "batch", fresh)
	if got := fresh.IssuerByURL("https://k8s.example.net"); got == nil || got.Name != "k8s" {
		t.Errorf("full load: IssuerByURL = %+v; want k8s", got)
	}

	// An issuer deleted once unbound disappears.
	if err := a.DeleteClient(ctx, "batch"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteIssuer(ctx, "k8s"); err != nil {
		t.Fatal(err)
	}
	syncAll(t, b)
	for i, r := range []*inmem.Replica{a, b} {
		if r.IssuerByURL("https://k8s.example.net") != nil {
			t.Errorf("replica %d: holds the deleted issuer", i)
		}
	}
}

// TestReplicaFederationMoveInOneSync: a replica that applies the
// taking of an identity before its release (as one that reads a page of
// changes written by two clients does) ends with the new owner.
func TestReplicaFederationMoveInOneSync(t *testing.T) {
	ctx := t.Context()
	a, b := replicas(t)
	if err := a.CreateIssuer(ctx, &auth.TrustedIssuer{Name: "gh", Issuer: "https://token.actions.githubusercontent.com"}); err != nil {
		t.Fatal(err)
	}
	id := fed("gh", "repo:acme/app:ref:refs/heads/main")
	for _, c := range []*auth.Client{{ID: "z-old", Federated: []auth.FederatedIdentity{id}}, {ID: "a-new"}} {
		if err := a.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, b)
	wantBound(t, "before", id, "z-old", b)
	if _, err := a.UpdateClient(ctx, "z-old", func(c *auth.Client) error { c.Federated = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateClient(ctx, "a-new", func(c *auth.Client) error { c.Federated = []auth.FederatedIdentity{id}; return nil }); err != nil {
		t.Fatal(err)
	}
	syncAll(t, b)
	wantBound(t, "after one Sync", id, "a-new", a, b)
	if _, err := a.UpdateClient(ctx, "a-new", func(c *auth.Client) error { c.Federated = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateClient(ctx, "z-old", func(c *auth.Client) error { c.Federated = []auth.FederatedIdentity{id}; return nil }); err != nil {
		t.Fatal(err)
	}
	syncAll(t, b)
	wantBound(t, "moved back", id, "z-old", a, b)
}

// TestFederationLookupsAllocate: the token path's lookups allocate
// nothing for an unknown identity or issuer, and only the decoded client
// for a known one.
func TestFederationLookupsAllocate(t *testing.T) {
	ctx := t.Context()
	a, _ := replicas(t)
	if err := a.CreateIssuer(ctx, &auth.TrustedIssuer{Name: "k8s", Issuer: "https://k8s.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateClient(ctx, &auth.Client{ID: "c", Federated: []auth.FederatedIdentity{fed("k8s", "sa")}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"IssuerByURL", 0, func() { a.IssuerByURL("https://k8s.example.com") }},
		{"IssuerByURL unknown", 0, func() { a.IssuerByURL("https://other.example.com") }},
		{"FederatedClient unknown", 0, func() { a.FederatedClient("k8s", "nobody") }},
		{"FederatedClient", 2, func() { a.FederatedClient("k8s", "sa") }}, // the client and its identities
	} {
		if n := testing.AllocsPerRun(100, tc.f); n > tc.max {
			t.Errorf("%s: %v allocations; want at most %v", tc.name, n, tc.max)
		}
	}
}
