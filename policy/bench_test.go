package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// benchClaims and benchCondition are gooclaim-loadgen --policies' client:
// two claims that read only the client, one of the request, and an IP
// allow-list.
var (
	benchClaims = map[string]string{
		"tenant":   "client.metadata.tenant",
		"env":      "has(client.metadata.env) ? client.metadata.env : null",
		"scopes_n": "size(request.scope)",
	}
	benchCondition = `ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"])`
)

func benchInput() *Input {
	return &Input{
		ClientID: "gooclaim_app_0123456789", ClientName: "loadgen-policy-0000001", Scopes: []string{"read"},
		Audiences: []string{"https://api.example.com"}, Metadata: map[string]string{"tenant": "acme", "env": "prod"},
		Scope: []string{"read"}, Audience: "https://api.example.com", AuthMethod: "client_secret_post", RemoteIP: "127.0.0.1",
		Now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	}
}

// BenchmarkEval is one token's evaluation of the load generator's policies
// client: bound to its client version, as the issuer evaluates it, and
// unbound (every claim evaluated, the client variable built per token).
// Allocations per op are the figure to watch.
func BenchmarkEval(b *testing.B) {
	s, err := Compile(benchClaims, nil, benchCondition)
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput()
	for _, bc := range []struct {
		name string
		set  *Set
	}{{"bound", s.Bind(in)}, {"unbound", s}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, _, err := bc.set.Eval(in); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkIPIn compares ip_in, its CIDR list kept parsed (cached), with
// the reference refIPIn that parses it at every call (parsed), for a short
// and a longer constant list (CEL folds a literal list of constants into
// one list of CEL values).
func BenchmarkIPIn(b *testing.B) {
	ip := types.String("192.0.2.77")
	for _, l := range [][]string{
		{"127.0.0.0/8", "::1/128"},
		{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "2001:db8::/32", "fd00::/8", "198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/25", "192.0.2.64/26"},
	} {
		elems := make([]ref.Val, len(l))
		for i, c := range l {
			elems[i] = types.String(c)
		}
		list := types.NewRefValList(env.CELTypeAdapter(), elems)
		b.Run(fmt.Sprintf("cached/%d", len(l)), func(b *testing.B) {
			for b.Loop() {
				ipIn(ip, list)
			}
		})
		b.Run(fmt.Sprintf("parsed/%d", len(l)), func(b *testing.B) {
			for b.Loop() {
				refIPIn(ip, list)
			}
		})
	}
}
