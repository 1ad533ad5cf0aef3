package issuer

import (
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// BenchmarkApplyPolicy is the expressions' part of a token of
// gooclaim-loadgen --policies' client (three claims, two of them of the
// client alone, and an IP allow-list), its client version cached.
func BenchmarkApplyPolicy(b *testing.B) {
	i := &Issuer{cfg: Config{Audience: "https://api.example"}.withDefaults(), policies: newPolicies(nil)}
	c := &auth.Client{ID: "gooclaim_app_0123456789", Name: "loadgen-policy-0000001", Scopes: []string{"read"},
		Metadata: map[string]string{"tenant": "acme", "env": "prod"},
		Claims: map[string]string{
			"tenant":   "client.metadata.tenant",
			"env":      "has(client.metadata.env) ? client.metadata.env : null",
			"scopes_n": "size(request.scope)",
		},
		Condition: `ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"])`, UpdatedAt: time.Unix(1, 0)}
	req := &auth.TokenRequest{AuthMethod: auth.AuthClientSecretPost, RemoteAddr: "127.0.0.1"}
	now := time.Unix(1795728216, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.applyPolicy(c, req, "read", "https://api.example", now, nil); err != nil {
			b.Fatal(err)
		}
	}
}
