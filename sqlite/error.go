package sqlite

import (
	"errors"
	"fmt"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gooclaim/auth"
)

// translate says what failed (op) and turns the driver's errors that an
// operator can act on into auth.EUNAVAILABLE errors, keeping the driver's
// error in the chain. Domain errors are returned as they are.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		return err
	}
	var se *modernc.Error
	if errors.As(err, &se) {
		if advice := unavailable(se.Code()); advice != "" {
			return fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE, "%s: %s", op, advice), err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

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
