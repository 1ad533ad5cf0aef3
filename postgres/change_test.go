package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// TestChangesCommitOrder writes from many goroutines through several
// handles while a reader follows the feed as a replica does, always asking
// for the changes after the last it has seen. Had a change committed after
// one with a higher number, the reader would have moved past it and never
// seen it: it must see every change exactly once.
func TestChangesCommitOrder(t *testing.T) {
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
			finished := done.Load() // read before the changes: none can follow
			changes, err := dbs[1].Changes(ctx, after, 7)
			if err != nil {
				readErr = err
				return
			}
			for _, c := range changes {
				if c.Seq <= after {
					readErr = fmt.Errorf("Changes(%d) returned %d", after, c.Seq)
					return
				}
				seen[c.Seq]++
				after = c.Seq
			}
			if len(changes) == 0 && finished {
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
				switch i % 5 {
				case 0, 1, 2:
					_, err = db.UpdateClient(ctx, id, func(c *auth.Client) error { c.Name = fmt.Sprint(i); return nil })
				case 3:
					err = db.CreateClient(ctx, &auth.Client{ID: fmt.Sprintf("%s-%d", id, i)})
				case 4:
					err = db.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) {
						k := auth.Key{ID: fmt.Sprintf("%s-%d", id, i), Algorithm: auth.EdDSA,
							CreatedAt: authtest.Epoch, SigningFrom: authtest.Epoch}
						return append(cur, k), nil
					})
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

	rows, err := dbs[2].pool.Query(ctx, `SELECT seq FROM changes ORDER BY seq`)
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
		case seq <= writers: // the setup's, before the reader started
		case n == 0:
			missed = append(missed, seq)
		case n > 1:
			twice = append(twice, seq)
		}
	}
	if len(missed) > 0 || len(twice) > 0 {
		t.Errorf("the reader missed changes %v and saw %v twice", missed, twice)
	}
	latest, err := dbs[2].LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(writers + writers*writes)
	if latest != want || len(all) != int(want) || all[0] != 1 || all[len(all)-1] != want {
		t.Errorf("LatestChange = %d, changes %d…%d (%d) stored; want 1…%d, without gaps", latest, all[0], all[len(all)-1], len(all), want)
	}
}

// TestWatchChanges checks that a commit through one handle wakes the
// watcher of another within a second, and that commits in another schema
// and writes that change nothing do not.
func TestWatchChanges(t *testing.T) {
	t.Parallel()
	url, schema := newSchema(t)
	_, otherSchema := newSchema(t)
	watcher := openTest(t, url, Options{Schema: schema})
	writer := openTest(t, url, Options{Schema: schema})
	other := openTest(t, url, Options{Schema: otherSchema})
	watcher.watchPing = 20 * time.Millisecond // pings between the notifications keep the connection usable

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	notified := make(chan struct{}, 100)
	returned := make(chan error, 1)
	go func() {
		returned <- watcher.WatchChanges(ctx, func() { notified <- struct{}{} })
	}()
	expect := func(what string, want bool, within time.Duration) {
		t.Helper()
		select {
		case <-notified:
			if !want {
				t.Errorf("%s: notified; want no notification", what)
			}
		case err := <-returned:
			t.Fatalf("%s: WatchChanges returned %v", what, err)
		case <-time.After(within):
			if want {
				t.Errorf("%s: no notification within %v", what, within)
			}
		}
	}
	expect("start", true, 5*time.Second) // the first, once listening

	if err := other.CreateClient(t.Context(), &auth.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	expect("a commit in another schema", false, 300*time.Millisecond)
	noop := func(cur []auth.Key) ([]auth.Key, error) { return cur, nil }
	if err := writer.UpdateKeys(t.Context(), noop); err != nil {
		t.Fatal(err)
	}
	expect("a write that changes nothing", false, 300*time.Millisecond)
	for i := range 3 {
		if err := writer.CreateClient(t.Context(), &auth.Client{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		expect(fmt.Sprintf("commit %d through another handle", i), true, time.Second)
	}

	cancel()
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WatchChanges after its context ended = %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchChanges did not return when its context ended")
	}
}

// TestWatchChangesConnectionLost checks that WatchChanges returns, as
// unavailable, when its connection is terminated.
func TestWatchChangesConnectionLost(t *testing.T) {
	t.Parallel()
	url, schema := newSchema(t)
	db := openTest(t, url, Options{Schema: schema})
	notified := make(chan struct{}, 10)
	returned := make(chan error, 1)
	go func() {
		returned <- db.WatchChanges(t.Context(), func() { notified <- struct{}{} })
	}()
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchChanges is not listening after 5s")
	}
	var n int
	err := db.pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN ' || $1`, pgx.Identifier{db.channel}.Sanitize()).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminating the listening connection: %d, %v", n, err)
	}
	select {
	case err := <-returned:
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("WatchChanges after its connection was terminated = %v; want EUNAVAILABLE", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchChanges did not return when its connection was terminated")
	}
}

func TestChannelName(t *testing.T) {
	long := strings.Repeat("s", 63)
	for _, schema := range []string{"", "gooclaim_test_x", long, long[1:]} {
		name := channelName(schema)
		if len(name) > 63 || !strings.HasPrefix(name, "gooclaim_changes") {
			t.Errorf("channelName(%q) = %q; want a name of at most 63 bytes", schema, name)
		}
	}
	if channelName(long) == channelName(long[1:]) {
		t.Error("two long schema names have the same channel")
	}
}

func TestPruneChanges(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	clock := authtest.NewClock(authtest.Epoch)
	db := openTest(t, url, Options{Schema: schema, Clock: clock, ChangeRetention: time.Hour})
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
	other := openTest(t, url, Options{Schema: schema})
	if _, err := other.Changes(ctx, 0, 10); !errors.Is(err, auth.ErrChangesPruned) {
		t.Errorf("other handle: Changes(0) = %v; want ErrChangesPruned", err)
	}
	if l, err := other.LatestChange(ctx); err != nil || l != 6 {
		t.Errorf("other handle: LatestChange = %d, %v; want 6", l, err)
	}
}
