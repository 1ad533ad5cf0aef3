package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
)

// What audit events are about (auth.AuditEvent.TargetKind).
const (
	targetClient = "client"
	targetKeys   = "keys"
	targetToken  = "token"
)

// outcome is what a write that changed something appends after its own
// statements: the audit event (its At is set by write), and the change for
// the feed, nil for writes that replicas need not follow (revocations).
type outcome struct {
	event  auth.AuditEvent
	change *change
}

// newEvent returns the audit event of a write: who made it, from where and
// why from ctx (auth.AuditFrom, with action as the default), what it changed
// from the arguments.
func newEvent(ctx context.Context, action, kind, id string, before, after json.RawMessage) auth.AuditEvent {
	a := auth.AuditFrom(ctx, action)
	return auth.AuditEvent{
		Actor: a.Actor, Action: a.Action, RemoteAddr: a.RemoteAddr,
		TargetKind: kind, TargetID: id, Before: before, After: after,
	}
}

// appendEvent records e, at now, in the write transaction tx.
//
// Its number comes from the single row of audit_counter, incremented here,
// as change numbers come from change_counter (see appendChange): the row's
// lock is held until tx ends, so that recording transactions commit in the
// order of their numbers, and a reader that has seen event n has seen
// every event before it. Paging with AuditQuery.After therefore never skips
// one. A write that rolls back undoes its increment: the numbers have no
// gaps.
func appendEvent(ctx context.Context, tx pgx.Tx, e auth.AuditEvent, now time.Time) error {
	_, err := tx.Exec(ctx, `WITH next AS (
			UPDATE audit_counter SET seq = seq + 1 RETURNING seq
		)
		INSERT INTO audit_events (seq, at, actor, action, target_kind, target_id, remote_addr, before, after)
		SELECT seq, $1, $2, $3, $4, $5, $6, $7, $8 FROM next`,
		nanos(now), e.Actor, e.Action, e.TargetKind, e.TargetID, e.RemoteAddr, nullJSON(e.Before), nullJSON(e.After))
	if err != nil {
		return fmt.Errorf("record the audit event: %w", err)
	}
	return nil
}

const eventColumns = `seq, at, actor, action, target_kind, target_id, remote_addr, before, after`

// AuditEvents returns the events q selects, in Seq order, at most
// q.NormalizedLimit().
func (db *DB) AuditEvents(ctx context.Context, q auth.AuditQuery) ([]auth.AuditEvent, error) {
	where, args := []string{"seq > $1"}, []any{q.After}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.TargetID != "" {
		add("target_id = $%d", q.TargetID)
	}
	if q.Actor != "" {
		add("actor = $%d", q.Actor)
	}
	if q.Action != "" {
		add("action = $%d", q.Action)
	}
	if !q.Since.IsZero() {
		add("at >= $%d", boundNanos(q.Since))
	}
	if !q.Until.IsZero() {
		add("at < $%d", boundNanos(q.Until))
	}
	args = append(args, q.NormalizedLimit())
	rows, err := db.pool.Query(ctx, fmt.Sprintf(`SELECT `+eventColumns+` FROM audit_events
		WHERE %s ORDER BY seq LIMIT $%d`, strings.Join(where, " AND "), len(args)), args...)
	if err != nil {
		return nil, db.translate("read audit events", err)
	}
	defer rows.Close()
	var events []auth.AuditEvent
	for rows.Next() {
		var (
			e             auth.AuditEvent
			at            *int64
			before, after *string
		)
		err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.TargetKind, &e.TargetID, &e.RemoteAddr, &before, &after)
		if err != nil {
			return nil, db.translate("read audit events", err)
		}
		e.At, e.Before, e.After = fromNanos(at), rawJSON(before), rawJSON(after)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate("read audit events", err)
	}
	return events, nil
}

// nullJSON returns the text of a JSON value to store, nil (NULL) for a
// missing one or JSON null.
func nullJSON(v json.RawMessage) any {
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	return string(v)
}

// rawJSON returns a stored JSON value, JSON null for NULL.
func rawJSON(s *string) json.RawMessage {
	if s == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(*s)
}
