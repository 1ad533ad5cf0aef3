package authtest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gooclaim/auth"
)

// checkVersions reports the versions recorded in schema_migrations that
// are not one per migration.
func (s sqlSuite) checkVersions(t *testing.T, db SQLStore) {
	t.Helper()
	var want []int64
	for _, v := range s.b.Versions(db) {
		want = append(want, int64(v))
	}
	if got := s.column(t, db, `SELECT version FROM schema_migrations ORDER BY version`); len(want) == 0 || want[0] != 1 || !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v; want one row per migration, %v, from 1", got, want)
	}
}

// testSQLMigrate: Migrate records every migration, and is a no-op on a
// database it has brought up to date.
func testSQLMigrate(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db := s.newStore(t, SQLOptions{})
	if err := db.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	s.checkVersions(t, db)
	if n, err := db.CountClients(ctx); err != nil || n != 1 {
		t.Errorf("CountClients after Migrate again = %d, %v; want 1", n, err)
	}
}

// testSQLMigrateConcurrently opens and migrates a new database from four
// handles at once, as the server and the CLI, or nodes starting together,
// would.
func testSQLMigrateConcurrently(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	database := s.b.NewDatabase(t)
	const n = 4
	dbs := make([]SQLStore, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := s.b.open(t, database, SQLOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			dbs[i] = db
			errs[i] = db.Migrate(ctx)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open and Migrate %d: %v", i, errs[i])
		}
	}
	if err := dbs[0].CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient after concurrent Migrate: %v", err)
	}
	if err := dbs[1].Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	s.checkVersions(t, dbs[0])
	if n, err := dbs[2].CountClients(ctx); err != nil || n != 1 {
		t.Errorf("CountClients after Migrate again = %d, %v; want 1", n, err)
	}
}

// testSQLMigrateFromEveryVersion upgrades, for every version but the
// latest, a database migrated up to it with a client in it: the client
// reads back with its settings and the fields of later migrations empty,
// and can be changed, with its audit event.
func testSQLMigrateFromEveryVersion(t *testing.T, s sqlSuite) {
	versions := s.b.Versions(s.newStore(t, SQLOptions{}))
	if len(versions) < 2 {
		t.Fatalf("versions %v: want at least two to upgrade from one to the other", versions)
	}
	for _, from := range versions[:len(versions)-1] {
		t.Run(fmt.Sprintf("From%04d", from), func(t *testing.T) {
			ctx := t.Context()
			db := s.open(t, s.b.NewDatabase(t), SQLOptions{})
			if err := s.b.MigrateTo(ctx, db, from); err != nil {
				t.Fatalf("migrate up to %d: %v", from, err)
			}
			if got := s.column(t, db, `SELECT version FROM schema_migrations ORDER BY version`); int(got[len(got)-1]) != from {
				t.Fatalf("schema_migrations = %v after migrating up to %d", got, from)
			}
			s.exec(t, db, s.b.InsertOldClient)
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			s.checkVersions(t, db)
			c, err := db.Client(ctx, "old")
			if err != nil {
				t.Fatalf("Client: %v", err)
			}
			if c.Name != "Old" || !slices.Equal(c.Scopes, []string{"read"}) || c.AuthMethods != nil || c.JWKS != nil || c.JWKSURI != "" ||
				c.Metadata != nil || !c.TokensRevokedBefore.IsZero() || c.UpdatedAt.UnixNano() != 2 || c.CreatedAt.UnixNano() != 1 ||
				c.Incarnation != "" || c.Secrets != nil || c.Federated != nil || c.ExchangeAudiences != nil ||
				c.RequireDPoP || c.RequireCertificateBoundTokens || !c.TLSClientAuth.IsZero() || c.Quotas != nil || c.QuotaMode != "" ||
				c.Claims != nil || c.Condition != "" || c.TokenReuse != "" {
				t.Errorf("Client after the upgrade = %+v; want the old settings and empty new ones", c)
			}
			if _, err := db.UpdateClient(ctx, "old", func(c *auth.Client) error { c.Metadata = map[string]string{"k": "v"}; return nil }); err != nil {
				t.Fatalf("UpdateClient after the upgrade: %v", err)
			}
			if events, err := db.AuditEvents(ctx, auth.AuditQuery{TargetID: "old"}); err != nil || len(events) != 1 {
				t.Errorf("AuditEvents after the upgrade = %d events, %v; want 1", len(events), err)
			}
			if c, err := db.Client(ctx, "old"); err != nil || c.Metadata["k"] != "v" || c.Incarnation != "" {
				t.Errorf("Client after an update = %+v, %v; want the new metadata and the old incarnation", c, err)
			}
		})
	}
}
