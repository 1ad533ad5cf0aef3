package inmem_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/sqlite"
)

// memStore is a read-only auth.Store of n generated clients, shaped as the
// CLI makes them (one generated secret, one scope), for measuring the
// replica without a database in the way. Only the methods Replica.Load and
// Replica.Sync call are implemented; the embedded nil Store panics on any other.
type memStore struct {
	auth.Store
	clients []*auth.Client // in ID order
	changes []auth.Change
}

func newMemStore(n int) *memStore {
	s := &memStore{clients: make([]*auth.Client, n)}
	now := time.Now().Round(0) // as read back from a database: no monotonic clock reading
	for i := range n {
		secret := credential.NewSecret()
		s.clients[i] = &auth.Client{
			ID: fmt.Sprintf("cl_%022d", i), Name: fmt.Sprintf("loadgen-%07d", i),
			Scopes:    []string{"claims:read"},
			Secrets:   []auth.Secret{{ID: credential.NewSecretID(), Hash: credential.HashGenerated(secret), CreatedAt: now}},
			CreatedAt: now, UpdatedAt: now,
		}
	}
	return s
}

// loaded returns a replica of store, loaded.
func loaded(tb testing.TB, store *memStore) *inmem.Replica {
	tb.Helper()
	r := inmem.NewReplica(store, inmem.ReplicaOptions{})
	if err := r.Load(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return r
}

func (s *memStore) ListIssuers(context.Context) ([]*auth.TrustedIssuer, error) { return nil, nil }

func (s *memStore) LatestChange(context.Context) (int64, error) { return int64(len(s.changes)), nil }
func (s *memStore) Keys(context.Context) ([]auth.Key, error)    { return nil, nil }

func (s *memStore) ListClients(_ context.Context, after string, limit int) ([]*auth.Client, error) {
	i, _ := slices.BinarySearchFunc(s.clients, after, func(c *auth.Client, id string) int {
		switch {
		case c.ID <= id:
			return -1
		default:
			return 1
		}
	})
	// Fresh copies, strings included, as a database would return.
	out := make([]*auth.Client, 0, limit)
	for _, c := range s.clients[i:min(i+limit, len(s.clients))] {
		out = append(out, fresh(c))
	}
	return out, nil
}

func (s *memStore) Changes(_ context.Context, after int64, limit int) ([]auth.Change, error) {
	return s.changes[min(int(after), len(s.changes)):min(int(after)+limit, len(s.changes))], nil
}

func (s *memStore) Client(_ context.Context, id string) (*auth.Client, error) {
	i, ok := slices.BinarySearchFunc(s.clients, id, func(c *auth.Client, id string) int {
		switch {
		case c.ID < id:
			return -1
		case c.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return nil, auth.ErrNotFound
	}
	return fresh(s.clients[i]), nil
}

// fresh is a deep copy of c whose strings are copies too.
func fresh(c *auth.Client) *auth.Client {
	d := c.Clone()
	d.ID, d.Name = strings.Clone(c.ID), strings.Clone(c.Name)
	for i, sc := range d.Scopes {
		d.Scopes[i] = strings.Clone(sc)
	}
	for i := range d.Secrets {
		d.Secrets[i].ID, d.Secrets[i].Hash = strings.Clone(d.Secrets[i].ID), strings.Clone(d.Secrets[i].Hash)
	}
	return d
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkReplicaMemoryPerClient reports what the replica holds per
// registered client (heap-B/client: the live heap after Load, over the
// clients, the store's own copy excluded) and what a full Load costs.
func BenchmarkReplicaMemoryPerClient(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			store := newMemStore(n)
			var perClient float64
			for b.Loop() {
				before := heapInUse()
				r := loaded(b, store)
				perClient = float64(heapInUse()-before) / float64(n)
				runtime.KeepAlive(r)
			}
			b.ReportMetric(perClient, "heap-B/client")
		})
	}
}

// BenchmarkReplicaLookup is what the token path pays per client lookup:
// decoding the client from the replica's encoded copy.
func BenchmarkReplicaLookup(b *testing.B) {
	for _, n := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			store := newMemStore(n)
			r := loaded(b, store)
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = store.clients[(i*7919)%n].ID
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if r.Lookup(ids[i%len(ids)]) == nil {
					b.Fatal("not found")
				}
			}
		})
	}
}

// BenchmarkReplicaScopesAfterChange is the discovery document's
// scopes_supported right after a client changed, with a million clients
// held: it must not cost a walk over all of them (under the write lock,
// which would stall every token request meanwhile).
func BenchmarkReplicaScopesAfterChange(b *testing.B) {
	const n = 1_000_000
	store := newMemStore(n)
	r := loaded(b, store)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		store.changes = append(store.changes, auth.Change{Seq: int64(len(store.changes) + 1), Kind: auth.ChangeClient, ID: store.clients[i%n].ID})
		if err := r.Sync(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if len(r.Scopes()) != 1 {
			b.Fatal("scopes")
		}
	}
}

// BenchmarkLimiterMemoryPerKey reports what the exact limiter holds per
// actively rate-limited client: the live heap after N distinct keys made
// `requests` requests each within the window, over N.
func BenchmarkLimiterMemoryPerKey(b *testing.B) {
	const n = 100_000
	rate := auth.Rate{Limit: 60, Window: time.Minute}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("cl_%022d", i)
	}
	for _, requests := range []int{1, 2, 10, 60} {
		b.Run(fmt.Sprintf("requests=%d", requests), func(b *testing.B) {
			var perKey float64
			for b.Loop() {
				before := heapInUse()
				l := inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1})
				for range requests {
					for _, k := range keys {
						l.Allow(context.Background(), k, rate)
					}
				}
				perKey = float64(heapInUse()-before) / n
				runtime.KeepAlive(l)
				l.Close()
			}
			b.ReportMetric(perKey, "heap-B/key")
		})
	}
}

// TestReplicaScopesFollowChanges: scopes_supported follows creates, scope
// changes and deletes without a full reload, and matches a full reload.
func TestReplicaScopesFollowChanges(t *testing.T) {
	ctx := t.Context()
	db := openDB(t, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	for _, c := range []*auth.Client{client("a", "x", "y"), client("b", "y"), client("c", "z")} {
		if err := db.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	r := inmem.NewReplica(db, inmem.ReplicaOptions{})
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(step string, want ...string) {
		t.Helper()
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r.Scopes(); !slices.Equal(got, want) {
			t.Fatalf("%s: Scopes %v, want %v", step, got, want)
		}
		full := inmem.NewReplica(db, inmem.ReplicaOptions{})
		if err := full.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if got := full.Scopes(); !slices.Equal(got, want) {
			t.Fatalf("%s: after a full load Scopes %v, want %v", step, got, want)
		}
	}
	check("loaded", "x", "y", "z")
	db.UpdateClient(ctx, "a", func(c *auth.Client) error { c.Scopes = []string{"w"}; return nil })
	check("a: x y → w (y still held by b)", "w", "y", "z")
	db.DeleteClient(ctx, "b")
	check("b deleted", "w", "z")
	db.CreateClient(ctx, client("d", "z", "v"))
	check("d created", "v", "w", "z")
	db.UpdateClient(ctx, "c", func(c *auth.Client) error { c.Disabled = true; return nil })
	check("c disabled, scopes unchanged", "v", "w", "z")
	db.DeleteClient(ctx, "d")
	db.DeleteClient(ctx, "c")
	check("c and d deleted", "w")
}

// BenchmarkLimiterAfterBurst reports the limiter's live heap (heap-B) once a
// burst of distinct keys has left the window and been swept, against an
// empty limiter: what a burst leaves behind for good.
func BenchmarkLimiterAfterBurst(b *testing.B) {
	const n = 1_000_000
	rate := auth.Rate{Limit: 60, Window: time.Minute}
	var left float64
	for b.Loop() {
		clock := authtest.NewClock(authtest.Epoch)
		before := heapInUse()
		l := inmem.NewLimiter(inmem.LimiterOptions{Clock: clock, SweepInterval: -1})
		for i := range n {
			l.Allow(context.Background(), fmt.Sprintf("k%d", i), rate)
		}
		clock.Advance(rate.Window)
		l.Sweep()
		if l.Len() != 0 {
			b.Fatalf("%d keys left after the sweep", l.Len())
		}
		left = float64(heapInUse() - before)
		runtime.KeepAlive(l)
		l.Close()
	}
	b.ReportMetric(left, "heap-B")
}

// BenchmarkReplicaGC is one full garbage collection with the replica of n
// clients live: the work every GC cycle of the server does for the
// replica, whatever the token rate. The replica's clients hold no pointers,
// so it should not grow with them.
func BenchmarkReplicaGC(b *testing.B) {
	for _, n := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			store := newMemStore(n)
			r := loaded(b, store)
			store.clients = nil // the replica's copy only
			runtime.GC()
			for b.Loop() {
				runtime.GC()
			}
			runtime.KeepAlive(r)
		})
	}
}

// TestReplicaKeepsClients: what Lookup returns from the replica's encoded
// copy equals what the store holds, field by field.
func TestReplicaKeepsClients(t *testing.T) {
	store := newMemStore(50)
	utc := time.Date(2026, 11, 27, 8, 0, 0, 123456789, time.UTC)
	store.clients[3].Audiences = []string{"https://a.example", "https://b.example"}
	store.clients[4].AuthMethods = []string{auth.AuthClientSecretBasic}
	store.clients[5].Secrets = append(store.clients[5].Secrets, auth.Secret{ID: "second", Hash: "h2", CreatedAt: utc, ExpiresAt: utc.Add(time.Hour)})
	store.clients[6].JWKSURI = "https://keys.example/jwks.json"
	store.clients[7].Scopes = []string{"a\x00b"}
	store.clients[8].Scopes = []string{"a", "b"}
	store.clients[9].Scopes = []string{"a\x00", "b"} // joined with NUL, like 7's
	store.clients[10].JWKS = []byte(`{"keys":[]}`)
	store.clients[10].Secrets = nil
	store.clients[11].Metadata = map[string]string{"owner": "claims team", "": "ü\x00"}
	store.clients[12].Metadata = map[string]string{}
	store.clients[13].TokenTTL, store.clients[13].RateLimit = 5*time.Minute, auth.Rate{Limit: 7, Window: time.Second}
	store.clients[14].Disabled, store.clients[14].TokensRevokedBefore = true, utc
	store.clients[15].Scopes, store.clients[15].Audiences = nil, []string{}
	store.clients[16].Secrets = []auth.Secret{{ID: "1", Hash: "x"}, {ID: "2", Hash: "y"}, {ID: "3", Hash: "z"}}
	store.clients[17].CreatedAt, store.clients[17].UpdatedAt = utc, time.Unix(-1e10, 5)
	store.clients[18].JWKS = make([]byte, 3*1<<20) // bigger than a chunk
	store.clients[19].Name = strings.Repeat("n", 1000)
	r := loaded(t, store)
	if r.Len() != len(store.clients) {
		t.Fatalf("Len %d, want %d", r.Len(), len(store.clients))
	}
	for _, c := range store.clients {
		got := r.Lookup(c.ID)
		if got == nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("client %s: replica holds %+v, store %+v", c.ID, got, c)
		}
	}
	if r.Lookup("cl_nobody") != nil || r.Lookup("") != nil {
		t.Fatal("Lookup found a client that is not held")
	}
}

// BenchmarkConsoleClientPages is a page of the admin API's client list
// (the console's Clients page) over a replica of a million clients: the
// first page, a page deep in the list, and a search that matches nothing,
// which reads admin.MaxFindScan clients and stops.
func BenchmarkConsoleClientPages(b *testing.B) {
	const n = 1_000_000
	store := newMemStore(n)
	svc := &admin.Service{Store: loaded(b, store)}
	for _, c := range []struct {
		name string
		f    admin.ClientFilter
	}{
		{"first", admin.ClientFilter{Limit: 50}},
		{"deep", admin.ClientFilter{Limit: 50, After: store.clients[n*3/4].ID}},
		{"search-no-match", admin.ClientFilter{Limit: 50, Name: "no such name"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := svc.FindClients(b.Context(), c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
