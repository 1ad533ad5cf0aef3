package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
)

// TestWatchChanges checks that a commit through one handle wakes the
// watcher of another within a second, and that commits in another schema
// and writes that change nothing do not.
func TestWatchChanges(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	watcher, writer, other := openTest(t, schema), openTest(t, schema), openTest(t, newSchema(t))
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
	db := openTest(t, newSchema(t))
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
