package authtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// testSQLTwoHandles opens the database twice, as the server and the CLI, or
// two nodes, would, and checks that each sees the other's writes and
// changes, and that their concurrent read-modify-writes lose nothing.
func testSQLTwoHandles(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	database := s.b.NewDatabase(t)
	a, b := s.migrated(t, database, SQLOptions{}), s.migrated(t, database, SQLOptions{})

	start, err := a.LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient through b: %v", err)
	}
	if _, err := a.Client(ctx, "c"); err != nil {
		t.Errorf("Client through a: %v", err)
	}
	changes, err := a.Changes(ctx, start, 10)
	if err != nil || len(changes) != 1 || changes[0].ID != "c" {
		t.Fatalf("a.Changes = %+v, %v; want b's change", changes, err)
	}
	key := auth.Key{ID: "k", Algorithm: auth.EdDSA, Public: []byte{1}, Sealed: []byte{2},
		CreatedAt: Epoch, SigningFrom: Epoch}
	err = a.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, key), nil })
	if err != nil {
		t.Fatalf("UpdateKeys through a: %v", err)
	}
	if keys, err := b.Keys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("b.Keys = %+v, %v; want a's key", keys, err)
	}
	if l, err := b.LatestChange(ctx); err != nil || l != changes[0].Seq+1 {
		t.Errorf("b.LatestChange = %d, %v; want %d", l, err, changes[0].Seq+1)
	}

	// Each handle has its own connections (and, in SQLite, its own
	// in-process lock): only the database serializes them.
	var wg sync.WaitGroup
	for i := range 20 {
		db := []SQLStore{a, b}[i%2]
		wg.Go(func() {
			_, err := db.UpdateClient(ctx, "c", func(c *auth.Client) error {
				c.Scopes = append(c.Scopes, fmt.Sprint(i))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateClient %d: %v", i, err)
			}
		})
	}
	// Both handles rotate at once: exactly one rotation happens.
	for i := range 8 {
		db := []SQLStore{a, b}[i%2]
		wg.Go(func() {
			err := db.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) {
				if len(cur) > 1 {
					return cur, nil
				}
				k := key
				k.ID = string(rune('0' + i))
				return append(cur, k), nil
			})
			if err != nil {
				t.Errorf("UpdateKeys %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	c, err := a.Client(ctx, "c")
	if err != nil || len(c.Scopes) != 20 {
		t.Errorf("Client after concurrent updates through both handles = %v, %v; want 20 scopes", c, err)
	}
	if keys, err := b.Keys(ctx); err != nil || len(keys) != 2 {
		t.Errorf("Keys after concurrent rotations = %+v, %v; want 2", keys, err)
	}
	if l, err := a.LatestChange(ctx); err != nil || l != changes[0].Seq+1+20+1 {
		t.Errorf("LatestChange = %d, %v; want %d (20 updates and 1 rotation)", l, err, changes[0].Seq+22)
	}
}

// testSQLPruneChanges checks that writes prune the changes older than the
// retention, at most once a minute per handle, that Changes then says so,
// and that the numbers go on.
func testSQLPruneChanges(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	clock := NewClock(Epoch)
	database := s.b.NewDatabase(t)
	db := s.migrated(t, database, SQLOptions{Clock: clock, ChangeRetention: time.Hour})
	create := func(id string) {
		t.Helper()
		if err := db.CreateClient(ctx, &auth.Client{ID: id}); err != nil {
			t.Fatalf("CreateClient(%s): %v", id, err)
		}
	}
	changeIDs := func(after int64) ([]string, error) {
		changes, err := db.Changes(ctx, after, 100)
		var ids []string
		for _, c := range changes {
			ids = append(ids, c.ID)
		}
		return ids, err
	}

	create("a") // 1
	clock.Advance(30 * time.Minute)
	create("b") // 2
	clock.Advance(45 * time.Minute)
	create("c") // 3: prunes 1, older than an hour
	if _, err := changeIDs(0); !errors.Is(err, auth.ErrChangesPruned) {
		t.Errorf("Changes(0) after pruning = %v; want ErrChangesPruned", err)
	}
	if ids, err := changeIDs(1); err != nil || !slices.Equal(ids, []string{"b", "c"}) {
		t.Errorf("Changes(1) = %q, %v; want b, c", ids, err)
	}

	clock.Advance(30 * time.Second)
	create("d") // 4: within a minute of the last pruning, which it skips
	clock.Advance(15 * time.Minute)
	create("e") // 5: prunes 2 (b is 1h0m30s old)
	if _, err := changeIDs(1); !errors.Is(err, auth.ErrChangesPruned) {
		t.Errorf("Changes(1) after pruning = %v; want ErrChangesPruned", err)
	}
	if ids, err := changeIDs(2); err != nil || !slices.Equal(ids, []string{"c", "d", "e"}) {
		t.Errorf("Changes(2) = %q, %v; want c, d, e", ids, err)
	}

	// A later write prunes everything before it; the sequence goes on.
	clock.Advance(24 * time.Hour)
	if err := db.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if l, err := db.LatestChange(ctx); err != nil || l != 6 {
		t.Errorf("LatestChange = %d, %v; want 6", l, err)
	}
	if ids, err := changeIDs(5); err != nil || !slices.Equal(ids, []string{"a"}) {
		t.Errorf("Changes(5) = %q, %v; want a", ids, err)
	}
	if _, err := changeIDs(4); !errors.Is(err, auth.ErrChangesPruned) {
		t.Errorf("Changes(4) = %v; want ErrChangesPruned", err)
	}

	// Pruning is remembered in the database: another handle sees it.
	other := s.migrated(t, database, SQLOptions{})
	if _, err := other.Changes(ctx, 0, 10); !errors.Is(err, auth.ErrChangesPruned) {
		t.Errorf("other handle: Changes(0) = %v; want ErrChangesPruned", err)
	}
	if l, err := other.LatestChange(ctx); err != nil || l != 6 {
		t.Errorf("other handle: LatestChange = %d, %v; want 6", l, err)
	}
}
