package postgres

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// Every test works in a schema of its own, gooclaim_test_<random>, dropped
// when it ends, so that tests run in parallel and leave nothing behind. The
// server comes from GOOCLAIM_TEST_POSTGRES_URL (see authtest.PostgresURL).

func TestSQLStore(t *testing.T) {
	t.Parallel()
	authtest.PostgresURL(t) // skip once, not in every subtest
	authtest.RunSQLStoreTests(t, backend)
}

// backend's databases are schemas (newSchema) of the server's database.
var backend = authtest.SQLBackend{
	NewDatabase: newSchema,
	Open: func(t *testing.T, schema string, opts authtest.SQLOptions) (authtest.SQLStore, error) {
		url := authtest.PostgresURL(t)
		if opts.ReadOnly { // as on a standby
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			url += sep + "default_transaction_read_only=on"
		}
		return Open(t.Context(), url, Options{Schema: schema, Clock: opts.Clock, ChangeRetention: opts.ChangeRetention})
	},
	Parallel: true,
	AuditAppendOnly: `
		CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$;
		CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
			FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
		CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
			FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();`,
	// A NOT VALID check is not checked against the existing rows, only new ones.
	RefuseAudit:     `ALTER TABLE audit_events ADD CONSTRAINT audit_refused CHECK (false) NOT VALID`,
	AuditRefused:    "audit_refused",
	AllowAudit:      `ALTER TABLE audit_events DROP CONSTRAINT audit_refused`,
	InsertOldClient: `INSERT INTO clients (id, name, scopes, created_at, updated_at) VALUES ('old', 'Old', '{read}', 1, 2)`,
}

// newSchema returns the name of a new schema, dropped with everything in
// it when the test ends. Open creates the schema.
func newSchema(t *testing.T) string {
	t.Helper()
	url := authtest.PostgresURL(t)
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
	return schema
}

// openTest opens and migrates a handle on the schema, closed when the test ends.
func openTest(t *testing.T, schema string) *DB {
	t.Helper()
	return backend.Migrated(t, schema, authtest.SQLOptions{}).(*DB)
}

// TestNULRefused: PostgreSQL's text cannot hold a NUL character, and says
// so as an invalid argument rather than an internal error.
func TestNULRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTest(t, newSchema(t))
	if err := db.CreateClient(ctx, &auth.Client{ID: "nul\x00"}); auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("CreateClient with a NUL in the ID = %v; want EINVALID", err)
	}
	err := db.CreateClient(ctx, &auth.Client{ID: "m", Metadata: map[string]string{"k": "nul\x00"}})
	if auth.ErrorCode(err) != auth.EINVALID || !strings.Contains(auth.ErrorMessage(err), "without NUL characters") {
		t.Errorf("CreateClient with a NUL in the metadata = %v; want EINVALID, without NUL characters", err)
	}
}
