package sqlite

import (
	"errors"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/sqlstore"
)

// dialect is SQLite's: ? placeholders, lists as JSON text, numbers from
// AUTOINCREMENT. A write transaction is BEGIN IMMEDIATE (driverDSN's
// _txlock), which holds the database's write lock from its start to its
// commit: write transactions, from any process, are serialized, so they
// need no row locks, and audit events and changes are numbered in commit
// order.
var dialect = sqlstore.Dialect{
	SerializeWrites: true,
	ListArg:         sqlstore.JSONList,
	ListDest:        sqlstore.JSONListDest,
	AppendEvent: `INSERT INTO audit_events (at, actor, action, target_kind, target_id, remote_addr, before, after, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	AppendChange: `INSERT INTO changes (kind, id, at) VALUES (?, ?, ?)`,
	// AUTOINCREMENT's counter, which pruning leaves alone.
	LatestChange: `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`,

	MigrationsTableExists: `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`,
	CreateMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY)`,

	UniqueViolation: isUniqueViolation,
	Explain: func(err error) (code, advice string) {
		var se *modernc.Error
		if errors.As(err, &se) {
			if advice := unavailable(se.Code()); advice != "" {
				return auth.EUNAVAILABLE, advice
			}
		}
		return "", ""
	},
}

// translate is the dialect's Dialect.Translate, for what Open meets.
func translate(op string, err error) error { return dialect.Translate(op, err) }

// unavailable returns what happened and what to do for the result codes
// that mean the database cannot be used right now, "" for the others.
func unavailable(code int) string {
	if code == sqlite3.SQLITE_IOERR_WRITE {
		// What a full disk or file size limit gives when part of the write went through.
		return "cannot write to the database file: the disk may be full (free some space) or failing (check the disk and the file system)"
	}
	switch code & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "the database is locked by another connection: try again, and look for a process keeping a transaction open on the file"
	case sqlite3.SQLITE_READONLY:
		return "the database is read-only: check the permissions of the file and of its directory, and that it is not opened with mode=ro"
	case sqlite3.SQLITE_PERM:
		return "access to the database was denied: check the permissions of the file and of its directory"
	case sqlite3.SQLITE_FULL:
		return "the disk or the database is full: free some space"
	case sqlite3.SQLITE_IOERR:
		return "disk I/O error: check the disk and the file system"
	case sqlite3.SQLITE_CANTOPEN:
		return "cannot open the database file: check that its directory exists and that the file and the directory are writable"
	}
	return ""
}

// isUniqueViolation reports whether err is a primary key or unique constraint violation.
func isUniqueViolation(err error) bool {
	var se *modernc.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
