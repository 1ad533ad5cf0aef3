package inmem_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/sqlite"
)

// outageStore fails every read of the change feed while down is set, as a
// store whose server has stopped.
type outageStore struct {
	auth.Store
	down atomic.Bool
}

func (s *outageStore) Changes(ctx context.Context, after int64, limit int) ([]auth.Change, error) {
	if s.down.Load() {
		return nil, auth.Errorf(auth.EUNAVAILABLE, "the store is down")
	}
	return s.Store.Changes(ctx, after, limit)
}

// TestReplicaSyncErrorAndStaleness: while the store fails, Run keeps the
// last copy, SyncError says why and LastSync stops advancing (what serve's
// --max-staleness and /readyz read); once the store answers both recover by
// themselves.
func TestReplicaSyncErrorAndStaleness(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &outageStore{Store: openDB(t, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})}
	store.CreateClient(ctx, client("x", "a"))
	r := inmem.NewReplica(store, inmem.ReplicaOptions{PollInterval: 10 * time.Millisecond})
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go r.Run(ctx)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("LastSync does not advance while the store answers", func() bool { return time.Since(r.LastSync()) < 20*time.Millisecond })

	store.down.Store(true)
	waitFor("SyncError stays nil while the store is down", func() bool { return r.SyncError() != nil })
	if auth.ErrorCode(r.SyncError()) != auth.EUNAVAILABLE {
		t.Fatalf("SyncError %v: want the store's EUNAVAILABLE in the chain", r.SyncError())
	}
	frozen := r.LastSync()
	time.Sleep(50 * time.Millisecond)
	if !r.LastSync().Equal(frozen) {
		t.Fatal("LastSync advanced while the store was down")
	}
	if r.Lookup("x") == nil {
		t.Fatal("the last copy was dropped during the outage")
	}

	store.down.Store(false)
	waitFor("SyncError not cleared after the store came back", func() bool { return r.SyncError() == nil })
	if !r.LastSync().After(frozen) {
		t.Fatal("LastSync did not advance after the store came back")
	}
}
