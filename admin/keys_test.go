package admin_test

import (
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
)

// TestRevokeKey: the service checks its input, needs the key-encryption
// key, and records the revocation as keys.revoke with the caller as actor.
func TestRevokeKey(t *testing.T) {
	ctx := auth.WithAudit(t.Context(), auth.Audit{Actor: "cli:test"})
	svc := newService(t)
	if _, err := svc.RevokeKey(ctx, "k", ""); auth.ErrorCode(err) != auth.EUNAVAILABLE {
		t.Errorf("without a key ring: %v, want EUNAVAILABLE", err)
	}
	kek, err := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	if err != nil {
		t.Fatal(err)
	}
	svc.Keys = issuer.NewKeyRing(issuer.KeyPolicy{}, kek, svc.Store, nil)
	if _, err := svc.Keys.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := svc.KeyStatuses(ctx)
	if err != nil || len(st) != 1 {
		t.Fatalf("KeyStatuses: %v, %v", st, err)
	}
	kid := st[0].Key.ID
	for _, tc := range []struct{ kid, reason, want string }{
		{"", "", "key ID: required"},
		{"  ", "", "key ID: required"},
		{kid, "a\nb", "no control characters"},
		{kid, strings.Repeat("x", 501), "at most 500"},
		{"no-such-key", "", "no signing key"},
	} {
		_, err := svc.RevokeKey(ctx, tc.kid, tc.reason)
		if err == nil || !strings.Contains(auth.ErrorMessage(err), tc.want) {
			t.Errorf("RevokeKey(%q, %q) = %v, want an error saying %q", tc.kid, tc.reason, err, tc.want)
		}
	}
	rk, err := svc.RevokeKey(ctx, kid, "drill")
	if err != nil || rk.Key.ID != kid || rk.Replacement == nil {
		t.Fatalf("RevokeKey = %+v, %v", rk, err)
	}
	events, err := svc.AuditEvents(ctx, auth.AuditQuery{Action: auth.ActionKeysRevoke})
	if err != nil || len(events) != 1 || events[0].Actor != "cli:test" ||
		!strings.Contains(string(events[0].Before), kid) || strings.Contains(string(events[0].After), kid) {
		t.Errorf("audit events %+v (%v), want one keys.revoke by cli:test removing %s", events, err, kid)
	}
}
