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
)

// translate says what failed (op) and turns the driver's errors that an
// operator can act on into auth.EUNAVAILABLE errors (and bad text into
// auth.EINVALID), keeping the driver's error in the chain. Domain errors are
// returned as they are.
func (db *DB) translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		return err
	}
	if advice := unavailable(db.addr, err); advice != "" {
		return fmt.Errorf("%w: %w", auth.Errorf(auth.EUNAVAILABLE, "%s: %s", op, advice), err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P05") {
		// character_not_in_repertoire, untranslatable_character
		return fmt.Errorf("%w: %w", auth.Errorf(auth.EINVALID,
			"%s: text must be valid UTF-8 without NUL characters", op), err)
	}
	return fmt.Errorf("%s: %w", op, err)
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
