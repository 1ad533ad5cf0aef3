package authtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// applyCtx is the audit context of an apply through the admin API, with
// an Action that a batch must ignore.
func applyCtx(ctx context.Context) context.Context {
	return auth.WithAudit(ctx, auth.Audit{Actor: "client:ops", Action: auth.ActionClientDisable,
		RemoteAddr: "192.0.2.9", Source: "sha256:0123abcd via client:ops"})
}

// storeState is everything a failed batch must leave as it was.
type storeState struct {
	clients []*auth.Client
	issuers []*auth.TrustedIssuer
	events  []auth.AuditEvent
	change  int64
}

func snapshot(t *testing.T, s auth.Store) storeState {
	t.Helper()
	ctx := t.Context()
	clients, err := s.ListClients(ctx, "", 1000)
	if err != nil {
		t.Fatalf("ListClients: %v", err)
	}
	issuers, err := s.ListIssuers(ctx)
	if err != nil {
		t.Fatalf("ListIssuers: %v", err)
	}
	return storeState{clients, issuers, auditEvents(t, s, auth.AuditQuery{}), latestChange(t, s)}
}

// checkUnchanged reports the differences between the store and want.
func checkUnchanged(t *testing.T, what string, s auth.Store, want storeState) {
	t.Helper()
	got := snapshot(t, s)
	if !slices.Equal(clientIDs(got.clients), clientIDs(want.clients)) {
		t.Errorf("%s: clients %q; want %q", what, clientIDs(got.clients), clientIDs(want.clients))
	} else {
		for i := range got.clients {
			checkClient(t, got.clients[i], want.clients[i])
		}
	}
	if len(got.issuers) != len(want.issuers) {
		t.Errorf("%s: %d trusted issuers; want %d", what, len(got.issuers), len(want.issuers))
	} else {
		for i := range got.issuers {
			checkIssuer(t, got.issuers[i], want.issuers[i])
		}
	}
	sameEvents(t, what+": audit trail", got.events, want.events)
	if got.change != want.change {
		t.Errorf("%s: latest change %d; want %d: nothing appended", what, got.change, want.change)
	}
}

// testBatchManagedBy checks that ManagedBy is stored and changed, by the
// single-object methods and by a batch, for clients and trusted issuers.
func testBatchManagedBy(t *testing.T, s auth.Store) {
	ctx := t.Context()
	// A single-object write records the context's Source too.
	sourced := auth.WithAudit(ctx, auth.Audit{Actor: "cli:alice", Source: "sha256:feed"})
	if err := s.CreateClient(sourced, &auth.Client{ID: "single", ManagedBy: auth.ManagedByApply}); err != nil {
		t.Fatal(err)
	}
	if events := auditEvents(t, s, auth.AuditQuery{TargetID: "single"}); len(events) != 1 || events[0].Source != "sha256:feed" {
		t.Errorf("audit events of CreateClient with a source:%s; want one, with Source %q", formatEvents(events), "sha256:feed")
	}
	if err := s.CreateIssuer(ctx, &auth.TrustedIssuer{Name: "single", Issuer: "https://single.example.com", ManagedBy: auth.ManagedByApply}); err != nil {
		t.Fatal(err)
	}
	c := &auth.Client{ID: "batch", ManagedBy: auth.ManagedByApply}
	ti := &auth.TrustedIssuer{Name: "batch", Issuer: "https://batch.example.com", ManagedBy: auth.ManagedByApply}
	if err := s.ApplyBatch(ctx, auth.Batch{CreateClients: []*auth.Client{c}, CreateIssuers: []*auth.TrustedIssuer{ti}}); err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	checkManagedBy := func(what, want string) {
		t.Helper()
		for _, id := range []string{"single", "batch"} {
			if got, err := s.Client(ctx, id); err != nil || got.ManagedBy != want {
				t.Errorf("%s: Client(%q) = %+v, %v; want ManagedBy %q", what, id, got, err, want)
			}
			if got, err := s.TrustedIssuer(ctx, id); err != nil || got.ManagedBy != want {
				t.Errorf("%s: TrustedIssuer(%q) = %+v, %v; want ManagedBy %q", what, id, got, err, want)
			}
		}
		page, err := s.ListClients(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range page {
			if got.ManagedBy != want {
				t.Errorf("%s: ListClients: client %q has ManagedBy %q; want %q", what, got.ID, got.ManagedBy, want)
			}
		}
		issuers, err := s.ListIssuers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range issuers {
			if got.ManagedBy != want {
				t.Errorf("%s: ListIssuers: issuer %q has ManagedBy %q; want %q", what, got.Name, got.ManagedBy, want)
			}
		}
	}
	checkManagedBy("created", auth.ManagedByApply)

	// Released by hand, one object at a time; then adopted by a batch.
	if _, err := s.UpdateClient(ctx, "single", func(c *auth.Client) error { c.ManagedBy = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateIssuer(ctx, "single", func(t *auth.TrustedIssuer) error { t.ManagedBy = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	c.ManagedBy, ti.ManagedBy = "", ""
	if err := s.ApplyBatch(ctx, auth.Batch{UpdateClients: []*auth.Client{c}, UpdateIssuers: []*auth.TrustedIssuer{ti}}); err != nil {
		t.Fatalf("ApplyBatch releasing: %v", err)
	}
	checkManagedBy("released", "")
	single, err := s.Client(ctx, "single")
	if err != nil {
		t.Fatal(err)
	}
	singleIssuer, err := s.TrustedIssuer(ctx, "single")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*auth.Client{single, c} {
		c.ManagedBy = auth.ManagedByApply
	}
	for _, ti := range []*auth.TrustedIssuer{singleIssuer, ti} {
		ti.ManagedBy = auth.ManagedByApply
	}
	err = s.ApplyBatch(ctx, auth.Batch{UpdateClients: []*auth.Client{single, c}, UpdateIssuers: []*auth.TrustedIssuer{singleIssuer, ti}})
	if err != nil {
		t.Fatalf("ApplyBatch adopting: %v", err)
	}
	checkManagedBy("adopted", auth.ManagedByApply)
}

// testBatchEveryKind checks a batch with every kind of write: what is
// read back, what is written back into its objects, the audit events
// (generic actions, the context's actor, address and source) and one
// change per object. The client it creates is bound to the issuer it
// creates.
func testBatchEveryKind(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.ApplyBatch(ctx, auth.Batch{}); err != nil {
		t.Fatalf("ApplyBatch(empty) = %v; want nil", err)
	}
	for _, name := range []string{"iss-upd", "iss-del"} {
		createIssuer(t, s, name)
	}
	for _, id := range []string{"c-upd", "c-del"} {
		if err := s.CreateClient(ctx, fullClient(id)); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, s)
	oldIssuer, err := s.TrustedIssuer(ctx, "iss-upd")
	if err != nil {
		t.Fatal(err)
	}
	oldClient, err := s.Client(ctx, "c-upd")
	if err != nil {
		t.Fatal(err)
	}
	delClient, err := s.Client(ctx, "c-del")
	if err != nil {
		t.Fatal(err)
	}
	delIssuer, err := s.TrustedIssuer(ctx, "iss-del")
	if err != nil {
		t.Fatal(err)
	}

	newIssuer := fullIssuer("iss-new")
	newIssuer.CreatedAt, newIssuer.UpdatedAt = time.Time{}, time.Time{}
	updIssuer := fullIssuer("iss-upd")
	updIssuer.Issuer, updIssuer.CreatedAt, updIssuer.UpdatedAt = oldIssuer.Issuer, someTime(999), oldIssuer.UpdatedAt
	newClient := fullClient("c-new")
	newClient.CreatedAt, newClient.UpdatedAt, newClient.Secrets[1].CreatedAt = time.Time{}, time.Time{}, time.Time{}
	newClient.Federated = []auth.FederatedIdentity{{Issuer: "iss-new", Subject: "system:serviceaccount:ns:sa"}}
	updClient := &auth.Client{ID: "c-upd", Name: "replaced", Scopes: []string{"only"}, ManagedBy: auth.ManagedByApply,
		Incarnation: "ignored", CreatedAt: someTime(999), UpdatedAt: oldClient.UpdatedAt,
		Secrets:   []auth.Secret{{ID: "s9", Hash: "sha256:BBBB"}},
		Federated: []auth.FederatedIdentity{{Issuer: "iss-upd", Subject: "x"}}}
	b := auth.Batch{
		CreateIssuers: []*auth.TrustedIssuer{newIssuer},
		UpdateIssuers: []*auth.TrustedIssuer{updIssuer},
		CreateClients: []*auth.Client{newClient},
		UpdateClients: []*auth.Client{updClient},
		DeleteClients: []string{"c-del"},
		DeleteIssuers: []string{"iss-del"},
	}
	if err := s.ApplyBatch(applyCtx(ctx), b); err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}

	// Read back, and what the store set written back.
	gotIssuer, err := s.TrustedIssuer(ctx, "iss-new")
	if err != nil {
		t.Fatalf("TrustedIssuer(created): %v", err)
	}
	if gotIssuer.CreatedAt.IsZero() || !gotIssuer.UpdatedAt.Equal(gotIssuer.CreatedAt) {
		t.Errorf("created issuer: CreatedAt, UpdatedAt = %v, %v; want both the time of the batch", gotIssuer.CreatedAt, gotIssuer.UpdatedAt)
	}
	checkIssuer(t, gotIssuer, newIssuer) // written back
	now := gotIssuer.UpdatedAt
	gotUpdIssuer, err := s.TrustedIssuer(ctx, "iss-upd")
	if err != nil {
		t.Fatal(err)
	}
	wantUpdIssuer := fullIssuer("iss-upd")
	wantUpdIssuer.Issuer, wantUpdIssuer.CreatedAt, wantUpdIssuer.UpdatedAt = oldIssuer.Issuer, oldIssuer.CreatedAt, now
	checkIssuer(t, gotUpdIssuer, wantUpdIssuer)
	checkIssuer(t, updIssuer, wantUpdIssuer)

	gotClient, err := s.Client(ctx, "c-new")
	if err != nil {
		t.Fatalf("Client(created): %v", err)
	}
	wantClient := fullClient("c-new")
	wantClient.Federated = newClient.Federated
	wantClient.CreatedAt, wantClient.UpdatedAt, wantClient.Secrets[1].CreatedAt = now, now, now
	checkClient(t, gotClient, wantClient)
	if gotClient.Incarnation == "" || newClient.Incarnation != gotClient.Incarnation {
		t.Errorf("created client: Incarnation %q, written back %q; want a new one, written back", gotClient.Incarnation, newClient.Incarnation)
	}
	if !newClient.CreatedAt.Equal(now) || !newClient.UpdatedAt.Equal(now) || !newClient.Secrets[1].CreatedAt.Equal(now) {
		t.Errorf("created client: CreatedAt, UpdatedAt, new secret's CreatedAt written back = %v, %v, %v; want %v",
			newClient.CreatedAt, newClient.UpdatedAt, newClient.Secrets[1].CreatedAt, now)
	}
	gotUpdClient, err := s.Client(ctx, "c-upd")
	if err != nil {
		t.Fatal(err)
	}
	wantUpdClient := &auth.Client{ID: "c-upd", Name: "replaced", Scopes: []string{"only"}, ManagedBy: auth.ManagedByApply,
		CreatedAt: oldClient.CreatedAt, UpdatedAt: now, Secrets: []auth.Secret{{ID: "s9", Hash: "sha256:BBBB", CreatedAt: now}},
		Federated: updClient.Federated}
	checkClient(t, gotUpdClient, wantUpdClient)
	checkClient(t, updClient, wantUpdClient)
	if gotUpdClient.Incarnation != oldClient.Incarnation || updClient.Incarnation != oldClient.Incarnation {
		t.Errorf("updated client: Incarnation %q, written back %q; want %q kept", gotUpdClient.Incarnation, updClient.Incarnation, oldClient.Incarnation)
	}
	if _, err := s.Client(ctx, "c-del"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Client(deleted) = %v; want ErrNotFound", err)
	}
	if _, err := s.TrustedIssuer(ctx, "iss-del"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TrustedIssuer(deleted) = %v; want ErrNotFound", err)
	}

	// One audit event per object, in the batch's order.
	events := auditEvents(t, s, auth.AuditQuery{After: before.events[len(before.events)-1].Seq})
	base := wantEvent{actor: "client:ops", remote: "192.0.2.9", source: "sha256:0123abcd via client:ops", at: now}
	want := []wantEvent{
		{action: auth.ActionIssuerCreate, kind: "issuer", id: "iss-new", after: auth.AuditIssuerView(gotIssuer)},
		{action: auth.ActionIssuerUpdate, kind: "issuer", id: "iss-upd", before: auth.AuditIssuerView(oldIssuer), after: auth.AuditIssuerView(gotUpdIssuer)},
		{action: auth.ActionClientCreate, kind: "client", id: "c-new", after: auth.AuditClientView(gotClient)},
		{action: auth.ActionClientUpdate, kind: "client", id: "c-upd", before: auth.AuditClientView(oldClient), after: auth.AuditClientView(gotUpdClient)},
		{action: auth.ActionClientDelete, kind: "client", id: "c-del", before: auth.AuditClientView(delClient)},
		{action: auth.ActionIssuerDelete, kind: "issuer", id: "iss-del", before: auth.AuditIssuerView(delIssuer)},
	}
	if len(events) != len(want) {
		t.Fatalf("%d audit events%s; want %d, one per object", len(events), formatEvents(events), len(want))
	}
	for i, w := range want {
		w.actor, w.remote, w.source, w.at = base.actor, base.remote, base.source, base.at
		checkEvent(t, fmt.Sprintf("event of %s %s", w.kind, w.id), events[i], w)
	}

	// One change per object.
	changes, err := s.Changes(ctx, before.change, 100)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	var got []string
	for _, ch := range changes {
		got = append(got, string(ch.Kind)+" "+ch.ID)
	}
	wantChanges := []string{"issuer iss-new", "issuer iss-upd", "client c-new", "client c-upd", "client c-del", "issuer iss-del"}
	if !slices.Equal(got, wantChanges) {
		t.Errorf("changes %q; want %q", got, wantChanges)
	}
}

// testBatchAtomic checks that a batch whose last write fails writes
// nothing: no object, no audit event, no change; and that its error
// names the object and has the single-object method's code.
func testBatchAtomic(t *testing.T, s auth.Store) {
	ctx := t.Context()
	createIssuer(t, s, "k8s")
	createIssuer(t, s, "spare")
	bound := &auth.Client{ID: "bound", Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "sa"}}}
	for _, c := range []*auth.Client{bound, {ID: "plain"}} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	plain, err := s.Client(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	spare, err := s.TrustedIssuer(ctx, "spare")
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s)

	// valid returns writes of every kind that succeed on their own.
	valid := func() auth.Batch {
		upd, updIssuer := plain.Clone(), spare.Clone()
		upd.Name, updIssuer.Disabled = "changed", true
		return auth.Batch{
			CreateIssuers: []*auth.TrustedIssuer{{Name: "new", Issuer: "https://new.example.com"}},
			UpdateIssuers: []*auth.TrustedIssuer{updIssuer},
			CreateClients: []*auth.Client{{ID: "new", Federated: []auth.FederatedIdentity{{Issuer: "new", Subject: "a"}}}},
			UpdateClients: []*auth.Client{upd},
		}
	}
	for _, tc := range []struct {
		name  string
		last  func(b *auth.Batch)
		code  string
		names string
	}{
		{"delete a missing client", func(b *auth.Batch) { b.DeleteClients = []string{"missing"} }, auth.ENOTFOUND, `client "missing"`},
		{"delete a missing issuer", func(b *auth.Batch) { b.DeleteIssuers = []string{"missing"} }, auth.ENOTFOUND, `trusted issuer "missing"`},
		{"create a taken client ID", func(b *auth.Batch) { b.CreateClients = append(b.CreateClients, &auth.Client{ID: "bound"}) }, auth.ECONFLICT, `client "bound"`},
		{"create a client twice", func(b *auth.Batch) { b.CreateClients = append(b.CreateClients, &auth.Client{ID: "new"}) }, auth.ECONFLICT, `client "new"`},
		{"create a taken issuer name", func(b *auth.Batch) {
			b.CreateIssuers = append(b.CreateIssuers, &auth.TrustedIssuer{Name: "k8s", Issuer: "https://other.example.com"})
		}, auth.ECONFLICT, `trusted issuer "k8s"`},
		{"give an issuer another's URL", func(b *auth.Batch) {
			b.UpdateIssuers[0].Issuer = "https://k8s.example.com"
		}, auth.ECONFLICT, `trusted issuer "spare"`},
		{"delete a bound issuer", func(b *auth.Batch) { b.DeleteIssuers = []string{"k8s"} }, auth.ECONFLICT, `trusted issuer "k8s"`},
		{"bind another client's identity", func(b *auth.Batch) {
			b.UpdateClients[0].Federated = []auth.FederatedIdentity{{Issuer: "k8s", Subject: "sa"}}
		}, auth.ECONFLICT, `client "plain"`},
		{"bind to a missing issuer", func(b *auth.Batch) {
			b.CreateClients = append(b.CreateClients, &auth.Client{ID: "zz", Federated: []auth.FederatedIdentity{{Issuer: "nope", Subject: "a"}}})
		}, auth.EINVALID, `client "zz"`},
		{"update a missing client", func(b *auth.Batch) {
			b.UpdateClients = append(b.UpdateClients, &auth.Client{ID: "zz"})
		}, auth.ENOTFOUND, `client "zz"`},
	} {
		b := valid()
		tc.last(&b)
		err := s.ApplyBatch(applyCtx(ctx), b)
		if code := auth.ErrorCode(err); err == nil || code != tc.code {
			t.Errorf("%s: ApplyBatch = %v (code %s); want code %s", tc.name, err, code, tc.code)
		} else if msg := auth.ErrorMessage(err); !strings.Contains(msg, tc.names) {
			t.Errorf("%s: ApplyBatch's message %q does not name %s", tc.name, msg, tc.names)
		}
		checkUnchanged(t, tc.name, s, before)
	}
	if err := s.ApplyBatch(ctx, valid()); err != nil {
		t.Errorf("ApplyBatch of the valid writes alone: %v", err)
	}
}

// testBatchOptimistic checks that a batch updating an object that changed
// since it was read fails with ECONFLICT, writing nothing.
func testBatchOptimistic(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, fullClient("c")); err != nil {
		t.Fatal(err)
	}
	createIssuer(t, s, "k8s")
	readClient, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	readIssuer, err := s.TrustedIssuer(ctx, "k8s")
	if err != nil {
		t.Fatal(err)
	}
	// Changed by hand meanwhile.
	if _, err := s.UpdateClient(ctx, "c", func(c *auth.Client) error { c.Name = "by hand"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateIssuer(ctx, "k8s", func(t *auth.TrustedIssuer) error { t.Audience = "by hand"; return nil }); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s)
	for _, b := range []auth.Batch{
		{UpdateClients: []*auth.Client{readClient}},
		{UpdateIssuers: []*auth.TrustedIssuer{readIssuer}},
		{CreateClients: []*auth.Client{{ID: "other"}}, UpdateClients: []*auth.Client{readClient}},
	} {
		err := s.ApplyBatch(ctx, b)
		if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), "changed since it was read") {
			t.Errorf("ApplyBatch with a stale object = %v; want ErrConflict saying it changed since it was read", err)
		}
		checkUnchanged(t, "stale update", s, before)
	}

	// Read again, the same update succeeds; the UpdatedAt written back
	// lets the next one succeed too.
	if readClient, err = s.Client(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	readClient.Name = "by apply"
	for i := range 2 {
		if err := s.ApplyBatch(ctx, auth.Batch{UpdateClients: []*auth.Client{readClient}}); err != nil {
			t.Fatalf("ApplyBatch %d with a fresh object: %v", i, err)
		}
	}
	if got, err := s.Client(ctx, "c"); err != nil || got.Name != "by apply" {
		t.Errorf("Client = %+v, %v; want the name by apply", got, err)
	}
}

// testBatchDeleteIssuerWithClient checks that an issuer can be deleted in
// the batch that deletes its last bound client, but not while another
// client stays bound.
func testBatchDeleteIssuerWithClient(t *testing.T, s auth.Store) {
	ctx := t.Context()
	createIssuer(t, s, "k8s")
	for _, id := range []string{"c1", "c2"} {
		c := &auth.Client{ID: id, Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: id}}}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	err := s.ApplyBatch(ctx, auth.Batch{DeleteClients: []string{"c1"}, DeleteIssuers: []string{"k8s"}})
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), `"c2"`) {
		t.Errorf("ApplyBatch deleting an issuer still bound to c2 = %v; want ErrConflict naming c2", err)
	}
	if _, err := s.Client(ctx, "c1"); err != nil {
		t.Errorf("Client(c1) after the failed batch: %v", err)
	}
	if err := s.ApplyBatch(ctx, auth.Batch{DeleteClients: []string{"c2", "c1"}, DeleteIssuers: []string{"k8s"}}); err != nil {
		t.Fatalf("ApplyBatch deleting the issuer with its last bound clients: %v", err)
	}
	if _, err := s.TrustedIssuer(ctx, "k8s"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TrustedIssuer after the batch = %v; want ErrNotFound", err)
	}
}

// testBatchConcurrentCreate checks that of two batches creating the same
// client at once exactly one succeeds, the other failing with ECONFLICT.
func testBatchConcurrentCreate(t *testing.T, s auth.Store) {
	ctx := t.Context()
	for round := range 5 {
		id := fmt.Sprintf("c%d", round)
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i := range errs {
			wg.Go(func() {
				c := &auth.Client{ID: id, Name: fmt.Sprintf("writer %d", i)}
				errs[i] = s.ApplyBatch(ctx, auth.Batch{CreateClients: []*auth.Client{c}})
			})
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, auth.ErrConflict):
				conflicts++
			default:
				t.Errorf("round %d: ApplyBatch: %v; want nil or ErrConflict", round, err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Errorf("round %d: %d batches succeeded, %d conflicted (%v); want one each", round, ok, conflicts, errs)
		}
		if events := auditEvents(t, s, auth.AuditQuery{TargetID: id}); len(events) != 1 {
			t.Errorf("round %d: %d audit events for %q; want 1", round, len(events), id)
		}
	}
}
