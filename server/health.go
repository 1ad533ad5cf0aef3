package server

import (
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/postgres"
	"github.com/gooclaim/auth/sqlite"
)

// Health is whether the node should receive traffic, with the state of
// what it depends on. The operations listener's /readyz serves it as its
// detail (the JSON below); the public /readyz tells Ready alone. A node
// keeps serving while the store or Redis is down (from its replica, with
// the fallback limiter), so those degrade the detail, not readiness —
// until the replica is older than Config.MaxStaleness.
type Health struct {
	// Ready is false without a signing key, past MaxStaleness, and from
	// the start of a shutdown.
	Ready bool `json:"-"`
	// Keys is the signing keys' state.
	Keys KeysHealth `json:"keys"`
	// RateLimiter is the rate limiter's state.
	RateLimiter LimiterHealth `json:"rate_limiter"`
	// Reason says why the node is not ready; empty when it is.
	Reason string `json:"reason,omitempty"`
	// Store is the state of the store and of the replica read from it.
	Store StoreHealth `json:"store"`
}

// KeysHealth is the signing keys' state: the key that signs now, or why
// there is none.
type KeysHealth struct {
	ActiveKID string `json:"active_kid,omitempty"`
	Algorithm string `json:"alg,omitempty"`
	// Error says why no key can sign now.
	Error string `json:"error,omitempty"`
	// NextRotation is when the next key takes over; zero when none is due.
	NextRotation time.Time `json:"next_rotation,omitzero"`
}

// StoreHealth is the store's state as the replica sees it.
type StoreHealth struct {
	// Backend is "sqlite" or "postgres" ("other" for another store).
	Backend string `json:"backend"`
	// Clients is the number of clients in memory.
	Clients int `json:"clients"`
	// LastError is the last failed read's error while State is "unreachable".
	LastError string `json:"last_error,omitempty"`
	// LastSync is when the replica was last in step with the store.
	LastSync time.Time `json:"last_sync"`
	// MaxStalenessMS is Config.MaxStaleness in milliseconds; absent for no bound.
	MaxStalenessMS int64 `json:"max_staleness_ms,omitzero"`
	// State is "ok", or "unreachable" when the last read failed.
	State string `json:"state"`
	// SyncAgeMS is the time since LastSync in milliseconds.
	SyncAgeMS int64 `json:"sync_age_ms"`
}

// LimiterHealth is the rate limiter's state: Backend, and the detail of
// the in-memory limiter or of Redis (the other is nil).
type LimiterHealth struct {
	// Backend decides the limits now: "memory" without Redis; with it
	// "redis", "fallback" (per node while Redis is unreachable) or
	// "unavailable" (Redis unreachable, failing closed).
	Backend string `json:"backend"`
	*MemoryLimiterHealth
	*RedisLimiterHealth
}

// MemoryLimiterHealth is the state of the in-memory limiter of a node
// without Redis.
type MemoryLimiterHealth struct {
	// TrackedKeys is how many client IDs and addresses it holds.
	TrackedKeys int `json:"tracked_keys"`
}

// RedisLimiterHealth is the state of the Redis limiter.
type RedisLimiterHealth struct {
	// Fail is what happens while Redis is unreachable: "open" (each node
	// limits on its own) or "closed" (503).
	Fail string `json:"fail"`
	// FallbackRequests counts the requests decided by the fallback.
	FallbackRequests uint64 `json:"fallback_requests"`
	// LastError is why Redis counts as unreachable, if it does.
	LastError string `json:"last_error,omitempty"`
	// Since is when Backend last changed.
	Since time.Time `json:"since"`
}

// reasonShuttingDown is Health.Reason from the start of a shutdown.
const reasonShuttingDown = "shutting down"

// Health reports the node's health now.
func (s *Server) Health() Health {
	if !s.running.Load() {
		return Health{Reason: "not started"}
	}
	now := time.Now()
	h := Health{Ready: true}
	if signer, err := s.keys.Signer(now); err != nil {
		h.Ready, h.Reason = false, err.Error()
		h.Keys.Error = err.Error()
	} else {
		h.Keys.ActiveKID, h.Keys.Algorithm = signer.KeyID(), signer.Algorithm()
		h.Keys.NextRotation = s.keys.NextRotation(now)
	}
	if err := s.fresh(); err != nil {
		h.Ready, h.Reason = false, auth.ErrorMessage(err)
	}
	if s.stopping.Load() {
		h.Ready, h.Reason = false, reasonShuttingDown
	}
	last := s.replica.LastSync()
	h.Store = StoreHealth{
		Backend:        storeBackend(s.cfg.Store),
		Clients:        s.replica.Len(),
		LastSync:       last,
		SyncAgeMS:      now.Sub(last).Milliseconds(),
		State:          "ok",
		MaxStalenessMS: s.cfg.MaxStaleness.Milliseconds(),
	}
	if err := s.replica.SyncError(); err != nil {
		h.Store.State, h.Store.LastError = "unreachable", auth.ErrorMessage(err)
	}
	h.RateLimiter = s.limiterHealth()
	return h
}

// ready is the public /readyz's answer: Health's Ready, without the detail.
func (s *Server) ready() bool {
	if s.stopping.Load() || s.fresh() != nil {
		return false
	}
	_, err := s.keys.Signer(time.Now())
	return err == nil
}

// fresh returns an auth.EUNAVAILABLE error when the replica has not been
// in step with the store for longer than Config.MaxStaleness. Until then a
// node that cannot reach its database keeps issuing tokens from memory;
// past it, it fails closed: otherwise a client disabled or deleted
// meanwhile (on another node, or once the database is back on a node
// partitioned from it) would stay usable for as long as the outage lasts.
func (s *Server) fresh() error {
	bound := s.cfg.MaxStaleness
	if bound <= 0 {
		return nil
	}
	if age := time.Since(s.replica.LastSync()); age > bound {
		return auth.Errorf(auth.EUNAVAILABLE, "the clients and keys in memory were last read from the database %s ago, more than --max-staleness %s: the database is unreachable", auth.FormatDuration(age.Truncate(time.Second)), auth.FormatDuration(bound))
	}
	return nil
}

func storeBackend(store auth.Store) string {
	switch store.(type) {
	case *postgres.DB:
		return "postgres"
	case *sqlite.DB:
		return "sqlite"
	}
	return "other"
}

func (s *Server) limiterHealth() LimiterHealth {
	if s.redis == nil {
		return LimiterHealth{Backend: "memory", MemoryLimiterHealth: &MemoryLimiterHealth{TrackedKeys: s.limiter.Len()}}
	}
	st := s.redis.State()
	fail := "open"
	if s.cfg.RateLimitFailClosed {
		fail = "closed"
	}
	return LimiterHealth{Backend: st.Backend, RedisLimiterHealth: &RedisLimiterHealth{
		Fail: fail, FallbackRequests: st.Fallbacks, LastError: st.LastError, Since: st.Since}}
}
