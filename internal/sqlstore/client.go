package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gooclaim/auth"
)

// clientColumns are the columns of a client, in the order scanClients
// reads them.
const clientColumns = `id, name, scopes, audiences, token_ttl, rate_limit, rate_window, disabled,
	auth_methods, jwks, jwks_uri, metadata, tokens_revoked_before, created_at, updated_at, incarnation, exchange_audiences,
	require_dpop, require_certificate_bound_tokens, tls_client_auth_subject_dn, tls_client_auth_san_dns,
	tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email, managed_by, quotas, quota_mode,
	claims, condition, token_reuse`

const secretColumns = `client_id, id, hash, created_at, expires_at`

// SecretsInRange reads the secrets of the clients whose IDs are in (?, ?],
// in the order scanSecrets wants them: along SQLite's covering index
// client_secrets_by_client (its migration 0003), PostgreSQL's primary key.
const SecretsInRange = `SELECT ` + secretColumns + ` FROM client_secrets
	WHERE client_id > ? AND client_id <= ? ORDER BY client_id, created_at, id`

// CreateClient stores a new client with its secrets, under a new
// Incarnation (whatever c holds). A zero CreatedAt or UpdatedAt of the
// client, or CreatedAt of a secret, is set from the clock; these and the
// incarnation are written back into c. ECONFLICT when the ID is taken. The audit event's
// action is auth.ActionClientCreate unless ctx says otherwise.
func (s *Store) CreateClient(ctx context.Context, c *auth.Client) error {
	return s.createClients(ctx, fmt.Sprintf("create client %q", c.ID), []*auth.Client{c}, false)
}

// CreateClients stores many new clients in one transaction: each as
// CreateClient would (the same checks, audit event and change-feed entry),
// but with one commit for all of them, which makes creating a large number
// of clients (an import, a load test) a matter of seconds rather than of one
// commit per client. Nothing is stored if any of them fails; ECONFLICT when
// an ID is taken. Incarnations and timestamps are set and written back as CreateClient does.
func (s *Store) CreateClients(ctx context.Context, cs []*auth.Client) error {
	return s.createClients(ctx, fmt.Sprintf("create %d clients", len(cs)), cs, true)
}

// createClients is CreateClients; batch says whether an error names its client.
func (s *Store) createClients(ctx context.Context, op string, cs []*auth.Client, batch bool) error {
	for _, c := range cs {
		if err := c.CheckStorable(); err != nil {
			return err
		}
	}
	if len(cs) == 0 {
		return nil
	}
	stored := make([]*auth.Client, len(cs))
	var at time.Time
	err := s.write(ctx, op, func(conn conn, now time.Time) ([]record, error) {
		at = now
		records := make([]record, len(cs))
		for i, c := range cs {
			var err error
			if stored[i], records[i], err = s.insertNewClient(ctx, conn, c, now); err != nil {
				if batch {
					err = naming("client", c.ID, err)
				}
				return nil, err
			}
		}
		return records, nil
	})
	if err != nil {
		return err
	}
	for i, c := range cs {
		writeBack(c, stored[i], at)
	}
	return nil
}

// insertNewClient stores a copy of c as a new client, under a new
// Incarnation, its zero times set to now, and returns the copy and the
// write's record.
func (s *Store) insertNewClient(ctx context.Context, conn conn, c *auth.Client, now time.Time) (*auth.Client, record, error) {
	sc := c.Clone()
	sc.Incarnation = auth.NewIncarnation()
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = now
	}
	if sc.UpdatedAt.IsZero() {
		sc.UpdatedAt = now
	}
	sc.StampSecrets(now)
	if err := s.insertClient(ctx, conn, sc); err != nil {
		return nil, record{}, err
	}
	return sc, record{
		event:  newEvent(ctx, auth.ActionClientCreate, targetClient, c.ID, nil, auth.AuditClientView(sc)),
		change: &change{auth.ChangeClient, c.ID},
	}, nil
}

// writeBack gives the caller's c what the store set when it stored c at
// now as stored: its incarnation, its times and its new secrets' times.
func writeBack(c, stored *auth.Client, now time.Time) {
	c.Incarnation, c.CreatedAt, c.UpdatedAt = stored.Incarnation, stored.CreatedAt, stored.UpdatedAt
	c.StampSecrets(now)
}

// Client returns one client with its secrets. ENOTFOUND when there is none.
func (s *Store) Client(ctx context.Context, id string) (*auth.Client, error) {
	var c *auth.Client
	err := s.read(ctx, fmt.Sprintf("read client %q", id), func(conn conn) error {
		var err error
		c, err = s.loadClient(ctx, conn, id, false)
		return err
	})
	return c, err
}

// ListClients returns up to limit clients whose ID sorts after the given
// one, in ID order (bytewise), with their secrets.
func (s *Store) ListClients(ctx context.Context, after string, limit int) ([]*auth.Client, error) {
	if limit < 1 {
		return nil, auth.Errorf(auth.EINVALID, "list clients: the limit must be at least 1, not %d", limit)
	}
	var cs []*auth.Client
	err := s.read(ctx, "list clients", func(conn conn) error {
		rows, err := conn.query(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
		if err != nil {
			return err
		}
		if cs, err = s.scanClients(rows); err != nil || len(cs) == 0 {
			return err
		}
		rows, err = conn.query(ctx, SecretsInRange, after, cs[len(cs)-1].ID)
		if err != nil {
			return err
		}
		if err := scanSecrets(rows, cs); err != nil {
			return err
		}
		rows, err = conn.query(ctx, FederatedInRange, after, cs[len(cs)-1].ID)
		if err != nil {
			return err
		}
		return scanFederated(rows, cs)
	})
	return cs, err
}

// UpdateClient loads the client, locking its row (Dialect.ForUpdate), lets
// fn change it and saves the result in one transaction. The ID,
// Incarnation and CreatedAt stay what they were; UpdatedAt (and a new
// secret's zero CreatedAt) is set from the clock. ENOTFOUND when there is
// no such client; fn's error aborts and is returned unchanged. The audit
// event, with the client before and after, has the action
// auth.ActionClientUpdate unless ctx says otherwise.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*auth.Client) error) (*auth.Client, error) {
	var c *auth.Client
	err := s.write(ctx, fmt.Sprintf("update client %q", id), func(conn conn, now time.Time) ([]record, error) {
		old, err := s.loadClient(ctx, conn, id, true)
		if err != nil {
			return nil, err
		}
		next := old.Clone()
		if err := fn(next); err != nil {
			return nil, &callerError{err}
		}
		var r record
		if c, r, err = s.replaceClient(ctx, conn, old, next, now); err != nil {
			return nil, err
		}
		return []record{r}, nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// replaceClient saves c over old, the stored client, loaded with its row
// locked: every setting, the secrets and federated identities included,
// but the ID, Incarnation and CreatedAt, which stay old's (c is changed to
// match); UpdatedAt and new secrets' zero CreatedAt become now. It returns
// the client as it will be read back and the write's record.
func (s *Store) replaceClient(ctx context.Context, conn conn, old, c *auth.Client, now time.Time) (*auth.Client, record, error) {
	id := old.ID
	c.ID, c.Incarnation, c.CreatedAt, c.UpdatedAt = id, old.Incarnation, old.CreatedAt, now
	c.StampSecrets(now)
	if err := c.CheckStorable(); err != nil {
		return nil, record{}, err
	}
	_, err := conn.exec(ctx, `UPDATE clients SET name = ?, scopes = ?, audiences = ?, token_ttl = ?,
		rate_limit = ?, rate_window = ?, disabled = ?, auth_methods = ?, jwks = ?, jwks_uri = ?,
		metadata = ?, tokens_revoked_before = ?, updated_at = ?, exchange_audiences = ?,
		require_dpop = ?, require_certificate_bound_tokens = ?, tls_client_auth_subject_dn = ?,
		tls_client_auth_san_dns = ?, tls_client_auth_san_uri = ?, tls_client_auth_san_ip = ?,
		tls_client_auth_san_email = ?, managed_by = ?, quotas = ?, quota_mode = ?, claims = ?, condition = ?,
		token_reuse = ? WHERE id = ?`,
		c.Name, s.d.ListArg(c.Scopes), s.d.ListArg(c.Audiences), int64(c.TokenTTL), c.RateLimit.Limit,
		int64(c.RateLimit.Window), c.Disabled, s.d.ListArg(c.AuthMethods), nullBytes(c.JWKS), c.JWKSURI,
		jsonObject(c.Metadata), nanos(c.TokensRevokedBefore), nanos(c.UpdatedAt), s.d.ListArg(c.ExchangeAudiences),
		c.RequireDPoP, c.RequireCertificateBoundTokens, c.TLSClientAuth.SubjectDN, c.TLSClientAuth.SANDNS,
		c.TLSClientAuth.SANURI, c.TLSClientAuth.SANIP, c.TLSClientAuth.SANEmail, c.ManagedBy,
		JSONList(auth.FormatQuotas(c.Quotas)), c.QuotaMode, jsonObject(c.Claims), c.Condition, c.TokenReuse, id)
	if err != nil {
		return nil, record{}, err
	}
	if _, err := conn.exec(ctx, `DELETE FROM client_secrets WHERE client_id = ?`, id); err != nil {
		return nil, record{}, err
	}
	if err := insertSecrets(ctx, conn, c); err != nil {
		return nil, record{}, err
	}
	if _, err := conn.exec(ctx, `DELETE FROM client_federated_identities WHERE client_id = ?`, id); err != nil {
		return nil, record{}, err
	}
	if err := s.insertFederated(ctx, conn, c); err != nil {
		return nil, record{}, err
	}
	stored, err := s.loadClient(ctx, conn, id, false) // as it will be read back
	if err != nil {
		return nil, record{}, err
	}
	return stored, record{
		event:  newEvent(ctx, auth.ActionClientUpdate, targetClient, id, auth.AuditClientView(old), auth.AuditClientView(stored)),
		change: &change{auth.ChangeClient, id},
	}, nil
}

// DeleteClient removes the client and its secrets. ENOTFOUND when there is
// none. The audit event, with the client before, has the action
// auth.ActionClientDelete unless ctx says otherwise.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.write(ctx, fmt.Sprintf("delete client %q", id), func(conn conn, now time.Time) ([]record, error) {
		r, err := s.deleteClient(ctx, conn, id)
		if err != nil {
			return nil, err
		}
		return []record{r}, nil
	})
}

// deleteClient removes the client id, its row locked first, and returns
// the write's record. ENOTFOUND when there is none.
func (s *Store) deleteClient(ctx context.Context, conn conn, id string) (record, error) {
	c, err := s.loadClient(ctx, conn, id, true)
	if err != nil {
		return record{}, err
	}
	if _, err := conn.exec(ctx, `DELETE FROM clients WHERE id = ?`, id); err != nil {
		return record{}, err
	}
	return record{
		event:  newEvent(ctx, auth.ActionClientDelete, targetClient, id, auth.AuditClientView(c), nil),
		change: &change{auth.ChangeClient, id},
	}, nil
}

// CountClients returns how many clients are registered.
func (s *Store) CountClients(ctx context.Context) (int, error) {
	var n int
	if err := s.conn(s.db).queryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n); err != nil {
		return 0, s.translate("count clients", err)
	}
	return n, nil
}

func notFound(id string) error { return auth.Errorf(auth.ENOTFOUND, "client %q not found", id) }

func (s *Store) insertClient(ctx context.Context, conn conn, c *auth.Client) error {
	_, err := conn.exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, s.d.ListArg(c.Scopes), s.d.ListArg(c.Audiences), int64(c.TokenTTL), c.RateLimit.Limit,
		int64(c.RateLimit.Window), c.Disabled, s.d.ListArg(c.AuthMethods), nullBytes(c.JWKS), c.JWKSURI,
		jsonObject(c.Metadata), nanos(c.TokensRevokedBefore), nanos(c.CreatedAt), nanos(c.UpdatedAt), c.Incarnation,
		s.d.ListArg(c.ExchangeAudiences), c.RequireDPoP, c.RequireCertificateBoundTokens, c.TLSClientAuth.SubjectDN,
		c.TLSClientAuth.SANDNS, c.TLSClientAuth.SANURI, c.TLSClientAuth.SANIP, c.TLSClientAuth.SANEmail, c.ManagedBy,
		JSONList(auth.FormatQuotas(c.Quotas)), c.QuotaMode, jsonObject(c.Claims), c.Condition, c.TokenReuse)
	if err != nil && s.d.UniqueViolation(err) {
		return fmt.Errorf("%w: %w", auth.Errorf(auth.ECONFLICT, "client %q already exists", c.ID), err)
	}
	if err != nil {
		return err
	}
	if err := insertSecrets(ctx, conn, c); err != nil {
		return err
	}
	return s.insertFederated(ctx, conn, c)
}

func insertSecrets(ctx context.Context, conn conn, c *auth.Client) error {
	for _, sec := range c.Secrets {
		_, err := conn.exec(ctx, `INSERT INTO client_secrets (`+secretColumns+`) VALUES (?, ?, ?, ?, ?)`,
			c.ID, sec.ID, sec.Hash, nanos(sec.CreatedAt), nanos(sec.ExpiresAt))
		if err != nil {
			return fmt.Errorf("secret %q: %w", sec.ID, err)
		}
	}
	return nil
}

// loadClient reads one client and its secrets, locking the client's row
// until the transaction ends when forUpdate is set (and the dialect
// locks rows). Under PostgreSQL's READ COMMITTED, the secrets are then read
// after any concurrent writer of the client has committed.
func (s *Store) loadClient(ctx context.Context, conn conn, id string, forUpdate bool) (*auth.Client, error) {
	query := `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	if forUpdate {
		query += s.d.ForUpdate
	}
	rows, err := conn.query(ctx, query, id)
	if err != nil {
		return nil, err
	}
	cs, err := s.scanClients(rows)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound(id)
	}
	rows, err = conn.query(ctx, `SELECT `+secretColumns+` FROM client_secrets WHERE client_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return nil, err
	}
	if err := scanSecrets(rows, cs); err != nil {
		return nil, err
	}
	rows, err = conn.query(ctx, `SELECT `+federatedColumns+` FROM client_federated_identities WHERE client_id = ? ORDER BY position`, id)
	if err != nil {
		return nil, err
	}
	return cs[0], scanFederated(rows, cs)
}

// scanClients reads rows of clientColumns and closes them.
func (s *Store) scanClients(rows Rows) ([]*auth.Client, error) {
	defer rows.Close()
	var cs []*auth.Client
	for rows.Next() {
		var (
			c                                   auth.Client
			meta, claims                        string
			quotas                              []string
			ttl, window                         int64
			revokedBefore, createdAt, updatedAt sql.NullInt64
		)
		err := rows.Scan(&c.ID, &c.Name, s.d.ListDest(&c.Scopes), s.d.ListDest(&c.Audiences), &ttl, &c.RateLimit.Limit, &window,
			&c.Disabled, s.d.ListDest(&c.AuthMethods), &c.JWKS, &c.JWKSURI, &meta, &revokedBefore, &createdAt, &updatedAt, &c.Incarnation,
			s.d.ListDest(&c.ExchangeAudiences), &c.RequireDPoP, &c.RequireCertificateBoundTokens, &c.TLSClientAuth.SubjectDN,
			&c.TLSClientAuth.SANDNS, &c.TLSClientAuth.SANURI, &c.TLSClientAuth.SANIP, &c.TLSClientAuth.SANEmail, &c.ManagedBy,
			JSONListDest(&quotas), &c.QuotaMode, &claims, &c.Condition, &c.TokenReuse)
		if err != nil {
			return nil, err
		}
		if c.Quotas, err = auth.ParseQuotas(quotas); err != nil {
			return nil, fmt.Errorf("client %q: quotas: %w", c.ID, err)
		}
		if c.Claims, err = parseObject(claims); err != nil {
			return nil, fmt.Errorf("client %q: claims: %w", c.ID, err)
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
		if len(c.ExchangeAudiences) == 0 {
			c.ExchangeAudiences = nil
		}
		if len(c.JWKS) == 0 {
			c.JWKS = nil
		}
		if c.Metadata, err = parseObject(meta); err != nil {
			return nil, fmt.Errorf("client %q: metadata: %w", c.ID, err)
		}
		c.TokenTTL, c.RateLimit.Window = time.Duration(ttl), time.Duration(window)
		c.TokensRevokedBefore = fromNanos(revokedBefore)
		c.CreatedAt, c.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
		cs = append(cs, &c)
	}
	return cs, rows.Err()
}

// scanSecrets appends rows of secretColumns to the secrets of the clients
// they belong to, and closes the rows.
func scanSecrets(rows Rows, cs []*auth.Client) error {
	defer rows.Close()
	byID := make(map[string]*auth.Client, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	for rows.Next() {
		var (
			clientID             string
			sec                  auth.Secret
			createdAt, expiresAt sql.NullInt64
		)
		if err := rows.Scan(&clientID, &sec.ID, &sec.Hash, &createdAt, &expiresAt); err != nil {
			return err
		}
		sec.CreatedAt, sec.ExpiresAt = fromNanos(createdAt), fromNanos(expiresAt)
		if c := byID[clientID]; c != nil {
			c.Secrets = append(c.Secrets, sec)
		}
	}
	return rows.Err()
}

// JSONList encodes a list of strings as a JSON array, [] when empty: a
// ListArg for lists stored as JSON text.
func JSONList(l []string) any {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // cannot fail for strings
	return string(b)
}

// JSONListDest is a ListDest for lists stored as JSON text: it decodes the
// JSON array of strings that Rows.Scan gives it into l.
func JSONListDest(l *[]string) any { return jsonListDest{l} }

type jsonListDest struct{ l *[]string }

func (d jsonListDest) Scan(src any) error {
	var err error
	switch src := src.(type) {
	case string:
		*d.l, err = parseList(src)
	case []byte:
		*d.l, err = parseList(string(src))
	default:
		err = fmt.Errorf("a list is JSON text, not %T", src)
	}
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	return nil
}

// parseList decodes a JSON array of strings; empty is nil.
//
// It is on the path of a replica's full load, three times a client. The
// lists are written by json.Marshal (JSONList) or PostgreSQL's
// array_to_json, without spaces, so one whose strings have no escapes is
// cut into its strings directly, several times faster than encoding/json,
// which decodes the others.
func parseList(s string) ([]string, error) {
	if s == "[]" {
		return nil, nil
	}
	if l, ok := plainList(s); ok {
		return l, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// plainList splits s, a JSON array of strings without spaces between
// them, escapes or control characters, such as ["a","b"]; ok is false for
// anything else.
func plainList(s string) (l []string, ok bool) {
	if len(s) < 4 || !strings.HasPrefix(s, `["`) || !strings.HasSuffix(s, `"]`) || !utf8.ValidString(s) {
		return nil, false
	}
	for i := 2; i < len(s)-2; i++ {
		if c := s[i]; c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	l = strings.Split(s[2:len(s)-2], `","`)
	for _, e := range l {
		if strings.IndexByte(e, '"') >= 0 {
			return nil, false
		}
	}
	return l, true
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
	if s == "{}" {
		return nil, nil
	}
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
