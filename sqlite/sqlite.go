// Package sqlite implements auth.Store over a SQLite database file, with the
// pure-Go driver modernc.org/sqlite, on the SQL core of internal/sqlstore
// (which has the queries, the transactions, the change feed and the audit
// trail); this package holds SQLite's dialect, its migrations, the way a
// database is named and opened, and the files' modes.
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
// and the change feed (AUTOINCREMENT), in commit order.
//
// Times are stored as integer Unix nanoseconds and read back in UTC, lists
// as JSON arrays; the schema lives in the embedded migration/*.sql files,
// applied by Migrate.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/sqlstore"
)

// DB is a SQLite database holding clients, signing keys, revoked tokens, the
// change feed and the audit trail: auth.Store, with Migrate and
// CreateClients. It is safe for concurrent use.
type DB struct {
	*core
	db   *sql.DB
	path string
}

// core is the SQL core, embedded under a name of this package's.
type core = sqlstore.Store

var _ auth.Store = (*DB)(nil)

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
}

const busyTimeout = 10 * time.Second

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
	return &DB{
		// Read transactions are deferred (BEGIN): they take no lock until they read.
		core: sqlstore.New(sqlstore.SQLDB(sdb, nil, &sql.TxOptions{ReadOnly: true}), &dialect, sqlstore.Options{
			Clock: opts.Clock, ChangeRetention: opts.ChangeRetention, Migrations: migrations,
		}),
		db:   sdb,
		path: path,
	}, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

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
