package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gooclaim/auth"
)

// CreateClients stores many new clients in one transaction: each as
// CreateClient would (the same checks, audit event and change-feed entry),
// but with one commit for all of them, which makes creating a large number
// of clients (an import, a load test) a matter of seconds rather than of one
// commit per client. Nothing is stored if any of them fails; ECONFLICT when
// an ID is taken. Incarnations and timestamps are set and written back as CreateClient does.
func (db *DB) CreateClients(ctx context.Context, cs []*auth.Client) error {
	for _, c := range cs {
		if err := c.CheckStorable(); err != nil {
			return err
		}
	}
	if len(cs) == 0 {
		return nil
	}
	stored := make([]*auth.Client, len(cs))
	err := db.write(ctx, fmt.Sprintf("create %d clients", len(cs)), func(tx *sql.Tx, now time.Time) (*outcome, error) {
		for i, c := range cs {
			s := c.Clone()
			s.Incarnation = auth.NewIncarnation()
			if s.CreatedAt.IsZero() {
				s.CreatedAt = now
			}
			if s.UpdatedAt.IsZero() {
				s.UpdatedAt = now
			}
			s.StampSecrets(now)
			if err := insertClient(ctx, tx, s); err != nil {
				return nil, fmt.Errorf("client %q: %w", c.ID, err)
			}
			if err := appendEvent(ctx, tx, newEvent(ctx, auth.ActionClientCreate, targetClient, c.ID, nil, auth.AuditClientView(s)), now); err != nil {
				return nil, err
			}
			if err := appendChange(ctx, tx, change{auth.ChangeClient, c.ID}, now); err != nil {
				return nil, err
			}
			stored[i] = s
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	for i, c := range cs {
		c.Incarnation, c.CreatedAt, c.UpdatedAt = stored[i].Incarnation, stored[i].CreatedAt, stored[i].UpdatedAt
		for j := range c.Secrets {
			c.Secrets[j].CreatedAt = stored[i].Secrets[j].CreatedAt
		}
	}
	return nil
}
