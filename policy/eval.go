package policy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/gooclaim/auth/internal/jsonenc"
)

// Input is what expressions see of one issuance.
type Input struct {
	ClientID, ClientName string
	Scopes, Audiences    []string
	Metadata             map[string]string
	// Scope is the granted scope, one element per scope token.
	Scope                []string
	Audience, AuthMethod string
	RemoteIP             string
	// FederatedClaims are the claims of a federated client's external
	// token, the one it authenticated with or exchanged, as JSON decodes
	// them but numbers: int64 for integers, float64 for others; nil (an
	// empty map to expressions) otherwise.
	FederatedClaims map[string]any
	Now             time.Time
}

func (in *Input) activation() map[string]any {
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

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Set is the compiled expressions of one client version: its claims (with
// the server's default claims it does not override) and its condition.
// Safe for concurrent use.
type Set struct {
	claims    []claim // sorted by name, so that tokens are reproducible
	condition cel.Program
}

type claim struct {
	name string
	prog cel.Program
}

// EvalError is a failure of one expression at issuance: the client's, or
// the server's default for a claim it does not set.
type EvalError struct {
	Claim string // the claim's name; empty for the condition
	Err   error
}

func (e *EvalError) Error() string {
	if e.Claim == "" {
		return "condition: " + e.Err.Error()
	}
	return fmt.Sprintf("claim %q: %v", e.Claim, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Compile compiles a client's claims merged over defaults (the client's
// wins for a name both set) and its condition ("" for none). It returns
// nil, nil when there is nothing to evaluate. Expressions were checked
// when saved; an error here means the stored text was not.
func Compile(claims, defaults map[string]string, condition string) (*Set, error) {
	if len(claims) == 0 && len(defaults) == 0 && condition == "" {
		return nil, nil
	}
	merged := make(map[string]string, len(claims)+len(defaults))
	for k, v := range defaults {
		merged[k] = v
	}
	for k, v := range claims {
		merged[k] = v
	}
	s := &Set{}
	for _, name := range sortedKeys(merged) {
		if err := checkName(name); err != nil {
			return nil, err
		}
		expr := merged[name]
		p, err := shared("claim\x00"+expr, func() (cel.Program, error) {
			if err := CheckClaim(name, expr); err != nil {
				return nil, err
			}
			p, err := program(expr)
			if err != nil {
				return nil, fmt.Errorf("claim %q: %w", name, err)
			}
			return p, nil
		})
		if err != nil {
			return nil, err
		}
		s.claims = append(s.claims, claim{name, p})
	}
	if condition != "" {
		p, err := shared("condition\x00"+condition, func() (cel.Program, error) {
			if err := CheckCondition(condition); err != nil {
				return nil, err
			}
			p, err := program(condition)
			if err != nil {
				return nil, fmt.Errorf("condition: %w", err)
			}
			return p, nil
		})
		if err != nil {
			return nil, err
		}
		s.condition = p
	}
	return s, nil
}

// programs are the compiled programs of every expression text in use,
// shared by the clients that carry the same one — clients made from one
// template often do —, so that ten thousand such clients hold one program
// (about 8 KB of heap each otherwise, which every garbage collection of
// the server marks) and compile it once. A cel.Program is safe for
// concurrent use. Only successes are kept; past maxPrograms texts the map
// starts again.
var programs = struct {
	sync.Mutex
	m map[string]cel.Program
}{m: map[string]cel.Program{}}

const maxPrograms = 10_000

// shared returns the program kept under key, or builds it with build and
// keeps it.
func shared(key string, build func() (cel.Program, error)) (cel.Program, error) {
	programs.Lock()
	p, ok := programs.m[key]
	programs.Unlock()
	if ok {
		return p, nil
	}
	p, err := build()
	if err != nil {
		return nil, err
	}
	programs.Lock()
	if len(programs.m) >= maxPrograms {
		clear(programs.m)
	}
	programs.m[key] = p
	programs.Unlock()
	return p, nil
}

func program(expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	return env.Program(ast, cel.CostLimit(MaxCost), cel.EvalOptions(cel.OptOptimize))
}

// Eval evaluates the condition, then the claims, for in: allowed is false
// when the condition does not hold (and then no claim is evaluated);
// members are the claims as JSON object members, each preceded by a comma
// (`,"tenant":"acme"`), to append to the token's; a claim whose value is
// null is left out. Errors are *EvalError values.
func (s *Set) Eval(in *Input) (allowed bool, members []byte, err error) {
	if s == nil {
		return true, nil, nil
	}
	vars := in.activation()
	if s.condition != nil {
		v, _, err := s.condition.Eval(vars)
		if err != nil {
			return false, nil, &EvalError{Err: err}
		}
		if b, ok := v.(types.Bool); !ok || !bool(b) {
			return false, nil, nil
		}
	}
	for _, c := range s.claims {
		v, _, err := c.prog.Eval(vars)
		if err != nil {
			return false, nil, &EvalError{Claim: c.name, Err: err}
		}
		if v == types.NullValue {
			continue
		}
		n := len(members)
		members = append(members, ',')
		members = jsonenc.AppendString(members, c.name)
		members = append(members, ':')
		if members, err = appendValue(members, v, 0); err != nil {
			return false, members[:n], &EvalError{Claim: c.name, Err: err}
		}
	}
	return true, members, nil
}

// HasCondition reports whether s has a condition to evaluate.
func (s *Set) HasCondition() bool { return s != nil && s.condition != nil }

// appendValue appends v as JSON: strings, numbers, bools, null, and lists
// and maps (with string keys) of these.
func appendValue(dst []byte, v ref.Val, depth int) ([]byte, error) {
	if depth > 16 {
		return dst, fmt.Errorf("the value nests over 16 levels")
	}
	switch v := v.(type) {
	case types.String:
		return jsonenc.AppendString(dst, string(v)), nil
	case types.Int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case types.Uint:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf("the value %v has no JSON form", f)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	case types.Bool:
		return strconv.AppendBool(dst, bool(v)), nil
	case types.Null:
		return append(dst, "null"...), nil
	case traits.Lister:
		dst = append(dst, '[')
		for i := types.Int(0); i < v.Size().(types.Int); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, v.Get(i), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case traits.Mapper:
		// Keys sorted: CEL's maps have no order, and a token's bytes
		// should not change from one issuance to the next.
		var keys []string
		for it := v.Iterator(); it.HasNext() == types.True; {
			k, ok := it.Next().(types.String)
			if !ok {
				return dst, fmt.Errorf("a map key is not a string; JSON keys are strings")
			}
			keys = append(keys, string(k))
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, v.Get(types.String(k)), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("the value is a %s, which has no JSON form", v.Type().TypeName())
}
