package policy

import (
	"encoding/json"

	"github.com/google/cel-go/common/types"
)

// Trial is what each expression of a Set gives for one input, evaluated
// on its own: for trying expressions before they are saved (the admin
// API's POST /v1/admin/policies/evaluate). It runs the programs Eval runs,
// under the runtime cost limit; unlike Eval it goes on past a false
// condition or a failed claim, so that every expression's outcome is told.
type Trial struct {
	// Condition is whether the condition holds; nil when there is none or
	// it failed (see Errors).
	Condition *bool
	// Claims are the values of the claims that evaluated, as JSON, by
	// name: what a token would carry. A claim whose value is null is left
	// out, as at issuance.
	Claims map[string]json.RawMessage
	// Errors are the expressions that failed, the condition first, then
	// the claims by name. Issuance would fail with the first (a 500).
	Errors []*EvalError
}

// Try evaluates each expression of s for in. s must be as Compile made
// it, not bound (Bind): a bound Set keeps the values of some claims, not
// their programs. Try of nil is an empty Trial.
func (s *Set) Try(in *Input) Trial {
	t := Trial{Claims: map[string]json.RawMessage{}}
	if s == nil {
		return t
	}
	if s.bound {
		panic("policy: Try of a bound Set")
	}
	a := newActivation(in, nil)
	defer a.release()
	if s.condition != nil {
		v, err := s.condition.run(a, false)
		if err != nil {
			t.Errors = append(t.Errors, &EvalError{Err: err})
		} else {
			b, ok := v.(types.Bool)
			holds := ok && bool(b)
			t.Condition = &holds
		}
	}
	for _, c := range s.claims {
		v, err := c.prog.run(a, false)
		if err == nil && v == types.NullValue {
			continue
		}
		var b []byte
		if err == nil {
			b, err = appendValue(nil, v, 0)
		}
		if err != nil {
			t.Errors = append(t.Errors, &EvalError{Claim: c.name, Err: err})
			continue
		}
		t.Claims[c.name] = b
	}
	return t
}
