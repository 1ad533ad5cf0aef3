package sqlstore

import (
	"context"
	"database/sql"
)

// DB is a database as the core uses it: SQLDB adapts a database/sql one,
// and a backend may adapt its driver's own (the postgres package adapts
// pgx's pool, which reads rows several times faster than database/sql).
type DB interface {
	Querier
	// Begin starts a write transaction (write), which must exclude, or
	// lock out with Dialect.ForUpdate and LockKeys, the writers whose
	// changes it could lose; else a read-only one, which must see one
	// snapshot of the database.
	Begin(ctx context.Context, write bool) (Tx, error)
	// Close closes the database's connections.
	Close() error
}

// Tx is a transaction.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Querier runs statements. A statement without arguments may hold several,
// separated by semicolons (a migration).
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows are the rows of a query, as database/sql and pgx read them.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the first row of a query; Scan returns an error that is
// sql.ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// SQLDB adapts db, whose write and read transactions start with the
// options write and read.
func SQLDB(db *sql.DB, write, read *sql.TxOptions) DB {
	return sqlDB{sqlQuerier{db}, db, write, read}
}

type sqlDB struct {
	sqlQuerier
	db          *sql.DB
	write, read *sql.TxOptions
}

func (d sqlDB) Begin(ctx context.Context, write bool) (Tx, error) {
	opts := d.read
	if write {
		opts = d.write
	}
	tx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlQuerier{tx}, tx}, nil
}

func (d sqlDB) Close() error { return d.db.Close() }

type sqlTx struct {
	sqlQuerier
	tx *sql.Tx
}

func (t sqlTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.tx.Rollback() }

// sqlQuerier adapts what *sql.DB and *sql.Tx have in common.
type sqlQuerier struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return q.q.QueryRowContext(ctx, query, args...)
}

// sqlRows are *sql.Rows whose Close reports nothing: Err does.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
