package authtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// auditEvents returns every event q selects, whatever its Limit, paging
// through AuditEvents with After.
func auditEvents(t *testing.T, s auth.Store, q auth.AuditQuery) []auth.AuditEvent {
	t.Helper()
	var all []auth.AuditEvent
	q.Limit = 1000
	for {
		page, err := s.AuditEvents(t.Context(), q)
		if err != nil {
			t.Fatalf("AuditEvents(%+v): %v", q, err)
		}
		for _, e := range page {
			if e.Seq <= q.After {
				t.Fatalf("AuditEvents(%+v) returned Seq %d, not after %d", q, e.Seq, q.After)
			}
			q.After = e.Seq
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			return all
		}
	}
}

// formatEvents shows events one a line, their JSON as text.
func formatEvents(events []auth.AuditEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n\t%d %s %s %s %s/%s from %q (%q): %s -> %s", e.Seq, e.At.Format(time.RFC3339Nano),
			e.Actor, e.Action, e.TargetKind, e.TargetID, e.RemoteAddr, e.Source, e.Before, e.After)
	}
	return b.String()
}

// wantEvent is what an audit event should say; a zero at is not checked.
type wantEvent struct {
	actor, action, kind, id, remote, source string
	before, after                           json.RawMessage
	at                                      time.Time
}

// checkEvent reports the differences between got and want.
func checkEvent(t *testing.T, what string, got auth.AuditEvent, want wantEvent) {
	t.Helper()
	if got.Actor != want.actor || got.Action != want.action || got.RemoteAddr != want.remote {
		t.Errorf("%s: Actor, Action, RemoteAddr = %q, %q, %q; want %q, %q, %q", what,
			got.Actor, got.Action, got.RemoteAddr, want.actor, want.action, want.remote)
	}
	if got.Source != want.source {
		t.Errorf("%s: Source = %q; want %q", what, got.Source, want.source)
	}
	if got.TargetKind != want.kind || got.TargetID != want.id {
		t.Errorf("%s: TargetKind, TargetID = %q, %q; want %q, %q", what, got.TargetKind, got.TargetID, want.kind, want.id)
	}
	if !jsonEqual(got.Before, want.before) {
		t.Errorf("%s: Before = %s; want %s", what, got.Before, want.before)
	}
	if !jsonEqual(got.After, want.after) {
		t.Errorf("%s: After = %s; want %s", what, got.After, want.after)
	}
	if got.At.IsZero() || got.At.Location() != time.UTC {
		t.Errorf("%s: At = %v; want a time in UTC", what, got.At)
	}
	if !want.at.IsZero() && !got.At.Equal(want.at) {
		t.Errorf("%s: At = %v; want %v, the time of the write", what, got.At, want.at)
	}
}

// jsonEqual reports whether a and b hold the same JSON value, empty being null.
func jsonEqual(a, b json.RawMessage) bool {
	decode := func(raw json.RawMessage) (any, error) {
		if len(raw) == 0 {
			return nil, nil
		}
		var v any
		err := json.Unmarshal(raw, &v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// sameEvents reports the differences between two lists of events.
func sameEvents(t *testing.T, what string, got, want []auth.AuditEvent) {
	t.Helper()
	seqs := func(l []auth.AuditEvent) []int64 {
		var s []int64
		for _, e := range l {
			s = append(s, e.Seq)
		}
		return s
	}
	if !slices.Equal(seqs(got), seqs(want)) {
		t.Errorf("%s: events %v; want %v", what, seqs(got), seqs(want))
		return
	}
	for i, g := range got {
		w := want[i]
		checkEvent(t, fmt.Sprintf("%s: event %d", what, g.Seq), g, wantEvent{
			actor: w.Actor, action: w.Action, kind: w.TargetKind, id: w.TargetID, remote: w.RemoteAddr, source: w.Source,
			before: w.Before, after: w.After, at: w.At,
		})
	}
}

// testAuditWrites checks the event of every kind of write, who made it
// (from the context, or "system") and what it changed, and that writes that
// fail or change nothing record nothing.
func testAuditWrites(t *testing.T, s auth.Store) {
	ctx := t.Context()
	admin := auth.WithAudit(ctx, auth.Audit{Actor: "client:admin-1", RemoteAddr: "192.0.2.7"})
	var seen int64
	newEvents := func() []auth.AuditEvent {
		t.Helper()
		events := auditEvents(t, s, auth.AuditQuery{After: seen})
		if len(events) > 0 {
			seen = events[len(events)-1].Seq
		}
		return events
	}
	expect := func(what string, want wantEvent) {
		t.Helper()
		events := newEvents()
		if len(events) != 1 {
			t.Fatalf("%s: %d audit events%s; want 1", what, len(events), formatEvents(events))
		}
		checkEvent(t, what, events[0], want)
	}
	expectNone := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded; want an error", what)
		}
		if events := newEvents(); len(events) != 0 {
			t.Errorf("%s: audit events%s; want none", what, formatEvents(events))
		}
	}
	client := func(id string) *auth.Client {
		t.Helper()
		c, err := s.Client(ctx, id)
		if err != nil {
			t.Fatalf("Client(%s): %v", id, err)
		}
		return c
	}
	if events := newEvents(); len(events) != 0 {
		t.Fatalf("audit events of an empty store:%s; want none", formatEvents(events))
	}

	// Clients.
	if err := s.CreateClient(admin, fullClient("a")); err != nil {
		t.Fatalf("CreateClient(a): %v", err)
	}
	a := client("a")
	expect("create a", wantEvent{actor: "client:admin-1", action: auth.ActionClientCreate, kind: "client", id: "a",
		remote: "192.0.2.7", before: json.RawMessage("null"), after: auth.AuditClientView(a)})
	expectNone("create a again", s.CreateClient(admin, fullClient("a")))

	cli := auth.WithAudit(ctx, auth.Audit{Actor: "cli:root", Action: auth.ActionSecretRotate, RemoteAddr: "host-1"})
	a2, err := s.UpdateClient(cli, "a", func(c *auth.Client) error {
		c.Secrets = append(c.Secrets[1:], auth.Secret{ID: "s3", Hash: "sha256:ROTATED"})
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(a): %v", err)
	}
	expect("rotate a's secret", wantEvent{actor: "cli:root", action: auth.ActionSecretRotate, kind: "client", id: "a",
		remote: "host-1", before: auth.AuditClientView(a), after: auth.AuditClientView(a2), at: a2.UpdatedAt})
	checkClient(t, client("a"), a2)

	boom := errors.New("boom")
	_, err = s.UpdateClient(cli, "a", func(c *auth.Client) error { c.Name = "aborted"; return boom })
	expectNone("update a, fn fails", err)
	_, err = s.UpdateClient(admin, "a", func(c *auth.Client) error {
		c.Secrets = append(c.Secrets, c.Secrets[0]) // two secrets with one ID
		return nil
	})
	expectNone("update a, two secrets with one ID", err)
	_, err = s.UpdateClient(admin, "missing", func(c *auth.Client) error { return nil })
	expectNone("update missing", err)

	a3, err := s.UpdateClient(ctx, "a", func(c *auth.Client) error { c.Name = "renamed"; return nil })
	if err != nil {
		t.Fatalf("UpdateClient(a): %v", err)
	}
	expect("rename a without an Audit", wantEvent{actor: "system", action: auth.ActionClientUpdate, kind: "client", id: "a",
		before: auth.AuditClientView(a2), after: auth.AuditClientView(a3), at: a3.UpdatedAt})

	b := &auth.Client{ID: "b"}
	if err := s.CreateClient(ctx, b); err != nil {
		t.Fatalf("CreateClient(b): %v", err)
	}
	expect("create b without an Audit", wantEvent{actor: "system", action: auth.ActionClientCreate, kind: "client", id: "b",
		before: json.RawMessage("null"), after: auth.AuditClientView(client("b")), at: b.UpdatedAt})

	if err := s.DeleteClient(admin, "a"); err != nil {
		t.Fatalf("DeleteClient(a): %v", err)
	}
	expect("delete a", wantEvent{actor: "client:admin-1", action: auth.ActionClientDelete, kind: "client", id: "a",
		remote: "192.0.2.7", before: auth.AuditClientView(a3), after: json.RawMessage("null")})
	expectNone("delete a again", s.DeleteClient(admin, "a"))

	// A deleted client's events stay.
	if events := auditEvents(t, s, auth.AuditQuery{TargetID: "a"}); len(events) != 4 {
		t.Errorf("events of a after its deletion: %d; want 4 (create, rotate, rename, delete)", len(events))
	}

	// Keys: the target is the newest key of the result.
	k0, k1, k2 := someKey("k0", -100), someKey("k1", 0), someKey("k2", 100)
	if err := s.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, k1), nil }); err != nil {
		t.Fatalf("UpdateKeys (add k1): %v", err)
	}
	expect("add k1", wantEvent{actor: "system", action: auth.ActionKeysUpdate, kind: "keys", id: "k1",
		before: json.RawMessage("[]"), after: auth.AuditKeysView([]auth.Key{k1})})
	rotate := auth.WithAudit(ctx, auth.Audit{Action: auth.ActionKeysRotate})
	if err := s.UpdateKeys(rotate, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, k2, k0), nil }); err != nil {
		t.Fatalf("UpdateKeys (add k2, k0): %v", err)
	}
	expect("add k2 and an older k0", wantEvent{actor: "system", action: auth.ActionKeysRotate, kind: "keys", id: "k2",
		before: auth.AuditKeysView([]auth.Key{k1}), after: auth.AuditKeysView([]auth.Key{k0, k1, k2})})
	if err := s.UpdateKeys(rotate, func(cur []auth.Key) ([]auth.Key, error) { return cur, nil }); err != nil {
		t.Fatalf("UpdateKeys (no-op): %v", err)
	}
	if events := newEvents(); len(events) != 0 {
		t.Errorf("UpdateKeys that changes nothing: audit events%s; want none", formatEvents(events))
	}
	expectNone("keys, fn fails", s.UpdateKeys(rotate, func([]auth.Key) ([]auth.Key, error) { return nil, boom }))
	expectNone("keys, a stored key changed", s.UpdateKeys(rotate, func(cur []auth.Key) ([]auth.Key, error) {
		cur[0].Algorithm = auth.EdDSA
		return cur, nil
	}))
	if err := s.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return cur[:2], nil }); err != nil {
		t.Fatalf("UpdateKeys (remove k2): %v", err)
	}
	expect("remove k2", wantEvent{actor: "system", action: auth.ActionKeysUpdate, kind: "keys", id: "k1",
		before: auth.AuditKeysView([]auth.Key{k0, k1, k2}), after: auth.AuditKeysView([]auth.Key{k0, k1})})
	if err := s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return nil, nil }); err != nil {
		t.Fatalf("UpdateKeys (remove all): %v", err)
	}
	expect("remove every key", wantEvent{actor: "system", action: auth.ActionKeysUpdate, kind: "keys", id: "",
		before: auth.AuditKeysView([]auth.Key{k0, k1}), after: json.RawMessage("[]")})

	// Revocations: a second revocation of a token records nothing.
	r := auth.RevokedToken{JTI: "tok-1", ClientID: "b", ExpiresAt: someTime(3600)}
	if err := s.RevokeToken(admin, r); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	expect("revoke tok-1", wantEvent{actor: "client:admin-1", action: auth.ActionTokenRevoke, kind: "token", id: "tok-1",
		remote: "192.0.2.7", before: json.RawMessage("null"), after: auth.AuditRevocationView(r)})
	if err := s.RevokeToken(admin, auth.RevokedToken{JTI: "tok-1", ClientID: "x", ExpiresAt: someTime(7200)}); err != nil {
		t.Fatalf("RevokeToken again: %v", err)
	}
	if events := newEvents(); len(events) != 0 {
		t.Errorf("revoke tok-1 again: audit events%s; want none", formatEvents(events))
	}

	// Over the whole trail: increasing numbers, no secret.
	all := auditEvents(t, s, auth.AuditQuery{})
	secrets := []string{"sha256:AAAA", "c2FsdA$aGFzaA", "sha256:ROTATED"}
	for _, k := range []auth.Key{k0, k1, k2} {
		secrets = append(secrets, string(k.Sealed), base64.StdEncoding.EncodeToString(k.Sealed), base64.URLEncoding.EncodeToString(k.Sealed))
	}
	var prev int64
	for _, e := range all {
		if e.Seq <= prev {
			t.Errorf("event Seq %d after %d; want increasing", e.Seq, prev)
		}
		prev = e.Seq
		text := strings.Join([]string{e.Actor, e.Action, e.TargetKind, e.TargetID, e.RemoteAddr, string(e.Before), string(e.After)}, "\n")
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("event %d (%s) contains the secret %q:\n%s", e.Seq, e.Action, secret, text)
			}
		}
	}
	if len(all) != 10 {
		t.Errorf("%d audit events in all; want 10", len(all))
	}
}

// testRecordEvent checks RecordEvent: an event without a change (a quota
// breach) is numbered and timed like the others, read back as written,
// and changes nothing else (no change-feed entry).
func testRecordEvent(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, &auth.Client{ID: "quota"}); err != nil {
		t.Fatal(err)
	}
	before := auditEvents(t, s, auth.AuditQuery{})
	latest, err := s.LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := json.RawMessage(`{"quota":"5/1h","used":6,"mode":"warn"}`)
	e := auth.AuditEvent{Actor: "system", Action: auth.ActionQuotaExceeded, TargetKind: "client", TargetID: "quota", RemoteAddr: "node-1", After: after}
	if err := s.RecordEvent(ctx, e); err != nil {
		t.Fatalf("RecordEvent: %v", err)
	}
	got := auditEvents(t, s, auth.AuditQuery{After: before[len(before)-1].Seq})
	if len(got) != 1 {
		t.Fatalf("after RecordEvent: %d new events%s; want 1", len(got), formatEvents(got))
	}
	checkEvent(t, "RecordEvent", got[0], wantEvent{actor: "system", action: auth.ActionQuotaExceeded, kind: "client", id: "quota", remote: "node-1", before: json.RawMessage("null"), after: after})
	if got[0].At.IsZero() {
		t.Errorf("RecordEvent: the event has no time")
	}
	if l, err := s.LatestChange(ctx); err != nil || l != latest {
		t.Errorf("LatestChange after RecordEvent = %v, %v; want %v: an event is not a change", l, err, latest)
	}
	if err := s.RecordEvent(ctx, auth.AuditEvent{TargetID: "quota"}); auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("RecordEvent without an actor or action = %v; want EINVALID", err)
	}
}
