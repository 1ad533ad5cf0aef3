package verify_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

// TestActClaim: a delegated token's "act" (RFC 8693 §4.1), nested or not,
// is in Claims.Act, and Actors lists the chain, the current actor first;
// its subject stays the subject token's.
func TestActClaim(t *testing.T) {
	t.Parallel()
	s := newServer(t, testserver.Options{})
	v := newVerifier(t, s, nil)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		act    any
		actors []string
	}{
		{"not delegated", nil, nil},
		{"one actor", map[string]any{"sub": "claims-api"}, []string{"claims-api"}},
		{"a chain", map[string]any{"sub": "files-api", "act": map[string]any{"sub": "claims-api", "act": map[string]any{"sub": "gateway"}}},
			[]string{"files-api", "claims-api", "gateway"}},
		{"other members kept in Raw", map[string]any{"sub": "claims-api", "iss": s.Issuer, "client_id": "claims-api"}, []string{"claims-api"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := claims(s, now)
			c["sub"] = "gooclaim_app_partner"
			if tc.act != nil {
				c["act"] = tc.act
				c["client_id"] = tc.actors[0]
			}
			got, err := v.Verify(context.Background(), signWith(t, s, now, "at+jwt", c))
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != "gooclaim_app_partner" || !slices.Equal(got.Actors(), tc.actors) {
				t.Errorf("sub %q, actors %q; want gooclaim_app_partner, %q", got.Subject, got.Actors(), tc.actors)
			}
			if (got.Act == nil) != (tc.act == nil) || (got.Act != nil && got.Act.Subject != tc.actors[0]) {
				t.Errorf("Act %+v", got.Act)
			}
			if tc.act != nil && got.Raw["act"] == nil {
				t.Error("act missing from Raw")
			}
		})
	}
}

// TestActClaimRefused: a malformed "act" makes the token invalid.
func TestActClaimRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t, testserver.Options{})
	v := newVerifier(t, s, nil)
	now := time.Now()
	deep := map[string]any{"sub": "a0"}
	for i := 1; i <= verify.MaxActDepth; i++ {
		deep = map[string]any{"sub": "a", "act": deep}
	}
	with := func(act any) string {
		c := claims(s, now)
		c["act"] = act
		return signWith(t, s, now, "at+jwt", c)
	}
	checkCases(t, v, []tokenCase{
		{"a string", with("claims-api"), "act claim is not a JSON object"},
		{"an array", with([]any{map[string]any{"sub": "x"}}), "act claim is not a JSON object"},
		{"no sub", with(map[string]any{"client_id": "claims-api"}), "act claim has no sub"},
		{"empty sub", with(map[string]any{"sub": ""}), "act claim has no sub"},
		{"numeric sub", with(map[string]any{"sub": 7}), "act claim has no sub"},
		{"bad nested act", with(map[string]any{"sub": "a", "act": map[string]any{"sub": true}}), "act claim has no sub"},
		{"null nested act", with(map[string]any{"sub": "a", "act": nil}), "act claim is not a JSON object"},
		{"too deep", with(deep), "nested more than 16 deep"},
		{"as deep as allowed", with(deep["act"]), ""},
	})
}
