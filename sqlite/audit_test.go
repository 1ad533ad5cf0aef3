package sqlite

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// TestAuditAppendOnly runs the conformance suite on databases whose
// audit_events table refuses updates and deletes: no method may change or
// remove an event.
func TestAuditAppendOnly(t *testing.T) {
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
		_, err := db.db.ExecContext(t.Context(), `
			CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
			BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
			CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
			BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestAuditFailureFailsTheWrite makes the audit insert fail: every write
// must then fail and leave nothing behind.
func TestAuditFailureFailsTheWrite(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	if err := db.CreateClient(ctx, &auth.Client{ID: "c", Name: "before"}); err != nil {
		t.Fatal(err)
	}
	key := auth.Key{ID: "k1", Algorithm: auth.EdDSA, Public: []byte{1}, Sealed: []byte{2},
		CreatedAt: authtest.Epoch, SigningFrom: authtest.Epoch}
	if err := db.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, key), nil }); err != nil {
		t.Fatal(err)
	}
	latest, err := db.LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.db.ExecContext(ctx, `CREATE TRIGGER audit_events_refused BEFORE INSERT ON audit_events
		BEGIN SELECT RAISE(ABORT, 'audit refused'); END`)
	if err != nil {
		t.Fatal(err)
	}

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
			return db.RevokeToken(ctx, auth.RevokedToken{JTI: "t", ExpiresAt: authtest.Epoch})
		},
	}
	for name, write := range writes {
		if err := write(); err == nil || !strings.Contains(err.Error(), "audit refused") {
			t.Errorf("%s with a failing audit insert = %v; want the insert's error", name, err)
		}
	}
	if _, err := db.Client(ctx, "d"); auth.ErrorCode(err) != auth.ENOTFOUND {
		t.Errorf("Client(d) = %v; want ENOTFOUND", err)
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
}

// TestAuditTwoHandles updates one client through two handles at once, as
// the server and the CLI might: each event's Before is its predecessor's
// After, so the numbers follow the order in which the writes took effect.
func TestAuditTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	server, cli := openTest(t, path, Options{}), openTest(t, path, Options{})
	if err := server.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		db := []*DB{server, cli}[i%2]
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
