package auth

import (
	"context"
	"time"
)

// RevokedToken records one revoked access token (RFC 7009), kept only until
// the token would have expired anyway.
type RevokedToken struct {
	JTI       string
	ClientID  string
	ExpiresAt time.Time
	RevokedAt time.Time
}

// RevocationStore keeps revoked token IDs. Revoking every token of a client
// is Client.TokensRevokedBefore, a client setting, not a list.
type RevocationStore interface {
	// RevokeToken records r. Revoking a token twice is not an error (the
	// first record stays).
	RevokeToken(ctx context.Context, r RevokedToken) error
	// TokenRevoked reports whether the token with this jti is revoked.
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// PruneRevocations deletes the records of tokens that expired before t,
	// which can no longer be used anyway, and returns how many it deleted.
	PruneRevocations(ctx context.Context, before time.Time) (int, error)
}

// ReplayCache remembers one-time values, such as the jti of client
// assertions (RFC 7523 §3, item 7), until they expire. The in-memory one
// (inmem) serves one node; the Redis one (redis) the whole fleet.
type ReplayCache interface {
	// Use records key until the given time. It returns false when key is
	// already recorded and not yet expired: a replay.
	Use(ctx context.Context, key string, until time.Time) (bool, error)
}
