// Package sqlite implements auth.Store over a SQLite database file, with the
// pure-Go driver modernc.org/sqlite.
//
// The server and the command-line tool may open the same file at once. Every
// connection runs in WAL mode (https://sqlite.org/wal.html), so readers never
// wait for the writer, with foreign keys enforced and a 10s busy timeout.
// Write transactions start with BEGIN IMMEDIATE
// (https://sqlite.org/lang_transaction.html): they take the write lock before
// reading, so two processes never deadlock upgrading a read lock, and a
// read-modify-write such as UpdateClient or UpdateKeys cannot lose a
// concurrent update. Every write that changes a client, the key set or a
// revocation records an audit event (auth.AuditEvent) in its own
// transaction, so that neither exists without the other (pruning expired
// revocations records none); the same serialization numbers the events,
// and the change feed, in commit order.
//
// Times are stored as integer Unix nanoseconds and read back in UTC; the
// schema lives in the embedded migration/*.sql files, applied by Migrate.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gooclaim/auth"
)

// DB is a SQLite database holding clients, signing keys, revoked tokens, the
// change feed and the audit trail.
// It is safe for concurrent use.
type DB struct {
	db        *sql.DB
	path      string
	clock     auth.Clock
	retention time.Duration

	// writeMu serializes this process's write transactions, so that only
	// writers in other processes ever wait in SQLite's busy handler.
	writeMu   chan struct{}
	lastPrune time.Time // guarded by writeMu
}

var _ auth.Store = (*DB)(nil)

// Options tunes a DB. The zero value works.
type Options struct {
	// Clock stamps clients' CreatedAt and UpdatedAt, revocations, changes and
	// audit events; nil means auth.SystemClock{}.
	Clock auth.Clock
	// ChangeRetention is how long changes are kept before writes prune them;
	// zero means 24 hours. A replica that falls further behind reloads everything.
	ChangeRetention time.Duration
}

const (
	defaultRetention = 24 * time.Hour
	pruneEvery       = time.Minute
	busyTimeout      = 10 * time.Second
)

// Open opens the database at dsn: a file path, "sqlite:PATH", or a URL
// "sqlite://PATH" or "file:PATH" (so "sqlite:///var/lib/auth.db" is
// absolute); the URL forms are percent-decoded. In every form, what follows
// a '?' is SQLite URI parameters, such as mode=ro. The file is created if
// missing, readable and writable by its owner alone (FileMode), and so are
// its -wal and -shm; Open does not migrate it (see Migrate).
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	path, query, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	createFile(path, query)
	sdb, err := sql.Open("sqlite", driverDSN(path, query))
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, translate(fmt.Sprintf("open database %q", path), err)
	}
	db := &DB{
		db:        sdb,
		path:      path,
		clock:     opts.Clock,
		retention: opts.ChangeRetention,
		writeMu:   make(chan struct{}, 1),
	}
	if db.clock == nil {
		db.clock = auth.SystemClock{}
	}
	if db.retention <= 0 {
		db.retention = defaultRetention
	}
	return db, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes the database's connections.
func (db *DB) Close() error { return db.db.Close() }

// parseDSN splits dsn into the file path and the URI parameters.
func parseDSN(dsn string) (path string, query url.Values, err error) {
	rest, scheme := dsn, ""
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if strings.HasPrefix(dsn, prefix) {
			rest, scheme = dsn[len(prefix):], prefix
			break
		}
	}
	if scheme == "file://" && strings.HasPrefix(rest, "localhost/") {
		rest = rest[len("localhost"):]
	}
	path, rawQuery, _ := strings.Cut(rest, "?")
	if scheme != "" {
		if path, err = url.PathUnescape(path); err != nil {
			return "", nil, auth.Errorf(auth.EINVALID, "database %q: bad escape in the path: %v", dsn, err)
		}
	}
	if query, err = url.ParseQuery(rawQuery); err != nil {
		return "", nil, auth.Errorf(auth.EINVALID, "database %q: bad query string: %v", dsn, err)
	}
	switch {
	case path == "":
		return "", nil, auth.Errorf(auth.EINVALID, "database %q: the path is empty; want a file path such as /var/lib/gooclaim-auth/auth.db", dsn)
	case path == ":memory:" || query.Get("mode") == "memory":
		return "", nil, auth.Errorf(auth.EINVALID, "database %q: in-memory databases are not supported (each connection would see its own); use a file", dsn)
	}
	return path, query, nil
}

// driverDSN builds modernc.org/sqlite's DSN: a SQLite URI whose parameters
// set the pragmas of every new connection (busy_timeout first) and make
// write transactions BEGIN IMMEDIATE.
func driverDSN(path string, query url.Values) string {
	q := url.Values{}
	for k, v := range query {
		q[k] = append([]string(nil), v...)
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	escaper := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")
	return "file:" + escaper.Replace(path) + "?" + q.Encode()
}

// callerError marks an error returned by a caller's function, so that write
// hands it back unchanged.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// write runs fn in a write (IMMEDIATE) transaction, appends the audit event
// and the change of fn's outcome (none when nil: the write changed
// nothing), prunes old changes when due, and commits. op says what is being
// done, for error messages; driver errors are translated, fn's own domain
// errors and callerErrors returned as they are.
//
// The IMMEDIATE transaction holds SQLite's write lock from its start to its
// commit, so write transactions, from any process, are serialized: audit
// events and changes are numbered in commit order.
func (db *DB) write(ctx context.Context, op string, fn func(tx *sql.Tx, now time.Time) (*outcome, error)) error {
	select {
	case db.writeMu <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	defer func() { <-db.writeMu }()

	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(op, err)
	}
	defer tx.Rollback()
	now := fromNanos(nanos(db.clock.Now())) // as it will be read back
	out, err := fn(tx, now)
	if err != nil {
		var ce *callerError
		if errors.As(err, &ce) {
			return ce.err
		}
		return translate(op, err)
	}
	if out != nil {
		if err := appendEvent(ctx, tx, out.event, now); err != nil {
			return translate(op, err)
		}
		if out.change != nil {
			if err := appendChange(ctx, tx, *out.change, now); err != nil {
				return translate(op, err)
			}
		}
	}
	prune := db.lastPrune.IsZero() || now.Sub(db.lastPrune) >= pruneEvery
	if prune {
		if err := db.prune(ctx, tx, now); err != nil {
			return translate(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return translate(op, err)
	}
	if prune {
		db.lastPrune = now
	}
	return nil
}

// read runs fn in a read-only (deferred) transaction, so that its queries
// see one snapshot of the database.
func (db *DB) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return translate(op, err)
	}
	return nil
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
