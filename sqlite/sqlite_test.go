package sqlite

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/internal/sqlstore"
)

func TestSQLStore(t *testing.T) { authtest.RunSQLStoreTests(t, backend) }

// backend opens databases at file paths (or, for this package's tests,
// any DSN that Open takes).
var backend = authtest.SQLBackend{
	NewDatabase: func(t *testing.T) string { return filepath.Join(t.TempDir(), "auth.db") },
	Open: func(t *testing.T, path string, opts authtest.SQLOptions) (authtest.SQLStore, error) {
		if opts.ReadOnly { // chmod cannot make a file read-only for root, who runs the tests in CI
			path = "file:" + path + "?mode=ro"
		}
		return Open(t.Context(), path, Options{Clock: opts.Clock, ChangeRetention: opts.ChangeRetention})
	},
	AuditAppendOnly: `
		CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
		BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
		CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
		BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`,
	RefuseAudit: `CREATE TRIGGER audit_events_refused BEFORE INSERT ON audit_events
		BEGIN SELECT RAISE(ABORT, 'audit refused'); END`,
	AuditRefused:    "audit refused",
	AllowAudit:      `DROP TRIGGER audit_events_refused`,
	InsertOldClient: `INSERT INTO clients (id, name, scopes, created_at, updated_at) VALUES ('old', 'Old', '["read"]', 1, 2)`,
}

// openTest opens and migrates the database at dsn, closed when the test ends.
func openTest(t *testing.T, dsn string) *DB {
	t.Helper()
	return backend.Migrated(t, dsn, authtest.SQLOptions{}).(*DB)
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, path, query string
	}{
		{"auth.db", "auth.db", ""},
		{"/var/lib/auth.db", "/var/lib/auth.db", ""},
		{"sqlite:auth.db", "auth.db", ""},
		{"sqlite:/var/lib/auth.db", "/var/lib/auth.db", ""},
		{"sqlite://data/auth.db", "data/auth.db", ""},
		{"sqlite:///var/lib/auth.db", "/var/lib/auth.db", ""},
		{"file:auth.db", "auth.db", ""},
		{"file:/var/lib/my%20auth.db?mode=ro", "/var/lib/my auth.db", "mode=ro"},
		{"file:///var/lib/auth.db", "/var/lib/auth.db", ""},
		{"file://localhost/var/lib/auth.db", "/var/lib/auth.db", ""},
		{"/tmp/100%.db", "/tmp/100%.db", ""},
	}
	for _, tt := range tests {
		path, query, err := parseDSN(tt.dsn)
		if err != nil || path != tt.path || query.Encode() != tt.query {
			t.Errorf("parseDSN(%q) = %q, %q, %v; want %q, %q", tt.dsn, path, query.Encode(), err, tt.path, tt.query)
		}
	}
	for _, dsn := range []string{"", "sqlite:", "sqlite://", "file:", "file:?mode=ro", ":memory:", "file:x?mode=memory"} {
		_, _, err := parseDSN(dsn)
		if auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("parseDSN(%q) = %v; want an EINVALID error", dsn, err)
		}
	}
}

func TestDriverDSN(t *testing.T) {
	dsn := driverDSN("/tmp/a?b#c%d.db", url.Values{"mode": {"ro"}})
	path, query, ok := strings.Cut(dsn, "?")
	if !ok || path != "file:/tmp/a%3Fb%23c%25d.db" {
		t.Errorf("driverDSN path part = %q", path)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("mode") != "ro" || q.Get("_txlock") != "immediate" || len(q["_pragma"]) != 4 {
		t.Errorf("driverDSN query = %v", q)
	}
}

func TestOpenPath(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "my auth#1%.db")
	db := openTest(t, "sqlite://"+url.PathEscape(path))
	if db.Path() != path {
		t.Errorf("Path() = %q; want %q", db.Path(), path)
	}
	if err := db.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	other := openTest(t, path)
	if n, err := other.CountClients(ctx); err != nil || n != 1 {
		t.Errorf("CountClients through the plain path = %d, %v; want 1", n, err)
	}
}

// TestPragmas checks the settings of the pool's connections.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"))
	want := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "1"}
	// Hold several connections at once, so that they are distinct.
	for i := range 3 {
		conn, err := db.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for pragma, value := range want {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", pragma, err)
			}
			if got != value {
				t.Errorf("connection %d: PRAGMA %s = %s; want %s", i, pragma, got, value)
			}
		}
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "auth.db"), Options{})
	if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(auth.ErrorMessage(err), "cannot open the database file") {
		t.Errorf("Open in a missing directory = %v; want EUNAVAILABLE, cannot open", err)
	}
}

// TestSecretsReadAlongCoveringIndex: ListClients reads a page's secrets
// from the index alone, in its order, with no lookup in the table and no
// sort (with a million clients, the lookups were a third of the start-up).
func TestSecretsReadAlongCoveringIndex(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"))
	rows, err := db.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+sqlstore.SecretsInRange, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING COVERING INDEX client_secrets_by_client") {
		t.Fatalf("query plan %q; want one step along the covering index client_secrets_by_client", plan)
	}
}

// TestCancelledWrite checks that a write waiting for the process's write
// lock, held by another write, gives up with its context.
func TestCancelledWrite(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"))
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- db.UpdateKeys(t.Context(), func(cur []auth.Key) ([]auth.Key, error) {
			close(holding)
			<-release
			return cur, nil
		})
	}()
	<-holding
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := db.CreateClient(ctx, &auth.Client{ID: "c"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CreateClient with the lock held = %v; want DeadlineExceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("UpdateKeys holding the lock: %v", err)
	}
}
