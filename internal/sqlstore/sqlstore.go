// Package sqlstore is the SQL core of the stores that keep auth.Store in a
// SQL database (the sqlite and postgres packages), in the manner of Dex's
// storage/sql: the queries, the transactions, the change feed, the audit
// trail and the migration runner are written once, and a Dialect says what
// the database forces to differ — placeholders, list columns, how change
// and event numbers are drawn, row and table locks, error codes. Each
// backend opens its database, adapts it as a DB (SQLDB for database/sql;
// the transactions' isolation is the backend's), fills a Dialect in and
// embeds the Store that New returns; it keeps its own migrations, the way
// its address is read, and what only its driver can do (PostgreSQL's
// LISTEN, SQLite's file modes).
//
// Every write runs in one transaction that also appends the audit event
// (auth.AuditEvent) of what it changed and, for a client or the key set,
// the change for the feed (auth.Change), so that neither exists without
// the other; writes that change nothing append neither. Writes prune
// changes older than the retention about once a minute.
//
// Times are stored as integer Unix nanoseconds, NULL for the zero time, and
// read back in UTC; durations as integer nanoseconds; a client's metadata
// as a JSON object.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sync"
	"time"

	"github.com/gooclaim/auth"
)

// Store is auth.Store over a SQL database. It is safe for concurrent use.
type Store struct {
	db         DB
	d          *Dialect
	clock      auth.Clock
	retention  time.Duration
	migrations fs.FS

	// writeMu serializes this Store's write transactions when the dialect
	// asks for it; nil otherwise.
	writeMu chan struct{}

	pruneMu   sync.Mutex
	lastPrune time.Time // guarded by pruneMu

	bound sync.Map // the core's statements → the dialect's (Dialect.bind)
}

var _ auth.Store = (*Store)(nil)

// Options tunes a Store. The zero value works but for Migrations.
type Options struct {
	// Clock stamps clients' CreatedAt and UpdatedAt, revocations, changes and
	// audit events; nil means auth.SystemClock{}.
	Clock auth.Clock
	// ChangeRetention is how long changes are kept before writes prune them;
	// zero means 24 hours. A replica that falls further behind reloads everything.
	ChangeRetention time.Duration
	// Migrations holds the backend's schema, migration/NNNN_description.sql
	// (see internal/migration), which Migrate applies.
	Migrations fs.FS
}

const (
	defaultRetention = 24 * time.Hour
	pruneEvery       = time.Minute
)

// New returns a Store over db, which it closes on Close, speaking d.
func New(db DB, d *Dialect, opts Options) *Store {
	s := &Store{
		db:         db,
		d:          d,
		clock:      opts.Clock,
		retention:  opts.ChangeRetention,
		migrations: opts.Migrations,
	}
	if s.clock == nil {
		s.clock = auth.SystemClock{}
	}
	if s.retention <= 0 {
		s.retention = defaultRetention
	}
	if d.SerializeWrites {
		s.writeMu = make(chan struct{}, 1)
	}
	return s
}

// Close closes the database's connections.
func (s *Store) Close() error { return s.db.Close() }

// conn runs the core's statements, written with ? placeholders, on the
// database or in a transaction, in the dialect's placeholders.
type conn struct {
	q Querier
	s *Store
}

func (s *Store) conn(q Querier) conn { return conn{q, s} }

// bind returns query in the dialect's placeholders, computed once per query.
func (s *Store) bind(query string) string {
	if !s.d.NumberedPlaceholders {
		return query
	}
	if b, ok := s.bound.Load(query); ok {
		return b.(string)
	}
	b := s.d.bind(query)
	s.bound.Store(query, b)
	return b
}

func (c conn) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return c.q.Exec(ctx, c.s.bind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (Rows, error) {
	return c.q.Query(ctx, c.s.bind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) Row {
	return c.q.QueryRow(ctx, c.s.bind(query), args...)
}

// translate is Dialect.Translate.
func (s *Store) translate(op string, err error) error { return s.d.Translate(op, err) }

// callerError marks an error returned by a caller's function, so that write
// hands it back unchanged.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// record is what a write that changed something appends after its own
// statements: the audit event (its At is set by write), and the change for
// the feed, nil for writes that replicas need not follow (revocations).
type record struct {
	event  auth.AuditEvent
	change *change
}

// change is an entry of the change feed, before it is numbered.
type change struct {
	kind auth.ChangeKind
	id   string
}

// lockWrites takes this Store's write lock, when the dialect has one,
// until the returned function is called.
func (s *Store) lockWrites(ctx context.Context) (unlock func(), err error) {
	if s.writeMu == nil {
		return func() {}, nil
	}
	select {
	case s.writeMu <- struct{}{}:
		return func() { <-s.writeMu }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write runs fn in a write transaction, prunes old changes when due,
// appends the audit events and changes of fn's records (none: the write
// changed nothing) and commits. op says what is being done, for error
// messages; driver errors are translated, fn's own domain errors and
// callerErrors returned as they are.
//
// Locks are taken in one order — fn's (a client's row, the keys table, a
// revoked token's key), then pruning's (the pruned_through row), then the
// audit numbering's, then the change numbering's — so that writers cannot
// deadlock, and the numbering, which every recording writer waits for, is
// held only from the appends to the commit. Events and changes are
// therefore numbered in commit order.
func (s *Store) write(ctx context.Context, op string, fn func(c conn, now time.Time) ([]record, error)) error {
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer unlock()

	tx, err := s.db.Begin(ctx, true)
	if err != nil {
		return s.translate(op, err)
	}
	defer tx.Rollback(ctx)
	c := s.conn(tx)
	now := fromNanos(nanos(s.clock.Now())) // as it will be read back
	records, err := fn(c, now)
	if err != nil {
		var ce *callerError
		if errors.As(err, &ce) {
			return ce.err
		}
		return s.translate(op, err)
	}
	prune := s.pruneDue(now)
	if prune {
		if err := s.prune(ctx, c, now); err != nil {
			return s.translate(op, err)
		}
	}
	for _, r := range records {
		if err := s.appendEvent(ctx, c, r.event, now); err != nil {
			return s.translate(op, err)
		}
		if r.change != nil {
			if err := s.appendChange(ctx, c, *r.change, now); err != nil {
				return s.translate(op, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.translate(op, err)
	}
	if prune {
		s.pruneMu.Lock()
		s.lastPrune = now
		s.pruneMu.Unlock()
	}
	return nil
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot of the database.
func (s *Store) read(ctx context.Context, op string, fn func(c conn) error) error {
	tx, err := s.db.Begin(ctx, false)
	if err != nil {
		return s.translate(op, err)
	}
	defer tx.Rollback(ctx)
	if err := fn(s.conn(tx)); err != nil {
		return s.translate(op, err)
	}
	return s.translate(op, tx.Commit(ctx))
}

// nanos and fromNanos convert times to and from the stored Unix
// nanoseconds; the zero time is stored as NULL.
func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// boundNanos is nanos for a query's bound, which may lie beyond the years
// that Unix nanoseconds can hold (1678 to 2262): those are clamped.
func boundNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minNanos, maxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)
