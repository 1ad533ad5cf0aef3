package authtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gooclaim/auth"
)

// testSQLAuditFailureFailsTheWrite makes the audit insert fail: every write
// must then fail and leave nothing behind, not even a used number.
func testSQLAuditFailureFailsTheWrite(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db := s.newStore(t, SQLOptions{})
	if err := db.CreateClient(ctx, &auth.Client{ID: "c", Name: "before"}); err != nil {
		t.Fatal(err)
	}
	key := auth.Key{ID: "k1", Algorithm: auth.EdDSA, Public: []byte{1}, Sealed: []byte{2},
		CreatedAt: Epoch, SigningFrom: Epoch}
	if err := db.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, key), nil }); err != nil {
		t.Fatal(err)
	}
	latest, err := db.LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.exec(t, db, s.b.RefuseAudit)

	writes := map[string]func() error{
		"CreateClient": func() error { return db.CreateClient(ctx, &auth.Client{ID: "d"}) },
		"UpdateClient": func() error {
			_, err := db.UpdateClient(ctx, "c", func(c *auth.Client) error { c.Name = "after"; return nil })
			return err
		},
		"DeleteClient": func() error { return db.DeleteClient(ctx, "c") },
		"UpdateKeys": func() error {
			return db.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return nil, nil })
		},
		"RevokeToken": func() error {
			return db.RevokeToken(ctx, auth.RevokedToken{JTI: "t", ExpiresAt: Epoch})
		},
		"CreateClients": func() error { return db.CreateClients(ctx, []*auth.Client{{ID: "e"}}) },
	}
	for name, write := range writes {
		if err := write(); err == nil || !strings.Contains(err.Error(), s.b.AuditRefused) {
			t.Errorf("%s with a failing audit insert = %v; want the insert's error", name, err)
		}
	}
	for _, id := range []string{"d", "e"} {
		if _, err := db.Client(ctx, id); auth.ErrorCode(err) != auth.ENOTFOUND {
			t.Errorf("Client(%s) = %v; want ENOTFOUND", id, err)
		}
	}
	if c, err := db.Client(ctx, "c"); err != nil || c.Name != "before" {
		t.Errorf("Client(c) = %+v, %v; want it unchanged", c, err)
	}
	if keys, err := db.Keys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("Keys = %+v, %v; want k1 alone", keys, err)
	}
	if revoked, err := db.TokenRevoked(ctx, "t"); err != nil || revoked {
		t.Errorf("TokenRevoked = %v, %v; want false", revoked, err)
	}
	if l, err := db.LatestChange(ctx); err != nil || l != latest {
		t.Errorf("LatestChange = %d, %v; want %d", l, err, latest)
	}

	// The failed writes used no number: once the audit trail accepts events
	// again, the next one follows the two written before them.
	s.exec(t, db, s.b.AllowAudit)
	if err := db.RevokeToken(ctx, auth.RevokedToken{JTI: "t", ExpiresAt: Epoch}); err != nil {
		t.Fatalf("RevokeToken once the audit trail accepts events: %v", err)
	}
	events := auditEvents(t, db, auth.AuditQuery{})
	if len(events) != 3 || events[0].Seq != 1 || events[1].Seq != 2 || events[2].Seq != 3 {
		t.Errorf("audit events after the failed writes:%s; want 1, 2 and 3", formatEvents(events))
	}
}

// testSQLAuditTwoHandles updates one client through two handles at once, as
// the server and the CLI might: each event's Before is its predecessor's
// After, so the numbers follow the order in which the writes took effect.
func testSQLAuditTwoHandles(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	database := s.b.NewDatabase(t)
	server, cli := s.migrated(t, database, SQLOptions{}), s.migrated(t, database, SQLOptions{})
	if err := server.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		db := []SQLStore{server, cli}[i%2]
		wg.Go(func() {
			ctx := auth.WithAudit(ctx, auth.Audit{Actor: fmt.Sprintf("worker-%d", i)})
			if _, err := db.UpdateClient(ctx, "c", func(c *auth.Client) error {
				c.Scopes = append(c.Scopes, fmt.Sprint(i))
				return nil
			}); err != nil {
				t.Errorf("UpdateClient %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	events, err := cli.AuditEvents(ctx, auth.AuditQuery{TargetID: "c"})
	if err != nil || len(events) != n+1 {
		t.Fatalf("AuditEvents = %d events, %v; want %d", len(events), err, n+1)
	}
	for i := 1; i < len(events); i++ {
		var after struct{ Scopes []string }
		json.Unmarshal(events[i].After, &after)
		if events[i].Seq <= events[i-1].Seq || string(events[i].Before) != string(events[i-1].After) || len(after.Scopes) != i {
			t.Errorf("event %d (Seq %d): Before %s, After %s; want the previous After and %d scopes",
				i, events[i].Seq, events[i].Before, events[i].After, i)
		}
	}
}
