package policy

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// activation gives an evaluation its variables from an Input, each built
// when the expression first reads it: no map per token, and nothing for
// a variable the expression does not read.
type activation struct {
	// in is a copy, so that the caller's Input does not move to the heap
	// (an allocation per token) with the activation that points at it.
	in Input
	// client is the client variable: a bound Set's, built once per client
	// version (clientValue), or built here when first read.
	client map[string]any
	req    requestMap
	// clientOnly refuses request and now: Bind evaluates the claims that
	// read neither, and a mistake in telling them apart must fail loudly.
	// bound refuses client when the bound Set kept none, for the same
	// reason (its expressions do not read it).
	clientOnly, bound bool
}

var _ interpreter.Activation = (*activation)(nil)

// activations are reused: one per token otherwise, of a few hundred bytes.
var activations = sync.Pool{New: func() any { return new(activation) }}

// newActivation returns an activation of in and client (nil: built from
// in when read), to hand back with release once nothing the evaluation
// returned refers to it.
func newActivation(in *Input, client map[string]any) *activation {
	a := activations.Get().(*activation)
	a.in, a.client = *in, client
	a.req.in = &a.in
	return a
}

// release clears a, so that the pool holds on to nothing of its Input,
// and returns it to the pool.
func (a *activation) release() {
	*a = activation{}
	activations.Put(a)
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch {
	case name == "client":
		if a.client == nil {
			if a.bound {
				return nil, false
			}
			a.client = clientValue(&a.in)
		}
		return a.client, true
	case a.clientOnly:
		return nil, false
	case name == "request":
		return &a.req, true
	case name == "now":
		return types.Timestamp{Time: a.in.Now}, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// clientValue is the client variable of in: Go values, which CEL converts
// as it reads them (a []string to a list, a map[string]string to a map).
func clientValue(in *Input) map[string]any {
	meta := in.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return map[string]any{
		"id": in.ClientID, "name": in.ClientName, "scopes": nonNil(in.Scopes),
		"audiences": nonNil(in.Audiences), "metadata": meta,
	}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// requestMap is the request variable: a CEL map whose members are read
// from the Input when asked for (request.scope converts the scope alone).
// What expressions rarely do with the map as a whole — compare it, iterate
// it, convert it — goes to the plain map of all its members (full), so
// that it behaves as one in every way.
type requestMap struct {
	in  *Input
	all traits.Mapper // full(), once built
}

var (
	_ traits.Mapper   = (*requestMap)(nil)
	_ traits.Foldable = (*requestMap)(nil)
	_ traits.Zeroer   = (*requestMap)(nil)
)

// requestMembers is the number of the request's members (full's).
const requestMembers = 5

// full is the request as the plain map of its members' Go values, which
// CEL converts as it reads them.
func (r *requestMap) full() traits.Mapper {
	if r.all == nil {
		fed := r.in.FederatedClaims
		if fed == nil {
			fed = map[string]any{}
		}
		r.all = types.NewStringInterfaceMap(env.CELTypeAdapter(), map[string]any{
			"scope": nonNil(r.in.Scope), "audience": r.in.Audience, "auth_method": r.in.AuthMethod,
			"remote_ip": r.in.RemoteIP, "federated_claims": fed,
		})
	}
	return r.all
}

// Find, Get, Contains and Size are those of full, without building it:
// Find converts the member's Go value as full's would.
func (r *requestMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	switch k {
	case "scope":
		return types.NewStringList(env.CELTypeAdapter(), nonNil(r.in.Scope)), true
	case "audience":
		return types.String(r.in.Audience), true
	case "auth_method":
		return types.String(r.in.AuthMethod), true
	case "remote_ip":
		return types.String(r.in.RemoteIP), true
	case "federated_claims":
		fed := r.in.FederatedClaims
		if fed == nil {
			fed = map[string]any{}
		}
		return types.NewStringInterfaceMap(env.CELTypeAdapter(), fed), true
	}
	return nil, false
}

func (r *requestMap) Get(key ref.Val) ref.Val {
	v, found := r.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

func (r *requestMap) Contains(key ref.Val) ref.Val {
	_, found := r.Find(key)
	return types.Bool(found)
}

func (r *requestMap) Size() ref.Val { return types.Int(requestMembers) }

func (r *requestMap) IsZeroValue() bool { return false }

func (r *requestMap) Type() ref.Type { return types.MapType }

// The rest is full's.

func (r *requestMap) ConvertToNative(t reflect.Type) (any, error) { return r.full().ConvertToNative(t) }
func (r *requestMap) ConvertToType(t ref.Type) ref.Val            { return r.full().ConvertToType(t) }
func (r *requestMap) Equal(other ref.Val) ref.Val                 { return r.full().Equal(other) }
func (r *requestMap) Value() any                                  { return r.full().Value() }
func (r *requestMap) Iterator() traits.Iterator                   { return r.full().Iterator() }
func (r *requestMap) Fold(f traits.Folder)                        { r.full().(traits.Foldable).Fold(f) }
func (r *requestMap) String() string                              { return fmt.Sprint(r.full()) }
