package authtest

import (
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// checkRevoked reports a token whose TokenRevoked is not want.
func checkRevoked(t *testing.T, s auth.Store, jti string, want bool) {
	t.Helper()
	got, err := s.TokenRevoked(t.Context(), jti)
	if err != nil {
		t.Fatalf("TokenRevoked(%q): %v", jti, err)
	}
	if got != want {
		t.Errorf("TokenRevoked(%q) = %v; want %v", jti, got, want)
	}
}

// prune calls PruneRevocations and reports a count other than want.
func prune(t *testing.T, s auth.Store, before time.Time, want int) {
	t.Helper()
	n, err := s.PruneRevocations(t.Context(), before)
	if err != nil {
		t.Fatalf("PruneRevocations(%v): %v", before, err)
	}
	if n != want {
		t.Errorf("PruneRevocations(%v) = %d; want %d", before, n, want)
	}
}

func testRevokeToken(t *testing.T, s auth.Store) {
	ctx := t.Context()
	checkRevoked(t, s, "jti-1", false)
	latest := latestChange(t, s)

	r := auth.RevokedToken{JTI: "jti-1", ClientID: "c", ExpiresAt: someTime(3600), RevokedAt: someTime(0)}
	if err := s.RevokeToken(ctx, r); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	checkRevoked(t, s, "jti-1", true)
	checkRevoked(t, s, "jti-2", false)
	checkRevoked(t, s, "JTI-1", false) // IDs are compared exactly

	// Revoking again is not an error, and the first record stays: it is
	// pruned with the first expiry, not the second's.
	again := auth.RevokedToken{JTI: "jti-1", ClientID: "other", ExpiresAt: someTime(7200)}
	if err := s.RevokeToken(ctx, again); err != nil {
		t.Fatalf("RevokeToken again: %v", err)
	}
	checkRevoked(t, s, "jti-1", true)

	// A zero RevokedAt is set by the store.
	if err := s.RevokeToken(ctx, auth.RevokedToken{JTI: "jti-2", ExpiresAt: someTime(7200)}); err != nil {
		t.Fatalf("RevokeToken(jti-2): %v", err)
	}
	checkRevoked(t, s, "jti-2", true)

	// Each revocation that recorded something appends a change of its
	// token's client, so that every node's replica forgets the client's
	// kept tokens (issuer.TokenCache); a repeated one and one without a
	// client append none.
	changes, err := s.Changes(ctx, latest, 100)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if len(changes) != 1 || changes[0].Kind != auth.ChangeClient || changes[0].ID != "c" {
		t.Errorf("changes after the revocations: %+v; want one change of client c", changes)
	}

	prune(t, s, someTime(3601), 1)
	checkRevoked(t, s, "jti-1", false)
	checkRevoked(t, s, "jti-2", true)
}

func testRevokeTokenInvalid(t *testing.T, s auth.Store) {
	ctx := t.Context()
	for _, r := range []auth.RevokedToken{
		{ClientID: "c", ExpiresAt: someTime(60)},
		{JTI: "no-expiry", ClientID: "c"},
	} {
		if err := s.RevokeToken(ctx, r); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("RevokeToken(%+v) = %v; want EINVALID", r, err)
		}
	}
	checkRevoked(t, s, "", false)
	checkRevoked(t, s, "no-expiry", false)
	if events := auditEvents(t, s, auth.AuditQuery{}); len(events) != 0 {
		t.Errorf("audit events after refused revocations:%s; want none", formatEvents(events))
	}
}

func testPruneRevocations(t *testing.T, s auth.Store) {
	ctx := t.Context()
	prune(t, s, someTime(0), 0)
	for _, r := range []auth.RevokedToken{
		{JTI: "t10", ClientID: "a", ExpiresAt: someTime(10)},
		{JTI: "t20", ClientID: "a", ExpiresAt: someTime(20)},
		{JTI: "t20b", ClientID: "b", ExpiresAt: someTime(20).Add(time.Microsecond)},
		{JTI: "t30", ClientID: "b", ExpiresAt: someTime(30)},
	} {
		if err := s.RevokeToken(ctx, r); err != nil {
			t.Fatalf("RevokeToken(%s): %v", r.JTI, err)
		}
	}
	events := auditEvents(t, s, auth.AuditQuery{Action: auth.ActionTokenRevoke})

	prune(t, s, someTime(10), 0) // expired before, not at
	checkRevoked(t, s, "t10", true)
	prune(t, s, someTime(20), 1)
	checkRevoked(t, s, "t10", false)
	checkRevoked(t, s, "t20", true)
	prune(t, s, someTime(20), 0)
	prune(t, s, someTime(20).Add(2*time.Microsecond), 2)
	checkRevoked(t, s, "t20", false)
	checkRevoked(t, s, "t20b", false)
	checkRevoked(t, s, "t30", true)
	prune(t, s, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 1) // beyond what nanoseconds hold
	checkRevoked(t, s, "t30", false)
	prune(t, s, someTime(1000), 0)

	// The audit trail keeps the revocations.
	if got := auditEvents(t, s, auth.AuditQuery{Action: auth.ActionTokenRevoke}); len(got) != 4 || len(events) != 4 {
		t.Errorf("revocation events before pruning %d, after %d; want 4 and 4", len(events), len(got))
	}
}
