package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gooclaim/auth"
)

// appendChange records ch, at now, in the write transaction of conn
// (Dialect.AppendChange).
func (s *Store) appendChange(ctx context.Context, conn conn, ch change, now time.Time) error {
	args := append([]any{string(ch.kind), ch.id, nanos(now)}, s.d.AppendChangeArgs...)
	if _, err := conn.exec(ctx, s.d.AppendChange, args...); err != nil {
		return fmt.Errorf("record the change: %w", err)
	}
	return nil
}

// pruneDue reports whether this Store's last pruning is a minute old.
func (s *Store) pruneDue(now time.Time) bool {
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	return s.lastPrune.IsZero() || now.Sub(s.lastPrune) >= pruneEvery
}

// prune deletes the changes older than the retention, in the write
// transaction of conn. It deletes a prefix of the sequence, up to the
// newest old change, and records its number as pruned_through. Concurrent
// prunings are serialized by the write transaction, or by the lock of the
// pruned_through row (Dialect.ForUpdate), taken before any change is
// deleted.
func (s *Store) prune(ctx context.Context, conn conn, now time.Time) error {
	var through sql.NullInt64
	err := conn.queryRow(ctx, `SELECT max(seq) FROM changes WHERE at < ?`, now.Add(-s.retention).UnixNano()).Scan(&through)
	if err != nil || !through.Valid {
		return err
	}
	if s.d.ForUpdate != "" {
		if _, err := conn.exec(ctx, `SELECT value FROM meta WHERE name = 'pruned_through'`+s.d.ForUpdate); err != nil {
			return fmt.Errorf("prune changes: %w", err)
		}
	}
	if _, err := conn.exec(ctx, `DELETE FROM changes WHERE seq <= ?`, through.Int64); err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	_, err = conn.exec(ctx, `INSERT INTO meta (name, value) VALUES ('pruned_through', ?)
		ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > meta.value THEN excluded.value ELSE meta.value END`,
		through.Int64)
	if err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	return nil
}

// LatestChange returns the sequence number of the newest committed change,
// 0 when none. It never goes backwards, pruning included.
func (s *Store) LatestChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.conn(s.db).queryRow(ctx, s.d.LatestChange).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.translate("read the latest change", err)
	}
	return seq, nil
}

// Changes returns up to limit changes with Seq > after, in Seq order.
// auth.ErrChangesPruned when some of them have been pruned.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]auth.Change, error) {
	if limit < 1 {
		return nil, auth.Errorf(auth.EINVALID, "read changes: the limit must be at least 1, not %d", limit)
	}
	op := fmt.Sprintf("read changes after %d", after)
	// One statement, so one snapshot: pruned_through and the changes agree.
	// Its first row has pruned_through (0 when nothing was pruned) and no
	// change when there is none after `after`.
	rows, err := s.conn(s.db).query(ctx, `SELECT p.pruned, c.seq, c.kind, c.id, c.at
		FROM (SELECT coalesce(max(value), 0) AS pruned FROM meta WHERE name = 'pruned_through') p
		LEFT JOIN (SELECT seq, kind, id, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?) c ON true
		ORDER BY c.seq`, after, limit)
	if err != nil {
		return nil, s.translate(op, err)
	}
	defer rows.Close()
	var changes []auth.Change
	for rows.Next() {
		var (
			pruned   int64
			seq, at  sql.NullInt64
			kind, id sql.NullString
		)
		if err := rows.Scan(&pruned, &seq, &kind, &id, &at); err != nil {
			return nil, s.translate(op, err)
		}
		if pruned > 0 && after < pruned {
			return nil, fmt.Errorf("%s: %w", op, auth.ErrChangesPruned)
		}
		if seq.Valid { // not: no change after `after`
			changes = append(changes, auth.Change{Seq: seq.Int64, Kind: auth.ChangeKind(kind.String), ID: id.String, At: fromNanos(at)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.translate(op, err)
	}
	return changes, nil
}
