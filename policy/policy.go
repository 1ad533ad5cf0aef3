// Package policy compiles and evaluates a client's expressions in CEL
// (https://cel.dev): the claims its tokens carry and the condition under
// which it may obtain one (issue 19). Expressions are parsed, type-checked
// and cost-estimated when saved (CheckClaim, CheckCondition), compiled
// once per expression text (Compile), bound to a client version by the
// issuer (Set.Bind: the claims that read only the client are evaluated
// there, once), and evaluated at every issuance under a bound on their
// cost (Set.Eval).
//
// Every expression sees three variables:
//
//	client   map: id, name, scopes (list), audiences (list), metadata (map of strings)
//	request  map: scope (the granted scope, a list), audience, auth_method,
//	         remote_ip, federated_claims (a map; see Input.FederatedClaims)
//	now      timestamp: the time of issuance
//
// and two functions beyond CEL's standard ones: ip_in(ip, cidrs) and
// hour_in(now, zone, from, to) (see docs/policies.md).
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
)

// Limits on what may be saved. They bound the work of one issuance: the
// estimated cost is refused when saved, the actual cost stops evaluation.
const (
	// MaxClaims bounds a client's claim expressions (and the server's).
	MaxClaims = 16
	// MaxExpressionLength bounds one expression's text, in bytes.
	MaxExpressionLength = 2048
	// MaxCost bounds an expression's cost, estimated when saved and
	// measured when evaluated (CEL's cost units: about one per operation,
	// one per element a macro visits). 10,000 is a few microseconds.
	MaxCost = 10_000
	// maxSize is the size assumed, for the estimate, of a variable's list,
	// map or string whose size CEL cannot know: metadata has at most 32
	// entries, scopes and audiences are usually short lists. It is not a
	// limit — a client may have 200 scopes, a metadata value 1,024 bytes —
	// so the estimate does not bound the cost of every input: the runtime
	// limit does, and is left out only where an input provably fits
	// (program.unlimited, Input.fits).
	maxSize = 64
)

// Registered are the claim names an expression may not set: those the
// server sets itself (RFC 7519 §4.1, RFC 9068 §2.2, RFC 8693 §4, RFC 7800)
// and the JOSE header's typ, so that no expression can change what a token
// means to the resource servers that check it.
var Registered = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "cnf", "act", "client_incarnation", "typ"}

// variables are what every expression sees. perRequest marks those whose
// value changes from one token of a client version to the next: a claim
// that reads none of them is evaluated once per client version (Set.Bind).
// A variable added here must say which it is.
var variables = []struct {
	name       string
	typ        *cel.Type
	perRequest bool
}{
	{"client", cel.MapType(cel.StringType, cel.DynType), false},
	{"request", cel.MapType(cel.StringType, cel.DynType), true},
	{"now", cel.TimestampType, true},
}

// env is the one CEL environment: the variables and helper functions.
var env = func() *cel.Env {
	opts := []cel.EnvOption{
		cel.ParserExpressionSizeLimit(MaxExpressionLength),
		cel.ParserRecursionLimit(32),
		helpers(),
	}
	for _, v := range variables {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	e, err := cel.NewEnv(opts...)
	if err != nil {
		panic(fmt.Sprintf("policy: CEL environment: %v", err))
	}
	return e
}()

// CheckClaim checks claim expression expr for the claim name as it is
// saved: a name that is not registered, an expression that parses,
// type-checks to a JSON value and whose estimated cost is within MaxCost.
// The error names the claim and, for a bad expression, its position:
// claim "tenant": ERROR: <input>:1:1: undeclared reference to 'clinet'.
func CheckClaim(name, expr string) error {
	_, err := checkClaim(name, expr)
	return err
}

// checkClaim is CheckClaim, which returns the checked expression.
func checkClaim(name, expr string) (*cel.Ast, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	ast, err := compile(expr)
	if err == nil {
		err = checkJSONType(ast.OutputType())
	}
	if err != nil {
		return nil, fmt.Errorf("claim %q: %w", name, err)
	}
	return ast, nil
}

// CheckClaims checks each of claims (CheckClaim) and their number; the
// errors come in the order of the names.
func CheckClaims(claims map[string]string) []error {
	var errs []error
	if len(claims) > MaxClaims {
		errs = append(errs, fmt.Errorf("claims: at most %d expressions, not %d", MaxClaims, len(claims)))
	}
	for _, name := range sortedKeys(claims) {
		if err := CheckClaim(name, claims[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// CheckCondition checks a condition as it is saved: it must parse,
// type-check to a bool and cost at most MaxCost.
func CheckCondition(expr string) error {
	_, err := checkCondition(expr)
	return err
}

// checkCondition is CheckCondition, which returns the checked expression.
func checkCondition(expr string) (*cel.Ast, error) {
	ast, err := compile(expr)
	if err == nil && !ast.OutputType().IsExactType(cel.BoolType) {
		err = fmt.Errorf("the condition is a %s; it must be a bool (true allows the token)", ast.OutputType())
	}
	if err != nil {
		return nil, fmt.Errorf("condition: %w", err)
	}
	return ast, nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("claim: the name is empty")
	case len(name) > 64:
		return fmt.Errorf("claim %.64q…: the name is over 64 bytes", name)
	case slices.Contains(Registered, name):
		return fmt.Errorf("claim %q: a registered claim the server sets itself; expressions may not set %s", name, strings.Join(Registered, ", "))
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return fmt.Errorf("claim %q: names are printable ASCII without spaces, quotes or backslashes", name)
		}
	}
	return nil
}

// compile parses and checks expr and estimates its cost.
func compile(expr string) (*cel.Ast, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("the expression is empty")
	}
	if len(expr) > MaxExpressionLength {
		return nil, fmt.Errorf("the expression is %d bytes, over %d", len(expr), MaxExpressionLength)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, errors.New(firstLines(iss.Err().Error()))
	}
	est, err := env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return nil, fmt.Errorf("estimate the cost: %w", err)
	}
	if est.Max > MaxCost {
		return nil, fmt.Errorf("the expression may cost up to %d, over the limit of %d: visit fewer elements (nested macros multiply)", est.Max, MaxCost)
	}
	return ast, nil
}

// firstLines keeps the message line of each of CEL's errors, without the
// source excerpt and caret that follow it.
func firstLines(msg string) string {
	var keep []string
	for line := range strings.SplitSeq(msg, "\n") {
		if strings.HasPrefix(line, "ERROR: ") {
			keep = append(keep, strings.TrimSuffix(line, " (in container '')"))
		}
	}
	if len(keep) == 0 {
		return msg
	}
	return strings.Join(keep, "; ")
}

// checkJSONType refuses output types that have no JSON form. Dyn and
// the containers are checked again when evaluated.
func checkJSONType(t *cel.Type) error {
	for _, bad := range []*cel.Type{cel.TimestampType, cel.DurationType, cel.BytesType, cel.TypeType} {
		if t.IsExactType(bad) {
			return fmt.Errorf("the expression is a %s, which has no JSON form: make it a string, number, bool, list or map (string(now) for a timestamp)", t)
		}
	}
	return nil
}

// sizeEstimator tells the cost estimate the size of the variables' values,
// which CEL cannot know: without it any macro over them is unbounded.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: maxSize}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
