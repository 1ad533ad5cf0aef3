package postgres

// What only pgx can do: relay PostgreSQL's change notifications, which
// the dialect's AppendChange sends (pg_notify) as it numbers a change.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

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
		return db.dialect.Translate("watch changes: connect", err)
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
		return db.dialect.Translate("watch changes: listen", err)
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
				return db.dialect.Translate("watch changes: check the connection", err)
			}
		default:
			return db.dialect.Translate("watch changes", err)
		}
	}
}
