package inmem_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
)

func TestReplayCacheConformance(t *testing.T) {
	authtest.RunReplayCacheTests(t, func(t *testing.T, clock *authtest.Clock) auth.ReplayCache {
		return inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock})
	})
}

// TestReplayCacheFull: at MaxEntries live keys, a new key is refused with
// an unavailable error (fail closed), a recorded one is still a replay, and
// room comes back as keys expire.
func TestReplayCacheFull(t *testing.T) {
	clock := authtest.NewClock(authtest.Epoch)
	c := inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock, MaxEntries: 3})
	ctx := context.Background()
	for i := range 3 {
		if ok, err := c.Use(ctx, fmt.Sprint("k", i), clock.Now().Add(time.Duration(i+1)*time.Minute)); !ok || err != nil {
			t.Fatalf("Use k%d = %v, %v", i, ok, err)
		}
	}
	ok, err := c.Use(ctx, "k3", clock.Now().Add(time.Minute))
	if ok || !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Use when full = %v, %v; want false and an unavailable error", ok, err)
	}
	if ok, err := c.Use(ctx, "k0", clock.Now().Add(time.Minute)); ok || err != nil {
		t.Fatalf("Use of a recorded key when full = %v, %v; want a replay (false, nil)", ok, err)
	}
	clock.Advance(time.Minute) // k0 expires
	if ok, err := c.Use(ctx, "k3", clock.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("Use after a key expired = %v, %v; want true", ok, err)
	}
	if n := c.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
}

// TestReplayCachePrunes: expired keys are forgotten without any sweep
// being called, and exactly at their until.
func TestReplayCachePrunes(t *testing.T) {
	clock := authtest.NewClock(authtest.Epoch)
	c := inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock})
	ctx := context.Background()
	start := clock.Now()
	for i := range 1000 {
		if ok, err := c.Use(ctx, fmt.Sprint("k", i), start.Add(time.Duration(i+1)*time.Second)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	clock.Set(start.Add(500 * time.Second))
	if n := c.Len(); n != 500 {
		t.Errorf("Len after half expired = %d, want 500", n)
	}
	// k499 expired at exactly now; k500 expires a second later.
	if ok, _ := c.Use(ctx, "k499", clock.Now().Add(time.Second)); !ok {
		t.Error("a key whose until is now must be forgotten")
	}
	if ok, _ := c.Use(ctx, "k500", clock.Now().Add(time.Second)); ok {
		t.Error("a key whose until is a second away must still be a replay")
	}
	clock.Advance(time.Hour)
	if n := c.Len(); n != 0 {
		t.Errorf("Len after all expired = %d, want 0", n)
	}
}

func BenchmarkReplayCacheUse(b *testing.B) {
	c := inmem.NewReplayCache(inmem.ReplayCacheOptions{})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Use(ctx, fmt.Sprint("client\x00", i), until); err != nil {
			b.Fatal(err)
		}
	}
}
