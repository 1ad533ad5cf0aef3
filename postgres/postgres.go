// Package postgres implements auth.Store and auth.ChangeNotifier over a
// PostgreSQL database, with the pgx driver and its connection pool, on the
// SQL core of internal/sqlstore; this package holds PostgreSQL's dialect
// (dialect.go), its migrations, the way a server is reached, the pool as
// the core uses a database (pgx.go), and LISTEN (watch.go).
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
// change feed; both are numbered so that they commit in order (see the
// dialect). Changes also send a notification (NOTIFY, delivered at commit)
// that WatchChanges relays, so that replicas catch up at once.
//
// Times are stored as bigint Unix nanoseconds and read back in UTC; IDs
// compare bytewise (COLLATE "C"), as in SQLite. The schema lives in the
// embedded migration/*.sql files, applied by Migrate.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/sqlstore"
)

// DB is a PostgreSQL database holding clients, signing keys, revoked tokens,
// the change feed and the audit trail: auth.Store, with Migrate and
// CreateClients. It is safe for concurrent use.
type DB struct {
	*core
	pool    *pgxpool.Pool
	dialect *sqlstore.Dialect
	addr    string // host:port, for error messages
	schema  string // "" for the default search_path
	channel string // of the change notifications
	// watchPing is how long WatchChanges waits for a notification before it
	// checks that its connection is still alive.
	watchPing time.Duration
}

// core is the SQL core, embedded under a name of this package's.
type core = sqlstore.Store

var (
	_ auth.Store          = (*DB)(nil)
	_ auth.ChangeNotifier = (*DB)(nil)
)

//go:embed migration/*.sql
var migrations embed.FS

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
	defaultMaxConns = 8
	connectTimeout  = 10 * time.Second
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
		watchPing: 30 * time.Second,
	}
	db.dialect = newDialect(db.addr, db.schema, db.channel)
	op := "open database " + redactURL(url)
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, db.dialect.Translate(op, err)
	}
	if err := db.pool.Ping(ctx); err != nil {
		db.pool.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			// Waiting for the pool's first connection.
			return nil, fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE,
				"%s: timed out connecting to PostgreSQL at %s: check --database, the network and that the server is running", op, db.addr), err)
		}
		return nil, db.dialect.Translate(op, err)
	}
	if err := db.createSchema(ctx); err != nil {
		db.pool.Close()
		return nil, db.dialect.Translate(fmt.Sprintf("%s: create schema %q", op, opts.Schema), err)
	}
	db.core = sqlstore.New(pgxDB{querier{db.pool}, db.pool}, db.dialect, sqlstore.Options{
		Clock: opts.Clock, ChangeRetention: opts.ChangeRetention, Migrations: migrations,
	})
	return db, nil
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
		if _, err := tx.Exec(ctx, lockMigrations, db.schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{db.schema}.Sanitize())
		return err
	})
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
