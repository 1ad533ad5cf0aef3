package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gooclaim/auth"
)

// storeOp names one method of auth.Store (and the optional ones) in the
// operation label.
type storeOp int

const (
	opCreateClient storeOp = iota
	opClient
	opListClients
	opUpdateClient
	opDeleteClient
	opCountClients
	opKeys
	opUpdateKeys
	opLatestChange
	opChanges
	opRevokeToken
	opTokenRevoked
	opPruneRevocations
	opAuditEvents
	opRecordEvent
	opCreateIssuer
	opTrustedIssuer
	opListIssuers
	opUpdateIssuer
	opDeleteIssuer
	opApplyBatch
	opMigrate
	opWatchChanges
	numStoreOps
)

// StoreOperations are the operation label values of the store metrics, one
// per method, in the order of storeOp.
var StoreOperations = [numStoreOps]string{
	"create_client", "client", "list_clients", "update_client", "delete_client", "count_clients",
	"keys", "update_keys", "latest_change", "changes",
	"revoke_token", "token_revoked", "prune_revocations", "audit_events", "record_event",
	"create_issuer", "trusted_issuer", "list_issuers", "update_issuer", "delete_issuer",
	"apply_batch", "migrate", "watch_changes",
}

type storeOpMetrics struct {
	duration prometheus.Observer // nil for watch_changes, which lasts as long as the process
	errors   prometheus.Counter
}

func (m *Metrics) initStore() {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "store_operation_duration_seconds",
		Help:    "Time of each store operation (SQLite or PostgreSQL), whatever its result.",
		Buckets: LatencyBuckets,
	}, []string{"operation"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "store_errors_total",
		Help: "Store operations that failed: not the answers not found, conflict and invalid, nor the callback's own errors, nor a caller that gave up.",
	}, []string{"operation"})
	m.reg.MustRegister(duration, errs)
	for op, name := range StoreOperations {
		m.store[op].errors = errs.WithLabelValues(name)
		if storeOp(op) != opWatchChanges {
			m.store[op].duration = duration.WithLabelValues(name)
		}
	}
}

// Store returns s with every method timed and its failures counted under a
// fixed operation name. It is transparent: same results, same errors, and
// it keeps the optional interfaces s implements — auth.ChangeNotifier and
// Migrate(ctx) error — so that type assertions on it (inmem.Replica's for
// notifications, main's for migrations) still hold. Unwrap returns s.
//
// A store error is counted when the result is one of the backend's
// failures (auth.EINTERNAL, auth.EUNAVAILABLE): not found, conflict and
// invalid are answers, an error returned by UpdateClient's or UpdateKeys's
// callback is the caller's, and a canceled context is the caller giving up.
func Store(s auth.Store, m *Metrics) auth.Store {
	base := &store{next: s, m: m}
	_, migrates := s.(migrator)
	_, notifies := s.(auth.ChangeNotifier)
	switch {
	case migrates && notifies:
		return migratingNotifyingStore{base}
	case migrates:
		return migratingStore{base}
	case notifies:
		return notifyingStore{base}
	}
	return base
}

type migrator interface {
	Migrate(ctx context.Context) error
}

type store struct {
	next auth.Store
	m    *Metrics
}

type migratingStore struct{ *store }

type notifyingStore struct{ *store }

type migratingNotifyingStore struct{ *store }

var (
	_ auth.Store          = (*store)(nil)
	_ migrator            = migratingStore{}
	_ auth.ChangeNotifier = notifyingStore{}
	_ migrator            = migratingNotifyingStore{}
	_ auth.ChangeNotifier = migratingNotifyingStore{}
)

// Migrate brings the wrapped store's schema up to date.
func (s migratingStore) Migrate(ctx context.Context) error { return s.migrate(ctx) }

// WatchChanges relays the wrapped store's notifications.
func (s notifyingStore) WatchChanges(ctx context.Context, notify func()) error {
	return s.watchChanges(ctx, notify)
}

// Migrate brings the wrapped store's schema up to date.
func (s migratingNotifyingStore) Migrate(ctx context.Context) error { return s.migrate(ctx) }

// WatchChanges relays the wrapped store's notifications.
func (s migratingNotifyingStore) WatchChanges(ctx context.Context, notify func()) error {
	return s.watchChanges(ctx, notify)
}

// Unwrap returns the store that s instruments.
func (s *store) Unwrap() auth.Store { return s.next }

// observe records one operation that started at start and ended with
// *err; fnErr, when not nil, points at the last error the caller's
// callback returned.
func (s *store) observe(op storeOp, start time.Time, err *error, fnErr *error) {
	om := &s.m.store[op]
	if om.duration != nil {
		om.duration.Observe(time.Since(start).Seconds())
	}
	if isStoreFailure(*err, fnErr) {
		om.errors.Inc()
	}
}

func isStoreFailure(err error, fnErr *error) bool {
	switch {
	case err == nil,
		fnErr != nil && *fnErr != nil && errors.Is(err, *fnErr),
		errors.Is(err, context.Canceled),
		errors.Is(err, auth.ErrChangesPruned):
		return false
	}
	switch auth.ErrorCode(err) {
	case auth.ENOTFOUND, auth.ECONFLICT, auth.EINVALID:
		return false
	}
	return true
}

func (s *store) CreateClient(ctx context.Context, c *auth.Client) (err error) {
	defer s.observe(opCreateClient, time.Now(), &err, nil)
	return s.next.CreateClient(ctx, c)
}

func (s *store) Client(ctx context.Context, id string) (_ *auth.Client, err error) {
	defer s.observe(opClient, time.Now(), &err, nil)
	return s.next.Client(ctx, id)
}

func (s *store) ListClients(ctx context.Context, after string, limit int) (_ []*auth.Client, err error) {
	defer s.observe(opListClients, time.Now(), &err, nil)
	return s.next.ListClients(ctx, after, limit)
}

func (s *store) UpdateClient(ctx context.Context, id string, fn func(*auth.Client) error) (_ *auth.Client, err error) {
	var fnErr error
	defer s.observe(opUpdateClient, time.Now(), &err, &fnErr)
	return s.next.UpdateClient(ctx, id, func(c *auth.Client) error {
		fnErr = fn(c)
		return fnErr
	})
}

func (s *store) DeleteClient(ctx context.Context, id string) (err error) {
	defer s.observe(opDeleteClient, time.Now(), &err, nil)
	return s.next.DeleteClient(ctx, id)
}

func (s *store) CountClients(ctx context.Context) (_ int, err error) {
	defer s.observe(opCountClients, time.Now(), &err, nil)
	return s.next.CountClients(ctx)
}

func (s *store) Keys(ctx context.Context) (_ []auth.Key, err error) {
	defer s.observe(opKeys, time.Now(), &err, nil)
	return s.next.Keys(ctx)
}

func (s *store) UpdateKeys(ctx context.Context, fn func(current []auth.Key) ([]auth.Key, error)) (err error) {
	var fnErr error
	defer s.observe(opUpdateKeys, time.Now(), &err, &fnErr)
	return s.next.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
		keys, err := fn(current)
		fnErr = err
		return keys, err
	})
}

func (s *store) LatestChange(ctx context.Context) (_ int64, err error) {
	defer s.observe(opLatestChange, time.Now(), &err, nil)
	return s.next.LatestChange(ctx)
}

func (s *store) Changes(ctx context.Context, after int64, limit int) (_ []auth.Change, err error) {
	defer s.observe(opChanges, time.Now(), &err, nil)
	return s.next.Changes(ctx, after, limit)
}

func (s *store) RevokeToken(ctx context.Context, r auth.RevokedToken) (err error) {
	defer s.observe(opRevokeToken, time.Now(), &err, nil)
	return s.next.RevokeToken(ctx, r)
}

func (s *store) TokenRevoked(ctx context.Context, jti string) (_ bool, err error) {
	defer s.observe(opTokenRevoked, time.Now(), &err, nil)
	return s.next.TokenRevoked(ctx, jti)
}

func (s *store) PruneRevocations(ctx context.Context, before time.Time) (_ int, err error) {
	defer s.observe(opPruneRevocations, time.Now(), &err, nil)
	return s.next.PruneRevocations(ctx, before)
}

func (s *store) AuditEvents(ctx context.Context, q auth.AuditQuery) (_ []auth.AuditEvent, err error) {
	defer s.observe(opAuditEvents, time.Now(), &err, nil)
	return s.next.AuditEvents(ctx, q)
}

func (s *store) RecordEvent(ctx context.Context, e auth.AuditEvent) (err error) {
	defer s.observe(opRecordEvent, time.Now(), &err, nil)
	return s.next.RecordEvent(ctx, e)
}

func (s *store) CreateIssuer(ctx context.Context, t *auth.TrustedIssuer) (err error) {
	defer s.observe(opCreateIssuer, time.Now(), &err, nil)
	return s.next.CreateIssuer(ctx, t)
}

func (s *store) TrustedIssuer(ctx context.Context, name string) (_ *auth.TrustedIssuer, err error) {
	defer s.observe(opTrustedIssuer, time.Now(), &err, nil)
	return s.next.TrustedIssuer(ctx, name)
}

func (s *store) ListIssuers(ctx context.Context) (_ []*auth.TrustedIssuer, err error) {
	defer s.observe(opListIssuers, time.Now(), &err, nil)
	return s.next.ListIssuers(ctx)
}

func (s *store) UpdateIssuer(ctx context.Context, name string, fn func(*auth.TrustedIssuer) error) (_ *auth.TrustedIssuer, err error) {
	var fnErr error
	defer s.observe(opUpdateIssuer, time.Now(), &err, &fnErr)
	return s.next.UpdateIssuer(ctx, name, func(t *auth.TrustedIssuer) error {
		fnErr = fn(t)
		return fnErr
	})
}

func (s *store) DeleteIssuer(ctx context.Context, name string) (err error) {
	defer s.observe(opDeleteIssuer, time.Now(), &err, nil)
	return s.next.DeleteIssuer(ctx, name)
}

func (s *store) ApplyBatch(ctx context.Context, b auth.Batch) (err error) {
	defer s.observe(opApplyBatch, time.Now(), &err, nil)
	return s.next.ApplyBatch(ctx, b)
}

// Close closes the wrapped store.
func (s *store) Close() error { return s.next.Close() }

func (s *store) migrate(ctx context.Context) (err error) {
	defer s.observe(opMigrate, time.Now(), &err, nil)
	return s.next.(migrator).Migrate(ctx)
}

// watchChanges counts a notification connection that failed, not one that
// ended with ctx.
func (s *store) watchChanges(ctx context.Context, notify func()) (err error) {
	err = s.next.(auth.ChangeNotifier).WatchChanges(ctx, notify)
	if err != nil && ctx.Err() == nil {
		s.m.store[opWatchChanges].errors.Inc()
	}
	return err
}
