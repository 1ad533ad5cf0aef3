package issuer_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/issuer"
)

// TestRevokeKey removes keys in each state: the key leaves the store and
// the JWKS at once; an active key is replaced in the same transaction by a
// key that signs at once, never by an older key; a next key is simply
// dropped; an unknown kid is ENOTFOUND and changes nothing.
func TestRevokeKey(t *testing.T) {
	ctx := t.Context()
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
	maintain(t, ring)
	k0 := reload(t, ring, db)[0]
	clock.Advance(time.Hour)
	k1, err := ring.Rotate(ctx, 0) // k0 retired, k1 active
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ring.Rotate(ctx, publishAhead) // k2 next
	if err != nil {
		t.Fatal(err)
	}
	reload(t, ring, db)
	clock.Advance(time.Minute)
	now := clock.Now()
	checkSigner(t, ring, now, k1)
	checkJWKS(t, ring, now, k0, k1, k2)

	// The active key: gone, and a new key signs at once (not k0, not k2 early).
	rk, err := ring.Revoke(ctx, k1.ID)
	if err != nil {
		t.Fatalf("Revoke(active): %v", err)
	}
	if rk.Key.ID != k1.ID || rk.State != issuer.KeyActive || rk.Replacement == nil {
		t.Fatalf("Revoke(active) = %+v, want k1, active, with a replacement", rk)
	}
	k3 := *rk.Replacement
	if !k3.SigningFrom.Equal(now) || k3.Algorithm != testPolicy.Algorithm {
		t.Errorf("replacement signs from %v (%s), want %v (%s)", k3.SigningFrom, k3.Algorithm, now, testPolicy.Algorithm)
	}
	stored := reload(t, ring, db)
	if got, want := ids(stored), []string{k0.ID, k2.ID, k3.ID}; !sameIDs(got, want) {
		t.Fatalf("stored after revoking the active key: %q, want %q", got, want)
	}
	checkSigner(t, ring, now, k3)
	checkJWKS(t, ring, now, k0, k2, k3)
	if _, _, ok := ring.VerificationKey(k1.ID, now); ok {
		t.Error("the revoked key still verifies")
	}
	checkSigner(t, ring, k2.SigningFrom, k2) // the scheduled rotation still happens

	// A retired key and the next key: gone, no replacement, signer unchanged.
	for _, k := range []auth.Key{k0, k2} {
		rk, err := ring.Revoke(ctx, k.ID)
		if err != nil {
			t.Fatalf("Revoke(%s): %v", k.ID, err)
		}
		if rk.Replacement != nil {
			t.Errorf("Revoke(%s, %s) made a replacement", k.ID, rk.State)
		}
		reload(t, ring, db)
		checkSigner(t, ring, now, k3)
	}
	checkJWKS(t, ring, now, k3)

	// Unknown: ENOTFOUND, nothing changes.
	if _, err := ring.Revoke(ctx, "no-such-kid"); auth.ErrorCode(err) != auth.ENOTFOUND {
		t.Errorf("Revoke(unknown) = %v, want ENOTFOUND", err)
	}
	if got := ids(storedKeys(t, db)); !slices.Equal(got, []string{k3.ID}) {
		t.Errorf("stored after revoking an unknown key: %q", got)
	}
	// Maintain keeps the replacement (its rotation period starts now).
	if maintain(t, ring) {
		t.Error("Maintain changed the keys right after an emergency rotation")
	}

	// The only key, active: replaced, so the server can still sign.
	clock.Advance(time.Second)
	rk, err = ring.Revoke(ctx, k3.ID)
	if err != nil || rk.Replacement == nil {
		t.Fatalf("Revoke(the only key) = %+v, %v", rk, err)
	}
	reload(t, ring, db)
	checkSigner(t, ring, clock.Now(), *rk.Replacement)
	checkJWKS(t, ring, clock.Now(), *rk.Replacement)
}

func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRevokeKeyKeepsTheAlgorithm: the replacement of an active key has the
// revoked key's algorithm, whatever the policy says, so that verifiers
// restricted to it accept the new tokens.
func TestRevokeKeyKeepsTheAlgorithm(t *testing.T) {
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ed := testPolicy
	ed.Algorithm = auth.EdDSA
	maintain(t, issuer.NewKeyRing(ed, testKEK(), db, clock))
	k := storedKeys(t, db)[0]
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock) // ES256
	rk, err := ring.Revoke(t.Context(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rk.Replacement == nil || rk.Replacement.Algorithm != auth.EdDSA {
		t.Fatalf("replacement %+v, want an EdDSA key", rk.Replacement)
	}
}
