package policy

import (
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types/ref"
)

// program is one expression compiled for evaluation.
type program struct {
	// limited runs under the runtime cost limit of MaxCost.
	limited cel.Program
	// unlimited runs without it; nil unless the expression's cost is
	// bounded by MaxCost whenever the inputs are within maxSize
	// (boundedWithinMaxSize). The cost tracker that enforces the limit
	// observes every step and costs more than the rest of a small
	// expression's evaluation (about 2 µs and 7 allocations of 3 µs and
	// 10), so a token skips it when it provably cannot trip.
	unlimited cel.Program
	// perRequest says the expression reads a variable that varies from
	// one issuance to the next (request, now); otherwise its value is the
	// same for every token of a client version.
	perRequest bool
	// readsClient says it reads the client variable.
	readsClient bool
}

// run evaluates p in a, without the runtime cost tracker when fits: when
// every value a resolves is within maxSize (Input.fits).
func (p *program) run(a *activation, fits bool) (v ref.Val, err error) {
	prog := p.limited
	if fits && p.unlimited != nil {
		prog = p.unlimited
	}
	v, _, err = prog.Eval(a)
	return v, err
}

// newProgram compiles the checked ast of expr.
func newProgram(ast *cel.Ast) (*program, error) {
	opts := cel.EvalOptions(cel.OptOptimize)
	limited, err := env.Program(ast, cel.CostLimit(MaxCost), opts)
	if err != nil {
		return nil, err
	}
	p := &program{limited: limited}
	p.readsClient, p.perRequest = reads(ast)
	if boundedWithinMaxSize(ast) {
		if p.unlimited, err = env.Program(ast, opts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// reads reports whether the checked ast reads the client variable, and
// whether it reads a per-request variable (variables). It walks every
// identifier, taking the name the checker resolved it to (.request is
// request); a comprehension variable that shadows one
// (list.map(request, …)) counts too, which only costs an evaluation per
// token. The functions of env are functions of their arguments alone (no
// clock, no chance: hour_in reads the time from now), so the variables
// decide.
func reads(ast *cel.Ast) (client, perRequest bool) {
	native := ast.NativeRep()
	refs := native.ReferenceMap()
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.IdentKind {
			return
		}
		name := strings.TrimPrefix(e.AsIdent(), ".")
		if r, ok := refs[e.ID()]; ok && r.Name != "" {
			name = r.Name
		}
		for _, v := range variables {
			if v.name == name {
				client = client || v.name == "client"
				perRequest = perRequest || v.perRequest
			}
		}
	}))
	return client, perRequest
}

// boundedWithinMaxSize reports whether ast's cost is at most MaxCost
// whenever every list, map and string reachable from client and request
// holds at most maxSize elements, entries or bytes. The estimate is CEL's
// own (the one the save-time check uses), with sizes told for the values
// read from the variables alone (their path starts at client or request):
// any other value whose size CEL cannot derive from the expression stays
// unbounded, and the expression then keeps the runtime limit. So the
// estimate is an upper bound of the runtime cost for every input that
// Input.fits admits, and for those the runtime tracker cannot trip: running
// without it changes no result. Inputs beyond maxSize are possible — a
// client may have 200 scopes, a metadata value 1,024 bytes, a request a
// long audience — and always run under the limit.
func boundedWithinMaxSize(ast *cel.Ast) bool {
	est, err := env.EstimateCost(ast, inputSizes{})
	return err == nil && est.Max <= MaxCost
}

// inputSizes bounds, for the estimate, the size of the values read from
// client and request by maxSize, and of nothing else.
type inputSizes struct{}

func (inputSizes) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if p := n.Path(); len(p) > 0 && (p[0] == "client" || p[0] == "request") {
		return &checker.SizeEstimate{Min: 0, Max: maxSize}
	}
	return nil
}

func (inputSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
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
	m map[string]*program
}{m: map[string]*program{}}

const maxPrograms = 10_000

// shared returns the program kept under key, or builds it with build and
// keeps it.
func shared(key string, build func() (*program, error)) (*program, error) {
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
