package auth

import "context"

// ManagedByApply marks a client or trusted issuer as managed by a
// configuration file (gooclaim-auth apply): created by an apply, or
// adopted by one explicitly. Only such objects are ever deleted by an
// apply with --prune; objects made by hand have ManagedBy "".
const ManagedByApply = "apply"

// Batch is a set of writes to clients and trusted issuers that a
// BatchStore makes in one transaction: all of them or none.
//
// Updates are optimistic: each updated object carries the UpdatedAt it had
// when it was read, and the store refuses the whole batch (ECONFLICT) when
// the object has changed since, so that two applies planned against the
// same state cannot both succeed and a change made meanwhile by hand is
// never overwritten unseen.
type Batch struct {
	// CreateIssuers are stored first, so that clients created or updated
	// in the same batch can bind to them.
	CreateIssuers []*TrustedIssuer
	// UpdateIssuers replace the issuers of the same Name (every setting;
	// Name and CreatedAt kept).
	UpdateIssuers []*TrustedIssuer
	// CreateClients are stored as CreateClient stores them (new
	// incarnation, secrets with their hashes).
	CreateClients []*Client
	// UpdateClients replace the clients of the same ID: every setting, the
	// secrets included (ID, Incarnation and CreatedAt kept).
	UpdateClients []*Client
	// DeleteClients and DeleteIssuers name what to delete; clients go
	// before issuers, so that an issuer whose last bound client is deleted
	// in the batch can go too.
	DeleteClients []string
	DeleteIssuers []string
}

// IsEmpty reports whether b writes nothing.
func (b *Batch) IsEmpty() bool {
	return len(b.CreateIssuers)+len(b.UpdateIssuers)+len(b.CreateClients)+len(b.UpdateClients)+len(b.DeleteClients)+len(b.DeleteIssuers) == 0
}

// BatchStore makes a Batch in one transaction, with an audit event and a
// change-feed entry per object written. The events have the actor, remote
// address and source read from ctx, as for every write, but each the
// generic action of its object's kind (ActionClientCreate, …,
// ActionIssuerDelete), whatever ctx's Action: one batch mixes kinds. Any
// failure — a conflict, an object missing, an updated object changed
// since it was read — aborts the whole batch and is returned, naming the
// object in its message; nothing is written. On success the times and
// incarnations the store set are written back into the batch's objects,
// as CreateClient does.
type BatchStore interface {
	ApplyBatch(ctx context.Context, b Batch) error
}
