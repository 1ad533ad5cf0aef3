package inmem

import (
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// TestTableAgainstMap runs random puts and deletes on a table and on a
// plain map side by side, with hashes squeezed into a few values so that
// most IDs collide, and checks after each step that both hold the same.
func TestTableAgainstMap(t *testing.T) {
	for _, buckets := range []uint64{1, 3, 1 << 63} {
		t.Run(fmt.Sprint(buckets), func(t *testing.T) {
			tb := newTable(0)
			tb.hash = func(s maphash.Seed, id string) uint64 { return maphash.String(s, id) % buckets }
			want := map[string]*auth.Client{}
			rng := rand.New(rand.NewPCG(1, buckets))
			ids := []string{"", "a", "b", "c", "d", "e", "f", "g", "h"}
			for step := range 2000 {
				id := ids[rng.IntN(len(ids))]
				if rng.IntN(3) == 0 {
					tb.delete(id)
					delete(want, id)
				} else {
					c := &auth.Client{ID: id, Name: fmt.Sprint(step), Scopes: []string{ids[rng.IntN(len(ids))]},
						TokenTTL: time.Duration(rng.IntN(3)) * time.Minute, RateLimit: auth.Rate{Limit: rng.IntN(3), Window: time.Duration(rng.IntN(3)) * time.Second}}
					tb.put(c)
					want[id] = c
				}
				if tb.len() != len(want) {
					t.Fatalf("step %d: len %d, want %d", step, tb.len(), len(want))
				}
				for _, id := range ids {
					got, w := tb.get(id), want[id]
					if (got == nil) != (w == nil) || got != nil && !reflect.DeepEqual(got, w) {
						t.Fatalf("step %d: get(%q) = %+v, want %+v", step, id, got, w)
					}
				}
			}
			live := 0
			for _, c := range want {
				live += len(tb.encode(c))
			}
			if tb.live != live {
				t.Fatalf("live bytes %d, want %d", tb.live, live)
			}
		})
	}
}

// TestTableDecodedStringsSurviveAppends: a string handed out by Lookup
// points into a chunk; appending more records must not change it.
func TestTableDecodedStringsSurviveAppends(t *testing.T) {
	tb := newTable(0)
	tb.put(&auth.Client{ID: "first", Name: "kept"})
	c := tb.get("first")
	for i := range 50_000 { // several chunks' worth
		tb.put(&auth.Client{ID: fmt.Sprint(i), Name: "zzzzzzzzzzzzzzzzzzzz"})
	}
	tb.put(&auth.Client{ID: "first", Name: "replaced"})
	if c.ID != "first" || c.Name != "kept" {
		t.Fatalf("decoded client changed to %+v", c)
	}
	if got := tb.get("first").Name; got != "replaced" {
		t.Fatalf("Name %q after the update", got)
	}
	if len(tb.chunks) < 2 {
		t.Fatalf("%d chunks: the test did not cross a chunk boundary", len(tb.chunks))
	}
}

// fakeStore serves one client that changes on every read of the feed.
type fakeStore struct {
	auth.Store
	client  *auth.Client
	changes []auth.Change
}

func (s *fakeStore) LatestChange(context.Context) (int64, error) { return int64(len(s.changes)), nil }
func (s *fakeStore) Keys(context.Context) ([]auth.Key, error)    { return nil, nil }
func (s *fakeStore) ListIssuers(context.Context) ([]*auth.TrustedIssuer, error) {
	return nil, nil
}
func (s *fakeStore) Client(context.Context, string) (*auth.Client, error) {
	return s.client, nil
}
func (s *fakeStore) ListClients(_ context.Context, after string, _ int) ([]*auth.Client, error) {
	if after != "" {
		return nil, nil
	}
	return []*auth.Client{s.client}, nil
}
func (s *fakeStore) Changes(_ context.Context, after int64, limit int) ([]auth.Change, error) {
	return s.changes[min(int(after), len(s.changes)):min(int(after)+limit, len(s.changes))], nil
}

// TestReplicaReclaimsDeadRecords: updates leave dead records behind; once
// they outweigh the live ones, Sync reloads and the dead bytes are gone.
func TestReplicaReclaimsDeadRecords(t *testing.T) {
	store := &fakeStore{client: &auth.Client{ID: "big", JWKS: make([]byte, chunkSize)}}
	r := NewReplica(store, ReplicaOptions{PageSize: 1})
	if err := r.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		store.changes = append(store.changes, auth.Change{Seq: int64(i + 1), Kind: auth.ChangeClient, ID: "big"})
	}
	if err := r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.clients.dead != 0 || r.clients.live != len(r.clients.record(mustFind(t, r.clients, "big"))) {
		t.Fatalf("after 20 updates of a 1 MiB client: %d dead bytes, %d live", r.clients.dead, r.clients.live)
	}
	if r.Seq() != 20 {
		t.Fatalf("seq %d after the reload, want 20", r.Seq())
	}
	// Below the threshold nothing is reloaded: the dead bytes stay counted.
	store.changes = append(store.changes, auth.Change{Seq: 21, Kind: auth.ChangeClient, ID: "big"})
	if err := r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.clients.dead == 0 {
		t.Fatal("one update left no dead record")
	}
}

func mustFind(t *testing.T, tb *table, id string) ref {
	t.Helper()
	r, ok := tb.find(id)
	if !ok {
		t.Fatalf("%q not held", id)
	}
	return r
}

// TestListTableInterns: equal lists share one slice; lists that only look
// alike when joined do not.
func TestListTableInterns(t *testing.T) {
	l := newListTable()
	a, b := l.id([]string{"x", "y"}), l.id([]string{"x", "y"})
	c, d := l.id([]string{"x\x00y"}), l.id([]string{"x", "", "y"})
	if a != b || a == c || a == d || c == d {
		t.Fatalf("ids %d %d %d %d", a, b, c, d)
	}
	if l.id(nil) != 0 || l.id([]string{}) != 1 || l.all[0] != nil || l.all[1] == nil {
		t.Fatal("nil and empty lists are not kept apart")
	}
	if !slices.Equal(l.all[a], []string{"x", "y"}) || cap(l.all[a]) != 2 {
		t.Fatalf("interned %q (cap %d)", l.all[a], cap(l.all[a]))
	}
}

// FuzzTableRoundTrip: whatever a client holds (names, scopes, metadata and
// JWK Sets come from admins and partners, any bytes at all), the replica
// gives back exactly that, next to other clients and after replacing it.
func FuzzTableRoundTrip(f *testing.F) {
	f.Add("cl_1", "name", "a b", "", []byte(nil), "owner", "x", int64(0), 0, int64(0), false, "s1", "sha256:x", int64(0))
	f.Add("", "\x00", "\x00 \x00", "https://a https://b", []byte(`{"keys":[]}`), "", "", int64(-1), -5, int64(1e18), true, "", "", int64(-62135596800))
	f.Add("ü\xff", "\xff\xfe", " ", " ", []byte{}, "\x00", "\xff", int64(1<<62), 1<<40, int64(-1), true, "a", "", int64(1e9))
	f.Fuzz(func(t *testing.T, id, name, scopes, audiences string, jwks []byte, metaKey, metaValue string,
		ttl int64, limit int, window int64, disabled bool, secretID, hash string, unix int64) {
		c := &auth.Client{ID: id, Name: name, TokenTTL: time.Duration(ttl), RateLimit: auth.Rate{Limit: limit, Window: time.Duration(window)},
			Disabled: disabled, JWKS: jwks, JWKSURI: metaValue, TokensRevokedBefore: time.Unix(unix, 0).UTC(),
			Incarnation: metaKey + name}
		if scopes != "" {
			c.Scopes = strings.Split(scopes, " ")
		}
		if audiences != "" {
			c.Audiences = strings.Fields(audiences)
		}
		if metaKey != "" || metaValue != "" {
			c.Metadata = map[string]string{metaKey: metaValue}
		}
		if secretID != "" || hash != "" {
			c.Secrets = []auth.Secret{{ID: secretID, Hash: hash, CreatedAt: time.Unix(unix, int64(limit)&0x3fffffff), ExpiresAt: time.Unix(-unix, 0).UTC()}}
		}
		tb := newTable(0)
		tb.put(&auth.Client{ID: id + "\x00other", Name: name})
		for range 2 {
			tb.put(c)
			got := tb.get(id)
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("got %+v\nwant %+v", got, c)
			}
		}
		if tb.len() != 2 || tb.get(id+"\x00other").Name != name {
			t.Fatal("the other client was disturbed")
		}
	})
}

// TestReplicaLookupDuringUpdates: lookups read records while updates
// append to the same chunk; run with -race, it checks that they share no
// bytes unguarded, and that a reader only ever sees a whole client.
func TestReplicaLookupDuringUpdates(t *testing.T) {
	store := &fakeStore{client: &auth.Client{ID: "c", Name: "0", Scopes: []string{"0"}}}
	r := NewReplica(store, ReplicaOptions{})
	if err := r.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				c := r.Lookup("c")
				if c == nil || c.Name != c.Scopes[0] { // written together: never torn
					errs <- fmt.Errorf("torn client %+v", c)
					return
				}
			}
		}()
	}
	for i := range 2000 {
		v := fmt.Sprint(i + 1)
		store.client = &auth.Client{ID: "c", Name: v, Scopes: []string{v}}
		store.changes = append(store.changes, auth.Change{Seq: int64(i + 1), Kind: auth.ChangeClient, ID: "c"})
		if err := r.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if c := r.Lookup("c"); c.Name != "2000" {
		t.Fatalf("Name %q after the updates", c.Name)
	}
}

// TestTableSenderConstrained: a record carries RequireDPoP,
// RequireCertificateBoundTokens, each TLSClientAuth field, ManagedBy and
// TokenReuse, and a client with none of them pays one byte for them.
func TestTableSenderConstrained(t *testing.T) {
	tb := newTable(0)
	cases := []*auth.Client{
		{ID: "none"},
		{ID: "dpop", RequireDPoP: true},
		{ID: "bound", RequireCertificateBoundTokens: true},
		{ID: "dn", RequireDPoP: true, RequireCertificateBoundTokens: true, TLSClientAuth: auth.TLSClientAuth{SubjectDN: `CN=svc,O=Gooclaim\, Inc.`}},
		{ID: "dns", TLSClientAuth: auth.TLSClientAuth{SANDNS: "svc.example.com"}},
		{ID: "uri", TLSClientAuth: auth.TLSClientAuth{SANURI: "spiffe://example.com/svc"}},
		{ID: "ip", TLSClientAuth: auth.TLSClientAuth{SANIP: "2001:db8::1"}},
		{ID: "email", TLSClientAuth: auth.TLSClientAuth{SANEmail: "svc@example.com"}, Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "sa"}}},
		{ID: "managed", ManagedBy: auth.ManagedByApply},
		{ID: "managed-dn", ManagedBy: auth.ManagedByApply, TLSClientAuth: auth.TLSClientAuth{SubjectDN: "CN=svc"}},
		{ID: "managed-other", ManagedBy: "another-tool", TLSClientAuth: auth.TLSClientAuth{SANDNS: "svc.example.com"}},
		{ID: "quota", Quotas: []auth.Rate{{Limit: 1000, Window: time.Hour}, {Limit: 10000, Window: 24 * time.Hour}}},
		{ID: "quota-warn", Quotas: []auth.Rate{{Limit: 5, Window: time.Hour}}, QuotaMode: auth.QuotaWarn, ManagedBy: "another-tool"},
		{ID: "claims", Claims: map[string]string{"tenant": "client.metadata.tenant", "env": `"prod"`}},
		{ID: "condition", Condition: `ip_in(request.remote_ip, ["10.0.0.0/8"])`, Quotas: []auth.Rate{{Limit: 5, Window: time.Hour}}},
		{ID: "both", Claims: map[string]string{"t": "1"}, Condition: "true", QuotaMode: auth.QuotaWarn},
		{ID: "reuse-on", TokenReuse: auth.ReuseOn},
		{ID: "reuse-off", TokenReuse: auth.ReuseOff, Claims: map[string]string{"t": "1"}, Condition: "true", QuotaMode: auth.QuotaWarn},
		{ID: "reuse-all", TokenReuse: auth.ReuseOn, RequireDPoP: true, RequireCertificateBoundTokens: true, TLSClientAuth: auth.TLSClientAuth{SANDNS: "svc.example.com"},
			ManagedBy: "another-tool", Quotas: []auth.Rate{{Limit: 5, Window: time.Hour}}, QuotaMode: auth.QuotaWarn, Claims: map[string]string{"t": "1"}, Condition: "true"},
	}
	for _, c := range cases {
		tb.put(c)
	}
	for _, c := range cases {
		if got := tb.get(c.ID); !reflect.DeepEqual(got, c) {
			t.Errorf("get(%q) = %+v; want %+v", c.ID, got, c)
		}
	}
	without := len(tb.encode(&auth.Client{ID: "x"}))
	if managed := len(tb.encode(&auth.Client{ID: "x", ManagedBy: auth.ManagedByApply})); managed != without {
		t.Errorf("a client managed by apply takes %d bytes, %d without: the flag alone should say it", managed, without)
	}
	if warn := len(tb.encode(&auth.Client{ID: "x", QuotaMode: auth.QuotaWarn})); warn != without {
		t.Errorf("a client in quota warn mode takes %d bytes, %d without: the flag alone should say it", warn, without)
	}
	if reuse := len(tb.encode(&auth.Client{ID: "x", TokenReuse: auth.ReuseOff})); reuse != without+1 {
		t.Errorf("a client with token reuse off takes %d bytes, %d without: want one more, the second flags byte", reuse, without)
	}
	with := len(tb.encode(&auth.Client{ID: "x", RequireDPoP: true, RequireCertificateBoundTokens: true}))
	if with != without {
		t.Errorf("a record with both requirements is %d bytes, without %d; want the flags byte to carry them", with, without)
	}
}

// TestMapTableInterns: equal maps share one map, the table's own copy;
// maps that only look alike when joined do not; nil and empty stay apart;
// past its bounds a map is held in the record, and decodes all the same.
func TestMapTableInterns(t *testing.T) {
	m := newMapTable()
	src := map[string]string{"tenant": "acme", "env": "prod"}
	a, _ := m.id(src)
	b, _ := m.id(map[string]string{"env": "prod", "tenant": "acme"})
	c, _ := m.id(map[string]string{"tenant": "acme\x06\x03env", "": ""})
	if a != b || a == c {
		t.Fatalf("ids %d %d %d", a, b, c)
	}
	if id, _ := m.id(nil); id != 0 || m.all[0] != nil {
		t.Fatal("nil is not 0")
	}
	if id, _ := m.id(map[string]string{}); id != 1 || m.all[1] == nil {
		t.Fatal("nil and empty maps are not kept apart")
	}
	if !maps.Equal(m.all[a], src) {
		t.Fatalf("interned %v", m.all[a])
	}
	src["tenant"] = "changed"
	if m.all[a]["tenant"] != "acme" {
		t.Fatal("the interned map is the caller's")
	}
	for i := len(m.all); i < maxInternedMaps; i++ {
		if _, ok := m.id(map[string]string{"n": fmt.Sprint(i)}); !ok {
			t.Fatalf("map %d not interned", i)
		}
	}
	full := map[string]string{"n": "one too many"}
	if _, ok := m.id(full); ok {
		t.Fatal("interned past maxInternedMaps")
	}
	e := m.append(nil, full)
	if got := m.decode(&decoder{b: e}); !maps.Equal(got, full) {
		t.Fatalf("decoded %v; want %v", got, full)
	}
}
