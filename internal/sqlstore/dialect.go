package sqlstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gooclaim/auth"
)

// Dialect is what differs between the databases: what the database forces,
// nothing else. The core's statements are written with ? placeholders and
// the columns the schema files define; each backend fills a Dialect in and
// hands it to New.
//
// The dialect's own statements are rewritten as the core's are, ? becoming
// the dialect's placeholder (a statement without ? is left as it is).
// Statements whose arguments are listed take them in that order, followed
// by the matching Args field (values of the database that the statement
// needs, such as PostgreSQL's notification channel).
type Dialect struct {
	// NumberedPlaceholders makes the core's ? placeholders $1, $2, … (PostgreSQL).
	NumberedPlaceholders bool

	// SerializeWrites runs one write transaction at a time per Store, so
	// that, when the database lets one writer in at a time anyway (SQLite),
	// only the writers of other processes ever wait in its busy handler.
	SerializeWrites bool
	// ForUpdate is appended to a SELECT of the rows a write transaction is
	// about to change (a client, the pruned_through row); "" when the write
	// transaction excludes other writers already.
	ForUpdate string
	// LockKeys, unless "", runs first in UpdateKeys: it must serialize
	// concurrent UpdateKeys without blocking readers.
	LockKeys string

	// ListArg is the argument that stores l in a list column (scopes,
	// audiences, auth_methods), ListDest the destination of Rows.Scan that
	// reads one into l (an empty list may be read as nil or not).
	ListArg  func(l []string) any
	ListDest func(l *[]string) any

	// AppendEvent inserts an audit event numbered after every event
	// committed before it, and before every event committed after it
	// (paging with seq > after then misses none). Arguments: at, actor,
	// action, target_kind, target_id, remote_addr, before, after, source.
	AppendEvent string
	// AppendChange inserts a change, numbered as AppendEvent numbers
	// events. Arguments: kind, id, at, then AppendChangeArgs.
	AppendChange     string
	AppendChangeArgs []any
	// LatestChange selects the number of the newest change ever
	// appended, pruned or not; no row means 0.
	LatestChange string

	// MigrationsTableExists selects whether schema_migrations exists (a
	// boolean).
	MigrationsTableExists string
	// CreateMigrationsTable creates schema_migrations (version) if missing.
	CreateMigrationsTable string
	// LockMigrations, unless "", runs first in a migration's transaction:
	// it must serialize migrations (SerializeWrites and the write
	// transaction may do so already). Arguments: LockMigrationsArgs.
	LockMigrations     string
	LockMigrationsArgs []any

	// UniqueViolation reports whether err is a primary key or unique
	// constraint violation.
	UniqueViolation func(err error) bool
	// Explain returns an auth error code and what happened and what to do
	// for the driver errors that an operator can act on (EUNAVAILABLE: the
	// database cannot be used now), "" for the others.
	Explain func(err error) (code, advice string)
}

// Translate says what failed (op) and, for the driver errors that Explain
// knows, gives the error an auth code and advice, keeping the driver's
// error in the chain. Domain errors are returned as they are.
func (d *Dialect) Translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		return err
	}
	if code, advice := d.Explain(err); code != "" {
		return fmt.Errorf("%w: %w", auth.Errorf(code, "%s: %s", op, advice), err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// bind writes query's ? placeholders in the dialect's form. The core's
// statements have no ? other than placeholders.
func (d *Dialect) bind(query string) string {
	if !d.NumberedPlaceholders || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for {
		i := strings.IndexByte(query, '?')
		if i < 0 {
			b.WriteString(query)
			return b.String()
		}
		n++
		b.WriteString(query[:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		query = query[i+1:]
	}
}
