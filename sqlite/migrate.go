package sqlite

import (
	"context"
	"embed"
	"fmt"

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
// when several processes call it at once: the IMMEDIATE transactions
// serialize them, and each checks again inside its transaction.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return translate("migrate: read applied migrations", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if err := db.migrate(ctx, m); err != nil {
			return translate(fmt.Sprintf("migrate: apply %s", m.Name), err)
		}
	}
	return nil
}

// appliedMigrations returns the versions recorded in schema_migrations,
// none when the table does not exist yet.
func (db *DB) appliedMigrations(ctx context.Context) (map[int]bool, error) {
	var n int
	err := db.db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return nil, err
	}
	rows, err := db.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// migrate applies m unless another process has meanwhile.
func (db *DB) migrate(ctx context.Context, m migration.Migration) error {
	select {
	case db.writeMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.writeMu }()

	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY)`); err != nil {
		return err
	}
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, m.Version); err != nil {
		return err
	}
	return tx.Commit()
}
