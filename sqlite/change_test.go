package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// TestTwoHandles opens the file twice, as the server and the CLI would, and
// checks that each sees the other's writes and changes, and that their
// concurrent read-modify-writes lose nothing.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	server, cli := openTest(t, path, Options{}), openTest(t, path, Options{})

	start, err := server.LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient through the CLI: %v", err)
	}
	if _, err := server.Client(ctx, "c"); err != nil {
		t.Errorf("Client through the server: %v", err)
	}
	changes, err := server.Changes(ctx, start, 10)
	if err != nil || len(changes) != 1 || changes[0].ID != "c" {
		t.Errorf("server.Changes = %+v, %v; want the CLI's change", changes, err)
	}
	key := auth.Key{ID: "k", Algorithm: auth.EdDSA, Public: []byte{1}, Sealed: []byte{2},
		CreatedAt: authtest.Epoch, SigningFrom: authtest.Epoch}
	err = server.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, key), nil })
	if err != nil {
		t.Fatalf("UpdateKeys through the server: %v", err)
	}
	if keys, err := cli.Keys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("cli.Keys = %+v, %v; want the server's key", keys, err)
	}
	if l, err := cli.LatestChange(ctx); err != nil || l != changes[0].Seq+1 {
		t.Errorf("cli.LatestChange = %d, %v; want %d", l, err, changes[0].Seq+1)
	}

	// Each handle has its own in-process lock: only SQLite's serializes them.
	var wg sync.WaitGroup
	for i := range 20 {
		db := []*DB{server, cli}[i%2]
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
	wg.Wait()
	c, err := server.Client(ctx, "c")
	if err != nil || len(c.Scopes) != 20 {
		t.Errorf("Client after concurrent updates through both handles = %v, %v; want 20 scopes", c, err)
	}
}

func TestPruneChanges(t *testing.T) {
	ctx := t.Context()
	clock := authtest.NewClock(authtest.Epoch)
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{Clock: clock, ChangeRetention: time.Hour})
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

	// Pruning is remembered in the file: another handle sees it.
	other := openTest(t, db.Path(), Options{})
	if _, err := other.Changes(ctx, 0, 10); !errors.Is(err, auth.ErrChangesPruned) {
		t.Errorf("other handle: Changes(0) = %v; want ErrChangesPruned", err)
	}
}
