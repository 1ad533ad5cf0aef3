package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/sqlstore"
)

// newDialect returns PostgreSQL's dialect for the database at addr
// (host:port, for error messages), in schema ("" for the default
// search_path), whose changes are notified on channel.
//
// Write transactions run at READ COMMITTED (pgxDB) and take row locks
// where they read before writing: UpdateClient and DeleteClient lock the
// client's row (SELECT … FOR UPDATE), UpdateKeys the keys table, pruning
// the pruned_through row, so that concurrent read-modify-writes from any
// number of nodes are serialized and none is lost.
func newDialect(addr, schema, channel string) *sqlstore.Dialect {
	return &sqlstore.Dialect{
		NumberedPlaceholders: true,
		ForUpdate:            ` FOR UPDATE`,
		// SHARE ROW EXCLUSIVE conflicts with itself but not with readers.
		LockKeys: `LOCK TABLE keys IN SHARE ROW EXCLUSIVE MODE`,

		// Lists are text arrays, which pgx reads into slices.
		ListArg:  textArray,
		ListDest: func(l *[]string) any { return l },

		// The event's number comes from the single row of audit_counter,
		// incremented here, as change numbers come from change_counter
		// (see AppendChange): the row's lock is held until the transaction
		// ends, so that recording transactions commit in the order of their
		// numbers, and a reader that has seen event n has seen every event
		// before it. Paging with AuditQuery.After therefore never skips
		// one. A write that rolls back undoes its increment: the numbers
		// have no gaps.
		AppendEvent: `WITH next AS (
				UPDATE audit_counter SET seq = seq + 1 RETURNING seq
			)
			INSERT INTO audit_events (seq, at, actor, action, target_kind, target_id, remote_addr, before, after, source)
			SELECT seq, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM next`,
		// The change's number comes from the single row of change_counter,
		// incremented here: the row's lock is then held until the
		// transaction ends, so that change-appending transactions are
		// serialized from this point to their commit and commit in the
		// order of their numbers. A reader that has seen change n has
		// therefore seen every change before it, and following the feed
		// with Changes(after) never skips one. (With a sequence or
		// bigserial, transaction A can draw 5, B draw 6 and commit first; a
		// replica reading after 4 sees 6, moves on, and never sees 5.)
		// Serializing the appends costs little: it is the last step before
		// the commit, so the lock is held for one statement and the commit,
		// and writes that change nothing never take it. A write that rolls
		// back undoes its increment, so the numbers have no gaps. The
		// listeners of the channel are notified at commit (WatchChanges).
		AppendChange: `WITH next AS (
				UPDATE change_counter SET seq = seq + 1 RETURNING seq
			), appended AS (
				INSERT INTO changes (seq, kind, id, at) SELECT seq, ?, ?, ? FROM next RETURNING seq
			)
			SELECT pg_notify(?, seq::text) FROM appended`,
		AppendChangeArgs: []any{channel},
		LatestChange:     `SELECT seq FROM change_counter`,

		MigrationsTableExists: `SELECT to_regclass('schema_migrations') IS NOT NULL`,
		CreateMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`,
		LockMigrations:     lockMigrations,
		LockMigrationsArgs: []any{schema},

		UniqueViolation: isUniqueViolation,
		Explain: func(err error) (code, advice string) {
			if advice := unavailable(addr, err); advice != "" {
				return auth.EUNAVAILABLE, advice
			}
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P05") {
				// character_not_in_repertoire, untranslatable_character
				return auth.EINVALID, "text must be valid UTF-8 without NUL characters"
			}
			return "", ""
		},
	}
}

// lockMigrations takes the advisory lock that serializes migrations (and
// the creation of the schema, see createSchema) of the schema given as
// argument, until the transaction ends. Advisory locks are per database, so
// the key is derived from the schema's name. It has PostgreSQL's
// placeholder, which the core leaves as it is, since pgx runs it too.
const lockMigrations = `SELECT pg_advisory_xact_lock(hashtextextended(
	'gooclaim-auth migrate ' || coalesce(nullif($1, ''), current_schema(), ''), 0))`

// textArray returns l, or an empty list for nil, which would be stored as NULL.
func textArray(l []string) any {
	if l == nil {
		return []string{}
	}
	return l
}

// unavailable returns what happened and what to do for the errors that mean
// the database cannot be used right now, "" for the others.
func unavailable(addr string, err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch code := pe.Code; {
		case code == "57P01": // admin_shutdown, also from pg_terminate_backend
			return fmt.Sprintf("PostgreSQL at %s ended the connection (the server is shutting down, or an administrator terminated the session): try again shortly, and check the server", addr)
		case code == "57P02": // crash_shutdown
			return fmt.Sprintf("PostgreSQL at %s is restarting after a crash: try again shortly, and check the server's log", addr)
		case code == "57P03": // cannot_connect_now
			return fmt.Sprintf("PostgreSQL at %s does not accept connections yet (starting up, shutting down or recovering): try again shortly", addr)
		case code == "53300": // too_many_connections
			return fmt.Sprintf("PostgreSQL at %s has no connection to spare: try again, lower the pool size of its clients (pool_max_conns) or raise its max_connections", addr)
		case code == "53100": // disk_full
			return fmt.Sprintf("PostgreSQL at %s is out of disk space: free some space", addr)
		case code == "53200": // out_of_memory
			return fmt.Sprintf("PostgreSQL at %s is out of memory: try again, and check the server", addr)
		case code == "25006": // read_only_sql_transaction
			return fmt.Sprintf("the database at %s is read-only (a standby, or default_transaction_read_only is on): point --database at the primary", addr)
		case code == "40001" || code == "40P01" || code == "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return "the database is busy with a conflicting transaction: try again"
		case code == "28P01" || code == "28000": // invalid_password, invalid_authorization_specification
			return fmt.Sprintf("PostgreSQL at %s refused the credentials: check the user and password in --database", addr)
		case code == "3D000": // invalid_catalog_name
			return fmt.Sprintf("the database named in --database does not exist at %s: check --database, or create the database", addr)
		case code == "42501": // insufficient_privilege
			return "access to the database was denied: grant the user in --database the privileges on the schema and its tables"
		case strings.HasPrefix(code, "08"): // connection_exception
			return fmt.Sprintf("lost the connection to PostgreSQL at %s: try again, and check that the server is running", addr)
		}
		return ""
	}
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce) && pgconn.Timeout(err):
		return fmt.Sprintf("timed out connecting to PostgreSQL at %s: check --database, the network and that the server is running", addr)
	case errors.As(err, &ce):
		return fmt.Sprintf("cannot reach PostgreSQL at %s: check --database and that the server is running", addr)
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("lost the connection to PostgreSQL at %s: try again, and check that the server is running", addr)
	}
	return ""
}

// isUniqueViolation reports whether err is a primary key or unique constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
