package inmem_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/sqlite"
)

var _ authtest.ClientCache = (*inmem.Replica)(nil)

func openDB(t *testing.T, path string, opts sqlite.Options) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func client(id string, scopes ...string) *auth.Client {
	return &auth.Client{ID: id, Name: id, Scopes: scopes, Secrets: []auth.Secret{{ID: "s1", Hash: "sha256:x"}}}
}

func key(id string, at time.Time) auth.Key {
	return auth.Key{ID: id, Algorithm: auth.ES256, Public: []byte("pub"), Sealed: []byte("sealed"), CreatedAt: at, SigningFrom: at}
}

// TestReplicaStore runs the store's suite through a replica over a SQLite
// store: what it writes through, it holds at once (authtest.ClientCache).
func TestReplicaStore(t *testing.T) {
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		r := inmem.NewReplica(openDB(t, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{}), inmem.ReplicaOptions{})
		if err := r.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		return r
	})
}

// TestReplicaFollowsAnotherProcess: changes written through a second handle
// on the same file (as the CLI does) reach the replica by Sync.
func TestReplicaFollowsAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	serverDB, cliDB := openDB(t, path, sqlite.Options{}), openDB(t, path, sqlite.Options{})
	if err := cliDB.CreateClient(ctx, client("before", "a")); err != nil {
		t.Fatal(err)
	}
	var keyLoads atomic.Int32
	var lastKeys []auth.Key
	r := inmem.NewReplica(serverDB, inmem.ReplicaOptions{OnKeys: func(k []auth.Key) error { keyLoads.Add(1); lastKeys = k; return nil }})
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Lookup("before") == nil || r.Len() != 1 || keyLoads.Load() != 1 {
		t.Fatalf("after Load: before=%v len=%d keyLoads=%d", r.Lookup("before"), r.Len(), keyLoads.Load())
	}

	cliDB.CreateClient(ctx, client("new", "b"))
	cliDB.UpdateClient(ctx, "before", func(c *auth.Client) error { c.Disabled = true; return nil })
	cliDB.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return []auth.Key{key("k1", time.Now())}, nil })
	if r.Lookup("new") != nil {
		t.Fatal("replica changed before Sync")
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Lookup("new") == nil || !r.Lookup("before").Disabled {
		t.Fatal("Sync missed a create or an update")
	}
	if keyLoads.Load() != 2 || len(lastKeys) != 1 || lastKeys[0].ID != "k1" {
		t.Fatalf("OnKeys: %d calls, keys %v", keyLoads.Load(), lastKeys)
	}
	if got := r.Scopes(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Scopes %v", got)
	}
	cliDB.DeleteClient(ctx, "new")
	r.Sync(ctx)
	if r.Lookup("new") != nil || !slices.Equal(r.Scopes(), []string{"a"}) {
		t.Fatal("Sync missed a delete")
	}
	// A Sync with nothing new neither reloads keys nor fails.
	if err := r.Sync(ctx); err != nil || keyLoads.Load() != 2 {
		t.Fatalf("idle Sync: %v, keyLoads %d", err, keyLoads.Load())
	}
}

// TestReplicaWriteThrough: a write through the replica is visible at once.
func TestReplicaWriteThrough(t *testing.T) {
	ctx := context.Background()
	r := inmem.NewReplica(openDB(t, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{}), inmem.ReplicaOptions{})
	r.Load(ctx)
	if err := r.CreateClient(ctx, client("c", "a")); err != nil || r.Lookup("c") == nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := r.UpdateClient(ctx, "c", func(c *auth.Client) error { c.Name = "renamed"; return nil }); err != nil || r.Lookup("c").Name != "renamed" {
		t.Fatalf("update: %v", err)
	}
	if err := r.DeleteClient(ctx, "c"); err != nil || r.Lookup("c") != nil {
		t.Fatalf("delete: %v", err)
	}
}

// TestReplicaReloadsWhenChangesWerePruned: a replica that fell behind the
// feed's retention reloads everything instead of missing changes.
func TestReplicaReloadsWhenChangesWerePruned(t *testing.T) {
	ctx := context.Background()
	clock := authtest.NewClock(time.Now())
	path := filepath.Join(t.TempDir(), "auth.db")
	writer := openDB(t, path, sqlite.Options{Clock: clock, ChangeRetention: time.Hour})
	r := inmem.NewReplica(openDB(t, path, sqlite.Options{Clock: clock}), inmem.ReplicaOptions{})
	writer.CreateClient(ctx, client("old", "a"))
	r.Load(ctx)
	writer.DeleteClient(ctx, "old")
	clock.Advance(2 * time.Hour)
	writer.CreateClient(ctx, client("late", "a")) // prunes the delete of "old"
	clock.Advance(2 * time.Minute)
	writer.CreateClient(ctx, client("later", "a"))
	if _, err := writer.Changes(ctx, r.Seq(), 10); !errors.Is(err, auth.ErrChangesPruned) {
		t.Fatalf("the test's premise failed: changes after the replica's position were not pruned (%v)", err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Lookup("old") != nil || r.Lookup("late") == nil || r.Lookup("later") == nil {
		t.Fatalf("after pruned changes: old=%v late=%v later=%v", r.Lookup("old") != nil, r.Lookup("late") != nil, r.Lookup("later") != nil)
	}
}

// TestReplicaRunPicksUpChanges: the background loop applies a change within
// a few poll intervals.
func TestReplicaRunPicksUpChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "auth.db")
	r := inmem.NewReplica(openDB(t, path, sqlite.Options{}), inmem.ReplicaOptions{PollInterval: 20 * time.Millisecond})
	r.Load(ctx)
	go r.Run(ctx)
	openDB(t, path, sqlite.Options{}).CreateClient(ctx, client("x", "a"))
	deadline := time.Now().Add(2 * time.Second)
	for r.Lookup("x") == nil {
		if time.Now().After(deadline) {
			t.Fatal("Run did not pick up the change within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if time.Since(r.LastSync()) > time.Second {
		t.Fatalf("LastSync %v is stale", r.LastSync())
	}
}

// notifyingStore is a store that signals changes on demand, as PostgreSQL's
// LISTEN/NOTIFY does.
type notifyingStore struct {
	auth.Store
	signals chan struct{}
}

func (n *notifyingStore) WatchChanges(ctx context.Context, notify func()) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.signals:
			notify()
		}
	}
}

// TestReplicaSyncsOnNotification: with a notifying store a change is applied
// at once, not at the next poll (here an hour away).
func TestReplicaSyncsOnNotification(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "auth.db")
	store := &notifyingStore{Store: openDB(t, path, sqlite.Options{}), signals: make(chan struct{})}
	r := inmem.NewReplica(store, inmem.ReplicaOptions{PollInterval: time.Hour})
	r.Load(ctx)
	go r.Run(ctx)
	openDB(t, path, sqlite.Options{}).CreateClient(ctx, client("x", "a"))
	time.Sleep(50 * time.Millisecond)
	if r.Lookup("x") != nil {
		t.Fatal("the premise failed: the change arrived without a notification")
	}
	store.signals <- struct{}{}
	deadline := time.Now().Add(2 * time.Second)
	for r.Lookup("x") == nil {
		if time.Now().After(deadline) {
			t.Fatal("a notification did not trigger a Sync")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReplicaOnClient: the replica tells OnClient of each client whose
// change it applied — an update, a deletion, the revocation of one of its
// tokens (RFC 7009) by another process — and "" after a full load that
// read changes, which a cache of issued tokens must then all forget.
func TestReplicaOnClient(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	serverDB, cliDB := openDB(t, path, sqlite.Options{}), openDB(t, path, sqlite.Options{})
	for _, id := range []string{"x", "y"} {
		if err := cliDB.CreateClient(ctx, client(id, "a")); err != nil {
			t.Fatal(err)
		}
	}
	var heard []string
	r := inmem.NewReplica(serverDB, inmem.ReplicaOptions{OnClient: func(id string) { heard = append(heard, id) }})
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(heard, []string{""}) {
		t.Fatalf("the first load told %q; want [\"\"]", heard)
	}
	heard = nil
	if _, err := cliDB.UpdateClient(ctx, "x", func(c *auth.Client) error { c.Name = "renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	revoked := auth.RevokedToken{JTI: "jti-1", ClientID: "y", ExpiresAt: time.Now().Add(time.Hour)}
	if err := cliDB.RevokeToken(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	if err := cliDB.RevokeToken(ctx, revoked); err != nil { // again: no change
		t.Fatal(err)
	}
	if err := cliDB.DeleteClient(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	slices.Sort(heard)
	if !slices.Equal(heard, []string{"x", "y"}) {
		t.Fatalf("Sync told %q; want x (updated, deleted) and y (a token revoked), once each", heard)
	}
	heard = nil
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 0 {
		t.Fatalf("a load that read no new change told %q; want nothing", heard)
	}
	if err := cliDB.RevokeToken(ctx, auth.RevokedToken{JTI: "jti-2", ClientID: "y", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(heard, []string{""}) {
		t.Fatalf("a load over a revocation told %q; want [\"\"]", heard)
	}
}
