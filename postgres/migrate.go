package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth/internal/migration"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFS, "migration")
}

// Migrate brings the schema up to date, applying each missing migration in
// its own transaction. It is a no-op when the schema is current, and safe
// when several nodes call it at once: each transaction first takes an
// advisory lock on the schema's name (pg_advisory_xact_lock, released at
// commit), then checks again whether the migration is still missing.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedMigrations(ctx, db.pool)
	if err != nil {
		return db.translate("migrate: read applied migrations", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if err := db.migrate(ctx, m); err != nil {
			return db.translate(fmt.Sprintf("migrate: apply %s", m.Name), err)
		}
	}
	return nil
}

// lockMigrations takes the advisory lock that serializes migrations (and
// the creation of the schema) of this schema, until tx ends. Advisory locks
// are per database, so the key is derived from the schema's name.
func (db *DB) lockMigrations(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(
		'gooclaim-auth migrate ' || coalesce(nullif($1, ''), current_schema(), ''), 0))`, db.schema)
	return err
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appliedMigrations returns the versions recorded in schema_migrations,
// none when the table does not exist yet.
func appliedMigrations(ctx context.Context, q querier) (map[int]bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[v] = true
	}
	return applied, err
}

// migrate applies m unless another node has meanwhile.
func (db *DB) migrate(ctx context.Context, m migration.Migration) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		if err != nil {
			return err
		}
		var done bool
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done)
		if err != nil || done {
			return err
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil { // no arguments: the simple protocol, several statements
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
		return err
	})
}
