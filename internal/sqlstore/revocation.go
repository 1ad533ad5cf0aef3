package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gooclaim/auth"
)

// RevokeToken records r, with a zero RevokedAt set from the clock, and an
// audit event (the action auth.ActionTokenRevoke unless ctx says otherwise).
// Revoking a token twice is not an error: the first record stays and no
// event is added. EINVALID when r has no JTI or no ExpiresAt (without it
// the record could never be pruned).
//
// A revocation appends a change of the token's client to the feed, in the
// same transaction: the client is unchanged, but every node's replica then
// tells its token cache to stop giving the client's kept tokens again
// (issuer.TokenCache), so that a token revoked on one node is not handed
// out by another.
func (s *Store) RevokeToken(ctx context.Context, r auth.RevokedToken) error {
	if err := checkRevocation(r); err != nil {
		return err
	}
	return s.write(ctx, fmt.Sprintf("revoke token %q", r.JTI), func(conn conn, now time.Time) ([]record, error) {
		if r.RevokedAt.IsZero() {
			r.RevokedAt = now
		}
		// A concurrent revocation of the same jti waits here until the
		// other commits, then inserts nothing.
		n, err := conn.exec(ctx, `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
			r.JTI, r.ClientID, nanos(r.ExpiresAt), nanos(r.RevokedAt))
		if err != nil || n == 0 {
			return nil, err // nil, nil: revoked already
		}
		rec := record{event: newEvent(ctx, auth.ActionTokenRevoke, targetToken, r.JTI, nil, auth.AuditRevocationView(r))}
		if r.ClientID != "" {
			rec.change = &change{auth.ChangeClient, r.ClientID}
		}
		return []record{rec}, nil
	})
}

// checkRevocation checks what RevokeToken relies on.
func checkRevocation(r auth.RevokedToken) error {
	switch {
	case r.JTI == "":
		return auth.Errorf(auth.EINVALID, "revoke token: the token ID (jti) is empty")
	case r.ExpiresAt.IsZero():
		return auth.Errorf(auth.EINVALID, "revoke token %q: the expiry is missing", r.JTI)
	}
	return nil
}

// TokenRevoked reports whether the token with this jti is revoked.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked bool
	err := s.conn(s.db).queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?)`, jti).Scan(&revoked)
	if err != nil {
		return false, s.translate(fmt.Sprintf("read revocation of token %q", jti), err)
	}
	return revoked, nil
}

// PruneRevocations deletes the records of tokens that expired before t and
// returns how many it deleted. It records no audit event: it forgets
// tokens that can no longer be used, and changes nothing they allow.
func (s *Store) PruneRevocations(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, "prune revoked tokens", func(conn conn, now time.Time) ([]record, error) {
		var err error
		n, err = conn.exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at < ?`, boundNanos(before))
		return nil, err
	})
	return int(n), err
}
