package authtest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gooclaim/auth"
)

// Commit order: the change feed and the audit trail are read by following
// their numbers (Changes(after), AuditQuery.After), so an entry that
// commits after one with a higher number would never be seen. These tests
// write from many goroutines through several handles while a reader
// follows, and check that it sees every entry exactly once.

// testSQLChangesCommitOrder follows the feed as a replica does.
func testSQLChangesCommitOrder(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db, last := s.followWhileWriting(t, "changes",
		func(db SQLStore, after int64) ([]int64, error) {
			changes, err := db.Changes(ctx, after, 7)
			var seqs []int64
			for _, c := range changes {
				seqs = append(seqs, c.Seq)
			}
			return seqs, err
		},
		func(db SQLStore, id string, i int) error {
			switch i % 5 {
			case 0, 1, 2:
				_, err := db.UpdateClient(ctx, id, func(c *auth.Client) error { c.Name = fmt.Sprint(i); return nil })
				return err
			case 3:
				return db.CreateClient(ctx, &auth.Client{ID: fmt.Sprintf("%s-%d", id, i)})
			default:
				return db.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) {
					k := auth.Key{ID: fmt.Sprintf("%s-%d", id, i), Algorithm: auth.EdDSA, CreatedAt: Epoch, SigningFrom: Epoch}
					return append(cur, k), nil
				})
			}
		})
	if latest, err := db.LatestChange(ctx); err != nil || latest != last {
		t.Errorf("LatestChange = %d, %v; want %d", latest, err, last)
	}
}

// testSQLAuditCommitOrder pages through the audit trail as an admin tool
// following it would. Revocations, which append no change, take part, so
// the change feed's ordering alone cannot be what orders them.
func testSQLAuditCommitOrder(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	s.followWhileWriting(t, "audit_events",
		func(db SQLStore, after int64) ([]int64, error) {
			events, err := db.AuditEvents(ctx, auth.AuditQuery{After: after, Limit: 7})
			var seqs []int64
			for _, e := range events {
				seqs = append(seqs, e.Seq)
			}
			return seqs, err
		},
		func(db SQLStore, id string, i int) error {
			switch i % 4 {
			case 0, 1:
				return db.RevokeToken(ctx, auth.RevokedToken{JTI: fmt.Sprintf("%s-%d", id, i), ExpiresAt: Epoch})
			case 2:
				_, err := db.UpdateClient(ctx, id, func(c *auth.Client) error { c.Name = fmt.Sprint(i); return nil })
				return err
			default:
				return db.CreateClient(ctx, &auth.Client{ID: fmt.Sprintf("%s-%d", id, i)})
			}
		})
}

// followWhileWriting opens three handles on a new database and creates a
// client for each of 12 writers; then the writers, each in a goroutine of
// its own, make 25 writes each with write (through one of the handles, to
// its client, i from 0), while a reader follows the numbers of table from
// the start with follow (those after `after`, in order, a page at a time)
// through another handle. It checks that the reader saw every number
// exactly once, and that the table holds every number from 1, without
// gaps. It returns a handle on the database and the highest number.
func (s sqlSuite) followWhileWriting(t *testing.T, table string,
	follow func(db SQLStore, after int64) ([]int64, error), write func(db SQLStore, id string, i int) error) (SQLStore, int64) {
	ctx := t.Context()
	database := s.b.NewDatabase(t)
	dbs := []SQLStore{
		s.migrated(t, database, SQLOptions{}),
		s.migrated(t, database, SQLOptions{}),
		s.migrated(t, database, SQLOptions{}),
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
			finished := done.Load() // read before the numbers: none can follow
			seqs, err := follow(dbs[1], after)
			if err != nil {
				readErr = err
				return
			}
			for _, seq := range seqs {
				if seq <= after {
					readErr = fmt.Errorf("after %d: %d", after, seq)
					return
				}
				seen[seq]++
				after = seq
			}
			if len(seqs) == 0 && finished {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			db, id := dbs[w%len(dbs)], fmt.Sprintf("c%02d", w)
			for i := range writes {
				if err := write(db, id, i); err != nil {
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
		t.Fatalf("reader of %s: %v", table, readErr)
	}

	all := s.column(t, dbs[2], `SELECT seq FROM `+table+` ORDER BY seq`)
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
		t.Errorf("the reader of %s missed %v and saw %v twice", table, missed, twice)
	}
	want := int64(writers + writers*writes)
	if len(all) != int(want) || all[0] != 1 || all[len(all)-1] != want {
		t.Errorf("%s %d…%d (%d) stored; want 1…%d, without gaps", table, all[0], all[len(all)-1], len(all), want)
	}
	return dbs[2], want
}
