package server

import (
	"context"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
)

// maintainKeys creates, rotates and prunes keys when due, on every node
// (the store's transaction makes sure only one node's change happens), and
// prunes the revocations of expired tokens, every KeyCheckInterval until
// ctx ends.
func (s *Server) maintainKeys(ctx context.Context) {
	t := time.NewTicker(s.cfg.KeyCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := s.keys.Maintain(ctx)
			if err != nil {
				s.logger.Error("signing key maintenance failed; will retry", "err", err)
			} else if changed {
				s.logger.Info("signing keys rotated or pruned", "next_rotation", s.keys.NextRotation(time.Now()))
			}
			// Revoked token IDs are kept only while the tokens could still be used.
			if n, err := s.data.PruneRevocations(ctx, time.Now().Add(-time.Minute)); err != nil {
				s.logger.Error("pruning expired revocations failed; will retry", "err", err)
			} else if n > 0 {
				s.logger.Debug("pruned expired revocations", "count", n)
			}
		}
	}
}

// AdminService returns the management use cases over store for a process
// that changes the database without serving it, such as the CLI's
// commands; running servers see the changes within their poll interval.
// With a KEK it can also rotate and revoke signing keys, making new keys
// with alg or, when alg is empty, with the newest key's algorithm (ES256
// when there is none); without one, its Keys is nil.
func AdminService(ctx context.Context, store auth.Store, kek *signing.KEK, alg string) *admin.Service {
	svc := &admin.Service{Store: store}
	if kek != nil {
		if alg == "" {
			alg = currentAlgorithm(ctx, store)
		}
		svc.Keys = issuer.NewKeyRing(issuer.KeyPolicy{Algorithm: alg}, kek, store, nil)
	}
	return svc
}

// currentAlgorithm is the newest key's algorithm, ES256 when there is none.
func currentAlgorithm(ctx context.Context, store auth.KeyStore) string {
	keys, err := store.Keys(ctx)
	if err != nil || len(keys) == 0 {
		return auth.ES256
	}
	st := issuer.Statuses(keys, time.Now(), issuer.MaxTokenTTL)
	return st[len(st)-1].Key.Algorithm
}
