package authtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// fullIssuer returns a trusted issuer with every field set.
func fullIssuer(name string) *auth.TrustedIssuer {
	return &auth.TrustedIssuer{
		Name:        name,
		Issuer:      "https://" + name + ".issuer.example.com",
		JWKS:        []byte(`{"keys": [{"kty":"OKP","crv":"Ed25519","kid":"` + name + `-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
		Audience:    "https://auth.example.com",
		MaxTokenAge: 10 * time.Minute,
		Disabled:    true,
		ManagedBy:   auth.ManagedByApply,
		CreatedAt:   someTime(0),
		UpdatedAt:   someTime(1),
	}
}

// checkIssuer reports every field of got that differs from want.
func checkIssuer(t *testing.T, got, want *auth.TrustedIssuer) {
	t.Helper()
	if got == nil {
		t.Fatalf("trusted issuer %q: got nil", want.Name)
	}
	n := want.Name
	if got.Name != want.Name || got.Issuer != want.Issuer || got.JWKSURI != want.JWKSURI || got.Audience != want.Audience {
		t.Errorf("trusted issuer %q: Name, Issuer, JWKSURI, Audience = %q, %q, %q, %q; want %q, %q, %q, %q", n,
			got.Name, got.Issuer, got.JWKSURI, got.Audience, want.Name, want.Issuer, want.JWKSURI, want.Audience)
	}
	if !bytes.Equal(got.JWKS, want.JWKS) || (got.JWKS == nil) != (want.JWKS == nil) {
		t.Errorf("trusted issuer %q: JWKS = %q; want %q", n, got.JWKS, want.JWKS)
	}
	if got.MaxTokenAge != want.MaxTokenAge || got.Disabled != want.Disabled || got.ManagedBy != want.ManagedBy {
		t.Errorf("trusted issuer %q: MaxTokenAge, Disabled, ManagedBy = %v, %v, %q; want %v, %v, %q", n,
			got.MaxTokenAge, got.Disabled, got.ManagedBy, want.MaxTokenAge, want.Disabled, want.ManagedBy)
	}
	checkTime(t, fmt.Sprintf("trusted issuer %q: CreatedAt", n), got.CreatedAt, want.CreatedAt)
	checkTime(t, fmt.Sprintf("trusted issuer %q: UpdatedAt", n), got.UpdatedAt, want.UpdatedAt)
}

// createIssuer creates a minimal issuer named name, failing the test on error.
func createIssuer(t *testing.T, s auth.Store, name string) *auth.TrustedIssuer {
	t.Helper()
	ti := &auth.TrustedIssuer{Name: name, Issuer: "https://" + name + ".example.com"}
	if err := s.CreateIssuer(t.Context(), ti); err != nil {
		t.Fatalf("CreateIssuer(%q): %v", name, err)
	}
	return ti
}

func testIssuerRoundTrip(t *testing.T, s auth.Store) {
	ctx := t.Context()
	want := fullIssuer("k8s-prod")
	if err := s.CreateIssuer(ctx, want.Clone()); err != nil {
		t.Fatalf("CreateIssuer: %v", err)
	}
	got, err := s.TrustedIssuer(ctx, want.Name)
	if err != nil {
		t.Fatalf("TrustedIssuer: %v", err)
	}
	checkIssuer(t, got, want)

	// What TrustedIssuer returns is the caller's to change.
	got.JWKS[0], got.Issuer = 'X', "changed"
	if got, err = s.TrustedIssuer(ctx, want.Name); err != nil {
		t.Fatalf("TrustedIssuer: %v", err)
	}
	checkIssuer(t, got, want)

	// Zero times are set by the store and written back; no JWKS is nil.
	minimal := &auth.TrustedIssuer{Name: "github", Issuer: "https://token.actions.githubusercontent.com", JWKS: []byte{}}
	if err := s.CreateIssuer(ctx, minimal); err != nil {
		t.Fatalf("CreateIssuer(minimal): %v", err)
	}
	if minimal.CreatedAt.IsZero() || minimal.UpdatedAt.IsZero() {
		t.Errorf("CreateIssuer(minimal) left a time zero: %+v", minimal)
	}
	minimal.JWKS = nil
	if got, err = s.TrustedIssuer(ctx, "github"); err != nil {
		t.Fatalf("TrustedIssuer(github): %v", err)
	}
	checkIssuer(t, got, minimal)

	withURI := &auth.TrustedIssuer{Name: "a-spiffe", Issuer: "https://spiffe.example.com", JWKSURI: "https://spiffe.example.com/keys", CreatedAt: someTime(3), UpdatedAt: someTime(3)}
	if err := s.CreateIssuer(ctx, withURI.Clone()); err != nil {
		t.Fatalf("CreateIssuer(withURI): %v", err)
	}
	all, err := s.ListIssuers(ctx)
	if err != nil {
		t.Fatalf("ListIssuers: %v", err)
	}
	if len(all) != 3 {
		t.Fatalf("ListIssuers = %d issuers; want 3", len(all))
	}
	checkIssuer(t, all[0], withURI)
	checkIssuer(t, all[1], minimal)
	checkIssuer(t, all[2], want)

	// An update keeps the name and CreatedAt, sets UpdatedAt, and may
	// change everything else.
	updated, err := s.UpdateIssuer(ctx, want.Name, func(ti *auth.TrustedIssuer) error {
		ti.Name, ti.CreatedAt = "renamed", someTime(100)
		ti.Issuer, ti.JWKS, ti.JWKSURI = "https://k8s.example.net", nil, "https://k8s.example.net/openid/v1/jwks"
		ti.Audience, ti.MaxTokenAge, ti.Disabled, ti.ManagedBy = "", 0, false, ""
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateIssuer: %v", err)
	}
	wantUpdated := &auth.TrustedIssuer{Name: want.Name, Issuer: "https://k8s.example.net", JWKSURI: "https://k8s.example.net/openid/v1/jwks",
		CreatedAt: want.CreatedAt, UpdatedAt: updated.UpdatedAt}
	checkIssuer(t, updated, wantUpdated)
	if !updated.UpdatedAt.After(want.UpdatedAt) {
		t.Errorf("UpdateIssuer: UpdatedAt = %v; want it set to now", updated.UpdatedAt)
	}
	if got, err = s.TrustedIssuer(ctx, want.Name); err != nil {
		t.Fatalf("TrustedIssuer after the update: %v", err)
	}
	checkIssuer(t, got, wantUpdated)
	if _, err := s.TrustedIssuer(ctx, "renamed"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TrustedIssuer(renamed) = %v; want ErrNotFound: the name cannot change", err)
	}

	// The error of fn aborts the update and is returned unchanged.
	boom := errors.New("boom")
	if _, err := s.UpdateIssuer(ctx, want.Name, func(ti *auth.TrustedIssuer) error { ti.Audience = "x"; return boom }); err != boom {
		t.Errorf("UpdateIssuer with a failing fn = %v; want its error unchanged", err)
	}
	if got, _ = s.TrustedIssuer(ctx, want.Name); got == nil || got.Audience != "" {
		t.Errorf("UpdateIssuer with a failing fn changed the issuer: %+v", got)
	}

	if err := s.DeleteIssuer(ctx, want.Name); err != nil {
		t.Fatalf("DeleteIssuer: %v", err)
	}
	if _, err := s.TrustedIssuer(ctx, want.Name); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TrustedIssuer after DeleteIssuer = %v; want ErrNotFound", err)
	}
	// The name and the issuer URL are free again.
	if err := s.CreateIssuer(ctx, fullIssuer("k8s-prod")); err != nil {
		t.Errorf("CreateIssuer after DeleteIssuer: %v", err)
	}
}

func testIssuerConflicts(t *testing.T, s auth.Store) {
	ctx := t.Context()
	first := fullIssuer("first")
	if err := s.CreateIssuer(ctx, first.Clone()); err != nil {
		t.Fatalf("CreateIssuer: %v", err)
	}
	sameName := fullIssuer("first")
	sameName.Issuer = "https://elsewhere.example.com"
	if err := s.CreateIssuer(ctx, sameName); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("CreateIssuer of a taken name = %v; want ErrConflict", err)
	}
	sameURL := fullIssuer("second")
	sameURL.Issuer = first.Issuer
	err := s.CreateIssuer(ctx, sameURL)
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), `"first"`) {
		t.Errorf("CreateIssuer of a taken issuer URL = %v; want ErrConflict naming the issuer %q that has it", err, "first")
	}
	got, err := s.TrustedIssuer(ctx, "first")
	if err != nil {
		t.Fatalf("TrustedIssuer: %v", err)
	}
	checkIssuer(t, got, first)
	if _, err := s.TrustedIssuer(ctx, "second"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TrustedIssuer(second) after a refused create = %v; want ErrNotFound", err)
	}

	createIssuer(t, s, "third")
	_, err = s.UpdateIssuer(ctx, "third", func(ti *auth.TrustedIssuer) error { ti.Issuer = first.Issuer; return nil })
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), `"first"`) {
		t.Errorf("UpdateIssuer to a taken issuer URL = %v; want ErrConflict naming %q", err, "first")
	}
	// Keeping its own URL is no conflict.
	if _, err := s.UpdateIssuer(ctx, "first", func(ti *auth.TrustedIssuer) error { ti.Audience = "aud"; return nil }); err != nil {
		t.Errorf("UpdateIssuer keeping the issuer URL: %v", err)
	}
	if err := s.CreateIssuer(ctx, &auth.TrustedIssuer{Name: "no-url"}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("CreateIssuer without an issuer URL = %v; want ErrInvalid", err)
	}
	if err := s.CreateIssuer(ctx, &auth.TrustedIssuer{Issuer: "https://no-name.example.com"}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("CreateIssuer without a name = %v; want ErrInvalid", err)
	}
}

func testMissingIssuer(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if _, err := s.TrustedIssuer(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TrustedIssuer(missing) = %v; want ErrNotFound", err)
	}
	called := false
	if _, err := s.UpdateIssuer(ctx, "missing", func(*auth.TrustedIssuer) error { called = true; return nil }); !errors.Is(err, auth.ErrNotFound) || called {
		t.Errorf("UpdateIssuer(missing) = %v, fn called: %v; want ErrNotFound, false", err, called)
	}
	if err := s.DeleteIssuer(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("DeleteIssuer(missing) = %v; want ErrNotFound", err)
	}
	if all, err := s.ListIssuers(ctx); err != nil || len(all) != 0 {
		t.Errorf("ListIssuers of an empty store = %v, %v; want none", all, err)
	}
}

// testFederatedClients checks that a client's federated identities and
// exchange audiences are stored and read back by every read, and changed
// by updates.
func testFederatedClients(t *testing.T, s auth.Store) {
	ctx := t.Context()
	createIssuer(t, s, "k8s")
	createIssuer(t, s, "github")
	want := fullClient("fed")
	want.Federated = []auth.FederatedIdentity{
		{Issuer: "k8s", Subject: "system:serviceaccount:payments:worker"},
		{Issuer: "github", Subject: "repo:acme/app:ref:refs/heads/main"},
		{Issuer: "k8s", Subject: "system:serviceaccount:payments:batch"},
	}
	if err := s.CreateClient(ctx, want.Clone()); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	got, err := s.Client(ctx, "fed")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, got, want)
	for _, id := range []string{"a-before", "z-after"} { // pages around it
		if err := s.CreateClient(ctx, fullClient(id)); err != nil {
			t.Fatalf("CreateClient(%s): %v", id, err)
		}
	}
	page, err := s.ListClients(ctx, "", 10)
	if err != nil || len(page) != 3 {
		t.Fatalf("ListClients = %d clients, %v; want 3", len(page), err)
	}
	checkClient(t, page[0], fullClient("a-before"))
	checkClient(t, page[1], want)
	checkClient(t, page[2], fullClient("z-after"))
	if page, err = s.ListClients(ctx, "a-before", 1); err != nil || len(page) != 1 {
		t.Fatalf("ListClients(a-before, 1) = %d clients, %v; want 1", len(page), err)
	}
	checkClient(t, page[0], want)

	// Update: replace the identities (dropping one, keeping one, adding
	// one) and the exchange audiences.
	updated, err := s.UpdateClient(ctx, "fed", func(c *auth.Client) error {
		c.Federated = []auth.FederatedIdentity{
			{Issuer: "github", Subject: "repo:acme/app:environment:prod"},
			{Issuer: "k8s", Subject: "system:serviceaccount:payments:worker"},
		}
		c.ExchangeAudiences = []string{"https://ledger.example.com"}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	want.Federated = []auth.FederatedIdentity{
		{Issuer: "github", Subject: "repo:acme/app:environment:prod"},
		{Issuer: "k8s", Subject: "system:serviceaccount:payments:worker"},
	}
	want.ExchangeAudiences = []string{"https://ledger.example.com"}
	want.UpdatedAt = updated.UpdatedAt
	checkClient(t, updated, want)
	if got, err = s.Client(ctx, "fed"); err != nil {
		t.Fatalf("Client after the update: %v", err)
	}
	checkClient(t, got, want)

	// An update that leaves them alone keeps them.
	if got, err = s.UpdateClient(ctx, "fed", func(c *auth.Client) error { c.Name = "renamed"; return nil }); err != nil {
		t.Fatalf("UpdateClient(rename): %v", err)
	}
	if !slices.Equal(got.Federated, want.Federated) || !slices.Equal(got.ExchangeAudiences, want.ExchangeAudiences) {
		t.Errorf("UpdateClient(rename): Federated, ExchangeAudiences = %q, %q; want them kept, %q, %q", got.Federated, got.ExchangeAudiences, want.Federated, want.ExchangeAudiences)
	}

	// Emptied, they read back as nil.
	if got, err = s.UpdateClient(ctx, "fed", func(c *auth.Client) error {
		c.Federated, c.ExchangeAudiences = []auth.FederatedIdentity{}, []string{}
		return nil
	}); err != nil || got.Federated != nil || got.ExchangeAudiences != nil {
		t.Fatalf("UpdateClient(empty) = %+v, %v; want nil Federated and ExchangeAudiences", got, err)
	}
	if got, err = s.Client(ctx, "fed"); err != nil || got.Federated != nil || got.ExchangeAudiences != nil {
		t.Errorf("Client after emptying = %+v, %v; want nil Federated and ExchangeAudiences", got, err)
	}

	// A client without any secret, bound only to an identity, is storable.
	bare := &auth.Client{ID: "bare", Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "system:serviceaccount:x:y"}}}
	if err := s.CreateClient(ctx, bare); err != nil {
		t.Fatalf("CreateClient(bare): %v", err)
	}
	if got, err = s.Client(ctx, "bare"); err != nil || !slices.Equal(got.Federated, bare.Federated) || got.Secrets != nil {
		t.Errorf("Client(bare) = %+v, %v; want its identity and no secret", got, err)
	}
}

// testFederatedConflicts checks that an (issuer, subject) pair belongs to
// one client at most, that a binding names an existing issuer, that a
// refused write changes nothing, and that deleting a client frees its
// pairs.
func testFederatedConflicts(t *testing.T, s auth.Store) {
	ctx := t.Context()
	createIssuer(t, s, "k8s")
	pair := auth.FederatedIdentity{Issuer: "k8s", Subject: "system:serviceaccount:x:y"}
	owner := &auth.Client{ID: "abc", Name: "owner", Federated: []auth.FederatedIdentity{pair}}
	if err := s.CreateClient(ctx, owner); err != nil {
		t.Fatalf("CreateClient(abc): %v", err)
	}
	wantMsg := `federated identity k8s=system:serviceaccount:x:y is already bound to client "abc"`

	other := &auth.Client{ID: "other", Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "free"}, pair}}
	err := s.CreateClient(ctx, other)
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), wantMsg) {
		t.Errorf("CreateClient binding another's pair = %v; want ErrConflict saying %q", err, wantMsg)
	}
	if _, err := s.Client(ctx, "other"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Client(other) after a refused create = %v; want ErrNotFound", err)
	}

	if err := s.CreateClient(ctx, &auth.Client{ID: "other", Name: "other"}); err != nil {
		t.Fatalf("CreateClient(other): %v", err)
	}
	_, err = s.UpdateClient(ctx, "other", func(c *auth.Client) error { c.Federated = []auth.FederatedIdentity{pair}; return nil })
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), wantMsg) {
		t.Errorf("UpdateClient binding another's pair = %v; want ErrConflict saying %q", err, wantMsg)
	}

	unknown := &auth.Client{ID: "unknown", Federated: []auth.FederatedIdentity{{Issuer: "nowhere", Subject: "s"}}}
	err = s.CreateClient(ctx, unknown)
	if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(auth.ErrorMessage(err), `"nowhere"`) {
		t.Errorf("CreateClient binding an unknown issuer = %v; want ErrInvalid naming %q", err, "nowhere")
	}
	_, err = s.UpdateClient(ctx, "other", func(c *auth.Client) error { c.Federated = unknown.Federated; return nil })
	if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(auth.ErrorMessage(err), `"nowhere"`) {
		t.Errorf("UpdateClient binding an unknown issuer = %v; want ErrInvalid naming %q", err, "nowhere")
	}
	if c, err := s.Client(ctx, "other"); err != nil || c.Federated != nil {
		t.Errorf("Client(other) after refused updates = %+v, %v; want no identities", c, err)
	}

	// Rebinding its own pairs is no conflict.
	if _, err := s.UpdateClient(ctx, "abc", func(c *auth.Client) error {
		c.Federated = append(c.Federated, auth.FederatedIdentity{Issuer: "k8s", Subject: "second"})
		return nil
	}); err != nil {
		t.Errorf("UpdateClient keeping its own pair: %v", err)
	}

	// Moving the pair: the owner lets it go, the other takes it.
	if _, err := s.UpdateClient(ctx, "abc", func(c *auth.Client) error { c.Federated = c.Federated[1:]; return nil }); err != nil {
		t.Fatalf("UpdateClient(abc) dropping the pair: %v", err)
	}
	if _, err := s.UpdateClient(ctx, "other", func(c *auth.Client) error { c.Federated = []auth.FederatedIdentity{pair}; return nil }); err != nil {
		t.Fatalf("UpdateClient(other) taking the freed pair: %v", err)
	}

	// Deleting a client frees its pairs.
	if err := s.DeleteClient(ctx, "other"); err != nil {
		t.Fatalf("DeleteClient(other): %v", err)
	}
	if err := s.CreateClient(ctx, &auth.Client{ID: "third", Federated: []auth.FederatedIdentity{pair}}); err != nil {
		t.Errorf("CreateClient binding the pair of a deleted client: %v", err)
	}
	// And a client created again under a deleted one's ID starts with none.
	if err := s.CreateClient(ctx, &auth.Client{ID: "other"}); err != nil {
		t.Fatalf("CreateClient(other) again: %v", err)
	}
	if c, err := s.Client(ctx, "other"); err != nil || c.Federated != nil {
		t.Errorf("Client(other) created again = %+v, %v; want no identities", c, err)
	}
}

// testDeleteBoundIssuer checks that an issuer cannot be deleted while
// clients are bound to it, and that the refusal names them.
func testDeleteBoundIssuer(t *testing.T, s auth.Store) {
	ctx := t.Context()
	createIssuer(t, s, "k8s")
	for _, id := range []string{"c1", "c2"} {
		c := &auth.Client{ID: id, Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "sa-" + id}, {Issuer: "k8s", Subject: "sb-" + id}}}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s): %v", id, err)
		}
	}
	err := s.DeleteIssuer(ctx, "k8s")
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), `"c1"`) || !strings.Contains(auth.ErrorMessage(err), `"c2"`) {
		t.Errorf("DeleteIssuer of a bound issuer = %v; want ErrConflict naming %q and %q", err, "c1", "c2")
	}
	if _, err := s.TrustedIssuer(ctx, "k8s"); err != nil {
		t.Errorf("TrustedIssuer after a refused delete: %v", err)
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateClient(ctx, "c2", func(c *auth.Client) error { c.Federated = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteIssuer(ctx, "k8s"); err != nil {
		t.Errorf("DeleteIssuer once unbound: %v", err)
	}
}

// testIssuerAuditAndChanges checks that every issuer write appends its
// audit event and a ChangeIssuer change, and failed writes neither.
func testIssuerAuditAndChanges(t *testing.T, s auth.Store) {
	ctx := auth.WithAudit(t.Context(), auth.Audit{Actor: "cli:alice", RemoteAddr: "192.0.2.7"})
	startSeq := latestChange(t, s)
	ti := fullIssuer("k8s")
	if err := s.CreateIssuer(ctx, ti); err != nil {
		t.Fatalf("CreateIssuer: %v", err)
	}
	created, err := s.TrustedIssuer(ctx, "k8s")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIssuer(ctx, fullIssuer("k8s")); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("CreateIssuer again = %v; want ErrConflict", err)
	}
	updated, err := s.UpdateIssuer(ctx, "k8s", func(t *auth.TrustedIssuer) error { t.Disabled = false; return nil })
	if err != nil {
		t.Fatalf("UpdateIssuer: %v", err)
	}
	if _, err := s.UpdateIssuer(ctx, "k8s", func(*auth.TrustedIssuer) error { return errors.New("no") }); err == nil {
		t.Fatal("UpdateIssuer with a failing fn succeeded")
	}
	if err := s.DeleteIssuer(ctx, "k8s"); err != nil {
		t.Fatalf("DeleteIssuer: %v", err)
	}

	events := auditEvents(t, s, auth.AuditQuery{TargetID: "k8s"})
	if len(events) != 3 {
		t.Fatalf("audit events of k8s: %d%s; want 3", len(events), formatEvents(events))
	}
	base := wantEvent{actor: "cli:alice", remote: "192.0.2.7", kind: "issuer", id: "k8s"}
	want := base
	want.action, want.after = auth.ActionIssuerCreate, auth.AuditIssuerView(created)
	checkEvent(t, "create", events[0], want)
	want = base
	want.action, want.before, want.after, want.at = auth.ActionIssuerUpdate, auth.AuditIssuerView(created), auth.AuditIssuerView(updated), updated.UpdatedAt
	checkEvent(t, "update", events[1], want)
	want = base
	want.action, want.before = auth.ActionIssuerDelete, auth.AuditIssuerView(updated)
	checkEvent(t, "delete", events[2], want)

	changes, err := s.Changes(context.WithoutCancel(ctx), startSeq, 100)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if len(changes) != 3 {
		t.Fatalf("Changes = %+v; want 3, one a successful write", changes)
	}
	for _, ch := range changes {
		if ch.Kind != auth.ChangeIssuer || ch.ID != "k8s" {
			t.Errorf("change %+v; want kind %q, ID %q", ch, auth.ChangeIssuer, "k8s")
		}
	}
}
