package httpapi_test

import (
	"fmt"
	"maps"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// BenchmarkTokenHandlerPolicies is BenchmarkTokenHandler/form (ES256) on
// one stack of plain clients and clients alike but for gooclaim-loadgen
// --policies' three claims and condition (its address range that of
// httptest's requests): the in-process counterpart of the load
// generator's policies ÷ plain, without its network. Compare the
// sub-benchmarks' cpu-ns/op and allocs/op; plain_again, the plain clients
// once more, shows what running second alone changes.
func BenchmarkTokenHandlerPolicies(b *testing.B) {
	claims := map[string]string{
		"tenant":   "client.metadata.tenant",
		"env":      "has(client.metadata.env) ? client.metadata.env : null",
		"scopes_n": "size(request.scope)",
	}
	const n = benchClients
	st := newStackWith(b, auth.ES256, 2*n, func(i int) admin.ClientSpec {
		if i < n {
			return admin.ClientSpec{Name: fmt.Sprintf("plain-%d", i), Scopes: []string{"claims:read"}}
		}
		return admin.ClientSpec{Name: fmt.Sprintf("policy-%d", i), Scopes: []string{"claims:read"},
			Claims: maps.Clone(claims), Condition: `ip_in(request.remote_ip, ["192.0.2.0/24", "::1/128"])`,
			Metadata: map[string]string{"tenant": "acme", "env": "prod"}}
	})
	for _, set := range []struct {
		name  string
		creds [][2]string
	}{{"plain", st.creds[:n]}, {"policies", st.creds[n:]}, {"plain_again", st.creds[:n]}} {
		for _, c := range set.creds { // each client's first token compiles
			serve(b, st.logged, formRequest(c[0], c[1]))
		}
		b.Run(set.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				c := set.creds[i%len(set.creds)]
				i++
				serve(b, st.logged, formRequest(c[0], c[1]))
			}
		})
	}
}
