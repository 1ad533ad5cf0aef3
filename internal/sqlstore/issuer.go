package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
)

// issuerColumns are the columns of a trusted issuer, in the order
// scanIssuers reads them.
const issuerColumns = `name, issuer, jwks_uri, jwks, audience, max_token_age, disabled, created_at, updated_at, managed_by`

// targetIssuer is what an issuer's audit events are about.
const targetIssuer = "issuer"

// maxNamedBindings is how many bound clients the refusal to delete an
// issuer names: enough to start with, short enough to read.
const maxNamedBindings = 5

func issuerNotFound(name string) error {
	return auth.Errorf(auth.ENOTFOUND, "trusted issuer %q not found", name)
}

// CreateIssuer stores a new trusted issuer. Zero CreatedAt and UpdatedAt
// are set from the clock and written back into t. ECONFLICT, naming the
// holder, when the name or the issuer URL is taken.
func (s *Store) CreateIssuer(ctx context.Context, t *auth.TrustedIssuer) error {
	if err := checkIssuerStorable(t); err != nil {
		return err
	}
	var stored *auth.TrustedIssuer
	err := s.write(ctx, fmt.Sprintf("create trusted issuer %q", t.Name), func(conn conn, now time.Time) ([]record, error) {
		var (
			r   record
			err error
		)
		if stored, r, err = s.insertNewIssuer(ctx, conn, t, now); err != nil {
			return nil, err
		}
		return []record{r}, nil
	})
	if err != nil {
		return err
	}
	t.CreatedAt, t.UpdatedAt = stored.CreatedAt, stored.UpdatedAt
	return nil
}

// insertNewIssuer stores a copy of t as a new trusted issuer, its zero
// times set to now, and returns the copy and the write's record. ECONFLICT,
// naming the holder, when the name or the issuer URL is taken.
func (s *Store) insertNewIssuer(ctx context.Context, conn conn, t *auth.TrustedIssuer, now time.Time) (*auth.TrustedIssuer, record, error) {
	st := t.Clone()
	if st.CreatedAt.IsZero() {
		st.CreatedAt = now
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = now
	}
	if _, err := s.loadIssuer(ctx, conn, st.Name, false); err == nil {
		return nil, record{}, auth.Errorf(auth.ECONFLICT, "a trusted issuer named %q already exists: choose another name, or update it", st.Name)
	} else if !errors.Is(err, auth.ErrNotFound) {
		return nil, record{}, err
	}
	if err := s.checkIssuerURLFree(ctx, conn, st); err != nil {
		return nil, record{}, err
	}
	_, err := conn.exec(ctx, `INSERT INTO trusted_issuers (`+issuerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.Name, st.Issuer, st.JWKSURI, nullBytes(st.JWKS), st.Audience, int64(st.MaxTokenAge), st.Disabled,
		nanos(st.CreatedAt), nanos(st.UpdatedAt), st.ManagedBy)
	if err != nil && s.d.UniqueViolation(err) {
		// A concurrent create won the race the checks above lost.
		return nil, record{}, fmt.Errorf("%w: %w", auth.Errorf(auth.ECONFLICT, "trusted issuer %q or its issuer %q was just created by another writer: list the issuers and choose another", st.Name, st.Issuer), err)
	}
	if err != nil {
		return nil, record{}, err
	}
	return st, record{
		event:  newEvent(ctx, auth.ActionIssuerCreate, targetIssuer, st.Name, nil, auth.AuditIssuerView(st)),
		change: &change{auth.ChangeIssuer, st.Name},
	}, nil
}

// TrustedIssuer returns the issuer named name. ENOTFOUND when there is none.
func (s *Store) TrustedIssuer(ctx context.Context, name string) (*auth.TrustedIssuer, error) {
	var t *auth.TrustedIssuer
	err := s.read(ctx, fmt.Sprintf("read trusted issuer %q", name), func(conn conn) error {
		var err error
		t, err = s.loadIssuer(ctx, conn, name, false)
		return err
	})
	return t, err
}

// ListIssuers returns every trusted issuer, by name (bytewise).
func (s *Store) ListIssuers(ctx context.Context) ([]*auth.TrustedIssuer, error) {
	var ts []*auth.TrustedIssuer
	err := s.read(ctx, "list trusted issuers", func(conn conn) error {
		rows, err := conn.query(ctx, `SELECT `+issuerColumns+` FROM trusted_issuers ORDER BY name`)
		if err != nil {
			return err
		}
		ts, err = scanIssuers(rows)
		return err
	})
	return ts, err
}

// UpdateIssuer loads the issuer, locking its row, lets fn change it and
// saves the result in one transaction. The name and CreatedAt stay what
// they were; UpdatedAt is set from the clock. ENOTFOUND when there is none,
// ECONFLICT, naming the holder, when the new issuer URL is another's; fn's
// error aborts and is returned unchanged. A change that changes nothing is
// not recorded.
func (s *Store) UpdateIssuer(ctx context.Context, name string, fn func(*auth.TrustedIssuer) error) (*auth.TrustedIssuer, error) {
	var t *auth.TrustedIssuer
	err := s.write(ctx, fmt.Sprintf("update trusted issuer %q", name), func(conn conn, now time.Time) ([]record, error) {
		old, err := s.loadIssuer(ctx, conn, name, true)
		if err != nil {
			return nil, err
		}
		next := old.Clone()
		if err := fn(next); err != nil {
			return nil, &callerError{err}
		}
		var r record
		if t, r, err = s.replaceIssuer(ctx, conn, old, next, now); err != nil {
			return nil, err
		}
		return []record{r}, nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// replaceIssuer saves t over old, the stored issuer, loaded with its row
// locked: every setting but the name and CreatedAt, which stay old's (t
// is changed to match); UpdatedAt becomes now. It returns the issuer as it
// will be read back and the write's record. ECONFLICT, naming the holder,
// when t's issuer URL is another's.
func (s *Store) replaceIssuer(ctx context.Context, conn conn, old, t *auth.TrustedIssuer, now time.Time) (*auth.TrustedIssuer, record, error) {
	name := old.Name
	t.Name, t.CreatedAt, t.UpdatedAt = name, old.CreatedAt, now
	if err := checkIssuerStorable(t); err != nil {
		return nil, record{}, err
	}
	if err := s.checkIssuerURLFree(ctx, conn, t); err != nil {
		return nil, record{}, err
	}
	_, err := conn.exec(ctx, `UPDATE trusted_issuers SET issuer = ?, jwks_uri = ?, jwks = ?, audience = ?,
		max_token_age = ?, disabled = ?, updated_at = ?, managed_by = ? WHERE name = ?`,
		t.Issuer, t.JWKSURI, nullBytes(t.JWKS), t.Audience, int64(t.MaxTokenAge), t.Disabled, nanos(t.UpdatedAt), t.ManagedBy, name)
	if err != nil && s.d.UniqueViolation(err) {
		return nil, record{}, fmt.Errorf("%w: %w", auth.Errorf(auth.ECONFLICT, "the issuer %q was just given to another trusted issuer: list the issuers", t.Issuer), err)
	}
	if err != nil {
		return nil, record{}, err
	}
	stored, err := s.loadIssuer(ctx, conn, name, false) // as it will be read back
	if err != nil {
		return nil, record{}, err
	}
	return stored, record{
		event:  newEvent(ctx, auth.ActionIssuerUpdate, targetIssuer, name, auth.AuditIssuerView(old), auth.AuditIssuerView(stored)),
		change: &change{auth.ChangeIssuer, name},
	}, nil
}

// DeleteIssuer removes the issuer. ENOTFOUND when there is none; ECONFLICT,
// naming some of them, while clients are bound to it.
//
// The issuer's row is locked first, and writers that bind clients to an
// issuer lock it too (lockIssuers): a binding either commits before and
// is seen here, or finds the issuer gone.
func (s *Store) DeleteIssuer(ctx context.Context, name string) error {
	return s.write(ctx, fmt.Sprintf("delete trusted issuer %q", name), func(conn conn, now time.Time) ([]record, error) {
		r, err := s.deleteIssuer(ctx, conn, name)
		if err != nil {
			return nil, err
		}
		return []record{r}, nil
	})
}

// deleteIssuer is DeleteIssuer in the write transaction of conn; it
// returns the write's record.
func (s *Store) deleteIssuer(ctx context.Context, conn conn, name string) (record, error) {
	t, err := s.loadIssuer(ctx, conn, name, true)
	if err != nil {
		return record{}, err
	}
	var n int
	if err := conn.queryRow(ctx, `SELECT count(*) FROM client_federated_identities WHERE issuer = ?`, name).Scan(&n); err != nil {
		return record{}, err
	}
	if n > 0 {
		rows, err := conn.query(ctx, `SELECT DISTINCT client_id FROM client_federated_identities WHERE issuer = ?
			ORDER BY client_id LIMIT ?`, name, maxNamedBindings)
		if err != nil {
			return record{}, err
		}
		ids, err := scanStrings(rows)
		if err != nil {
			return record{}, err
		}
		quoted := make([]string, len(ids))
		for i, id := range ids {
			quoted[i] = fmt.Sprintf("%q", id)
		}
		more := ""
		if n > len(ids) {
			more = ", …"
		}
		return record{}, auth.Errorf(auth.ECONFLICT, "trusted issuer %q still has %d federated identities bound (clients %s%s): remove them from the clients first (clients update --remove-federated)",
			name, n, strings.Join(quoted, ", "), more)
	}
	if _, err := conn.exec(ctx, `DELETE FROM trusted_issuers WHERE name = ?`, name); err != nil {
		return record{}, err
	}
	return record{
		event:  newEvent(ctx, auth.ActionIssuerDelete, targetIssuer, name, auth.AuditIssuerView(t), nil),
		change: &change{auth.ChangeIssuer, name},
	}, nil
}

// checkIssuerStorable checks what the store relies on: a name and an
// issuer URL. The admin package checks the rest.
func checkIssuerStorable(t *auth.TrustedIssuer) error {
	switch {
	case t == nil || t.Name == "":
		return auth.Errorf(auth.EINVALID, "the trusted issuer's name is empty")
	case t.Issuer == "":
		return auth.Errorf(auth.EINVALID, "trusted issuer %q: the issuer URL is empty", t.Name)
	case t.MaxTokenAge < 0:
		return auth.Errorf(auth.EINVALID, "trusted issuer %q: the maximum token age is negative", t.Name)
	}
	return nil
}

// checkIssuerURLFree returns ECONFLICT, naming the holder, when another
// trusted issuer than t has t's issuer URL.
func (s *Store) checkIssuerURLFree(ctx context.Context, conn conn, t *auth.TrustedIssuer) error {
	var holder string
	err := conn.queryRow(ctx, `SELECT name FROM trusted_issuers WHERE issuer = ?`, t.Issuer).Scan(&holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case holder != t.Name:
		return auth.Errorf(auth.ECONFLICT, "the issuer %q is already trusted as %q: a token's issuer must name one trusted issuer; update or remove %q instead", t.Issuer, holder, holder)
	}
	return nil
}

// loadIssuer reads one issuer, locking its row until the transaction ends
// when forUpdate is set (and the dialect locks rows).
func (s *Store) loadIssuer(ctx context.Context, conn conn, name string, forUpdate bool) (*auth.TrustedIssuer, error) {
	query := `SELECT ` + issuerColumns + ` FROM trusted_issuers WHERE name = ?`
	if forUpdate {
		query += s.d.ForUpdate
	}
	rows, err := conn.query(ctx, query, name)
	if err != nil {
		return nil, err
	}
	ts, err := scanIssuers(rows)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, issuerNotFound(name)
	}
	return ts[0], nil
}

// scanIssuers reads rows of issuerColumns and closes them.
func scanIssuers(rows Rows) ([]*auth.TrustedIssuer, error) {
	defer rows.Close()
	var ts []*auth.TrustedIssuer
	for rows.Next() {
		var (
			t                    auth.TrustedIssuer
			age                  int64
			createdAt, updatedAt sql.NullInt64
		)
		if err := rows.Scan(&t.Name, &t.Issuer, &t.JWKSURI, &t.JWKS, &t.Audience, &age, &t.Disabled, &createdAt, &updatedAt, &t.ManagedBy); err != nil {
			return nil, err
		}
		if len(t.JWKS) == 0 {
			t.JWKS = nil
		}
		t.MaxTokenAge = time.Duration(age)
		t.CreatedAt, t.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
		ts = append(ts, &t)
	}
	return ts, rows.Err()
}

// scanStrings reads rows of one text column and closes them.
func scanStrings(rows Rows) ([]string, error) {
	defer rows.Close()
	var l []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, rows.Err()
}

// The federated identities of clients.

const federatedColumns = `client_id, issuer, subject`

// FederatedInRange reads the federated identities of the clients whose IDs
// are in (?, ?], in the order scanFederated wants them.
const FederatedInRange = `SELECT ` + federatedColumns + ` FROM client_federated_identities
	WHERE client_id > ? AND client_id <= ? ORDER BY client_id, position`

// insertFederated binds c's federated identities to it; the client's
// earlier ones must have been deleted. EINVALID naming the issuer when one
// is unknown, ECONFLICT naming the owner when a pair is another client's.
func (s *Store) insertFederated(ctx context.Context, conn conn, c *auth.Client) error {
	if len(c.Federated) == 0 {
		return nil
	}
	if err := s.lockIssuers(ctx, conn, c); err != nil {
		return err
	}
	for i, f := range c.Federated {
		var owner string
		err := conn.queryRow(ctx, `SELECT client_id FROM client_federated_identities WHERE issuer = ? AND subject = ?`,
			f.Issuer, f.Subject).Scan(&owner)
		switch {
		case err == nil:
			return federatedConflict(f, owner)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = conn.exec(ctx, `INSERT INTO client_federated_identities (issuer, subject, client_id, position) VALUES (?, ?, ?, ?)`,
			f.Issuer, f.Subject, c.ID, i)
		if err != nil && s.d.UniqueViolation(err) {
			// Bound by a concurrent writer since the check above.
			return fmt.Errorf("%w: %w", auth.Errorf(auth.ECONFLICT, "federated identity %s was just bound to another client: `clients list` shows which", f), err)
		}
		if err != nil {
			return fmt.Errorf("federated identity %s: %w", f, err)
		}
	}
	return nil
}

// federatedConflict says that f is owner's.
func federatedConflict(f auth.FederatedIdentity, owner string) error {
	return auth.Errorf(auth.ECONFLICT, "federated identity %s is already bound to client %q: remove it from that client first (clients update %s --remove-federated %s)",
		f, owner, owner, f)
}

// lockIssuers checks that the issuers c's identities name exist, locking
// their rows (Dialect.ForUpdate) in name order, so that DeleteIssuer,
// which locks the row first, cannot delete one under a binding being
// made, and two writers cannot deadlock.
func (s *Store) lockIssuers(ctx context.Context, conn conn, c *auth.Client) error {
	names := make([]string, 0, len(c.Federated))
	for _, f := range c.Federated {
		names = append(names, f.Issuer)
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		var got string
		err := conn.queryRow(ctx, `SELECT name FROM trusted_issuers WHERE name = ?`+s.d.ForUpdate, name).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return auth.Errorf(auth.EINVALID, "client %q: federated identity of issuer %q: no trusted issuer has that name; add it first (issuers add), or see `issuers list`", c.ID, name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanFederated appends rows of federatedColumns to the federated
// identities of the clients they belong to, and closes the rows.
func scanFederated(rows Rows, cs []*auth.Client) error {
	defer rows.Close()
	var (
		byID   map[string]*auth.Client
		last   *auth.Client
		lastID string
		first  = true
	)
	for rows.Next() {
		var (
			clientID string
			f        auth.FederatedIdentity
		)
		if err := rows.Scan(&clientID, &f.Issuer, &f.Subject); err != nil {
			return err
		}
		if first || lastID != clientID {
			if byID == nil { // only for the pages that have identities at all
				byID = make(map[string]*auth.Client, len(cs))
				for _, c := range cs {
					byID[c.ID] = c
				}
			}
			last, lastID, first = byID[clientID], clientID, false
		}
		if last != nil {
			last.Federated = append(last.Federated, f)
		}
	}
	return rows.Err()
}
