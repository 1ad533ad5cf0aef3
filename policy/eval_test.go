package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// TestBindEvaluatesClientClaimsOnce: Bind evaluates the claims that read
// only the client; Eval of the bound Set does not evaluate them again (it
// does not read its Input's client fields), evaluates the others for each
// request and merges both in name order. A new client version, bound
// anew, gets its own values.
func TestBindEvaluatesClientClaimsOnce(t *testing.T) {
	s, err := Compile(map[string]string{
		"a_tenant": "client.metadata.tenant",
		"b_scope":  "request.scope",
		"c_env":    `has(client.metadata.env) ? client.metadata.env : null`,
		"d_hour":   "now.getHours()",
		"e_name":   "client.name",
	}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{ClientName: "v1", Metadata: map[string]string{"tenant": "acme"}, Scope: []string{"read"}, Now: time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC)}
	v1 := s.Bind(in)

	later := *in
	later.ClientName, later.Metadata = "changed", map[string]string{"tenant": "other", "env": "prod"}
	later.Scope, later.Now = []string{"write"}, in.Now.Add(time.Hour)
	_, got, err := v1.Eval(&later)
	if want := `,"a_tenant":"acme","b_scope":["write"],"d_hour":8,"e_name":"v1"`; err != nil || string(got) != want {
		t.Errorf("bound Eval = %s, %v; want %s (the client's claims as bound, the request's of this request)", got, err, want)
	}
	v2 := s.Bind(&later)
	_, got, err = v2.Eval(&later)
	if want := `,"a_tenant":"other","b_scope":["write"],"c_env":"prod","d_hour":8,"e_name":"changed"`; err != nil || string(got) != want {
		t.Errorf("Eval bound to the new version = %s, %v; want %s", got, err, want)
	}
	if _, got, _ := s.Eval(&later); string(got) != `,"a_tenant":"other","b_scope":["write"],"c_env":"prod","d_hour":8,"e_name":"changed"` {
		t.Errorf("unbound Eval = %s", got)
	}
}

// TestBindKeepsFailures: a claim of the client alone that fails fails
// every Eval of the bound Set with the error evaluating it there would
// give — but only once the condition holds, as before.
func TestBindKeepsFailures(t *testing.T) {
	claims := map[string]string{"tenant": "client.metadata.tenant", "n": "size(request.scope)", "nan": `double("NaN")`}
	for _, tc := range []struct {
		condition string
		meta      map[string]string
		wantClaim string
	}{
		{"", nil, "nan"}, // in name order: n, nan, tenant
		{`request.remote_ip == "10.0.0.1"`, nil, "nan"},
		{`request.remote_ip == "10.0.0.2"`, nil, ""},
	} {
		s, err := Compile(claims, nil, tc.condition)
		if err != nil {
			t.Fatal(err)
		}
		in := &Input{Metadata: tc.meta, RemoteIP: "10.0.0.1"}
		b := s.Bind(in)
		for range 3 {
			ok, members, err := b.Eval(in)
			wantOK, _, wantErr := refEval(t, claims, tc.condition, in)
			if ok != wantOK || members != nil || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("condition %q: Eval = %v, %s, %v; want %v, none, %v", tc.condition, ok, members, err, wantOK, wantErr)
			}
			if e, isEval := err.(*EvalError); tc.wantClaim != "" && (!isEval || e.Claim != tc.wantClaim) {
				t.Errorf("condition %q: error %v; want an EvalError of claim %s", tc.condition, err, tc.wantClaim)
			}
		}
	}
	// Without the NaN, the missing key fails each request.
	s, _ := Compile(map[string]string{"tenant": "client.metadata.tenant", "n": "size(request.scope)"}, nil, "")
	b := s.Bind(&Input{})
	for range 2 {
		if _, _, err := b.Eval(&Input{}); err == nil || err.Error() != `claim "tenant": no such key: tenant` {
			t.Errorf("Eval = %v; want claim \"tenant\": no such key: tenant", err)
		}
	}
}

// TestReads: which variables an expression reads, from its checked AST.
func TestReads(t *testing.T) {
	type want struct{ client, perRequest bool }
	for expr, w := range map[string]want{
		`"x"`:                                  {false, false},
		`client.metadata.tenant`:               {true, false},
		`client.scopes.exists(s, s == "a")`:    {true, false},
		`{"id": client.id, "n": size(client)}`: {true, false},
		`request.scope`:                        {false, true},
		`.request.scope`:                       {false, true},
		`now`:                                  {false, true},
		`string(now)`:                          {false, true},
		`hour_in(now, "UTC", 9, 17)`:           {false, true},
		`client.metadata.tenant + request.audience`: {true, true},
		`has(request.federated_claims.sub)`:         {false, true},
		`[1].map(request, request)`:                 {false, true}, // a shadowing name counts: merely evaluated per token
		`[1].map(client, client)`:                   {true, false},
	} {
		ast, err := compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		if c, r := reads(ast); c != w.client || r != w.perRequest {
			t.Errorf("reads(%s) = %v, %v; want %v, %v", expr, c, r, w.client, w.perRequest)
		}
	}
}

func TestRequestDependentClaims(t *testing.T) {
	var none *Set
	if none.RequestDependentClaims() {
		t.Error("nil Set: true")
	}
	for _, tc := range []struct {
		claims, defaults map[string]string
		condition        string
		want             bool
	}{
		{map[string]string{"t": "client.metadata.tenant"}, nil, "", false},
		{map[string]string{"t": "client.metadata.tenant"}, map[string]string{"r": `"eu"`}, `ip_in(request.remote_ip, ["10.0.0.0/8"])`, false},
		{nil, nil, `hour_in(now, "UTC", 9, 17)`, false},
		{map[string]string{"t": "client.metadata.tenant", "n": "size(request.scope)"}, nil, "", true},
		{map[string]string{"t": "client.metadata.tenant"}, map[string]string{"iat_h": "now.getHours()"}, "", true},
		// The client's claim overrides the default that read the request.
		{map[string]string{"d": `"x"`}, map[string]string{"d": "request.audience"}, "", false},
	} {
		s, err := Compile(tc.claims, tc.defaults, tc.condition)
		if err != nil {
			t.Fatal(err)
		}
		if got, bound := s.RequestDependentClaims(), s.Bind(&Input{}).RequestDependentClaims(); got != tc.want || bound != tc.want {
			t.Errorf("%v over %v, condition %q: %v (bound %v); want %v", tc.claims, tc.defaults, tc.condition, got, bound, tc.want)
		}
	}
}

// TestUnlimitedWithinBound: where an expression runs without the runtime
// tracker, its actual cost over inputs at maxSize stays within MaxCost;
// beyond maxSize the limit is kept and stops it.
func TestUnlimitedWithinBound(t *testing.T) {
	full := func(n int) []string {
		l := make([]string, maxSize)
		for i := range l {
			l[i] = fmt.Sprintf("%0*d", n, i)
		}
		return l
	}
	meta := map[string]string{
		"big": strings.Repeat("x", maxSize), "re": strings.Repeat("x", maxSize-2) + ".*", "tenant": strings.Repeat("t", maxSize),
	}
	for i := range maxSize - len(meta) {
		meta[fmt.Sprintf("%0*d", maxSize, i)] = strings.Repeat("v", maxSize)
	}
	in := &Input{
		ClientID: strings.Repeat("i", maxSize), ClientName: strings.Repeat("n", maxSize), Scopes: full(maxSize), Audiences: full(maxSize),
		Metadata: meta, Scope: full(maxSize), Audience: strings.Repeat("a", maxSize), AuthMethod: strings.Repeat("m", maxSize),
		RemoteIP: strings.Repeat("r", maxSize),
	}
	if !in.clientFits() || !in.requestFits() {
		t.Fatal("the test input does not fit")
	}
	unlimited := 0
	for _, e := range append(claimExprs, conditionExprs[1:]...) {
		ast, err := compile(e)
		if err != nil {
			t.Fatal(err)
		}
		p, err := newProgram(ast)
		if err != nil {
			t.Fatal(err)
		}
		if p.unlimited == nil {
			continue
		}
		unlimited++
		tracked, err := env.Program(ast, cel.EvalOptions(cel.OptTrackCost))
		if err != nil {
			t.Fatal(err)
		}
		_, det, _ := tracked.Eval(newActivation(in, nil))
		if c := det.ActualCost(); c == nil || *c > MaxCost {
			t.Errorf("%s runs unlimited, but costs %v at maxSize", e, c)
		}
	}
	if unlimited < len(claimExprs)/2 {
		t.Errorf("only %d expressions run unlimited", unlimited)
	}

	// Beyond maxSize, the limit holds.
	big := &Input{Scopes: full(maxSize), Metadata: map[string]string{"big": strings.Repeat("x", 1024), "re": strings.Repeat("x", 1000) + ".*"}}
	big.Scopes = append(big.Scopes, full(maxSize)...)
	big.Scopes = append(big.Scopes, full(maxSize)...)
	big.Scopes = append(big.Scopes, full(maxSize)...)
	for _, e := range []string{`client.scopes.all(a, [a, a, a, a, a, a, a, a, a, a].all(b, b == a))`, `client.metadata.big.matches(client.metadata.re)`} {
		s, err := Compile(map[string]string{"x": e}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.claims[0].prog.unlimited == nil {
			t.Fatalf("%s: no unlimited program", e)
		}
		for _, set := range []*Set{s, s.Bind(big)} {
			if _, _, err := set.Eval(big); err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
				t.Errorf("%s beyond maxSize: %v; want the cost limit exceeded", e, err)
			}
		}
	}
}

// TestIPInLists: ip_in's kept lists answer as parsing them does, in the
// list's order: a range that holds the address before a bad element
// answers true, a bad one before it fails.
func TestIPInLists(t *testing.T) {
	for _, tc := range []struct {
		ip, list string
		want     string
	}{
		{"10.1.2.3", `["10.0.0.0/8", "bad"]`, "true"},
		{"10.1.2.3", `["bad", "10.0.0.0/8"]`, `ip_in: "bad" is not a CIDR range such as 10.0.0.0/8`},
		{"192.0.2.1", `["10.0.0.0/8", "bad"]`, `ip_in: "bad" is not a CIDR range such as 10.0.0.0/8`},
		{"not an ip", `["bad"]`, "false"},
		{"::ffff:10.0.0.1", `["10.0.0.0/8"]`, "true"},
		{"::1", `["127.0.0.0/8", "::1/128"]`, "true"},
		{"10.1.2.3", `[]`, "false"},
		{"10.1.2.3", `dyn(["10.0.0.0/8", 1])`, "true"},
		{"192.0.2.1", `dyn(["10.0.0.0/8", 1])`, "ip_in: the CIDR list holds a non-string"},
	} {
		s, err := Compile(nil, nil, fmt.Sprintf("ip_in(%q, %s)", tc.ip, tc.list))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // parsed, then kept
			ok, _, err := s.Eval(&Input{})
			got := fmt.Sprint(ok)
			if err != nil {
				got = strings.TrimPrefix(err.Error(), "condition: ")
			}
			if got != tc.want {
				t.Errorf("ip_in(%q, %s) = %s; want %s", tc.ip, tc.list, got, tc.want)
			}
		}
	}
	// The kept lists are bounded.
	for i := range maxCIDRLists + 10 {
		l := types.NewStringList(env.CELTypeAdapter(), []string{fmt.Sprintf("10.%d.0.0/16", i%256), fmt.Sprintf("%d", i)})
		ipIn(types.String("10.0.0.1"), l)
	}
	cidrLists.RLock()
	n := len(cidrLists.m)
	cidrLists.RUnlock()
	if n > maxCIDRLists {
		t.Errorf("%d lists kept; want at most %d", n, maxCIDRLists)
	}
}
