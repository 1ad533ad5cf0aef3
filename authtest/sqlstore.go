package authtest

import (
	"context"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/sqlstore"
)

// SQLStore is an auth.Store kept in a SQL database, as the sqlite and
// postgres packages implement it.
type SQLStore interface {
	auth.Store
	// Migrate brings the schema up to date; it is a no-op when it is.
	Migrate(ctx context.Context) error
	// CreateClients creates many clients in one transaction, each as
	// CreateClient would; nothing is stored if one fails.
	CreateClients(ctx context.Context, cs []*auth.Client) error
}

// SQLOptions are what the SQL suites vary when they open a handle.
type SQLOptions struct {
	Clock           auth.Clock    // nil: the system clock
	ChangeRetention time.Duration // 0: the backend's default
	// ReadOnly opens a handle whose transactions cannot write, as on a
	// read-only file or a standby server.
	ReadOnly bool
}

// SQLBackend is what RunSQLStoreTests needs of a backend built on a SQL
// database: how to make and open databases, and the few statements the
// suites run in the backend's own SQL.
type SQLBackend struct {
	// NewDatabase returns the name of a new, empty database, as Open
	// takes it (a file's path, a schema's name), removed when the test ends.
	NewDatabase func(t *testing.T) string
	// Open opens a handle on the database, as the backend's Open does
	// (without migrating it); the suites close it when the test ends.
	Open func(t *testing.T, database string, opts SQLOptions) (SQLStore, error)

	// Exec runs statements (without arguments) on the database of a store
	// that Open returned, and Int64s returns the values of a query's one
	// integer column: the suites' own statements. Versions returns the
	// versions of the backend's migrations, in order; MigrateTo applies
	// those up to version, included, as Migrate would. Nil for the stores
	// built on the SQL core, internal/sqlstore: its own are used.
	Exec      func(ctx context.Context, s SQLStore, statements string) error
	Int64s    func(ctx context.Context, s SQLStore, query string) ([]int64, error)
	Versions  func(s SQLStore) []int
	MigrateTo func(ctx context.Context, s SQLStore, version int) error
	// Parallel runs the tests in parallel, each with databases of its own.
	Parallel bool

	// AuditAppendOnly makes the audit_events table refuse updates and
	// deletes (a trigger, say).
	AuditAppendOnly string
	// RefuseAudit makes audit_events refuse new rows, keeping those it
	// has; the error of a refused insert contains AuditRefused; AllowAudit
	// undoes RefuseAudit.
	RefuseAudit, AuditRefused, AllowAudit string
	// InsertOldClient inserts, into the schema of the first migration (and
	// so of any later one), a client with the ID "old", the name "Old", the
	// one scope "read", created_at 1 and updated_at 2.
	InsertOldClient string
}

// RunSQLStoreTests runs the suites of stores kept in a SQL database: the
// conformance suite of auth.Store (RunStoreTests), again on databases whose
// audit trail refuses updates and deletes, then what only a database
// shared by several handles and processes can show — two handles on one
// database, commit order, migrations from every earlier version and
// concurrent ones, read-only handles, pruning of the change feed, a failing
// audit write — and the exact errors and times every such backend gives.
func RunSQLStoreTests(t *testing.T, b SQLBackend) {
	tests := []struct {
		name string
		run  func(*testing.T, sqlSuite)
	}{
		{"Store", testSQLStore},
		{"AuditAppendOnly", testSQLAuditAppendOnly},
		{"AuditFailureFailsTheWrite", testSQLAuditFailureFailsTheWrite},
		{"AuditTwoHandles", testSQLAuditTwoHandles},
		{"AuditCommitOrder", testSQLAuditCommitOrder},
		{"ChangesCommitOrder", testSQLChangesCommitOrder},
		{"TwoHandles", testSQLTwoHandles},
		{"PruneChanges", testSQLPruneChanges},
		{"Migrate", testSQLMigrate},
		{"MigrateConcurrently", testSQLMigrateConcurrently},
		{"MigrateFromEveryVersion", testSQLMigrateFromEveryVersion},
		{"ReadOnly", testSQLReadOnly},
		{"Times", testSQLTimes},
		{"ErrorMessages", testSQLErrorMessages},
		{"ListClientsBytewise", testSQLListClientsBytewise},
		{"CreateClients", testSQLCreateClients},
	}
	b = b.withCore()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b.Parallel {
				t.Parallel()
			}
			tt.run(t, sqlSuite{b})
		})
	}
}

// Migrated opens a handle on database with Open and migrates it, closed
// when the test ends, failing the test when either fails: for the
// backend's own tests too.
func (b SQLBackend) Migrated(t *testing.T, database string, opts SQLOptions) SQLStore {
	t.Helper()
	db, err := b.open(t, database, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// open is Open, the handle closed when the test ends.
func (b SQLBackend) open(t *testing.T, database string, opts SQLOptions) (SQLStore, error) {
	db, err := b.Open(t, database, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { db.Close() })
	return db, nil
}

// withCore returns b with the SQL core's Exec, Int64s, Versions and
// MigrateTo where it has none.
func (b SQLBackend) withCore() SQLBackend {
	if b.Exec == nil {
		b.Exec = func(ctx context.Context, s SQLStore, statements string) error {
			return sqlstore.Exec(ctx, s.(sqlstore.Embedder), statements)
		}
	}
	if b.Int64s == nil {
		b.Int64s = func(ctx context.Context, s SQLStore, query string) ([]int64, error) {
			return sqlstore.Int64s(ctx, s.(sqlstore.Embedder), query)
		}
	}
	if b.Versions == nil {
		b.Versions = func(s SQLStore) []int {
			versions, _ := sqlstore.Versions(s.(sqlstore.Embedder))
			return versions
		}
	}
	if b.MigrateTo == nil {
		b.MigrateTo = func(ctx context.Context, s SQLStore, version int) error {
			return sqlstore.MigrateTo(ctx, s.(sqlstore.Embedder), version)
		}
	}
	return b
}

// sqlSuite runs the backend's functions for the tests, failing them on errors.
type sqlSuite struct{ b SQLBackend }

// open opens a handle on database, without migrating it.
func (s sqlSuite) open(t *testing.T, database string, opts SQLOptions) SQLStore {
	t.Helper()
	db, err := s.b.open(t, database, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// migrated opens a handle on database and migrates it.
func (s sqlSuite) migrated(t *testing.T, database string, opts SQLOptions) SQLStore {
	t.Helper()
	return s.b.Migrated(t, database, opts)
}

// newStore opens a new, migrated database.
func (s sqlSuite) newStore(t *testing.T, opts SQLOptions) SQLStore {
	t.Helper()
	return s.migrated(t, s.b.NewDatabase(t), opts)
}

// exec runs statements on db's database.
func (s sqlSuite) exec(t *testing.T, db SQLStore, statements string) {
	t.Helper()
	if err := s.b.Exec(t.Context(), db, statements); err != nil {
		t.Fatalf("%s: %v", statements, err)
	}
}

// column returns the values of a query's one integer column.
func (s sqlSuite) column(t *testing.T, db SQLStore, query string) []int64 {
	t.Helper()
	vs, err := s.b.Int64s(t.Context(), db, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return vs
}

func testSQLStore(t *testing.T, s sqlSuite) {
	RunStoreTests(t, func(t *testing.T) auth.Store { return s.newStore(t, SQLOptions{}) })
}

// testSQLAuditAppendOnly runs the conformance suite on databases whose
// audit_events table refuses updates and deletes: no method may change or
// remove an event.
func testSQLAuditAppendOnly(t *testing.T, s sqlSuite) {
	RunStoreTests(t, func(t *testing.T) auth.Store {
		db := s.newStore(t, SQLOptions{})
		s.exec(t, db, s.b.AuditAppendOnly)
		return db
	})
}
