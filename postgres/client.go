package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
)

const clientColumns = `id, name, scopes, audiences, token_ttl, rate_limit, rate_window, disabled,
	auth_methods, jwks, jwks_uri, metadata, tokens_revoked_before, created_at, updated_at, incarnation`

const secretColumns = `client_id, id, hash, created_at, expires_at`

// CreateClient stores a new client with its secrets, under a new
// Incarnation (whatever c holds). A zero CreatedAt or UpdatedAt of the
// client, or CreatedAt of a secret, is set from the clock; these and the
// incarnation are written back into c. ECONFLICT when the ID is taken. The audit event's
// action is auth.ActionClientCreate unless ctx says otherwise.
func (db *DB) CreateClient(ctx context.Context, c *auth.Client) error {
	if err := c.CheckStorable(); err != nil {
		return err
	}
	var stored *auth.Client
	err := db.write(ctx, fmt.Sprintf("create client %q", c.ID), func(tx pgx.Tx, now time.Time) (*outcome, error) {
		stored = c.Clone()
		stored.Incarnation = auth.NewIncarnation()
		if stored.CreatedAt.IsZero() {
			stored.CreatedAt = now
		}
		if stored.UpdatedAt.IsZero() {
			stored.UpdatedAt = now
		}
		stored.StampSecrets(now)
		if err := insertClient(ctx, tx, stored); err != nil {
			return nil, err
		}
		return &outcome{
			event:  newEvent(ctx, auth.ActionClientCreate, targetClient, c.ID, nil, auth.AuditClientView(stored)),
			change: &change{auth.ChangeClient, c.ID},
		}, nil
	})
	if err != nil {
		return err
	}
	c.Incarnation, c.CreatedAt, c.UpdatedAt = stored.Incarnation, stored.CreatedAt, stored.UpdatedAt
	for i := range c.Secrets {
		c.Secrets[i].CreatedAt = stored.Secrets[i].CreatedAt
	}
	return nil
}

// Client returns one client with its secrets. ENOTFOUND when there is none.
func (db *DB) Client(ctx context.Context, id string) (*auth.Client, error) {
	var c *auth.Client
	err := db.read(ctx, fmt.Sprintf("read client %q", id), func(tx pgx.Tx) error {
		var err error
		c, err = loadClient(ctx, tx, id, false)
		return err
	})
	return c, err
}

// ListClients returns up to limit clients whose ID sorts after the given
// one, in ID order (bytewise), with their secrets.
func (db *DB) ListClients(ctx context.Context, after string, limit int) ([]*auth.Client, error) {
	if limit < 1 {
		return nil, auth.Errorf(auth.EINVALID, "list clients: the limit must be at least 1, not %d", limit)
	}
	var cs []*auth.Client
	err := db.read(ctx, "list clients", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		if cs, err = scanClients(rows); err != nil || len(cs) == 0 {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+secretColumns+` FROM client_secrets
			WHERE client_id > $1 AND client_id <= $2 ORDER BY client_id, created_at, id`, after, cs[len(cs)-1].ID)
		if err != nil {
			return err
		}
		return scanSecrets(rows, cs)
	})
	return cs, err
}

// UpdateClient loads the client, locking its row, lets fn change it and
// saves the result in one transaction. The ID, Incarnation and CreatedAt
// stay what they were; UpdatedAt (and a new secret's zero CreatedAt) is set from the clock.
// ENOTFOUND when there is no such client; fn's error aborts and is returned
// unchanged. The audit event, with the client before and after, has the
// action auth.ActionClientUpdate unless ctx says otherwise.
func (db *DB) UpdateClient(ctx context.Context, id string, fn func(*auth.Client) error) (*auth.Client, error) {
	var c *auth.Client
	err := db.write(ctx, fmt.Sprintf("update client %q", id), func(tx pgx.Tx, now time.Time) (*outcome, error) {
		var err error
		if c, err = loadClient(ctx, tx, id, true); err != nil {
			return nil, err
		}
		before := auth.AuditClientView(c)
		incarnation, createdAt := c.Incarnation, c.CreatedAt
		if err := fn(c); err != nil {
			return nil, &callerError{err}
		}
		c.ID, c.Incarnation, c.CreatedAt, c.UpdatedAt = id, incarnation, createdAt, now
		c.StampSecrets(now)
		if err := c.CheckStorable(); err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `UPDATE clients SET name = $1, scopes = $2, audiences = $3, token_ttl = $4,
			rate_limit = $5, rate_window = $6, disabled = $7, auth_methods = $8, jwks = $9, jwks_uri = $10,
			metadata = $11, tokens_revoked_before = $12, updated_at = $13 WHERE id = $14`,
			c.Name, textArray(c.Scopes), textArray(c.Audiences), int64(c.TokenTTL), c.RateLimit.Limit,
			int64(c.RateLimit.Window), c.Disabled, textArray(c.AuthMethods), nullBytes(c.JWKS), c.JWKSURI,
			jsonObject(c.Metadata), nanos(c.TokensRevokedBefore), nanos(c.UpdatedAt), id)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM client_secrets WHERE client_id = $1`, id); err != nil {
			return nil, err
		}
		if err := insertSecrets(ctx, tx, c); err != nil {
			return nil, err
		}
		if c, err = loadClient(ctx, tx, id, false); err != nil { // as it will be read back
			return nil, err
		}
		return &outcome{
			event:  newEvent(ctx, auth.ActionClientUpdate, targetClient, id, before, auth.AuditClientView(c)),
			change: &change{auth.ChangeClient, id},
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteClient removes the client and its secrets. ENOTFOUND when there is
// none. The audit event, with the client before, has the action
// auth.ActionClientDelete unless ctx says otherwise.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	return db.write(ctx, fmt.Sprintf("delete client %q", id), func(tx pgx.Tx, now time.Time) (*outcome, error) {
		c, err := loadClient(ctx, tx, id, true)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id); err != nil {
			return nil, err
		}
		return &outcome{
			event:  newEvent(ctx, auth.ActionClientDelete, targetClient, id, auth.AuditClientView(c), nil),
			change: &change{auth.ChangeClient, id},
		}, nil
	})
}

// CountClients returns how many clients are registered.
func (db *DB) CountClients(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n); err != nil {
		return 0, db.translate("count clients", err)
	}
	return n, nil
}

func notFound(id string) error { return auth.Errorf(auth.ENOTFOUND, "client %q not found", id) }

func insertClient(ctx context.Context, tx pgx.Tx, c *auth.Client) error {
	_, err := tx.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.Name, textArray(c.Scopes), textArray(c.Audiences), int64(c.TokenTTL), c.RateLimit.Limit,
		int64(c.RateLimit.Window), c.Disabled, textArray(c.AuthMethods), nullBytes(c.JWKS), c.JWKSURI,
		jsonObject(c.Metadata), nanos(c.TokensRevokedBefore), nanos(c.CreatedAt), nanos(c.UpdatedAt), c.Incarnation)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %w", auth.Errorf(auth.ECONFLICT, "client %q already exists", c.ID), err)
	}
	if err != nil {
		return err
	}
	return insertSecrets(ctx, tx, c)
}

func insertSecrets(ctx context.Context, tx pgx.Tx, c *auth.Client) error {
	for _, s := range c.Secrets {
		_, err := tx.Exec(ctx, `INSERT INTO client_secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, s.ID, s.Hash, nanos(s.CreatedAt), nanos(s.ExpiresAt))
		if err != nil {
			return fmt.Errorf("secret %q: %w", s.ID, err)
		}
	}
	return nil
}

// loadClient reads one client and its secrets, locking the client's row
// until tx ends when forUpdate is set. Under READ COMMITTED, the secrets
// are then read after any concurrent writer of the client has committed.
func loadClient(ctx context.Context, tx pgx.Tx, id string, forUpdate bool) (*auth.Client, error) {
	query := `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	rows, err := tx.Query(ctx, query, id)
	if err != nil {
		return nil, err
	}
	cs, err := scanClients(rows)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound(id)
	}
	rows, err = tx.Query(ctx, `SELECT `+secretColumns+` FROM client_secrets WHERE client_id = $1 ORDER BY created_at, id`, id)
	if err != nil {
		return nil, err
	}
	return cs[0], scanSecrets(rows, cs)
}

// scanClients reads rows of clientColumns and closes them.
func scanClients(rows pgx.Rows) ([]*auth.Client, error) {
	defer rows.Close()
	var cs []*auth.Client
	for rows.Next() {
		var (
			c                                   auth.Client
			ttl, window                         int64
			meta                                string
			revokedBefore, createdAt, updatedAt *int64
		)
		err := rows.Scan(&c.ID, &c.Name, &c.Scopes, &c.Audiences, &ttl, &c.RateLimit.Limit, &window,
			&c.Disabled, &c.AuthMethods, &c.JWKS, &c.JWKSURI, &meta, &revokedBefore, &createdAt, &updatedAt, &c.Incarnation)
		if err != nil {
			return nil, err
		}
		if len(c.Scopes) == 0 {
			c.Scopes = nil
		}
		if len(c.Audiences) == 0 {
			c.Audiences = nil
		}
		if len(c.AuthMethods) == 0 {
			c.AuthMethods = nil
		}
		if len(c.JWKS) == 0 {
			c.JWKS = nil
		}
		if c.Metadata, err = parseObject(meta); err != nil {
			return nil, fmt.Errorf("client %q: metadata: %w", c.ID, err)
		}
		c.TokensRevokedBefore = fromNanos(revokedBefore)
		c.TokenTTL, c.RateLimit.Window = time.Duration(ttl), time.Duration(window)
		c.CreatedAt, c.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
		cs = append(cs, &c)
	}
	return cs, rows.Err()
}

// scanSecrets appends rows of secretColumns to the secrets of the clients
// they belong to, and closes the rows.
func scanSecrets(rows pgx.Rows, cs []*auth.Client) error {
	defer rows.Close()
	byID := make(map[string]*auth.Client, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	for rows.Next() {
		var (
			clientID             string
			s                    auth.Secret
			createdAt, expiresAt *int64
		)
		if err := rows.Scan(&clientID, &s.ID, &s.Hash, &createdAt, &expiresAt); err != nil {
			return err
		}
		s.CreatedAt, s.ExpiresAt = fromNanos(createdAt), fromNanos(expiresAt)
		if c := byID[clientID]; c != nil {
			c.Secrets = append(c.Secrets, s)
		}
	}
	return rows.Err()
}

// textArray returns l, or an empty list for nil, which would be stored as NULL.
func textArray(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// jsonObject encodes a map of strings as a JSON object, {} when empty.
func jsonObject(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // cannot fail for strings
	return string(b)
}

// parseObject decodes a JSON object of strings; empty is nil.
func parseObject(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// nullBytes returns b, or nil (NULL) when it is empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
