package postgres

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// TestAuditAppendOnly runs the conformance suite on schemas whose
// audit_events table refuses updates and deletes: no method may change or
// remove an event.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	authtest.PostgresURL(t) // skip once, not in every subtest
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		url, schema := newSchema(t)
		db := openTest(t, url, Options{Schema: schema})
		_, err := db.pool.Exec(t.Context(), `
			CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$;
			CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
				FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
			CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
				FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();`)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestAuditFailureFailsTheWrite makes the audit insert fail: every write
// must then fail and leave nothing behind, not even a used number.
func TestAuditFailureFailsTheWrite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	db := openTest(t, url, Options{Schema: schema})
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
	// A NOT VALID check is not checked against the existing rows, only new ones.
	if _, err := db.pool.Exec(ctx, `ALTER TABLE audit_events ADD CONSTRAINT audit_refused CHECK (false) NOT VALID`); err != nil {
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
		if err := write(); err == nil || !strings.Contains(err.Error(), "audit_refused") {
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
	var counter int64
	if err := db.pool.QueryRow(ctx, `SELECT seq FROM audit_counter`).Scan(&counter); err != nil || counter != 2 {
		t.Errorf("audit_counter = %d, %v; want 2", counter, err)
	}
}

// TestAuditCommitOrder writes from many goroutines through several handles
// while a reader pages through the audit trail with After, as an admin
// tool following it would. Had an event committed after one with a higher
// number, the reader would have moved past it and never seen it: it must
// see every event exactly once. Revocations, which append no change, take
// part, so the change feed's ordering alone cannot be what orders them.
func TestAuditCommitOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	dbs := []*DB{
		openTest(t, url, Options{Schema: schema}),
		openTest(t, url, Options{Schema: schema}),
		openTest(t, url, Options{Schema: schema}),
	}
	const writers, writes = 12, 25
	for w := range writers {
		if err := dbs[0].CreateClient(ctx, &auth.Client{ID: fmt.Sprintf("c%02d", w)}); err != nil {
			t.Fatal(err)
		}
	}

	var done atomic.Bool
	seen := map[int64]int{}
	var readErr error
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		var after int64
		for {
			finished := done.Load() // read before the events: none can follow
			events, err := dbs[1].AuditEvents(ctx, auth.AuditQuery{After: after, Limit: 7})
			if err != nil {
				readErr = err
				return
			}
			for _, e := range events {
				if e.Seq <= after {
					readErr = fmt.Errorf("AuditEvents(After %d) returned %d", after, e.Seq)
					return
				}
				seen[e.Seq]++
				after = e.Seq
			}
			if len(events) == 0 && finished {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			db, id := dbs[w%len(dbs)], fmt.Sprintf("c%02d", w)
			for i := range writes {
				var err error
				switch i % 4 {
				case 0, 1:
					err = db.RevokeToken(ctx, auth.RevokedToken{JTI: fmt.Sprintf("%s-%d", id, i), ExpiresAt: authtest.Epoch})
				case 2:
					_, err = db.UpdateClient(ctx, id, func(c *auth.Client) error { c.Name = fmt.Sprint(i); return nil })
				case 3:
					err = db.CreateClient(ctx, &auth.Client{ID: fmt.Sprintf("%s-%d", id, i)})
				}
				if err != nil {
					t.Errorf("writer %d, write %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	<-reader
	if readErr != nil {
		t.Fatalf("reader: %v", readErr)
	}

	rows, err := dbs[2].pool.Query(ctx, `SELECT seq FROM audit_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	var missed, twice []int64
	for _, seq := range all {
		switch n := seen[seq]; {
		case n == 0:
			missed = append(missed, seq)
		case n > 1:
			twice = append(twice, seq)
		}
	}
	if len(missed) > 0 || len(twice) > 0 {
		t.Errorf("the reader missed events %v and saw %v twice", missed, twice)
	}
	want := int64(writers + writers*writes)
	if len(all) != int(want) || all[0] != 1 || all[len(all)-1] != want {
		t.Errorf("audit events %d…%d (%d) stored; want 1…%d, without gaps", all[0], all[len(all)-1], len(all), want)
	}
}
