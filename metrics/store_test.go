package metrics_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/postgres"
)

type migrator interface {
	Migrate(ctx context.Context) error
}

// TestStoreConformance: the decorated store passes the suite every backend
// passes, so it changes no result and no error.
func TestStoreConformance(t *testing.T) {
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		return metrics.Store(openSQLite(t), metrics.New(metrics.BuildInfo{}))
	})
}

func TestStorePostgresConformance(t *testing.T) {
	url := authtest.PostgresURL(t)
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		return metrics.Store(openPostgres(t, url), metrics.New(metrics.BuildInfo{}))
	})
}

// TestStoreKeepsOptionalInterfaces: the replica finds change notifications
// on a wrapped PostgreSQL store, main finds Migrate on both, and SQLite,
// which has no notifications, does not seem to have them.
func TestStoreKeepsOptionalInterfaces(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	lite := metrics.Store(openSQLite(t), m)
	if _, ok := lite.(migrator); !ok {
		t.Error("the wrapped SQLite store lost Migrate")
	}
	if _, ok := lite.(auth.ChangeNotifier); ok {
		t.Error("the wrapped SQLite store claims change notifications")
	}
	if err := lite.(migrator).Migrate(t.Context()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
	if u, ok := lite.(interface{ Unwrap() auth.Store }); !ok || u.Unwrap() == nil {
		t.Error("no Unwrap")
	}

	pg := metrics.Store(openPostgres(t, authtest.PostgresURL(t)), m)
	if _, ok := pg.(migrator); !ok {
		t.Error("the wrapped PostgreSQL store lost Migrate")
	}
	n, ok := pg.(auth.ChangeNotifier)
	if !ok {
		t.Fatal("the wrapped PostgreSQL store lost WatchChanges")
	}
	// A notification goes through the wrapper.
	ctx, cancel := context.WithCancel(t.Context())
	notified := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- n.WatchChanges(ctx, func() {
			select {
			case notified <- struct{}{}:
			default:
			}
		})
	}()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		if err := pg.CreateClient(t.Context(), &auth.Client{ID: fmt.Sprintf("c%d", i), Name: "n"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-notified:
		case <-time.After(100 * time.Millisecond):
			continue // the listener may not be connected yet
		case <-deadline:
			t.Fatal("no notification")
		}
		break
	}
	cancel()
	<-done
	if v := scrape(t, m).get(t, "gooclaim_store_errors_total", "operation", "watch_changes"); v != 0 {
		t.Errorf("a watch that ended with its context counted %v errors", v)
	}
}

// TestStoreCounts: every operation is timed; only failures of the backend
// count as errors.
func TestStoreCounts(t *testing.T) {
	ctx := t.Context()
	m := metrics.New(metrics.BuildInfo{})
	db := openSQLite(t)
	s := metrics.Store(db, m)

	if err := s.CreateClient(ctx, &auth.Client{ID: "a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, &auth.Client{ID: "a", Name: "a"}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	if _, err := s.Client(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("missing client: %v", err)
	}
	mine := errors.New("refused by the caller")
	if _, err := s.UpdateClient(ctx, "a", func(*auth.Client) error { return mine }); err != mine {
		t.Fatalf("UpdateClient returned %v, want the callback's error unchanged", err)
	}
	if err := s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return nil, mine }); err != mine {
		t.Fatalf("UpdateKeys returned %v, want the callback's error unchanged", err)
	}
	if err := s.CreateIssuer(ctx, &auth.TrustedIssuer{Name: "k8s", Issuer: "https://k8s.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIssuer(ctx, &auth.TrustedIssuer{Name: "k8s", Issuer: "https://k8s.example.com"}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("create an issuer twice: %v", err)
	}
	if _, err := s.UpdateIssuer(ctx, "k8s", func(*auth.TrustedIssuer) error { return mine }); err != mine {
		t.Fatalf("UpdateIssuer returned %v, want the callback's error unchanged", err)
	}
	if err := s.DeleteIssuer(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("delete a missing issuer: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	s.Client(canceled, "a")

	f := scrape(t, m)
	for op, want := range map[string]float64{"create_client": 2, "client": 2, "update_client": 1, "update_keys": 1, "keys": 0,
		"create_issuer": 2, "update_issuer": 1, "delete_issuer": 1, "list_issuers": 0} {
		if got := f.get(t, "gooclaim_store_operation_duration_seconds", "operation", op); got != want {
			t.Errorf("%s timed %v times, want %v", op, got, want)
		}
	}
	for _, op := range metrics.StoreOperations {
		if got := f.get(t, "gooclaim_store_errors_total", "operation", op); got != 0 {
			t.Errorf("store_errors_total{operation=%q} = %v: answers, the caller's errors and cancellations are not failures", op, got)
		}
	}

	// A closed database fails every operation: those count.
	db.Close()
	if _, err := s.Client(ctx, "a"); err == nil {
		t.Fatal("a closed store answered")
	}
	if _, err := s.Keys(ctx); err == nil {
		t.Fatal("a closed store answered")
	}
	if _, err := s.Keys(ctx); err == nil {
		t.Fatal("a closed store answered")
	}
	f = scrape(t, m)
	if got := f.get(t, "gooclaim_store_errors_total", "operation", "client"); got != 1 {
		t.Errorf("client errors = %v, want 1", got)
	}
	if got := f.get(t, "gooclaim_store_errors_total", "operation", "keys"); got != 2 {
		t.Errorf("keys errors = %v, want 2", got)
	}
}

// TestStoreCardinality: a thousand distinct client IDs add no series.
func TestStoreCardinality(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	s := metrics.Store(openSQLite(t), m)
	s.Client(t.Context(), "warm-up")
	before := scrape(t, m).series()
	for i := range 1000 {
		s.Client(t.Context(), fmt.Sprintf("gooclaim_client_%d", i))
	}
	after := scrape(t, m)
	if got := after.series(); !slices.Equal(got, before) {
		t.Fatalf("the series changed: %d → %d", len(before), len(got))
	}
	if v := after.get(t, "gooclaim_store_operation_duration_seconds", "operation", "client"); v != 1001 {
		t.Errorf("client lookups timed: %v, want 1001", v)
	}
}

// openPostgres opens and migrates a PostgreSQL store in a schema of its
// own, dropped with the store's data when the test ends.
func openPostgres(t *testing.T, url string) *postgres.DB {
	t.Helper()
	schema := "gooclaim_test_" + strings.ToLower(rand.Text()[:16])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	db, err := postgres.Open(t.Context(), url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}
