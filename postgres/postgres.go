// Package postgres implements auth.Store and auth.ChangeNotifier over a
// PostgreSQL database, with the pgx driver and its connection pool.
//
// It behaves as the sqlite package does — same schema, same errors, same
// change feed — so that several server nodes can share one database. Write
// transactions run at READ COMMITTED and take row locks where they read
// before writing: UpdateClient locks the client's row (SELECT … FOR UPDATE),
// UpdateKeys the keys table, so that concurrent read-modify-writes from any
// number of nodes are serialized and none is lost. Every write that changes
// a client, the key set or a revocation records an audit event
// (auth.AuditEvent) in its own transaction (pruning expired revocations
// records none), and every write to a client or the key set appends to the
// change feed; both are numbered so that they commit in order (see
// change.go and audit.go). Changes also send a notification (NOTIFY,
// delivered at commit) that WatchChanges relays, so that replicas catch up
// at once.
//
// Times are stored as bigint Unix nanoseconds and read back in UTC; IDs
// compare bytewise (COLLATE "C"), as in SQLite. The schema lives in the
// embedded migration/*.sql files, applied by Migrate.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gooclaim/auth"
)

// DB is a PostgreSQL database holding clients, signing keys, revoked tokens,
// the change feed and the audit trail. It is safe for concurrent use.
type DB struct {
	pool      *pgxpool.Pool
	addr      string // host:port, for error messages
	schema    string // "" for the default search_path
	channel   string // of the change notifications
	clock     auth.Clock
	retention time.Duration
	// watchPing is how long WatchChanges waits for a notification before it
	// checks that its connection is still alive.
	watchPing time.Duration

	mu        sync.Mutex
	lastPrune time.Time // guarded by mu
}

var (
	_ auth.Store          = (*DB)(nil)
	_ auth.ChangeNotifier = (*DB)(nil)
)

// Options tunes a DB. The zero value works.
type Options struct {
	// Clock stamps clients' CreatedAt and UpdatedAt, revocations, changes and
	// audit events; nil means auth.SystemClock{}.
	Clock auth.Clock
	// ChangeRetention is how long changes are kept before writes prune them;
	// zero means 24 hours. A replica that falls further behind reloads everything.
	ChangeRetention time.Duration
	// Schema holds the tables; "" means the connection's default search_path
	// (usually public). When set, Open creates it if missing and every
	// connection uses it alone as its search_path, so that several
	// deployments (or tests) can share a database.
	Schema string
}

const (
	defaultRetention = 24 * time.Hour
	pruneEvery       = time.Minute
	defaultMaxConns  = 8
	connectTimeout   = 10 * time.Second
)

// Open connects to the database at url, a PostgreSQL URL or keyword/value
// connection string as libpq takes (pool_max_conns sets the pool size,
// otherwise 8; connect_timeout otherwise 10s). It checks that the server
// answers and creates Options.Schema if missing; it does not migrate (see
// Migrate). Errors never show the password.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, auth.Errorf(auth.EINVALID, "database %s: not a valid PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…) or keyword/value connection string", redactURL(url))
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	db := &DB{
		addr:      net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))),
		schema:    opts.Schema,
		channel:   channelName(opts.Schema),
		clock:     opts.Clock,
		retention: opts.ChangeRetention,
		watchPing: 30 * time.Second,
	}
	if db.clock == nil {
		db.clock = auth.SystemClock{}
	}
	if db.retention <= 0 {
		db.retention = defaultRetention
	}
	op := "open database " + redactURL(url)
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, db.translate(op, err)
	}
	if err := db.pool.Ping(ctx); err != nil {
		db.pool.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			// Waiting for the pool's first connection.
			return nil, fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE,
				"%s: timed out connecting to PostgreSQL at %s: check --database, the network and that the server is running", op, db.addr), err)
		}
		return nil, db.translate(op, err)
	}
	if err := db.createSchema(ctx); err != nil {
		db.pool.Close()
		return nil, db.translate(fmt.Sprintf("%s: create schema %q", op, opts.Schema), err)
	}
	return db, nil
}

// Close closes the database's connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// createSchema creates Options.Schema if missing. CREATE SCHEMA IF NOT
// EXISTS is not safe against itself (two may both find the schema missing,
// and one fails on the catalog's unique index), so nodes starting together
// take the migration lock first.
func (db *DB) createSchema(ctx context.Context) error {
	if db.schema == "" {
		return nil
	}
	// Checked first, so that a read-only handle (on a standby, say) can use
	// an existing schema.
	var exists bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, db.schema).Scan(&exists)
	if err != nil || exists {
		return err
	}
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{db.schema}.Sanitize())
		return err
	})
}

// change is what a write appends to the change feed.
type change struct {
	kind auth.ChangeKind
	id   string
}

// callerError marks an error returned by a caller's function, so that write
// hands it back unchanged.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// write runs fn in a READ COMMITTED transaction, prunes old changes when
// due, appends the audit event and the change of fn's outcome (none when
// nil: the write changed nothing) and commits. op says what is being done,
// for error messages; driver errors are translated, fn's own domain errors
// and callerErrors returned as they are.
//
// Locks are taken in one order — fn's (a client's row, the keys table, a
// revoked token's key), then pruning's (the pruned_through row), then the
// audit counter, then the change counter — so that writers cannot
// deadlock, and the counters, which every recording writer waits for, are
// held only from the appends to the commit.
func (db *DB) write(ctx context.Context, op string, fn func(tx pgx.Tx, now time.Time) (*outcome, error)) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return db.translate(op, err)
	}
	defer tx.Rollback(ctx)
	now := fromNanos(nanos(db.clock.Now())) // as it will be read back
	out, err := fn(tx, now)
	if err != nil {
		var ce *callerError
		if errors.As(err, &ce) {
			return ce.err
		}
		return db.translate(op, err)
	}
	prune := db.pruneDue(now)
	if prune {
		if err := db.prune(ctx, tx, now); err != nil {
			return db.translate(op, err)
		}
	}
	if out != nil {
		if err := appendEvent(ctx, tx, out.event, now); err != nil {
			return db.translate(op, err)
		}
		if out.change != nil {
			if err := db.appendChange(ctx, tx, *out.change, now); err != nil {
				return db.translate(op, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return db.translate(op, err)
	}
	if prune {
		db.mu.Lock()
		db.lastPrune = now
		db.mu.Unlock()
	}
	return nil
}

// read runs fn in a read-only REPEATABLE READ transaction, so that its
// queries see one snapshot of the database.
func (db *DB) read(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return db.translate(op, err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return db.translate(op, err)
	}
	return db.translate(op, tx.Commit(ctx))
}

// nanos and fromNanos convert times to and from the stored Unix
// nanoseconds; the zero time is stored as NULL.
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// redactURL hides the password of a connection URL or keyword/value string.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	s = passwordParam.ReplaceAllString(s, "${1}xxxxx")
	if i := strings.Index(s, "://"); i >= 0 { // an unparsable URL
		if at := strings.LastIndexByte(s, '@'); at > i {
			if colon := strings.IndexByte(s[i+3:at], ':'); colon >= 0 {
				s = s[:i+3+colon] + ":xxxxx" + s[at:]
			}
		}
	}
	return s
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
