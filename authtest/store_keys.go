package authtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gooclaim/auth"
)

// someKey returns a key created sec seconds after someTime(0), signing an hour later.
func someKey(id string, sec int) auth.Key {
	return auth.Key{
		ID:          id,
		Algorithm:   auth.ES256,
		Public:      []byte("public " + id + "\x00\xff"),
		Sealed:      []byte("sealed " + id + "\x00\xff"),
		CreatedAt:   someTime(sec),
		SigningFrom: someTime(sec + 3600),
	}
}

// checkKeys reports the differences between the stored keys and want.
func checkKeys(t *testing.T, s auth.Store, want ...auth.Key) {
	t.Helper()
	got, err := s.Keys(t.Context())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Keys = %q; want %q", keyIDs(got), keyIDs(want))
	}
	for i, g := range got {
		w := want[i]
		if g.ID != w.ID || g.Algorithm != w.Algorithm || !bytes.Equal(g.Public, w.Public) || !bytes.Equal(g.Sealed, w.Sealed) {
			t.Errorf("key %d = %+v; want %+v", i, g, w)
		}
		checkTime(t, fmt.Sprintf("key %q: CreatedAt", w.ID), g.CreatedAt, w.CreatedAt)
		checkTime(t, fmt.Sprintf("key %q: SigningFrom", w.ID), g.SigningFrom, w.SigningFrom)
	}
}

func keyIDs(keys []auth.Key) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func testUpdateKeys(t *testing.T, s auth.Store) {
	ctx := t.Context()
	checkKeys(t, s)
	k1, k2, k3 := someKey("k1", 20), someKey("k2", 10), someKey("k3", 20)
	err := s.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
		if len(current) != 0 {
			return nil, fmt.Errorf("current = %q; want none", keyIDs(current))
		}
		return []auth.Key{k1, k2, k3}, nil
	})
	if err != nil {
		t.Fatalf("UpdateKeys (insert): %v", err)
	}
	checkKeys(t, s, k2, k1, k3) // by CreatedAt, then ID

	err = s.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
		if !slices.Equal(keyIDs(current), []string{"k2", "k1", "k3"}) {
			return nil, fmt.Errorf("current = %q; want k2, k1, k3", keyIDs(current))
		}
		return slices.DeleteFunc(current, func(k auth.Key) bool { return k.ID == "k1" }), nil
	})
	if err != nil {
		t.Fatalf("UpdateKeys (delete): %v", err)
	}
	checkKeys(t, s, k2, k3)

	// Returning the set unchanged writes nothing.
	latest := latestChange(t, s)
	err = s.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) { return current, nil })
	if err != nil {
		t.Fatalf("UpdateKeys (no-op): %v", err)
	}
	checkKeys(t, s, k2, k3)
	if l := latestChange(t, s); l != latest {
		t.Errorf("LatestChange after a no-op UpdateKeys = %d; want %d", l, latest)
	}

	// Deleting every key.
	err = s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return nil, nil })
	if err != nil {
		t.Fatalf("UpdateKeys (delete all): %v", err)
	}
	checkKeys(t, s)
}

func testUpdateKeysImmutable(t *testing.T, s auth.Store) {
	ctx := t.Context()
	k1 := someKey("k1", 0)
	if err := s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return []auth.Key{k1}, nil }); err != nil {
		t.Fatalf("UpdateKeys: %v", err)
	}
	latest := latestChange(t, s)
	changes := map[string]func(*auth.Key){
		"Sealed":      func(k *auth.Key) { k.Sealed = []byte("other") },
		"Public":      func(k *auth.Key) { k.Public[0] ^= 1 },
		"Algorithm":   func(k *auth.Key) { k.Algorithm = auth.EdDSA },
		"SigningFrom": func(k *auth.Key) { k.SigningFrom = k.SigningFrom.Add(1000) },
	}
	for field, change := range changes {
		err := s.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
			change(&current[0])
			return append(current, someKey("k2", 1)), nil
		})
		if err == nil {
			t.Errorf("UpdateKeys changing a stored key's %s succeeded; want an error", field)
		}
	}
	checkKeys(t, s, k1)
	if l := latestChange(t, s); l != latest {
		t.Errorf("LatestChange after failed UpdateKeys = %d; want %d", l, latest)
	}
}

func testUpdateKeysError(t *testing.T, s auth.Store) {
	ctx := t.Context()
	k1 := someKey("k1", 0)
	if err := s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return []auth.Key{k1}, nil }); err != nil {
		t.Fatalf("UpdateKeys: %v", err)
	}
	latest := latestChange(t, s)
	boom := errors.New("boom")
	err := s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) {
		return []auth.Key{someKey("k2", 1)}, boom // a result with an error is not written
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateKeys with a failing fn = %v; want %v", err, boom)
	}
	checkKeys(t, s, k1)
	if l := latestChange(t, s); l != latest {
		t.Errorf("LatestChange after an aborted UpdateKeys = %d; want %d", l, latest)
	}
}

// testUpdateKeysConcurrently rotates from several goroutines, as several
// nodes would: each adds a key unless one created at the rotation's time
// exists, and exactly one must win.
func testUpdateKeysConcurrently(t *testing.T, s auth.Store) {
	ctx := t.Context()
	start := latestChange(t, s)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
				for _, k := range current {
					if k.CreatedAt.Equal(someTime(0)) {
						return current, nil
					}
				}
				return append(current, someKey(fmt.Sprintf("k%d", i), 0)), nil
			})
			if err != nil {
				t.Errorf("UpdateKeys %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if len(keys) != 1 {
		t.Errorf("Keys = %q; want exactly one", keyIDs(keys))
	}
	changes, err := s.Changes(ctx, start, 100)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if len(changes) != 1 || changes[0].Kind != auth.ChangeKeys {
		t.Errorf("changes = %+v; want one of kind %q", changes, auth.ChangeKeys)
	}
}
