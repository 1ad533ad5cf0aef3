package sqlstore

// What the tests of the backends need (authtest.RunSQLStoreTests uses it
// for the stores built on this core): their own statements, and databases
// as earlier versions left them.

import (
	"context"

	"github.com/gooclaim/auth/internal/migration"
)

// Embedder is a Store, or a type that embeds one (a backend's DB).
type Embedder interface{ sqlStore() *Store }

func (s *Store) sqlStore() *Store { return s }

// Exec runs statements, without arguments, on the database of e's Store.
func Exec(ctx context.Context, e Embedder, statements string) error {
	_, err := e.sqlStore().db.Exec(ctx, statements)
	return err
}

// Int64s returns the values of query's one integer column, on the database
// of e's Store.
func Int64s(ctx context.Context, e Embedder, query string) ([]int64, error) {
	rows, err := e.sqlStore().db.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// MigrateTo is Migrate up to the given version, included, for tests that
// need a database as an earlier version left it.
func MigrateTo(ctx context.Context, e Embedder, version int) error {
	return e.sqlStore().migrateTo(ctx, version)
}

// Versions returns the versions of the migrations, in order.
func Versions(e Embedder) ([]int, error) {
	ms, err := migration.Load(e.sqlStore().migrations, "migration")
	var versions []int
	for _, m := range ms {
		versions = append(versions, m.Version)
	}
	return versions, err
}
