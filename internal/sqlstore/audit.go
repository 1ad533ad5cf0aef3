package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gooclaim/auth"
)

// What audit events are about (auth.AuditEvent.TargetKind).
const (
	targetClient = "client"
	targetKeys   = "keys"
	targetToken  = "token"
)

// newEvent returns the audit event of a write: who made it, from where and
// why from ctx (auth.AuditFrom, with action as the default), what it changed
// from the arguments.
func newEvent(ctx context.Context, action, kind, id string, before, after json.RawMessage) auth.AuditEvent {
	a := auth.AuditFrom(ctx, action)
	return auth.AuditEvent{
		Actor: a.Actor, Action: a.Action, RemoteAddr: a.RemoteAddr, Source: a.Source,
		TargetKind: kind, TargetID: id, Before: before, After: after,
	}
}

// appendEvent records e, at now, in the write transaction of conn
// (Dialect.AppendEvent).
func (s *Store) appendEvent(ctx context.Context, conn conn, e auth.AuditEvent, now time.Time) error {
	_, err := conn.exec(ctx, s.d.AppendEvent,
		nanos(now), e.Actor, e.Action, e.TargetKind, e.TargetID, e.RemoteAddr, nullJSON(e.Before), nullJSON(e.After), e.Source)
	if err != nil {
		return fmt.Errorf("record the audit event: %w", err)
	}
	return nil
}

const eventColumns = `seq, at, actor, action, target_kind, target_id, remote_addr, before, after, source`

// AuditEvents returns the events q selects, in Seq order, at most
// q.NormalizedLimit().
func (s *Store) AuditEvents(ctx context.Context, q auth.AuditQuery) ([]auth.AuditEvent, error) {
	where, args := []string{"seq > ?"}, []any{q.After}
	for _, f := range []struct{ column, value string }{
		{"target_id", q.TargetID}, {"actor", q.Actor}, {"action", q.Action},
	} {
		if f.value != "" {
			where, args = append(where, f.column+" = ?"), append(args, f.value)
		}
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, boundNanos(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, boundNanos(q.Until))
	}
	args = append(args, q.NormalizedLimit())
	rows, err := s.conn(s.db).query(ctx, `SELECT `+eventColumns+` FROM audit_events
		WHERE `+strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`, args...)
	if err != nil {
		return nil, s.translate("read audit events", err)
	}
	defer rows.Close()
	var events []auth.AuditEvent
	for rows.Next() {
		var (
			e             auth.AuditEvent
			at            sql.NullInt64
			before, after sql.NullString
		)
		err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.TargetKind, &e.TargetID, &e.RemoteAddr, &before, &after, &e.Source)
		if err != nil {
			return nil, s.translate("read audit events", err)
		}
		e.At, e.Before, e.After = fromNanos(at), rawJSON(before), rawJSON(after)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.translate("read audit events", err)
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
func rawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return json.RawMessage("null")
	}
	return json.RawMessage(s.String)
}

// RecordEvent appends e, an event that goes with no change (a quota
// breach), through write like every event, so that it is numbered and
// timed like the others.
func (s *Store) RecordEvent(ctx context.Context, e auth.AuditEvent) error {
	if e.Actor == "" || e.Action == "" {
		return auth.Errorf(auth.EINVALID, "record an audit event: the actor and the action are required")
	}
	return s.write(ctx, "record audit event "+e.Action, func(conn, time.Time) ([]record, error) {
		return []record{{event: e}}, nil
	})
}
