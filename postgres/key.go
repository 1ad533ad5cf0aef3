package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
)

// Keys returns every stored key, oldest first (by CreatedAt, then ID).
func (db *DB) Keys(ctx context.Context) ([]auth.Key, error) {
	keys, err := loadKeys(ctx, db.pool)
	if err != nil {
		return nil, db.translate("read signing keys", err)
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
// The transaction first locks the keys table in SHARE ROW EXCLUSIVE mode,
// which conflicts with itself but not with readers: concurrent UpdateKeys,
// from any node, run one after the other, each reading the set its
// predecessor committed, so that when several nodes rotate at once exactly
// one rotation happens. Keys and Changes are not blocked meanwhile.
func (db *DB) UpdateKeys(ctx context.Context, fn func(current []auth.Key) ([]auth.Key, error)) error {
	return db.write(ctx, "update signing keys", func(tx pgx.Tx, now time.Time) (*outcome, error) {
		if _, err := tx.Exec(ctx, `LOCK TABLE keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return nil, err
		}
		current, err := loadKeys(ctx, tx)
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
			_, err := tx.Exec(ctx, `INSERT INTO keys (id, algorithm, public, sealed, created_at, signing_from)
				VALUES ($1, $2, $3, $4, $5, $6)`,
				k.ID, k.Algorithm, notNil(k.Public), notNil(k.Sealed), nanos(k.CreatedAt), nanos(k.SigningFrom))
			if err != nil {
				return nil, err
			}
		}
		for _, id := range remove {
			if _, err := tx.Exec(ctx, `DELETE FROM keys WHERE id = $1`, id); err != nil {
				return nil, err
			}
		}
		after, err := loadKeys(ctx, tx) // as they will be read back
		if err != nil {
			return nil, err
		}
		newest := ""
		if len(after) > 0 {
			newest = after[len(after)-1].ID
		}
		return &outcome{
			event: newEvent(ctx, auth.ActionKeysUpdate, targetKeys, newest,
				auth.AuditKeysView(stored), auth.AuditKeysView(after)),
			change: &change{auth.ChangeKeys, ""},
		}, nil
	})
}

func loadKeys(ctx context.Context, q querier) ([]auth.Key, error) {
	rows, err := q.Query(ctx, `SELECT id, algorithm, public, sealed, created_at, signing_from
		FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []auth.Key
	for rows.Next() {
		var (
			k                      auth.Key
			createdAt, signingFrom *int64
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
