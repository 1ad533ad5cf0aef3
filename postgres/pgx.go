package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gooclaim/auth/internal/sqlstore"
)

// pgxDB is the pool as the SQL core uses a database (sqlstore.DB), through
// pgx itself rather than database/sql: it reads rows several times faster,
// which a replica's full load of every client notices. Write transactions
// run at READ COMMITTED (the dialect's row and table locks serialize what
// must be), reads in read-only REPEATABLE READ transactions: one snapshot.
type pgxDB struct {
	querier
	pool *pgxpool.Pool
}

func (d pgxDB) Begin(ctx context.Context, write bool) (sqlstore.Tx, error) {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if write {
		opts = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	}
	tx, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return pgxTx{querier{tx}, tx}, nil
}

func (d pgxDB) Close() error {
	d.pool.Close()
	return nil
}

type pgxTx struct {
	querier
	tx pgx.Tx
}

func (t pgxTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t pgxTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// querier adapts what the pool and a transaction have in common. A
// statement without arguments goes by the simple protocol, which runs
// several (a migration).
type querier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q.q.QueryRow(ctx, sql, args...)
}
