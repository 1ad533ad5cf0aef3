package issuer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
)

// TestDPoPBinding: a request whose proof httpapi verified (DPoPJKT) gets a
// DPoP token bound to the key (cnf.jkt), which introspection reports; a
// client that requires DPoP is refused without one.
func TestDPoPBinding(t *testing.T) {
	f := newFixture(t, testConfig())
	clients := testClients()
	strict := *clients["svc-a"]
	strict.ID, strict.RequireDPoP = "svc-strict", true
	clients["svc-strict"] = &strict
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: f.clock, SweepInterval: -1})
	t.Cleanup(limiter.Close)
	iss := issuer.New(testConfig(), clients, f.ring, limiter, f.clock)
	ctx := context.Background()
	const jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

	_, err := iss.Issue(ctx, creds("svc-strict", secretA))
	var oe *auth.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_request" || !strings.Contains(oe.Description, "must use DPoP") {
		t.Fatalf("RequireDPoP without a proof: %v", err)
	}
	for _, id := range []string{"svc-strict", "svc-a"} {
		tok, err := iss.Issue(ctx, with(creds(id, secretA), func(r *auth.TokenRequest) { r.DPoPJKT = jkt }))
		if err != nil {
			t.Fatalf("%s with a proof: %v", id, err)
		}
		if tok.TokenType != auth.TokenTypeDPoP {
			t.Errorf("%s: token_type %q", id, tok.TokenType)
		}
		c := verifyToken(t, tok.AccessToken, f.key)
		if c.Cnf == nil || c.Cnf.JKT != jkt || c.Cnf.X5TS256 != "" {
			t.Errorf("%s: cnf %+v", id, c.Cnf)
		}
		in, err := iss.Inspect(ctx, tok.AccessToken)
		if err != nil || !in.Active || in.TokenType != auth.TokenTypeDPoP || in.Cnf == nil || in.Cnf.JKT != jkt {
			t.Errorf("%s: introspection %+v, %v", id, in, err)
		}
	}
	tok, err := iss.Issue(ctx, creds("svc-a", secretA))
	if err != nil || tok.TokenType != "Bearer" {
		t.Fatalf("Bearer: %+v, %v", tok, err)
	}
	if c := verifyToken(t, tok.AccessToken, f.key); c.Cnf != nil {
		t.Errorf("a Bearer token has cnf %+v", c.Cnf)
	}
	if in, _ := iss.Inspect(ctx, tok.AccessToken); in.TokenType != "Bearer" || in.Cnf != nil {
		t.Errorf("Bearer introspection %+v", in)
	}
}
