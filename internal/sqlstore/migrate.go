package sqlstore

import (
	"context"
	"fmt"
	"math"

	"github.com/gooclaim/auth/internal/migration"
)

// Migrate brings the schema up to date, applying each missing migration in
// its own transaction. It is a no-op when the schema is current, and safe
// when several processes call it at once: the migrations' transactions are
// serialized (as write transactions, SerializeWrites and LockMigrations), and
// each checks again inside its transaction that its migration is missing.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrateTo(ctx, math.MaxInt)
}

func (s *Store) migrateTo(ctx context.Context, version int) error {
	ms, err := migration.Load(s.migrations, "migration")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return s.translate("migrate: read applied migrations", err)
	}
	for _, m := range ms {
		if applied[m.Version] || m.Version > version {
			continue
		}
		if err := s.migrate(ctx, m); err != nil {
			return s.translate(fmt.Sprintf("migrate: apply %s", m.Name), err)
		}
	}
	return nil
}

// appliedMigrations returns the versions recorded in schema_migrations,
// none when the table does not exist yet.
func (s *Store) appliedMigrations(ctx context.Context) (map[int]bool, error) {
	c := s.conn(s.db)
	var exists bool
	if err := c.queryRow(ctx, s.d.MigrationsTableExists).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := c.query(ctx, `SELECT version FROM schema_migrations`)
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
func (s *Store) migrate(ctx context.Context, m migration.Migration) error {
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	tx, err := s.db.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	c := s.conn(tx)
	if s.d.LockMigrations != "" {
		if _, err := c.exec(ctx, s.d.LockMigrations, s.d.LockMigrationsArgs...); err != nil {
			return err
		}
	}
	if _, err := c.exec(ctx, s.d.CreateMigrationsTable); err != nil {
		return err
	}
	var done int
	if err := c.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	// No arguments: PostgreSQL's simple protocol, which runs several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := c.exec(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, m.Version); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
