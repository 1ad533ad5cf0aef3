package policy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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

// clientFits reports whether every list, map and string of in's client
// holds at most maxSize elements, entries or bytes (a string's CEL size,
// in code points, is at most its length in bytes).
func (in *Input) clientFits() bool {
	if len(in.ClientID) > maxSize || len(in.ClientName) > maxSize || !listFits(in.Scopes) || !listFits(in.Audiences) || len(in.Metadata) > maxSize {
		return false
	}
	for k, v := range in.Metadata {
		if len(k) > maxSize || len(v) > maxSize {
			return false
		}
	}
	return true
}

// requestFits is clientFits for the request. Federated claims nest values
// of any size: with any, it does not fit.
func (in *Input) requestFits() bool {
	return listFits(in.Scope) && len(in.Audience) <= maxSize && len(in.AuthMethod) <= maxSize &&
		len(in.RemoteIP) <= maxSize && len(in.FederatedClaims) == 0
}

func listFits(l []string) bool {
	if len(l) > maxSize {
		return false
	}
	for _, s := range l {
		if len(s) > maxSize {
			return false
		}
	}
	return true
}

// Set is the compiled expressions of one client version: its claims (with
// the server's default claims it does not override) and its condition.
// Safe for concurrent use.
type Set struct {
	// What Eval of a bound Set reads first, together: the issuer keeps
	// thousands of bound Sets and a token reaches one seldom enough that
	// its memory has left the CPU's caches, so each line it spans costs.
	bound, clientFits, unlimited bool
	// perRequestClaims: some claim reads request or now.
	perRequestClaims bool
	condition        *program
	// Of a bound Set (Bind), which keeps these rather than claims: its
	// claims as steps, members the members Bind computed, which steps
	// slice; client, the client variable, when an expression Eval runs
	// reads it (nil otherwise).
	steps      []step
	members    []byte
	client     map[string]any
	memberSize int // members' bytes, and room for the others

	claims []claim // sorted by name, so that tokens are reproducible

	// inline holds steps and members when they fit (the usual few claims
	// of short values), so that a bound Set is one allocation: the lines
	// Eval reads follow one another.
	inline struct {
		steps   [4]step
		members [96]byte
	}
}

type claim struct {
	name string
	prog *program
}

// step is one part of a bound Set's claims, in name order: a run of
// claims that read only the client, evaluated by Bind (members[from:to];
// none for null), a claim evaluated per request (prog), or the failure of
// a claim of the client (err).
type step struct {
	from, to int32
	name     string
	prog     *program
	err      *EvalError
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
		p, err := shared("claim\x00"+expr, func() (*program, error) {
			ast, err := checkClaim(name, expr)
			if err != nil {
				return nil, err
			}
			p, err := newProgram(ast)
			if err != nil {
				return nil, fmt.Errorf("claim %q: %w", name, err)
			}
			return p, nil
		})
		if err != nil {
			return nil, err
		}
		s.claims = append(s.claims, claim{name: name, prog: p})
		s.unlimited = s.unlimited || p.unlimited != nil
		s.perRequestClaims = s.perRequestClaims || p.perRequest
	}
	if condition != "" {
		p, err := shared("condition\x00"+condition, func() (*program, error) {
			ast, err := checkCondition(condition)
			if err != nil {
				return nil, err
			}
			p, err := newProgram(ast)
			if err != nil {
				return nil, fmt.Errorf("condition: %w", err)
			}
			return p, nil
		})
		if err != nil {
			return nil, err
		}
		s.condition = p
		s.unlimited = s.unlimited || p.unlimited != nil
	}
	return s, nil
}

// Bind returns s for one client version, the one in's client fields
// describe (ClientID, ClientName, Scopes, Audiences, Metadata; its request
// fields are not read). The claims that read neither request nor now have
// the same value for every token of that version: Bind evaluates them
// once, and keeps a failure to return it from every Eval, as evaluating
// them there would. Eval of the result reads the request fields of its
// Input alone. in's client values must not change while the result is in
// use. s itself is left as it was; nil binds to nil.
func (s *Set) Bind(in *Input) *Set {
	if s == nil {
		return nil
	}
	b := &Set{condition: s.condition, unlimited: s.unlimited, perRequestClaims: s.perRequestClaims, bound: true, clientFits: in.clientFits()}
	readsClient := s.condition != nil && s.condition.readsClient
	a := newActivation(in, nil)
	defer a.release()
	a.clientOnly = true
	var members []byte
	run := -1 // the step of the current run of claims of the client
	for _, c := range s.claims {
		if c.prog.perRequest {
			b.steps = append(b.steps, step{name: strings.Clone(c.name), prog: c.prog})
			readsClient = readsClient || c.prog.readsClient
			b.memberSize += len(c.name) + 16
			run = -1
			continue
		}
		// Under the runtime limit: once per client version, it costs
		// nothing to keep, and the result is the same.
		n := len(members)
		v, err := c.prog.run(a, false)
		if err == nil {
			members, err = appendMember(members, c.name, v)
		}
		if err != nil {
			// Eval stops here: what follows would never be reached.
			b.steps = append(b.steps, step{err: &EvalError{Claim: strings.Clone(c.name), Err: err}})
			members = members[:n]
			break
		}
		if run < 0 {
			b.steps = append(b.steps, step{from: int32(n)})
			run = len(b.steps) - 1
		}
		b.steps[run].to = int32(len(members))
	}
	if len(b.steps) <= len(b.inline.steps) {
		b.steps = b.inline.steps[:copy(b.inline.steps[:], b.steps):len(b.steps)]
	} else {
		b.steps = slices.Clip(b.steps)
	}
	if len(members) <= len(b.inline.members) {
		b.members = b.inline.members[:copy(b.inline.members[:], members):len(members)]
	} else {
		b.members = slices.Clone(members)
	}
	b.memberSize += len(members)
	if readsClient {
		b.client = clientValue(ownClient(in))
	}
	return b
}

// ownClient is a copy of in's client fields whose strings are its own: a
// bound Set is kept for long, and the issuer's clients may be decoded
// into strings that point into the memory of many others (inmem.Replica).
func ownClient(in *Input) *Input {
	own := func(l []string) []string {
		if l == nil {
			return nil
		}
		c := make([]string, len(l))
		for i, s := range l {
			c[i] = strings.Clone(s)
		}
		return c
	}
	c := &Input{ClientID: strings.Clone(in.ClientID), ClientName: strings.Clone(in.ClientName), Scopes: own(in.Scopes), Audiences: own(in.Audiences)}
	if in.Metadata != nil {
		c.Metadata = make(map[string]string, len(in.Metadata))
		for k, v := range in.Metadata {
			c.Metadata[strings.Clone(k)] = strings.Clone(v)
		}
	}
	return c
}

// Eval evaluates the condition, then the claims, for in: allowed is false
// when the condition does not hold (and then no claim is evaluated);
// members are the claims as JSON object members, each preceded by a comma
// (`,"tenant":"acme"`), to append to the token's; a claim whose value is
// null is left out. Errors are *EvalError values, and then members is nil.
// Of a bound Set, the claims Bind evaluated are not evaluated again.
func (s *Set) Eval(in *Input) (allowed bool, members []byte, err error) {
	if s == nil {
		return true, nil, nil
	}
	a := newActivation(in, s.client)
	defer a.release() // the members are bytes, the errors text: nothing refers to it
	a.bound = s.bound
	fits := s.unlimited && in.requestFits()
	if fits && !s.bound {
		fits = in.clientFits()
	} else if fits {
		fits = s.clientFits
	}
	if s.condition != nil {
		v, err := s.condition.run(a, fits)
		if err != nil {
			return false, nil, &EvalError{Err: err}
		}
		if b, ok := v.(types.Bool); !ok || !bool(b) {
			return false, nil, nil
		}
	}
	if !s.bound {
		for _, c := range s.claims {
			if members, err = s.evalClaim(a, fits, members, c.name, c.prog); err != nil {
				return false, nil, err
			}
		}
		return true, members, nil
	}
	for _, st := range s.steps {
		switch {
		case st.err != nil:
			return false, nil, st.err
		case st.prog != nil:
			if members, err = s.evalClaim(a, fits, members, st.name, st.prog); err != nil {
				return false, nil, err
			}
		case st.to > st.from:
			members = append(s.grow(members), s.members[st.from:st.to]...)
		}
	}
	return true, members, nil
}

// evalClaim appends the member of claim name, prog, to members.
func (s *Set) evalClaim(a *activation, fits bool, members []byte, name string, prog *program) ([]byte, error) {
	v, err := prog.run(a, fits)
	if err == nil && v != types.NullValue {
		members, err = appendMember(s.grow(members), name, v)
	}
	if err != nil {
		return nil, &EvalError{Claim: name, Err: err}
	}
	return members, nil
}

// grow makes the first member's buffer room for them all.
func (s *Set) grow(members []byte) []byte {
	if members == nil {
		return make([]byte, 0, max(s.memberSize, 64))
	}
	return members
}

// appendMember appends claim name's value v as a JSON object member after
// a comma; nothing for null.
func appendMember(dst []byte, name string, v ref.Val) ([]byte, error) {
	if v == types.NullValue {
		return dst, nil
	}
	dst = append(dst, ',')
	dst = jsonenc.AppendString(dst, name)
	dst = append(dst, ':')
	return appendValue(dst, v, 0)
}

// HasCondition reports whether s has a condition to evaluate.
func (s *Set) HasCondition() bool { return s != nil && s.condition != nil }

// RequestDependentClaims reports whether a claim of s (the client's or a
// default) reads request or now, so that two tokens of the same client
// version may carry different claims; the condition does not count. False
// for nil.
func (s *Set) RequestDependentClaims() bool {
	return s != nil && s.perRequestClaims
}

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
