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
)

func TestStore(t *testing.T) {
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		return openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	})
}

// openTest opens and migrates the database at dsn, closed when the test ends.
func openTest(t *testing.T, dsn string, opts Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
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
	db := openTest(t, "sqlite://"+url.PathEscape(path), Options{})
	if db.Path() != path {
		t.Errorf("Path() = %q; want %q", db.Path(), path)
	}
	if err := db.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	other := openTest(t, path, Options{})
	if n, err := other.CountClients(ctx); err != nil || n != 1 {
		t.Errorf("CountClients through the plain path = %d, %v; want 1", n, err)
	}
}

// TestPragmas checks the settings of the pool's connections.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
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
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	rows, err := db.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+secretsInRange, "a", "b")
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

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	db := openTest(t, path, Options{})
	if err := db.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	var versions []int
	rows, err := db.db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	ms, _ := migrations()
	if len(versions) != len(ms) || versions[0] != 1 {
		t.Errorf("schema_migrations = %v; want one row per migration (%d)", versions, len(ms))
	}
	if n, err := db.CountClients(ctx); err != nil || n != 1 {
		t.Errorf("CountClients after Migrate again = %d, %v; want 1", n, err)
	}
}

// TestMigrateConcurrently migrates a new file from two handles at once, as
// the server and the CLI might.
func TestMigrateConcurrently(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	var dbs []*DB
	for range 4 {
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	errs := make(chan error, len(dbs))
	for _, db := range dbs {
		go func() { errs <- db.Migrate(ctx) }()
	}
	for range dbs {
		if err := <-errs; err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
	if err := dbs[0].CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Errorf("CreateClient after concurrent Migrate: %v", err)
	}
}

// TestTimes checks that times keep their nanoseconds and come back in UTC.
func TestTimes(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	zone := time.FixedZone("UTC-7", -7*60*60)
	at := time.Date(2030, 4, 5, 6, 7, 8, 123456789, zone)
	c := &auth.Client{ID: "c", CreatedAt: at, UpdatedAt: at.Add(1),
		Secrets: []auth.Secret{{ID: "s", Hash: "h", CreatedAt: at.Add(2), ExpiresAt: at.Add(3)}}}
	if err := db.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	got, err := db.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	times := []time.Time{got.CreatedAt, got.UpdatedAt, got.Secrets[0].CreatedAt, got.Secrets[0].ExpiresAt}
	for i, tm := range times {
		if want := at.Add(time.Duration(i)); !tm.Equal(want) || tm.Location() != time.UTC {
			t.Errorf("time %d = %v; want %v in UTC", i, tm, want.UTC())
		}
	}
}

func TestErrorMessages(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	if err := db.CreateClient(ctx, &auth.Client{ID: "x"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	err := db.CreateClient(ctx, &auth.Client{ID: "x"})
	if msg := auth.ErrorMessage(err); auth.ErrorCode(err) != auth.ECONFLICT || msg != `client "x" already exists` {
		t.Errorf("CreateClient of a taken ID = %q, %q", auth.ErrorCode(err), msg)
	}
	_, err = db.Client(ctx, "y")
	if msg := auth.ErrorMessage(err); auth.ErrorCode(err) != auth.ENOTFOUND || msg != `client "y" not found` {
		t.Errorf("Client of a missing ID = %q, %q", auth.ErrorCode(err), msg)
	}
	for _, limit := range []int{0, -1} {
		if _, err := db.ListClients(ctx, "", limit); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("ListClients(limit %d) = %v; want EINVALID", limit, err)
		}
	}
	for _, c := range []*auth.Client{{}, {ID: "z", Secrets: []auth.Secret{{ID: "s"}, {ID: "s"}}}} {
		if err := db.CreateClient(ctx, c); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("CreateClient(%+v) = %v; want EINVALID", c, err)
		}
	}
	err = db.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return []auth.Key{{ID: "k"}}, nil })
	if auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("UpdateKeys with a key without times = %v; want EINVALID", err)
	}
}

// TestReadOnly opens the file with mode=ro: chmod cannot make it read-only
// for root, who runs the tests in CI.
func TestReadOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	rw := openTest(t, path, Options{})
	if err := rw.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	ro, err := Open(ctx, "file:"+path+"?mode=ro", Options{})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	defer ro.Close()
	if _, err := ro.Client(ctx, "c"); err != nil {
		t.Errorf("Client through a read-only handle: %v", err)
	}
	writes := map[string]func() error{
		"CreateClient": func() error { return ro.CreateClient(ctx, &auth.Client{ID: "d"}) },
		"DeleteClient": func() error { return ro.DeleteClient(ctx, "c") },
		"UpdateKeys": func() error {
			return ro.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) {
				return []auth.Key{{ID: "k", CreatedAt: authtest.Epoch, SigningFrom: authtest.Epoch}}, nil
			})
		},
		"RevokeToken": func() error {
			return ro.RevokeToken(ctx, auth.RevokedToken{JTI: "t", ExpiresAt: authtest.Epoch})
		},
	}
	for name, write := range writes {
		err := write()
		if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(auth.ErrorMessage(err), "read-only") {
			t.Errorf("%s on a read-only database = %v (message %q); want EUNAVAILABLE, read-only", name, err, auth.ErrorMessage(err))
		}
	}
}

// TestCancelledWrite checks that a write waiting for the process's write lock gives up with its context.
func TestCancelledWrite(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	db.writeMu <- struct{}{} // held by someone else
	defer func() { <-db.writeMu }()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := db.CreateClient(ctx, &auth.Client{ID: "c"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CreateClient with the lock held = %v; want DeadlineExceeded", err)
	}
}

// TestMigrateFrom0001 upgrades a database that has only the first
// migration, with a client in it: the client reads back with the fields of
// later migrations empty, and can be changed.
func TestMigrateFrom0001(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "auth.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := migrations()
	if err != nil || ms[0].Version != 1 {
		t.Fatalf("migrations: %v", err)
	}
	if err := db.migrate(ctx, ms[0]); err != nil {
		t.Fatalf("migrate %s: %v", ms[0].Name, err)
	}
	_, err = db.db.ExecContext(ctx, `INSERT INTO clients (id, name, scopes, created_at, updated_at) VALUES ('old', 'Old', '["read"]', 1, 2)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	c, err := db.Client(ctx, "old")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if c.Name != "Old" || len(c.Scopes) != 1 || c.AuthMethods != nil || c.JWKS != nil || c.JWKSURI != "" ||
		c.Metadata != nil || !c.TokensRevokedBefore.IsZero() || c.UpdatedAt.UnixNano() != 2 {
		t.Errorf("Client after the upgrade = %+v; want the old settings and empty new ones", c)
	}
	if _, err := db.UpdateClient(ctx, "old", func(c *auth.Client) error { c.Metadata = map[string]string{"k": "v"}; return nil }); err != nil {
		t.Fatalf("UpdateClient after the upgrade: %v", err)
	}
	if events, err := db.AuditEvents(ctx, auth.AuditQuery{TargetID: "old"}); err != nil || len(events) != 1 {
		t.Errorf("AuditEvents after the upgrade = %d events, %v; want 1", len(events), err)
	}
}
