package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
)

var _ auth.BatchStore = (*Store)(nil)

// ApplyBatch makes b in one write transaction (auth.BatchStore): trusted
// issuers created, then updated, then clients created, updated and
// deleted, then issuers deleted. Each object is checked, stored and
// recorded (audit event and change-feed entry) as its single-object method
// does it, with the generic action of its kind whatever ctx's Action; the
// actor, remote address and source are ctx's. Updates are optimistic: an
// object whose stored UpdatedAt is not the one it carries has changed
// since it was read (ECONFLICT). Any error aborts the whole batch and
// names the object; on success the store's incarnations and times are
// written back into b's objects, as CreateClient does.
//
// Within each kind the objects are written in ID (name) order, so that
// concurrent batches lock rows in one order: the later one waits for the
// earlier and then finds what it changed, rather than deadlocking.
func (s *Store) ApplyBatch(ctx context.Context, b auth.Batch) error {
	if b.IsEmpty() {
		return nil
	}
	if err := checkBatch(b); err != nil {
		return err
	}
	// One batch writes objects of several kinds: no single action could
	// name them all, so each is recorded with its own kind's.
	a := auth.AuditFrom(ctx, "")
	a.Action = ""
	ctx = auth.WithAudit(ctx, a)

	n := len(b.CreateIssuers) + len(b.UpdateIssuers) + len(b.CreateClients) + len(b.UpdateClients) + len(b.DeleteClients) + len(b.DeleteIssuers)
	var done []func() // give b's objects what the store set, once committed
	err := s.write(ctx, fmt.Sprintf("apply %d writes", n), func(conn conn, now time.Time) ([]record, error) {
		done = done[:0]
		records := make([]record, 0, n)
		for _, t := range byKey(b.CreateIssuers, issuerName) {
			st, r, err := s.insertNewIssuer(ctx, conn, t, now)
			if err != nil {
				return nil, naming("trusted issuer", t.Name, err)
			}
			records, done = append(records, r), append(done, func() { t.CreatedAt, t.UpdatedAt = st.CreatedAt, st.UpdatedAt })
		}
		for _, t := range byKey(b.UpdateIssuers, issuerName) {
			st, r, err := s.updateIssuerIfUnchanged(ctx, conn, t, now)
			if err != nil {
				return nil, naming("trusted issuer", t.Name, err)
			}
			records, done = append(records, r), append(done, func() { t.CreatedAt, t.UpdatedAt = st.CreatedAt, st.UpdatedAt })
		}
		for _, c := range byKey(b.CreateClients, clientID) {
			sc, r, err := s.insertNewClient(ctx, conn, c, now)
			if err != nil {
				return nil, naming("client", c.ID, err)
			}
			records, done = append(records, r), append(done, func() { writeBack(c, sc, now) })
		}
		for _, c := range byKey(b.UpdateClients, clientID) {
			sc, r, err := s.updateClientIfUnchanged(ctx, conn, c, now)
			if err != nil {
				return nil, naming("client", c.ID, err)
			}
			records, done = append(records, r), append(done, func() { writeBack(c, sc, now) })
		}
		for _, id := range byKey(b.DeleteClients, same) {
			r, err := s.deleteClient(ctx, conn, id)
			if err != nil {
				return nil, naming("client", id, err)
			}
			records = append(records, r)
		}
		for _, name := range byKey(b.DeleteIssuers, same) {
			r, err := s.deleteIssuer(ctx, conn, name)
			if err != nil {
				return nil, naming("trusted issuer", name, err)
			}
			records = append(records, r)
		}
		return records, nil
	})
	if err != nil {
		return err
	}
	for _, f := range done {
		f()
	}
	return nil
}

// checkBatch checks every object of b as its single-object method would,
// before any transaction begins.
func checkBatch(b auth.Batch) error {
	for _, l := range [][]*auth.TrustedIssuer{b.CreateIssuers, b.UpdateIssuers} {
		for _, t := range l {
			if err := checkIssuerStorable(t); err != nil {
				return err
			}
		}
	}
	for _, l := range [][]*auth.Client{b.CreateClients, b.UpdateClients} {
		for _, c := range l {
			if err := c.CheckStorable(); err != nil {
				return err
			}
		}
	}
	return nil
}

// updateClientIfUnchanged replaces the stored client c.ID by a copy of c,
// as UpdateClient does, unless it was updated after c was read: ECONFLICT
// when its UpdatedAt is not c's.
func (s *Store) updateClientIfUnchanged(ctx context.Context, conn conn, c *auth.Client, now time.Time) (*auth.Client, record, error) {
	old, err := s.loadClient(ctx, conn, c.ID, true)
	if err != nil {
		return nil, record{}, err
	}
	if !old.UpdatedAt.Equal(c.UpdatedAt) {
		return nil, record{}, changedSinceRead("client", c.ID, old.UpdatedAt, c.UpdatedAt)
	}
	return s.replaceClient(ctx, conn, old, c.Clone(), now)
}

// updateIssuerIfUnchanged is updateClientIfUnchanged for a trusted issuer.
func (s *Store) updateIssuerIfUnchanged(ctx context.Context, conn conn, t *auth.TrustedIssuer, now time.Time) (*auth.TrustedIssuer, record, error) {
	old, err := s.loadIssuer(ctx, conn, t.Name, true)
	if err != nil {
		return nil, record{}, err
	}
	if !old.UpdatedAt.Equal(t.UpdatedAt) {
		return nil, record{}, changedSinceRead("trusted issuer", t.Name, old.UpdatedAt, t.UpdatedAt)
	}
	return s.replaceIssuer(ctx, conn, old, t.Clone(), now)
}

func changedSinceRead(kind, id string, stored, read time.Time) error {
	return auth.Errorf(auth.ECONFLICT, "%s %q changed since it was read (at %s, read as of %s): plan again",
		kind, id, stored.Format(time.RFC3339Nano), read.UTC().Format(time.RFC3339Nano))
}

// naming returns err with its message naming the object of a batch it is
// about (kind and id, such as client "x"), so that the caller, who sees
// only the domain message (auth.ErrorMessage), knows which one failed. A
// message that names it already is kept.
func naming(kind, id string, err error) error {
	name := fmt.Sprintf("%s %q", kind, id)
	var ae *auth.Error
	switch {
	case !errors.As(err, &ae):
		return fmt.Errorf("%s: %w", name, err)
	case strings.Contains(ae.Message, name):
		return err
	}
	return auth.Errorf(ae.Code, "%s: %s", name, ae.Message)
}

// byKey returns l sorted by key, leaving l as it is.
func byKey[T any](l []T, key func(T) string) []T {
	return slices.SortedStableFunc(slices.Values(l), func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

func clientID(c *auth.Client) string          { return c.ID }
func issuerName(t *auth.TrustedIssuer) string { return t.Name }
func same(s string) string                    { return s }
