package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/gooclaim/auth/internal/jsonenc"
)

// The reference evaluation: how Eval worked before Bind, custom
// activations and the unlimited programs — every expression under the
// runtime cost limit, the variables in Go maps built per evaluation,
// ip_in parsing its list at every call. TestEvalMatchesReference holds
// the real one to it.

var refEnv = func() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("client", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("now", cel.TimestampType),
		cel.ParserExpressionSizeLimit(MaxExpressionLength),
		cel.ParserRecursionLimit(32),
		cel.Function("ip_in",
			cel.Overload("ip_in_string_list_string", []*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(refIPIn))),
		cel.Function("hour_in",
			cel.Overload("hour_in_timestamp_string_int_int", []*cel.Type{cel.TimestampType, cel.StringType, cel.IntType, cel.IntType}, cel.BoolType,
				cel.FunctionBinding(hourIn))),
	)
	if err != nil {
		panic(err)
	}
	return e
}()

func refIPIn(ipVal, cidrs ref.Val) ref.Val {
	s, ok := ipVal.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(ipVal)
	}
	addr, err := netip.ParseAddr(string(s))
	if err != nil {
		return types.False
	}
	addr = addr.Unmap()
	list, ok := cidrs.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(cidrs)
	}
	for it := list.Iterator(); it.HasNext() == types.True; {
		c, ok := it.Next().(types.String)
		if !ok {
			return types.NewErr("ip_in: the CIDR list holds a non-string")
		}
		p, err := netip.ParsePrefix(string(c))
		if err != nil {
			return types.NewErr("ip_in: %q is not a CIDR range such as 10.0.0.0/8", string(c))
		}
		if p.Contains(addr) {
			return types.True
		}
	}
	return types.False
}

func refActivation(in *Input) map[string]any {
	fed := in.FederatedClaims
	if fed == nil {
		fed = map[string]any{}
	}
	meta := in.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return map[string]any{
		"client": map[string]any{
			"id": in.ClientID, "name": in.ClientName, "scopes": nonNil(in.Scopes),
			"audiences": nonNil(in.Audiences), "metadata": meta,
		},
		"request": map[string]any{
			"scope": nonNil(in.Scope), "audience": in.Audience, "auth_method": in.AuthMethod,
			"remote_ip": in.RemoteIP, "federated_claims": fed,
		},
		"now": in.Now,
	}
}

// refPrograms are the reference's compiled programs, by text.
var refPrograms = map[string]cel.Program{}

func refProgram(t *testing.T, expr string) cel.Program {
	t.Helper()
	if p, ok := refPrograms[expr]; ok {
		return p
	}
	ast, iss := refEnv.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", expr, iss.Err())
	}
	p, err := refEnv.Program(ast, cel.CostLimit(MaxCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		t.Fatal(err)
	}
	refPrograms[expr] = p
	return p
}

// refEval is Eval as it was: claims merged and sorted by name, the
// condition first.
func refEval(t *testing.T, claims map[string]string, condition string, in *Input) (bool, []byte, error) {
	vars := refActivation(in)
	if condition != "" {
		v, _, err := refProgram(t, condition).Eval(vars)
		if err != nil {
			return false, nil, &EvalError{Err: err}
		}
		if b, ok := v.(types.Bool); !ok || !bool(b) {
			return false, nil, nil
		}
	}
	var members []byte
	for _, name := range sortedKeys(claims) {
		v, _, err := refProgram(t, claims[name]).Eval(vars)
		if err != nil {
			return false, nil, &EvalError{Claim: name, Err: err}
		}
		if v == types.NullValue {
			continue
		}
		members = append(members, ',')
		members = jsonenc.AppendString(members, name)
		members = append(members, ':')
		if members, err = appendValue(members, v, 0); err != nil {
			return false, nil, &EvalError{Claim: name, Err: err}
		}
	}
	return true, members, nil
}

// claimExprs are claim expressions of every kind: of the client alone, of
// the request, of the time, the variables as wholes, macros, failures at
// run time (a missing key, a value without JSON form, a division by zero,
// a cost over the limit with inputs beyond maxSize).
var claimExprs = []string{
	`"literal"`,
	`client.metadata.tenant`,
	`has(client.metadata.env) ? client.metadata.env : null`,
	`size(request.scope)`,
	`request.scope`,
	`request`,
	`client`,
	`client.metadata`,
	`dyn(client.metadata).tenant`,
	`size(client.metadata)`,
	`client.metadata.exists(k, k == "tenant")`,
	`client.scopes.map(s, s + "-x")`,
	`client.scopes.filter(s, s.startsWith("a"))`,
	`client.audiences`,
	`{"id": client.id, "ok": true, "f": 1.5, "l": request.scope}`,
	`[client.name, request.audience, request.auth_method]`,
	`client.id + "@" + request.remote_ip`,
	`string(now)`,
	`now.getHours("Europe/Paris")`,
	`hour_in(now, "UTC", 9, 17)`,
	`ip_in(request.remote_ip, ["10.0.0.0/8", "::1/128"])`,
	`ip_in(request.remote_ip, ["127.0.0.0/8", "not a range", "10.0.0.0/8"])`,
	`ip_in(client.metadata.ip, client.scopes)`,
	`ip_in(request.remote_ip, dyn([1, "10.0.0.0/8"]))`,
	`ip_in(request.remote_ip, dyn(["10.0.0.0/8", 1]))`,
	`ip_in(request.remote_ip, dyn(client.metadata))`,
	`ip_in(dyn(size(client.scopes)), ["10.0.0.0/8"])`,
	`ip_in(request.remote_ip, dyn([]))`,
	`size(request)`,
	`request == {"scope": request.scope, "audience": request.audience, "auth_method": request.auth_method, "remote_ip": request.remote_ip, "federated_claims": request.federated_claims}`,
	`request.all(k, k != "")`,
	`"scope" in request`,
	`has(request.federated_claims.sub) ? request.federated_claims.sub : null`,
	`request.federated_claims`,
	`type(request) == map`,
	`request.scope.exists(s, s in client.scopes)`,
	`size(client.id) / (size(client.scopes) - 2)`,
	`double(client.metadata.env)`,
	`[now]`,
	`client.metadata.big.matches(client.metadata.re)`,
	`client.scopes.all(a, [a, a, a, a, a, a, a, a, a, a].all(b, b == a))`,
	`request.scope.all(a, [a, a, a, a, a, a, a, a, a, a].all(b, b == a))`,
}

var conditionExprs = []string{
	``,
	`ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"])`,
	`ip_in(request.remote_ip, ["10.0.0.0/33"])`,
	`client.metadata.env == "prod"`,
	`hour_in(now, "Europe/Paris", 9, 18)`,
	`request.auth_method == "client_secret_basic" || size(request.scope) > 1`,
	`client.scopes.all(a, [a, a, a, a, a, a, a, a, a, a].all(b, b == a))`,
}

// randomClient and randomRequest fill the client's and the request's
// fields of an Input, within maxSize mostly and beyond it sometimes.
func randomClient(r *rand.Rand, in *Input) {
	in.ClientID = fmt.Sprintf("gooclaim_app_%d", r.IntN(1000))
	in.ClientName = []string{"", "importer", "loadgen-policy-0000001", "svc", "x", strings.Repeat("n", 100)}[r.IntN(6)]
	pool := []string{"a", "b", "abc", "read", "10.0.0.0/8", "orders:write"}
	in.Scopes = nil
	for _, s := range pool {
		if r.IntN(2) == 0 {
			in.Scopes = append(in.Scopes, s)
		}
	}
	if r.IntN(8) == 0 {
		for i := range 200 {
			in.Scopes = append(in.Scopes, fmt.Sprintf("s%d", i))
		}
	}
	in.Audiences = [][]string{nil, {"https://api.example"}, {"https://a.example", "https://b.example"}}[r.IntN(3)]
	in.Metadata = nil
	if r.IntN(8) > 0 {
		in.Metadata = map[string]string{}
		for _, k := range []string{"tenant", "env", "ip"} {
			if r.IntN(8) > 0 {
				in.Metadata[k] = map[string]string{"tenant": "acme", "env": []string{"prod", "1.5", "NaN"}[r.IntN(3)], "ip": "10.9.8.7"}[k]
			}
		}
		if r.IntN(6) == 0 {
			in.Metadata["big"] = strings.Repeat("x", 1024)
			in.Metadata["re"] = strings.Repeat("x", 1000) + ".*"
		}
	}
}

func randomRequest(r *rand.Rand, in *Input) {
	in.Scope = nil
	for _, s := range in.Scopes {
		if r.IntN(2) == 0 {
			in.Scope = append(in.Scope, s)
		}
	}
	in.Audience = []string{"https://api.example", "https://b.example", "https://a.example", "https://" + strings.Repeat("long", 20) + ".example"}[r.IntN(4)]
	in.AuthMethod = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}[r.IntN(3)]
	in.RemoteIP = []string{"127.0.0.1", "::1", "10.1.2.3", "::ffff:10.0.0.1", "192.0.2.1", "127.0.0.2", "10.0.0.9", "", "not an address"}[r.IntN(9)]
	in.FederatedClaims = nil
	if r.IntN(8) == 0 {
		in.FederatedClaims = map[string]any{"sub": "ext-1", "groups": []any{"a", "b"}}
	}
	in.Now = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(48*60)) * time.Minute)
}

// TestEvalMatchesReference: for many clients, each bound once, and many
// requests each, Eval of the bound Set and of the unbound one answer what
// the reference evaluation does — allowed, the members byte for byte (the
// precomputed ones merged in name order with the others), the error.
func TestEvalMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 5))
	type combo struct {
		claims    map[string]string
		condition string
	}
	var combos []combo
	for i, e := range claimExprs {
		if err := CheckClaim("x", e); err != nil {
			t.Fatalf("claimExprs[%d] %s is refused: %v", i, e, err)
		}
		// Client-only and per-request claims on both sides of x by name.
		combos = append(combos, combo{map[string]string{"a": claimExprs[(i+1)%len(claimExprs)], "x": e, "m": `client.metadata.tenant`, "z": `size(request.scope)`}, conditionExprs[i%len(conditionExprs)]})
	}
	for _, c := range conditionExprs {
		if c != "" {
			if err := CheckCondition(c); err != nil {
				t.Fatalf("condition %s is refused: %v", c, err)
			}
		}
		combos = append(combos, combo{benchClaims, c})
	}
	var fast, limited, failed int
	for _, cb := range combos {
		set, err := Compile(cb.claims, nil, cb.condition)
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			var client Input
			randomClient(r, &client)
			bound := set.Bind(&client)
			for range 10 {
				in := client
				randomRequest(r, &in)
				wantOK, want, wantErr := refEval(t, cb.claims, cb.condition, &in)
				for _, s := range []*Set{bound, set} {
					ok, got, err := s.Eval(&in)
					if ok != wantOK || string(got) != string(want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
						t.Fatalf("claims %q, condition %q, input %+v (bound %v):\n got %v %s %v\nwant %v %s %v",
							cb.claims, cb.condition, in, s == bound, ok, got, err, wantOK, want, wantErr)
					}
				}
				if wantErr != nil {
					failed++
				}
				if in.clientFits() && in.requestFits() {
					fast++
				} else {
					limited++
				}
			}
		}
	}
	t.Logf("%d evaluations within maxSize (unlimited programs), %d beyond, %d failed", fast, limited, failed)
}
