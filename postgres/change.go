package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
)

// appendChange records a change in the write transaction tx and notifies
// the listeners of db.channel, at commit.
//
// Its number comes from the single row of change_counter, incremented here:
// the row's lock is then held until tx ends, so that change-appending
// transactions are serialized from this point to their commit and commit in
// the order of their numbers. A reader that has seen change n has therefore
// seen every change before it, and following the feed with Changes(after)
// never skips one. (With a sequence or bigserial, transaction A can draw 5,
// B draw 6 and commit first; a replica reading after 4 sees 6, moves on,
// and never sees 5.) Serializing the appends costs little: it is the last
// step before the commit, so the lock is held for one statement and the
// commit, and writes that change nothing never take it. A write that rolls
// back undoes its increment, so the numbers have no gaps.
func (db *DB) appendChange(ctx context.Context, tx pgx.Tx, ch change, now time.Time) error {
	_, err := tx.Exec(ctx, `WITH next AS (
			UPDATE change_counter SET seq = seq + 1 RETURNING seq
		), appended AS (
			INSERT INTO changes (seq, kind, id, at) SELECT seq, $1, $2, $3 FROM next RETURNING seq
		)
		SELECT pg_notify($4, seq::text) FROM appended`,
		string(ch.kind), ch.id, nanos(now), db.channel)
	if err != nil {
		return fmt.Errorf("record the change: %w", err)
	}
	return nil
}

// pruneDue reports whether this handle's last pruning is a minute old.
func (db *DB) pruneDue(now time.Time) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.lastPrune.IsZero() || now.Sub(db.lastPrune) >= pruneEvery
}

// prune deletes the changes older than the retention, in the write
// transaction tx. It deletes a prefix of the sequence, up to the newest old
// change, and records its number as pruned_through. Concurrent prunings are
// serialized by the lock of the pruned_through row, taken before any change
// is deleted.
func (db *DB) prune(ctx context.Context, tx pgx.Tx, now time.Time) error {
	cutoff := now.Add(-db.retention).UnixNano()
	var through *int64
	if err := tx.QueryRow(ctx, `SELECT max(seq) FROM changes WHERE at < $1`, cutoff).Scan(&through); err != nil || through == nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT value FROM meta WHERE name = 'pruned_through' FOR UPDATE`); err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM changes WHERE seq <= $1`, *through); err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO meta (name, value) VALUES ('pruned_through', $1)
		ON CONFLICT (name) DO UPDATE SET value = greatest(meta.value, excluded.value)`, *through)
	if err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	return nil
}

// LatestChange returns the sequence number of the newest committed change,
// 0 when none. It never goes backwards, pruning included.
func (db *DB) LatestChange(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.pool.QueryRow(ctx, `SELECT seq FROM change_counter`).Scan(&seq); err != nil {
		return 0, db.translate("read the latest change", err)
	}
	return seq, nil
}

// Changes returns up to limit changes with Seq > after, in Seq order.
// auth.ErrChangesPruned when some of them have been pruned.
func (db *DB) Changes(ctx context.Context, after int64, limit int) ([]auth.Change, error) {
	if limit < 1 {
		return nil, auth.Errorf(auth.EINVALID, "read changes: the limit must be at least 1, not %d", limit)
	}
	// One statement, so one snapshot: pruned_through and the changes agree.
	rows, err := db.pool.Query(ctx, `SELECT p.value, c.seq, c.kind, c.id, c.at
		FROM meta p LEFT JOIN LATERAL (
			SELECT seq, kind, id, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2
		) c ON true
		WHERE p.name = 'pruned_through'
		ORDER BY c.seq`, after, limit)
	if err != nil {
		return nil, db.translate(fmt.Sprintf("read changes after %d", after), err)
	}
	defer rows.Close()
	var changes []auth.Change
	for rows.Next() {
		var (
			pruned   int64
			seq, at  *int64
			kind, id *string
		)
		if err := rows.Scan(&pruned, &seq, &kind, &id, &at); err != nil {
			return nil, db.translate(fmt.Sprintf("read changes after %d", after), err)
		}
		if pruned > 0 && after < pruned {
			return nil, fmt.Errorf("read changes after %d: %w", after, auth.ErrChangesPruned)
		}
		if seq != nil { // nil: no change after `after`
			changes = append(changes, auth.Change{Seq: *seq, Kind: auth.ChangeKind(*kind), ID: *id, At: fromNanos(at)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate(fmt.Sprintf("read changes after %d", after), err)
	}
	return changes, nil
}

// channelName returns the channel of the change notifications of schema:
// gooclaim_changes, qualified with the schema when there is one, so that
// deployments in other schemas of the database do not wake each other.
// Channel names have at most 63 bytes: a long schema name is hashed.
func channelName(schema string) string {
	const base = "gooclaim_changes"
	if schema == "" {
		return base
	}
	if name := base + "." + schema; len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return base + "." + hex.EncodeToString(sum[:16])
}

// WatchChanges calls notify after changes have been committed, by this or
// any other process using the same schema, until ctx ends (it returns
// ctx.Err()) or its connection fails. It holds a connection of its own, not
// one of the pool's, LISTENing to the schema's channel; it calls notify once
// as soon as it listens, since changes may have been committed while it was
// not. notify must not block.
func (db *DB) WatchChanges(ctx context.Context, notify func()) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return db.translate("watch changes: connect", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return db.translate("watch changes: listen", err)
	}
	notify()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, db.watchPing)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			if n.Channel == db.channel {
				notify()
			}
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Quiet for a while: check that the server is still there, so
			// that a silently dropped connection does not go unnoticed.
			pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return db.translate("watch changes: check the connection", err)
			}
		default:
			return db.translate("watch changes", err)
		}
	}
}
