package inmem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth"
)

// ReplicaOptions tune a Replica. The zero value works.
type ReplicaOptions struct {
	// PollInterval is how often the change feed is read. Default 500ms.
	PollInterval time.Duration
	// FullReloadInterval is how often everything is reread, a safety net
	// under the change feed. Default 10m.
	FullReloadInterval time.Duration
	// PageSize is how many clients are read per query during a full load. Default 1000.
	PageSize int
	// OnKeys is called with the whole key set after every load that changed it.
	OnKeys func([]auth.Key) error
	// OnClient is called with a client's ID after the replica applied a
	// change of it from the feed — an update, a deletion, or one of its
	// tokens revoked (RFC 7009) on any node —, and with "" after a full
	// load, which may have skipped such changes: for caches of what was
	// issued to clients (issuer.TokenCache.Forget). It must not block.
	OnClient func(id string)
	// Logger receives sync failures (once per episode) and recoveries. Default slog.Default().
	Logger *slog.Logger
}

// Replica is an in-memory copy of the store's clients, keys and trusted
// issuers, kept fresh
// from the store's change feed, so that the token endpoint touches neither
// disk nor database. It embeds the store: reads other than Lookup and Keys
// and all writes go to the store, and writes are applied to the copy at once
// so that the node that made a change sees it immediately. The clients are
// held encoded, out of the garbage collector's sight (see table), so a
// million of them cost the token endpoint nothing per request.
type Replica struct {
	auth.Store
	opts ReplicaOptions

	mu      sync.RWMutex
	clients *table
	keys    []auth.Key
	// scopeCount counts the clients that have each scope, kept up to date
	// as clients change, so that Scopes never walks every client; scopes is
	// its sorted keys, nil when stale.
	scopeCount map[string]int
	scopes     []string
	// issuers are the trusted issuers by their Issuer URL, replaced whole
	// when any changes (they are few); the values are never modified.
	issuers map[string]*auth.TrustedIssuer
	// federated maps the clients' federated identities to the ID of the
	// client bound to each. It holds only clients that have some, so it
	// costs nothing to registries without them.
	federated map[auth.FederatedIdentity]string
	seq       int64

	syncMu   sync.Mutex // one Load or Sync at a time
	lastSync atomic.Int64
	failing  atomic.Bool
	syncErr  atomic.Pointer[error] // the last refresh's failure, nil after a success
}

// NewReplica returns an empty replica of store; call Load before use.
func NewReplica(store auth.Store, opts ReplicaOptions) *Replica {
	if opts.PollInterval == 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.FullReloadInterval == 0 {
		opts.FullReloadInterval = 10 * time.Minute
	}
	if opts.PageSize == 0 {
		opts.PageSize = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Replica{Store: store, opts: opts, clients: newTable(0), scopeCount: map[string]int{},
		issuers: map[string]*auth.TrustedIssuer{}, federated: map[auth.FederatedIdentity]string{}}
}

var _ auth.Federation = (*Replica)(nil)

// IssuerByURL returns the trusted issuer whose Issuer is iss, nil if none,
// disabled or not. It is shared: callers must not modify it.
func (r *Replica) IssuerByURL(iss string) *auth.TrustedIssuer {
	r.mu.RLock()
	t := r.issuers[iss]
	r.mu.RUnlock()
	return t
}

// FederatedClient returns the client bound to subject of the issuer named
// issuer, nil if none, whatever the client's state (disabled clients are
// the caller's to refuse). The client is shared as Lookup's is.
func (r *Replica) FederatedClient(issuer, subject string) *auth.Client {
	f := auth.FederatedIdentity{Issuer: issuer, Subject: subject}
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, ok := r.federated[f]
	if !ok {
		return nil
	}
	c := r.clients.get(id)
	// The index may run ahead of a client's record while changes are
	// being applied (one client took the identity, the other's release is
	// still to come); the record decides.
	if c == nil || !slices.Contains(c.Federated, f) {
		return nil
	}
	return c
}

// indexFederated replaces old's federated identities in index by c's;
// either may be nil. An entry is removed only while it still names old's
// client, so that applying the changes of an identity that moved from one
// client to another in either order ends with the new owner.
func indexFederated(index map[auth.FederatedIdentity]string, old, c *auth.Client) {
	if old != nil {
		for _, f := range old.Federated {
			if index[f] == old.ID {
				delete(index, f)
			}
		}
	}
	if c != nil {
		for _, f := range c.Federated {
			index[f] = c.ID
		}
	}
}

// issuersByURL indexes ts by their Issuer.
func issuersByURL(ts []*auth.TrustedIssuer) map[string]*auth.TrustedIssuer {
	m := make(map[string]*auth.TrustedIssuer, len(ts))
	for _, t := range ts {
		m[t.Issuer] = t
	}
	return m
}

// reloadIssuers rereads every trusted issuer.
func (r *Replica) reloadIssuers(ctx context.Context) error {
	ts, err := r.Store.ListIssuers(ctx)
	if err != nil {
		return fmt.Errorf("reload trusted issuers: %w", err)
	}
	m := issuersByURL(ts)
	r.mu.Lock()
	r.issuers = m
	r.mu.Unlock()
	return nil
}

// Lookup returns the client with the given ID, nil if none. The client is
// a fresh copy, but its lists and maps may be shared (callers must not
// modify them)
// and its strings and JWKS point into the replica's record chunks: a
// caller that keeps one for long (a cache key) should keep a copy, or it
// keeps a chunk of up to 1 MiB alive after the replica has dropped it.
func (r *Replica) Lookup(id string) *auth.Client {
	r.mu.RLock()
	c := r.clients.get(id)
	r.mu.RUnlock()
	return c
}

// Len returns the number of clients held.
func (r *Replica) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.clients.len()
}

// Scopes returns every scope some client may be granted, sorted. It costs
// the number of distinct scopes, not of clients: the discovery document
// calls it, and a walk over a million clients under the write lock would
// stall every token request after each client change.
func (r *Replica) Scopes() []string {
	r.mu.RLock()
	s := r.scopes
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scopes == nil {
		r.scopes = slices.Sorted(maps.Keys(r.scopeCount))
	}
	return r.scopes
}

// countScopes adds delta to the count of each of c's scopes and marks the
// sorted list stale when a scope appears or disappears. r.mu must be held
// for writing (or r not yet shared).
func (r *Replica) countScopes(counts map[string]int, c *auth.Client, delta int) {
	if c == nil {
		return
	}
	for _, sc := range c.Scopes {
		n := counts[sc] + delta
		if n <= 0 {
			delete(counts, sc)
			r.scopes = nil
		} else {
			if n == delta {
				r.scopes = nil
			}
			counts[sc] = n
		}
	}
}

// LastSync returns when the replica was last known to match the store.
func (r *Replica) LastSync() time.Time {
	n := r.lastSync.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SyncError returns why the last background refresh (Run) failed, nil if
// it succeeded: while it is not nil the replica serves its last copy.
func (r *Replica) SyncError() error {
	if p := r.syncErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Seq returns the change sequence number the replica has caught up to.
func (r *Replica) Seq() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.seq
}

// Load rereads everything from the store.
func (r *Replica) Load(ctx context.Context) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	return r.load(ctx)
}

func (r *Replica) load(ctx context.Context) error {
	// Read the sequence first: a write racing with the load is then also in
	// the feed after seq and is applied again by the next Sync (idempotent).
	seq, err := r.Store.LatestChange(ctx)
	if err != nil {
		return fmt.Errorf("read change feed position: %w", err)
	}
	clients := newTable(r.Len())
	counts := map[string]int{}
	federated := map[auth.FederatedIdentity]string{}
	after := ""
	for {
		page, err := r.Store.ListClients(ctx, after, r.opts.PageSize)
		if err != nil {
			return fmt.Errorf("load clients: %w", err)
		}
		for _, c := range page {
			if old := clients.get(c.ID); old != nil { // not from a well-behaved store
				for _, sc := range old.Scopes {
					if counts[sc]--; counts[sc] == 0 {
						delete(counts, sc)
					}
				}
				indexFederated(federated, old, nil)
			}
			if len(c.Federated) > 0 {
				indexFederated(federated, nil, c)
			}
			clients.put(c)
			for _, sc := range c.Scopes {
				counts[sc]++
			}
		}
		if len(page) < r.opts.PageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	issuers, err := r.Store.ListIssuers(ctx)
	if err != nil {
		return fmt.Errorf("load trusted issuers: %w", err)
	}
	keys, err := r.Store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if err := r.setKeys(keys); err != nil {
		return err
	}
	r.mu.Lock()
	moved := seq != r.seq
	r.clients, r.seq, r.scopeCount, r.scopes = clients, seq, counts, nil
	r.issuers, r.federated = issuersByURL(issuers), federated
	r.mu.Unlock()
	r.lastSync.Store(time.Now().UnixNano())
	if moved && r.opts.OnClient != nil {
		r.opts.OnClient("") // the changes read at once, whatever they were
	}
	return nil
}

func (r *Replica) setKeys(keys []auth.Key) error {
	r.mu.RLock()
	cur := r.keys
	r.mu.RUnlock()
	if cur != nil && slices.EqualFunc(cur, keys, func(a, b auth.Key) bool { return a.ID == b.ID }) {
		return nil
	}
	if r.opts.OnKeys != nil {
		if err := r.opts.OnKeys(keys); err != nil {
			return err
		}
	}
	if keys == nil {
		keys = []auth.Key{}
	}
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	return nil
}

// maxIncremental is the backlog past which a full load is cheaper than
// applying changes one by one.
const maxIncremental = 10_000

// Sync applies the changes made since the last Load or Sync.
func (r *Replica) Sync(ctx context.Context) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	applied := 0
	for {
		changes, err := r.Store.Changes(ctx, r.Seq(), r.opts.PageSize)
		if errors.Is(err, auth.ErrChangesPruned) {
			return r.load(ctx)
		}
		if err != nil {
			return fmt.Errorf("read change feed: %w", err)
		}
		if len(changes) == 0 {
			r.mu.RLock()
			wasteful := r.clients.wasteful()
			r.mu.RUnlock()
			if wasteful { // updates have left more dead records than live ones
				return r.load(ctx)
			}
			r.lastSync.Store(time.Now().UnixNano())
			return nil
		}
		if applied += len(changes); applied > maxIncremental {
			return r.load(ctx)
		}
		if err := r.apply(ctx, changes); err != nil {
			return err
		}
	}
}

func (r *Replica) apply(ctx context.Context, changes []auth.Change) error {
	seen := map[string]bool{}
	keys, issuers := false, false
	for _, ch := range changes {
		switch ch.Kind {
		case auth.ChangeKeys:
			keys = true
		case auth.ChangeIssuer:
			issuers = true
		case auth.ChangeClient:
			if seen[ch.ID] {
				continue
			}
			seen[ch.ID] = true
			c, err := r.Store.Client(ctx, ch.ID)
			switch {
			case errors.Is(err, auth.ErrNotFound):
				c = nil
			case err != nil:
				return fmt.Errorf("reload client %q: %w", ch.ID, err)
			}
			r.mu.Lock()
			old := r.clients.get(ch.ID)
			r.countScopes(r.scopeCount, old, -1)
			indexFederated(r.federated, old, c)
			if c == nil {
				r.clients.delete(ch.ID)
			} else {
				r.clients.put(c)
			}
			r.countScopes(r.scopeCount, c, +1)
			r.mu.Unlock()
			if r.opts.OnClient != nil {
				r.opts.OnClient(ch.ID)
			}
		}
	}
	if issuers {
		if err := r.reloadIssuers(ctx); err != nil {
			return err
		}
	}
	if keys {
		ks, err := r.Store.Keys(ctx)
		if err != nil {
			return fmt.Errorf("reload signing keys: %w", err)
		}
		if err := r.setKeys(ks); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.seq = changes[len(changes)-1].Seq
	r.mu.Unlock()
	return nil
}

// Run keeps the replica fresh until ctx ends: Sync every PollInterval and
// whenever a store that is an auth.ChangeNotifier signals a commit, and a
// full Load every FullReloadInterval. A failure is logged once per episode;
// the replica keeps serving what it has.
func (r *Replica) Run(ctx context.Context) {
	kick := make(chan struct{}, 1)
	if n, ok := r.Store.(auth.ChangeNotifier); ok {
		go r.watch(ctx, n, kick)
	}
	poll := time.NewTicker(r.opts.PollInterval)
	defer poll.Stop()
	full := time.NewTicker(r.opts.FullReloadInterval)
	defer full.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-kick:
			err = r.Sync(ctx)
		case <-poll.C:
			err = r.Sync(ctx)
		case <-full.C:
			err = r.Load(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		r.report(err)
	}
}

// watch relays the store's change notifications to kick, reconnecting with
// a capped backoff when the notification connection fails; polling covers
// the gaps.
func (r *Replica) watch(ctx context.Context, n auth.ChangeNotifier, kick chan<- struct{}) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := n.WatchChanges(ctx, func() {
			select {
			case kick <- struct{}{}:
			default: // a Sync is already due
			}
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		r.opts.Logger.Warn("change notifications interrupted; polling meanwhile", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (r *Replica) report(err error) {
	if err != nil {
		r.syncErr.Store(&err)
	} else {
		r.syncErr.Store(nil)
	}
	switch {
	case err != nil && !r.failing.Swap(true):
		r.opts.Logger.Error("cannot refresh clients and keys from the store; serving the last copy", "err", err, "last_sync", r.LastSync())
	case err == nil && r.failing.Swap(false):
		r.opts.Logger.Info("refreshing from the store works again")
	}
}

// Write-through: the store first, then catch up, so this node sees its own change.

// CreateClient creates the client in the store and in the replica.
func (r *Replica) CreateClient(ctx context.Context, c *auth.Client) error {
	if err := r.Store.CreateClient(ctx, c); err != nil {
		return err
	}
	return r.Sync(ctx)
}

// UpdateClient updates the client in the store and in the replica.
func (r *Replica) UpdateClient(ctx context.Context, id string, fn func(*auth.Client) error) (*auth.Client, error) {
	c, err := r.Store.UpdateClient(ctx, id, fn)
	if err != nil {
		return nil, err
	}
	return c, r.Sync(ctx)
}

// DeleteClient deletes the client from the store and the replica.
func (r *Replica) DeleteClient(ctx context.Context, id string) error {
	if err := r.Store.DeleteClient(ctx, id); err != nil {
		return err
	}
	return r.Sync(ctx)
}

// CreateIssuer creates the trusted issuer in the store and in the replica.
func (r *Replica) CreateIssuer(ctx context.Context, t *auth.TrustedIssuer) error {
	if err := r.Store.CreateIssuer(ctx, t); err != nil {
		return err
	}
	return r.Sync(ctx)
}

// UpdateIssuer updates the trusted issuer in the store and in the replica.
func (r *Replica) UpdateIssuer(ctx context.Context, name string, fn func(*auth.TrustedIssuer) error) (*auth.TrustedIssuer, error) {
	t, err := r.Store.UpdateIssuer(ctx, name, fn)
	if err != nil {
		return nil, err
	}
	return t, r.Sync(ctx)
}

// DeleteIssuer deletes the trusted issuer from the store and the replica.
func (r *Replica) DeleteIssuer(ctx context.Context, name string) error {
	if err := r.Store.DeleteIssuer(ctx, name); err != nil {
		return err
	}
	return r.Sync(ctx)
}

// ApplyBatch makes the batch in the store and in the replica.
func (r *Replica) ApplyBatch(ctx context.Context, b auth.Batch) error {
	if err := r.Store.ApplyBatch(ctx, b); err != nil {
		return err
	}
	return r.Sync(ctx)
}

// UpdateKeys changes the key set in the store and in the replica.
func (r *Replica) UpdateKeys(ctx context.Context, fn func([]auth.Key) ([]auth.Key, error)) error {
	if err := r.Store.UpdateKeys(ctx, fn); err != nil {
		return err
	}
	return r.Sync(ctx)
}
