// Package auth holds the domain of Gooclaim Auth, the OAuth 2.0 authorization
// server that issues access tokens to machine clients with the client
// credentials grant (RFC 6749 §4.4) as JWTs (RFC 9068).
//
// This package defines the types every other package speaks — Client, Secret,
// Key, Rate, TokenRequest, Token, Claims — the interfaces the adapters
// implement (ClientStore, KeyStore, ChangeFeed, Limiter, Clock), and the
// errors they return. It imports the standard library only; adapters
// (sqlite, inmem, jose, …) depend on it, never the other way round.
package auth

import (
	"context"
	"time"
)

// Store is everything the service keeps durably. Each storage backend
// (sqlite, postgres) implements it and passes authtest.RunStoreTests.
//
// Every write (to clients, trusted issuers, keys or revocations) appends an
// AuditEvent in its own transaction, with the actor read from the context
// (WithAudit).
type Store interface {
	ClientStore
	IssuerStore
	BatchStore
	KeyStore
	ChangeFeed
	RevocationStore
	AuditLog
	// Close releases the backend's connections.
	Close() error
}

// ClientStore keeps registered clients and their secret hashes.
type ClientStore interface {
	// CreateClient stores a new client with its secrets. ErrConflict when the ID is taken.
	CreateClient(ctx context.Context, c *Client) error
	// Client returns one client with its secrets. ErrNotFound when there is none.
	Client(ctx context.Context, id string) (*Client, error)
	// ListClients returns up to limit clients whose ID sorts after the given one,
	// in ID order, secrets included. Pass after="" for the first page.
	ListClients(ctx context.Context, after string, limit int) ([]*Client, error)
	// UpdateClient loads the client, lets fn change it and saves the result in one
	// transaction (a read-modify-write that cannot lose a concurrent update).
	// ErrNotFound when there is no such client; fn's error aborts and is returned.
	// The ID and CreatedAt cannot be changed; UpdatedAt is set by the store.
	UpdateClient(ctx context.Context, id string, fn func(*Client) error) (*Client, error)
	// DeleteClient removes the client and its secrets. ErrNotFound when there is none.
	DeleteClient(ctx context.Context, id string) error
	// CountClients returns how many clients are registered.
	CountClients(ctx context.Context) (int, error)
}

// KeyStore keeps the signing keys, private halves sealed under the key-encryption key.
type KeyStore interface {
	// Keys returns every stored key, oldest first (by CreatedAt, then ID).
	Keys(ctx context.Context) ([]Key, error)
	// UpdateKeys runs fn on the current key set inside one transaction and
	// replaces the set with what fn returns (keys absent from the result are
	// deleted, new ones inserted; keys are immutable otherwise). Concurrent
	// callers are serialized, so when several nodes rotate at once each fn sees
	// the result of the previous one and exactly one rotation happens. An error
	// from fn aborts and is returned unchanged.
	UpdateKeys(ctx context.Context, fn func(current []Key) ([]Key, error)) error
}

// ChangeKind names what a Change is about.
type ChangeKind string

const (
	ChangeClient ChangeKind = "client" // ID is the client's ID
	ChangeKeys   ChangeKind = "keys"   // the key set changed; ID is empty
	ChangeIssuer ChangeKind = "issuer" // ID is the trusted issuer's Name
)

// Change is one entry of the store's change feed: every write to a client or
// to the key set appends one, in the same transaction, so that in-memory
// replicas can follow the store without rereading it.
type Change struct {
	Seq  int64
	Kind ChangeKind
	ID   string
	At   time.Time
}

// ChangeFeed lets a replica catch up with writes made by other processes.
type ChangeFeed interface {
	// LatestChange returns the sequence number of the newest change (0 when none).
	LatestChange(ctx context.Context) (int64, error)
	// Changes returns up to limit changes with Seq > after, in Seq order.
	// ErrChangesPruned when changes after `after` have already been discarded:
	// the caller must reload everything.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
}

// Clock tells the time; tests replace it to control windows and expiries.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ChangeNotifier is implemented by stores that can signal new changes as
// they commit (PostgreSQL LISTEN/NOTIFY), so that replicas catch up at once
// instead of at their next poll. Polling stays as the safety net.
type ChangeNotifier interface {
	// WatchChanges calls notify after changes have been committed (by any
	// process), until ctx ends or the connection fails; it returns then.
	// notify must not block. Notifications may be merged or spurious.
	WatchChanges(ctx context.Context, notify func()) error
}
