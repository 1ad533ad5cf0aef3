package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
)

// RevokeToken records r, with a zero RevokedAt set from the clock, and an
// audit event (the action auth.ActionTokenRevoke unless ctx says otherwise).
// Revoking a token twice is not an error: the first record stays and no
// event is added. EINVALID when r has no JTI or no ExpiresAt (without it
// the record could never be pruned).
//
// Revocations append no change to the feed: they change no client or key.
func (db *DB) RevokeToken(ctx context.Context, r auth.RevokedToken) error {
	if err := checkRevocation(r); err != nil {
		return err
	}
	return db.write(ctx, fmt.Sprintf("revoke token %q", r.JTI), func(tx pgx.Tx, now time.Time) (*outcome, error) {
		if r.RevokedAt.IsZero() {
			r.RevokedAt = now
		}
		// A concurrent revocation of the same jti waits here until the
		// other commits, then inserts nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING`,
			r.JTI, r.ClientID, nanos(r.ExpiresAt), nanos(r.RevokedAt))
		if err != nil || tag.RowsAffected() == 0 {
			return nil, err // nil, nil: revoked already
		}
		return &outcome{event: newEvent(ctx, auth.ActionTokenRevoke, targetToken, r.JTI, nil, auth.AuditRevocationView(r))}, nil
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
func (db *DB) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)`, jti).Scan(&revoked)
	if err != nil {
		return false, db.translate(fmt.Sprintf("read revocation of token %q", jti), err)
	}
	return revoked, nil
}

// PruneRevocations deletes the records of tokens that expired before t and
// returns how many it deleted. It records no audit event: it forgets
// tokens that can no longer be used, and changes nothing they allow.
func (db *DB) PruneRevocations(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "prune revoked tokens", func(tx pgx.Tx, now time.Time) (*outcome, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at < $1`, boundNanos(before))
		n = tag.RowsAffected()
		return nil, err
	})
	return int(n), err
}
