package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// Every test works in a schema of its own, gooclaim_test_<random>, dropped
// when it ends, so that tests run in parallel and leave nothing behind. The
// server comes from GOOCLAIM_TEST_POSTGRES_URL (see authtest.PostgresURL).

func TestStore(t *testing.T) {
	t.Parallel()
	authtest.PostgresURL(t) // skip once, not in every subtest
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		url, schema := newSchema(t)
		return openTest(t, url, Options{Schema: schema})
	})
}

// newSchema returns the server's URL and the name of a new schema, dropped
// with everything in it when the test ends. Open creates the schema.
func newSchema(t *testing.T) (url, schema string) {
	t.Helper()
	url = authtest.PostgresURL(t)
	schema = "gooclaim_test_" + strings.ToLower(rand.Text()[:16])
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
	return url, schema
}

// openTest opens and migrates the database, closed when the test ends.
func openTest(t *testing.T, url string, opts Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// TestMigrateConcurrently opens and migrates a new schema from four handles
// at once, as nodes starting together would.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	const n = 4
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := Open(ctx, url, Options{Schema: schema})
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
		if dbs[i] != nil {
			t.Cleanup(func() { dbs[i].Close() })
		}
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
	rows, err := dbs[0].pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	ms, _ := migrations()
	if err != nil || len(versions) != len(ms) || versions[0] != 1 {
		t.Errorf("schema_migrations = %v, %v; want one row per migration (%d)", versions, err, len(ms))
	}
	if n, err := dbs[2].CountClients(ctx); err != nil || n != 1 {
		t.Errorf("CountClients after Migrate again = %d, %v; want 1", n, err)
	}
}

// TestTwoHandles opens the schema twice, as two nodes would, and checks
// that each sees the other's writes and changes, and that their concurrent
// read-modify-writes lose nothing.
func TestTwoHandles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	a, b := openTest(t, url, Options{Schema: schema}), openTest(t, url, Options{Schema: schema})

	start, err := a.LatestChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient through b: %v", err)
	}
	if _, err := a.Client(ctx, "c"); err != nil {
		t.Errorf("Client through a: %v", err)
	}
	changes, err := a.Changes(ctx, start, 10)
	if err != nil || len(changes) != 1 || changes[0].ID != "c" {
		t.Fatalf("a.Changes = %+v, %v; want b's change", changes, err)
	}
	key := auth.Key{ID: "k", Algorithm: auth.EdDSA, Public: []byte{1}, Sealed: []byte{2},
		CreatedAt: authtest.Epoch, SigningFrom: authtest.Epoch}
	err = a.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, key), nil })
	if err != nil {
		t.Fatalf("UpdateKeys through a: %v", err)
	}
	if keys, err := b.Keys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("b.Keys = %+v, %v; want a's key", keys, err)
	}
	if l, err := b.LatestChange(ctx); err != nil || l != changes[0].Seq+1 {
		t.Errorf("b.LatestChange = %d, %v; want %d", l, err, changes[0].Seq+1)
	}

	var wg sync.WaitGroup
	for i := range 20 {
		db := []*DB{a, b}[i%2]
		wg.Go(func() {
			_, err := db.UpdateClient(ctx, "c", func(c *auth.Client) error {
				c.Scopes = append(c.Scopes, string(rune('a'+i)))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateClient %d: %v", i, err)
			}
		})
	}
	// Both handles rotate at once: exactly one rotation happens.
	for i := range 8 {
		db := []*DB{a, b}[i%2]
		wg.Go(func() {
			err := db.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) {
				if len(cur) > 1 {
					return cur, nil
				}
				k := key
				k.ID = string(rune('0' + i))
				return append(cur, k), nil
			})
			if err != nil {
				t.Errorf("UpdateKeys %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	c, err := a.Client(ctx, "c")
	if err != nil || len(c.Scopes) != 20 {
		t.Errorf("Client after concurrent updates through both handles = %v, %v; want 20 scopes", c, err)
	}
	if keys, err := b.Keys(ctx); err != nil || len(keys) != 2 {
		t.Errorf("Keys after concurrent rotations = %+v, %v; want 2", keys, err)
	}
	if l, err := a.LatestChange(ctx); err != nil || l != changes[0].Seq+1+20+1 {
		t.Errorf("LatestChange = %d, %v; want %d (20 updates and 1 rotation)", l, err, changes[0].Seq+22)
	}
}

// TestListClientsBytewise checks that IDs sort bytewise, as in SQLite,
// whatever the database's collation.
func TestListClientsBytewise(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	db := openTest(t, url, Options{Schema: schema})
	ids := []string{"b", "B", "a", "A", "_x", "a-b", "a_b", "ab", "é", "z", "Z9", "10", "9"}
	for _, id := range ids {
		if err := db.CreateClient(ctx, &auth.Client{ID: id, Secrets: []auth.Secret{{ID: id, Hash: "h"}}}); err != nil {
			t.Fatalf("CreateClient(%q): %v", id, err)
		}
	}
	var got []string
	for after := ""; ; {
		page, err := db.ListClients(ctx, after, 4)
		if err != nil {
			t.Fatalf("ListClients: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if len(c.Secrets) != 1 || c.Secrets[0].ID != c.ID {
				t.Errorf("client %q has secrets %+v; want its own one", c.ID, c.Secrets)
			}
			got = append(got, c.ID)
		}
		after = page[len(page)-1].ID
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("ListClients order %q; want %q", got, ids)
	}
}

// TestTimes checks that times keep their nanoseconds and come back in UTC.
func TestTimes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	db := openTest(t, url, Options{Schema: schema})
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
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	db := openTest(t, url, Options{Schema: schema})
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
		if _, err := db.Changes(ctx, 0, limit); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("Changes(limit %d) = %v; want EINVALID", limit, err)
		}
	}
	for _, c := range []*auth.Client{{}, {ID: "z", Secrets: []auth.Secret{{ID: "s"}, {ID: "s"}}}} {
		if err := db.CreateClient(ctx, c); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("CreateClient(%+v) = %v; want EINVALID", c, err)
		}
	}
	if err := db.CreateClient(ctx, &auth.Client{ID: "nul\x00"}); auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("CreateClient with a NUL in the ID = %v; want EINVALID", err)
	}
	if err := db.CreateClient(ctx, &auth.Client{ID: "m", Metadata: map[string]string{"k": "nul\x00"}}); auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("CreateClient with a NUL in the metadata = %v; want EINVALID", err)
	}
	err = db.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return []auth.Key{{ID: "k"}}, nil })
	if auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("UpdateKeys with a key without times = %v; want EINVALID", err)
	}
}

// TestReadOnly uses a handle whose transactions are read-only, as on a
// standby: it reads, and its writes fail as unavailable.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	rw := openTest(t, url, Options{Schema: schema})
	if err := rw.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	ro := openTest(t, url+sep+"default_transaction_read_only=on", Options{Schema: schema})
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

// TestMigrateFrom0001 upgrades a schema that has only the first migration,
// with a client in it: the client reads back with the fields of later
// migrations empty, and can be changed.
func TestMigrateFrom0001(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, schema := newSchema(t)
	db, err := Open(ctx, url, Options{Schema: schema})
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
	_, err = db.pool.Exec(ctx, `INSERT INTO clients (id, name, scopes, created_at, updated_at) VALUES ('old', 'Old', '{read}', 1, 2)`)
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
