package issuer_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// Short periods so that the whole lifecycle fits a test; t0 is where every clock starts.
const (
	publishAhead   = 10 * time.Minute
	rotationPeriod = 24 * time.Hour
	retention      = 2 * time.Hour
)

var (
	t0         = authtest.Epoch
	testPolicy = issuer.KeyPolicy{Algorithm: auth.ES256, PublishAhead: publishAhead, RotationPeriod: rotationPeriod, Retention: retention}
	testKEK    = sync.OnceValue(func() *signing.KEK {
		kek, err := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
		if err != nil {
			panic(err)
		}
		return kek
	})
)

// openDB opens (and migrates) the SQLite database at path, closed when the test ends.
func openDB(t *testing.T, path string, clock auth.Clock) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate %s: %v", path, err)
	}
	return db
}

// newDB returns a fresh database in the test's temporary directory.
func newDB(t *testing.T, clock auth.Clock) *sqlite.DB {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "auth.db"), clock)
}

// storedKeys returns the keys in the store.
func storedKeys(t *testing.T, db auth.KeyStore) []auth.Key {
	t.Helper()
	keys, err := db.Keys(t.Context())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	return keys
}

// reload loads the stored keys into the ring, as the replica does when the
// change feed reports a change of the key set.
func reload(t *testing.T, ring *issuer.KeyRing, db auth.KeyStore) []auth.Key {
	t.Helper()
	keys := storedKeys(t, db)
	if err := ring.Load(keys); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return keys
}

func maintain(t *testing.T, ring *issuer.KeyRing) bool {
	t.Helper()
	changed, err := ring.Maintain(t.Context())
	if err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	return changed
}

// jwksKeys parses a JWKS as a resource server would and returns its keys by kid.
func jwksKeys(t *testing.T, body []byte) map[string]jose.JSONWebKey {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v\n%s", err, body)
	}
	keys := make(map[string]jose.JSONWebKey)
	for _, k := range set.Keys {
		if _, dup := keys[k.KeyID]; dup {
			t.Errorf("JWKS holds kid %s twice", k.KeyID)
		}
		if !k.IsPublic() || !k.Valid() || k.Use != "sig" {
			t.Errorf("JWKS key %s: public=%v valid=%v use=%q", k.KeyID, k.IsPublic(), k.Valid(), k.Use)
		}
		keys[k.KeyID] = k
	}
	return keys
}

// checkJWKS checks that the ring's JWKS at now holds exactly the keys want.
func checkJWKS(t *testing.T, ring *issuer.KeyRing, now time.Time, want ...auth.Key) {
	t.Helper()
	body, etag, err := ring.JWKS(now)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	if etag == "" {
		t.Error("JWKS has no ETag")
	}
	got := jwksKeys(t, body)
	var gotIDs, wantIDs []string
	for id := range got {
		gotIDs = append(gotIDs, id)
	}
	for _, k := range want {
		wantIDs = append(wantIDs, k.ID)
		if j, ok := got[k.ID]; ok && j.Algorithm != k.Algorithm {
			t.Errorf("JWKS key %s has alg %q, want %q", k.ID, j.Algorithm, k.Algorithm)
		}
	}
	slices.Sort(gotIDs)
	slices.Sort(wantIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("JWKS at %v holds %q, want %q", now, gotIDs, wantIDs)
	}
}

// checkSigner checks that want signs at now.
func checkSigner(t *testing.T, ring *issuer.KeyRing, now time.Time, want auth.Key) {
	t.Helper()
	s, err := ring.Signer(now)
	if err != nil {
		t.Fatalf("Signer(%v): %v", now, err)
	}
	if s.KeyID() != want.ID || s.Algorithm() != want.Algorithm {
		t.Errorf("Signer(%v) is %s (%s), want %s (%s)", now, s.KeyID(), s.Algorithm(), want.ID, want.Algorithm)
	}
}

func ids(keys []auth.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

// newKeys returns the keys of stored whose IDs are not among known.
func newKeys(stored, known []auth.Key) []auth.Key {
	var out []auth.Key
	for _, k := range stored {
		if !slices.Contains(ids(known), k.ID) {
			out = append(out, k)
		}
	}
	return out
}

// TestKeyLifecycle walks one ring through creation, a rotation with its
// publish-ahead delay, the retirement of the old key and its deletion, with
// a controllable clock and a real store. Each step optionally runs Maintain
// (and reloads the ring when it changed something, as the replica would),
// then checks the store, the key states, the signer and the JWKS.
func TestKeyLifecycle(t *testing.T) {
	const (
		due  = rotationPeriod - publishAhead // when the second key is published
		sign = rotationPeriod                // when it signs
		drop = rotationPeriod + retention    // when the first key leaves the JWKS
	)
	type step struct {
		name     string
		at       time.Duration // since t0
		maintain bool
		changed  bool
		// newSignsAfter, when not -1, says Maintain added a key that signs
		// this long after it was created (at the step's time).
		newSignsAfter time.Duration
		stored        []int // the stored keys, by creation index
		states        []issuer.KeyState
		signer        int
		jwks          []int
		nextRotation  time.Duration // since t0; -1 for none
	}
	const none = -1
	steps := []step{
		{name: "first Maintain creates a key that signs at once", at: 0, maintain: true, changed: true, newSignsAfter: 0,
			stored: []int{0}, states: []issuer.KeyState{issuer.KeyActive}, signer: 0, jwks: []int{0}, nextRotation: due},
		{name: "Maintain again is a no-op", at: 0, maintain: true, newSignsAfter: none,
			stored: []int{0}, states: []issuer.KeyState{issuer.KeyActive}, signer: 0, jwks: []int{0}, nextRotation: due},
		{name: "just before the rotation is due", at: due - time.Nanosecond, maintain: true, newSignsAfter: none,
			stored: []int{0}, states: []issuer.KeyState{issuer.KeyActive}, signer: 0, jwks: []int{0}, nextRotation: due},
		{name: "rotation due: the next key is published", at: due, maintain: true, changed: true, newSignsAfter: publishAhead,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyActive, issuer.KeyNext}, signer: 0, jwks: []int{0, 1}, nextRotation: none},
		{name: "Maintain while the next key waits", at: due + time.Minute, maintain: true, newSignsAfter: none,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyActive, issuer.KeyNext}, signer: 0, jwks: []int{0, 1}, nextRotation: none},
		{name: "just before the next key signs", at: sign - time.Nanosecond, maintain: true, newSignsAfter: none,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyActive, issuer.KeyNext}, signer: 0, jwks: []int{0, 1}, nextRotation: none},
		{name: "the next key signs, the old one retires", at: sign, newSignsAfter: none,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyRetired, issuer.KeyActive}, signer: 1, jwks: []int{0, 1}, nextRotation: sign + due},
		{name: "Maintain after the switch is a no-op", at: sign + time.Minute, maintain: true, newSignsAfter: none,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyRetired, issuer.KeyActive}, signer: 1, jwks: []int{0, 1}, nextRotation: sign + due},
		{name: "the retired key is published until its retention ends", at: drop - time.Nanosecond, maintain: true, newSignsAfter: none,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyRetired, issuer.KeyActive}, signer: 1, jwks: []int{0, 1}, nextRotation: sign + due},
		{name: "then it leaves the JWKS but is still stored", at: drop, newSignsAfter: none,
			stored: []int{0, 1}, states: []issuer.KeyState{issuer.KeyExpired, issuer.KeyActive}, signer: 1, jwks: []int{1}, nextRotation: sign + due},
		{name: "the next Maintain deletes it", at: drop, maintain: true, changed: true, newSignsAfter: none,
			stored: []int{1}, states: []issuer.KeyState{issuer.KeyActive}, signer: 1, jwks: []int{1}, nextRotation: sign + due},
		{name: "the second rotation", at: sign + due, maintain: true, changed: true, newSignsAfter: publishAhead,
			stored: []int{1, 2}, states: []issuer.KeyState{issuer.KeyActive, issuer.KeyNext}, signer: 1, jwks: []int{1, 2}, nextRotation: none},
		{name: "the third key signs", at: 2 * sign, newSignsAfter: none,
			stored: []int{1, 2}, states: []issuer.KeyState{issuer.KeyRetired, issuer.KeyActive}, signer: 2, jwks: []int{1, 2}, nextRotation: 2*sign + due},
	}

	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
	if got := ring.Policy(); got != testPolicy {
		t.Fatalf("Policy() = %+v, want %+v", got, testPolicy)
	}
	if _, err := ring.Signer(t0); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Signer of an empty ring: %v, want an unavailable error", err)
	}
	var created []auth.Key // every key ever created, in order
	byIndex := func(ix []int) []auth.Key {
		var out []auth.Key
		for _, i := range ix {
			out = append(out, created[i])
		}
		return out
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			now := t0.Add(s.at)
			clock.Set(now)
			if s.maintain {
				if changed := maintain(t, ring); changed != s.changed {
					t.Errorf("Maintain changed = %v, want %v", changed, s.changed)
				}
			}
			stored := storedKeys(t, db)
			added := newKeys(stored, created)
			switch {
			case s.newSignsAfter == none && len(added) > 0:
				t.Fatalf("keys %q were added, want none", ids(added))
			case s.newSignsAfter != none && len(added) != 1:
				t.Fatalf("keys %q were added, want exactly one", ids(added))
			case s.newSignsAfter != none:
				k := added[0]
				if !k.CreatedAt.Equal(now) || !k.SigningFrom.Equal(now.Add(s.newSignsAfter)) || k.Algorithm != testPolicy.Algorithm {
					t.Errorf("new key created %v, signing from %v, %s; want created %v, signing from %v, %s",
						k.CreatedAt, k.SigningFrom, k.Algorithm, now, now.Add(s.newSignsAfter), testPolicy.Algorithm)
				}
				created = append(created, k)
			}
			if want := ids(byIndex(s.stored)); !slices.Equal(ids(stored), want) {
				t.Fatalf("stored keys %q, want %q", ids(stored), want)
			}
			if s.changed {
				reload(t, ring, db)
			}

			statuses := ring.Statuses(now)
			var states []issuer.KeyState
			for i, st := range statuses {
				states = append(states, st.State)
				switch st.State {
				case issuer.KeyRetired, issuer.KeyExpired:
					// Retired when the following key starts signing, published for the retention after.
					if i+1 >= len(statuses) {
						t.Fatalf("key %s is %s but is the newest", st.Key.ID, st.State)
					}
					if next := statuses[i+1].Key.SigningFrom; !st.RetiredAt.Equal(next) || !st.PublishedTil.Equal(next.Add(retention)) {
						t.Errorf("key %s retired at %v, published until %v; want %v and %v",
							st.Key.ID, st.RetiredAt, st.PublishedTil, next, next.Add(retention))
					}
				default:
					if !st.RetiredAt.IsZero() || !st.PublishedTil.IsZero() {
						t.Errorf("%s key %s has RetiredAt %v, PublishedTil %v; want zero", st.State, st.Key.ID, st.RetiredAt, st.PublishedTil)
					}
				}
			}
			if !slices.Equal(states, s.states) {
				t.Errorf("states %q, want %q", states, s.states)
			}
			checkSigner(t, ring, now, created[s.signer])
			checkJWKS(t, ring, now, byIndex(s.jwks)...)
			wantNext := time.Time{}
			if s.nextRotation != none {
				wantNext = t0.Add(s.nextRotation)
			}
			if got := ring.NextRotation(now); !got.Equal(wantNext) {
				t.Errorf("NextRotation = %v, want %v", got, wantNext)
			}
		})
		if !ok {
			break // later steps build on this one
		}
	}
}

// TestMaintainAlgorithmChange: a ring configured with another algorithm than
// the active key's publishes a key of the new algorithm ahead, as a rotation.
func TestMaintainAlgorithmChange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		rotates  bool
	}{
		{name: "ES256 to EdDSA", from: auth.ES256, to: auth.EdDSA, rotates: true},
		{name: "EdDSA to RS256", from: auth.EdDSA, to: auth.RS256, rotates: true},
		{name: "RS256 to ES256", from: auth.RS256, to: auth.ES256, rotates: true},
		{name: "unchanged", from: auth.EdDSA, to: auth.EdDSA, rotates: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := authtest.NewClock(t0)
			db := newDB(t, clock)
			oldPolicy, newPolicy := testPolicy, testPolicy
			oldPolicy.Algorithm, newPolicy.Algorithm = tc.from, tc.to
			if !maintain(t, issuer.NewKeyRing(oldPolicy, testKEK(), db, clock)) {
				t.Fatal("the first Maintain created no key")
			}
			first := storedKeys(t, db)

			clock.Advance(time.Hour) // long before the rotation is due
			now := clock.Now()
			ring := issuer.NewKeyRing(newPolicy, testKEK(), db, clock)
			if changed := maintain(t, ring); changed != tc.rotates {
				t.Fatalf("Maintain with %s changed = %v, want %v", tc.to, changed, tc.rotates)
			}
			stored := reload(t, ring, db)
			added := newKeys(stored, first)
			if !tc.rotates {
				if len(added) != 0 {
					t.Fatalf("keys %q were added, want none", ids(added))
				}
				return
			}
			if len(added) != 1 {
				t.Fatalf("keys %q were added, want one", ids(added))
			}
			k := added[0]
			if k.Algorithm != tc.to || !k.CreatedAt.Equal(now) || !k.SigningFrom.Equal(now.Add(publishAhead)) {
				t.Errorf("new key %s created %v, signing from %v; want %s, %v, %v", k.Algorithm, k.CreatedAt, k.SigningFrom, tc.to, now, now.Add(publishAhead))
			}
			checkSigner(t, ring, now, first[0])
			checkSigner(t, ring, now.Add(publishAhead-time.Nanosecond), first[0])
			checkSigner(t, ring, now.Add(publishAhead), k)
			checkJWKS(t, ring, now, first[0], k)

			// Waiting for it, and once it signs, there is nothing more to do.
			if maintain(t, ring) {
				t.Error("Maintain changed the keys again while the new key waits")
			}
			clock.Set(now.Add(publishAhead))
			if maintain(t, ring) {
				t.Error("Maintain changed the keys again once the new key signs")
			}
			if n := len(storedKeys(t, db)); n != 2 {
				t.Errorf("%d keys stored, want 2", n)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	for _, tc := range []struct {
		name         string
		publishAhead time.Duration
		signsAfter   time.Duration
	}{
		{name: "zero signs at once", publishAhead: 0, signsAfter: 0},
		{name: "negative takes the policy's publish-ahead", publishAhead: -1, signsAfter: publishAhead},
		{name: "explicit delay", publishAhead: 3 * time.Minute, signsAfter: 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := authtest.NewClock(t0)
			db := newDB(t, clock)
			ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
			maintain(t, ring)
			first := reload(t, ring, db)[0]

			clock.Advance(time.Hour)
			now := clock.Now()
			k, err := ring.Rotate(t.Context(), tc.publishAhead)
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if !k.CreatedAt.Equal(now) || !k.SigningFrom.Equal(now.Add(tc.signsAfter)) || k.Algorithm != testPolicy.Algorithm {
				t.Errorf("rotated key created %v, signing from %v, %s; want %v, %v, %s",
					k.CreatedAt, k.SigningFrom, k.Algorithm, now, now.Add(tc.signsAfter), testPolicy.Algorithm)
			}
			stored := reload(t, ring, db)
			if want := []string{first.ID, k.ID}; !slices.Equal(ids(stored), want) {
				t.Fatalf("stored keys %q, want %q", ids(stored), want)
			}
			if tc.signsAfter > 0 {
				checkSigner(t, ring, now, first)
				checkSigner(t, ring, now.Add(tc.signsAfter-time.Nanosecond), first)
			}
			checkSigner(t, ring, now.Add(tc.signsAfter), k)
			checkJWKS(t, ring, now, first, k)
			// Rotate made the next key; Maintain adds none.
			if maintain(t, ring) {
				t.Error("Maintain changed the keys after Rotate")
			}
		})
	}
}

// TestRotateDropsExpiredKeys: a rotation also deletes keys whose last token has expired.
func TestRotateDropsExpiredKeys(t *testing.T) {
	ctx := t.Context()
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
	maintain(t, ring)
	k0 := storedKeys(t, db)[0]
	clock.Advance(time.Hour)
	k1, err := ring.Rotate(ctx, 0) // k0 retires now
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(retention - time.Nanosecond)
	k2, err := ring.Rotate(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(storedKeys(t, db)), []string{k0.ID, k1.ID, k2.ID}; !slices.Equal(got, want) {
		t.Fatalf("before k0 expires: stored %q, want %q", got, want)
	}
	clock.Advance(time.Nanosecond)
	k3, err := ring.Rotate(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(storedKeys(t, db)), []string{k1.ID, k2.ID, k3.ID}; !slices.Equal(got, want) {
		t.Fatalf("after k0 expired: stored %q, want %q", got, want)
	}
}

// TestRotateEmptyStore: a key published ahead into an empty store does not
// sign before its time, and Maintain waits for it rather than add another.
func TestRotateEmptyStore(t *testing.T) {
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
	k, err := ring.Rotate(t.Context(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if maintain(t, ring) {
		t.Error("Maintain added a key next to the waiting one")
	}
	reload(t, ring, db)
	if _, err := ring.Signer(t0); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Signer before the only key signs: %v, want an unavailable error", err)
	}
	checkSigner(t, ring, t0.Add(publishAhead), k)
	checkJWKS(t, ring, t0, k)
}

// TestJWKSETag: the ETag changes exactly when the published set does, and
// the body with it.
func TestJWKSETag(t *testing.T) {
	type step struct {
		name   string
		at     time.Duration
		action string // "maintain", "reload" or ""
		etag   string // a label: steps with the same label have the same ETag, others differ
	}
	const (
		due  = rotationPeriod - publishAhead
		drop = rotationPeriod + retention
	)
	steps := []step{
		{name: "first key", at: 0, action: "maintain", etag: "A"},
		{name: "a minute later", at: time.Minute, etag: "A"},
		{name: "two hours later (past the cache's hour)", at: 2 * time.Hour, etag: "A"},
		{name: "the same keys reloaded", at: 2 * time.Hour, action: "reload", etag: "A"},
		{name: "a next key is published", at: due, action: "maintain", etag: "B"},
		{name: "the next key signs", at: rotationPeriod, etag: "B"},
		{name: "just before the old key leaves", at: drop - time.Nanosecond, etag: "B"},
		{name: "the old key leaves", at: drop, etag: "C"},
		{name: "and is deleted", at: drop, action: "maintain", etag: "C"},
		{name: "later", at: drop + 5*time.Hour, etag: "C"},
	}
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
	bodies := map[string]string{} // label → body
	etags := map[string]string{}  // label → ETag
	for _, s := range steps {
		now := t0.Add(s.at)
		clock.Set(now)
		switch s.action {
		case "maintain":
			if maintain(t, ring) {
				reload(t, ring, db)
			}
		case "reload":
			reload(t, ring, db)
		}
		body, etag, err := ring.JWKS(now)
		if err != nil {
			t.Fatalf("%s: JWKS: %v", s.name, err)
		}
		if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
			t.Errorf("%s: ETag %s is not a quoted strong entity tag", s.name, etag)
		}
		if want, seen := etags[s.etag]; seen {
			if etag != want || string(body) != bodies[s.etag] {
				t.Errorf("%s: ETag %s, want %s as before (same key set)", s.name, etag, want)
			}
			continue
		}
		for label, other := range etags {
			if etag == other || string(body) == bodies[label] {
				t.Errorf("%s: ETag %s is the same as at step %s, but the key set changed", s.name, etag, label)
			}
		}
		etags[s.etag], bodies[s.etag] = etag, string(body)
	}
}

// TestMaintainConcurrently: three key rings over three connections to the
// same database, like three processes, call Maintain at once when a rotation
// is due; exactly one adds a key, each time.
func TestMaintainConcurrently(t *testing.T) {
	ctx := t.Context()
	clock := authtest.NewClock(t0)
	path := filepath.Join(t.TempDir(), "auth.db")
	var (
		dbs   []*sqlite.DB
		rings []*issuer.KeyRing
	)
	for range 3 {
		db := openDB(t, path, clock)
		dbs = append(dbs, db)
		rings = append(rings, issuer.NewKeyRing(testPolicy, testKEK(), db, clock))
	}
	// maintainAll runs Maintain on every ring at once and returns how many changed something.
	maintainAll := func() int {
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]bool, len(rings))
		errs := make([]error, len(rings))
		for i, r := range rings {
			wg.Go(func() {
				<-start
				results[i], errs[i] = r.Maintain(ctx)
			})
		}
		close(start)
		wg.Wait()
		n := 0
		for i := range rings {
			if errs[i] != nil {
				t.Fatalf("ring %d: Maintain: %v", i, errs[i])
			}
			if results[i] {
				n++
			}
		}
		return n
	}

	var known []auth.Key
	for round := range 5 {
		// Round 0 creates the first key; each later one is at the moment the
		// active key's successor is due, as NextRotation says.
		if round > 0 {
			reload(t, rings[round%3], dbs[round%3])
			now := clock.Now()
			due := rings[round%3].NextRotation(now)
			if want := known[len(known)-1].SigningFrom.Add(rotationPeriod - publishAhead); !due.Equal(want) {
				t.Fatalf("round %d: NextRotation = %v, want %v", round, due, want)
			}
			clock.Set(due)
		}
		before, err := dbs[0].LatestChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := maintainAll(); n != 1 {
			t.Errorf("round %d: %d rings changed the keys, want exactly 1", round, n)
		}
		after, err := dbs[1].LatestChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after != before+1 {
			t.Errorf("round %d: the change feed went from %d to %d, want exactly one change", round, before, after)
		}
		stored := storedKeys(t, dbs[2])
		added := newKeys(stored, known)
		if len(added) != 1 {
			t.Fatalf("round %d: keys %q were added, want exactly one", round, ids(added))
		}
		known = append(known, added[0])
		if n := maintainAll(); n != 0 {
			t.Errorf("round %d: %d rings changed the keys again, want none", round, n)
		}
		// Let the new key start signing before the next round.
		clock.Set(added[0].SigningFrom)
	}
}

func TestNextRotation(t *testing.T) {
	key := func(created, signs time.Duration) auth.Key {
		k, err := signing.NewKey(auth.ES256, testKEK(), t0.Add(created), t0.Add(signs))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	const none = -1
	for _, tc := range []struct {
		name string
		keys []auth.Key
		now  time.Duration
		want time.Duration // since t0; none for zero
	}{
		{name: "no keys", now: 0, want: none},
		{name: "one active key", keys: []auth.Key{key(0, 0)}, now: time.Hour, want: rotationPeriod - publishAhead},
		{name: "one active key published ahead", keys: []auth.Key{key(0, time.Hour)}, now: 2 * time.Hour, want: time.Hour + rotationPeriod - publishAhead},
		{name: "overdue: in the past", keys: []auth.Key{key(0, 0)}, now: 3 * rotationPeriod, want: rotationPeriod - publishAhead},
		{name: "a next key waits", keys: []auth.Key{key(0, 0), key(time.Hour, time.Hour+publishAhead)}, now: time.Hour, want: none},
		{name: "only a next key", keys: []auth.Key{key(0, publishAhead)}, now: 0, want: none},
		{name: "the newer key signs", keys: []auth.Key{key(0, 0), key(time.Hour, 2*time.Hour)}, now: 2 * time.Hour, want: 2*time.Hour + rotationPeriod - publishAhead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := issuer.NewKeyRing(testPolicy, testKEK(), nil, nil)
			if err := ring.Load(tc.keys); err != nil {
				t.Fatal(err)
			}
			var want time.Time
			if tc.want != none {
				want = t0.Add(tc.want)
			}
			if got := ring.NextRotation(t0.Add(tc.now)); !got.Equal(want) {
				t.Errorf("NextRotation = %v, want %v", got, want)
			}
		})
	}
}

// TestMaintainMixedAlgorithmsDoNotFlap: two nodes configured with different
// algorithms on one store (a rolling deploy) move to the new algorithm once,
// not back and forth every publish-ahead period.
func TestMaintainMixedAlgorithmsDoNotFlap(t *testing.T) {
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	oldPolicy, newPolicy := testPolicy, testPolicy
	oldPolicy.Algorithm, newPolicy.Algorithm = auth.ES256, auth.EdDSA
	oldNode := issuer.NewKeyRing(oldPolicy, testKEK(), db, clock)
	newNode := issuer.NewKeyRing(newPolicy, testKEK(), db, clock)
	maintain(t, oldNode) // the first key: ES256
	clock.Advance(time.Hour)
	if !maintain(t, newNode) {
		t.Fatal("the node with the new algorithm did not rotate to it")
	}
	for range 12 { // two hours of both nodes' timers
		clock.Advance(publishAhead)
		maintain(t, oldNode)
		maintain(t, newNode)
	}
	if n := len(storedKeys(t, db)); n != 2 {
		t.Fatalf("%d keys after two hours of a mixed fleet, want 2 (no flapping)", n)
	}
}
