package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gooclaim/auth"
)

// Keys returns every stored key, oldest first (by CreatedAt, then ID).
func (s *Store) Keys(ctx context.Context) ([]auth.Key, error) {
	keys, err := loadKeys(ctx, s.conn(s.db))
	if err != nil {
		return nil, s.translate("read signing keys", err)
	}
	return keys, nil
}

// UpdateKeys runs fn on the current key set in one write transaction and
// replaces the set with what fn returns: keys missing from the result are
// deleted, new ones inserted. A returned key whose ID is stored with other
// content is an EINVALID error, since keys are immutable. When the set
// changes, one change of kind auth.ChangeKeys and one audit event are
// appended (the action auth.ActionKeysUpdate unless ctx says otherwise, the
// target the newest key of the result); when it does not, nothing is. An
// error from fn aborts and is returned unchanged.
//
// Concurrent UpdateKeys, from any process, run one after the other (the
// write transaction, or Dialect.LockKeys), each reading the set its
// predecessor committed, so that when several nodes rotate at once exactly
// one rotation happens. Keys and Changes are not blocked meanwhile.
func (s *Store) UpdateKeys(ctx context.Context, fn func(current []auth.Key) ([]auth.Key, error)) error {
	return s.write(ctx, "update signing keys", func(conn conn, now time.Time) ([]record, error) {
		if s.d.LockKeys != "" {
			if _, err := conn.exec(ctx, s.d.LockKeys); err != nil {
				return nil, err
			}
		}
		current, err := loadKeys(ctx, conn)
		if err != nil {
			return nil, err
		}
		stored := auth.CloneKeys(current) // fn may change current's byte slices
		next, err := fn(current)
		if err != nil {
			return nil, &callerError{err}
		}
		insert, remove, err := auth.DiffKeys(stored, next)
		if err != nil {
			return nil, err
		}
		if len(insert)+len(remove) == 0 {
			return nil, nil
		}
		for _, k := range insert {
			_, err := conn.exec(ctx, `INSERT INTO keys (id, algorithm, public, sealed, created_at, signing_from)
				VALUES (?, ?, ?, ?, ?, ?)`,
				k.ID, k.Algorithm, notNil(k.Public), notNil(k.Sealed), nanos(k.CreatedAt), nanos(k.SigningFrom))
			if err != nil {
				return nil, err
			}
		}
		for _, id := range remove {
			if _, err := conn.exec(ctx, `DELETE FROM keys WHERE id = ?`, id); err != nil {
				return nil, err
			}
		}
		after, err := loadKeys(ctx, conn) // as they will be read back
		if err != nil {
			return nil, err
		}
		newest := ""
		if len(after) > 0 {
			newest = after[len(after)-1].ID
		}
		return []record{{
			event: newEvent(ctx, auth.ActionKeysUpdate, targetKeys, newest,
				auth.AuditKeysView(stored), auth.AuditKeysView(after)),
			change: &change{auth.ChangeKeys, ""},
		}}, nil
	})
}

func loadKeys(ctx context.Context, conn conn) ([]auth.Key, error) {
	rows, err := conn.query(ctx, `SELECT id, algorithm, public, sealed, created_at, signing_from
		FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []auth.Key
	for rows.Next() {
		var (
			k                      auth.Key
			createdAt, signingFrom sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Public, &k.Sealed, &createdAt, &signingFrom); err != nil {
			return nil, err
		}
		k.CreatedAt, k.SigningFrom = fromNanos(createdAt), fromNanos(signingFrom)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// notNil returns b, or an empty slice for nil, which would be stored as NULL.
func notNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
