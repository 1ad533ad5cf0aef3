package issuer_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
)

// payload is the JSON payload of token, undecoded.
func payload(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q: not a JWS", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPolicyPerClientVersion: a claim that reads only the client is
// computed once per client version — a change the store did not stamp
// with a new updated_at does not show, one it did shows at the next
// token — while a claim of the request follows each request; the members
// come in name order. A client claim that fails fails every request as a
// failure of the server.
func TestPolicyPerClientVersion(t *testing.T) {
	f := newFixture(t, testConfig())
	clients := testClients()
	pol := *clients["svc-a"]
	pol.ID, pol.Metadata = "svc-policy", map[string]string{"tenant": "acme"}
	pol.Claims = map[string]string{"tenant": "client.metadata.tenant", "n": "size(request.scope)", "z_name": "client.id"}
	pol.Condition = `ip_in(request.remote_ip, ["10.0.0.0/8"])`
	clients["svc-policy"] = &pol
	broken := *clients["svc-a"]
	broken.ID, broken.Claims = "svc-broken", map[string]string{"tenant": "client.metadata.tenant", "n": "size(request.scope)"}
	clients["svc-broken"] = &broken
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: f.clock, SweepInterval: -1})
	t.Cleanup(limiter.Close)
	iss := issuer.New(testConfig(), clients, f.ring, limiter, f.clock)
	ctx := context.Background()
	issue := func(id, scope string) string {
		t.Helper()
		tok, err := iss.Issue(ctx, with(creds(id, secretA), func(r *auth.TokenRequest) { r.Scope, r.RemoteAddr = scope, "10.1.2.3" }))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return payload(t, tok.AccessToken)
	}

	if p := issue("svc-policy", "read write"); !strings.HasSuffix(p, `,"n":2,"tenant":"acme","z_name":"svc-policy"}`) {
		t.Errorf("first token %s; want n 2, tenant acme, z_name in name order at the end", p)
	}
	pol.Metadata = map[string]string{"tenant": "unstamped"}
	if p := issue("svc-policy", "read"); !strings.HasSuffix(p, `,"n":1,"tenant":"acme","z_name":"svc-policy"}`) {
		t.Errorf("token of the same version %s; want tenant acme still, n 1", p)
	}
	pol.Metadata, pol.UpdatedAt = map[string]string{"tenant": "globex"}, pol.UpdatedAt.Add(1)
	if p := issue("svc-policy", "read"); !strings.HasSuffix(p, `,"n":1,"tenant":"globex","z_name":"svc-policy"}`) {
		t.Errorf("token of the new version %s; want tenant globex", p)
	}

	for range 2 {
		_, err := iss.Issue(ctx, creds("svc-broken", secretA))
		var oe *auth.OAuthError
		if err == nil || errors.As(err, &oe) || !strings.Contains(err.Error(), `client "svc-broken": claim "tenant": no such key: tenant`) {
			t.Errorf("a client claim that fails: %v; want a failure of the server naming the client and the claim", err)
		}
	}
}
