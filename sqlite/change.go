package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gooclaim/auth"
)

// appendChange records ch, at now, in the write transaction tx.
func appendChange(ctx context.Context, tx *sql.Tx, ch change, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, id, at) VALUES (?, ?, ?)`, string(ch.kind), ch.id, nanos(now))
	if err != nil {
		return fmt.Errorf("record the change: %w", err)
	}
	return nil
}

// prune deletes the changes older than the retention, in the write
// transaction tx. It deletes a prefix of the sequence, up to the newest old
// change, and records its number as pruned_through.
func (db *DB) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	var through sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM changes WHERE at < ?`, now.Add(-db.retention).UnixNano()).Scan(&through)
	if err != nil || !through.Valid {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE seq <= ?`, through.Int64); err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('pruned_through', ?)
		ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`, through.Int64)
	if err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	return nil
}

// LatestChange returns the sequence number of the newest change, 0 when
// none. It never goes backwards, pruning included.
func (db *DB) LatestChange(ctx context.Context) (int64, error) {
	var seq int64
	err := db.db.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, translate("read the latest change", err)
	}
	return seq, nil
}

// Changes returns up to limit changes with Seq > after, in Seq order.
// auth.ErrChangesPruned when some of them have been pruned.
func (db *DB) Changes(ctx context.Context, after int64, limit int) ([]auth.Change, error) {
	if limit < 1 {
		return nil, auth.Errorf(auth.EINVALID, "read changes: the limit must be at least 1, not %d", limit)
	}
	var changes []auth.Change
	err := db.read(ctx, fmt.Sprintf("read changes after %d", after), func(tx *sql.Tx) error {
		var pruned int64
		err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'pruned_through'`).Scan(&pruned)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if pruned > 0 && after < pruned {
			return auth.ErrChangesPruned
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, kind, id, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c    auth.Change
				kind string
				at   sql.NullInt64
			)
			if err := rows.Scan(&c.Seq, &kind, &c.ID, &at); err != nil {
				return err
			}
			c.Kind, c.At = auth.ChangeKind(kind), fromNanos(at)
			changes = append(changes, c)
		}
		return rows.Err()
	})
	return changes, err
}
