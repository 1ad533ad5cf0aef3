package policy

import (
	"net/netip"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// helpers declares the functions policies need beyond CEL's own:
//
//	ip_in(ip string, cidrs list(string)) bool: ip lies in one of the CIDR
//	  ranges; false for an address that does not parse (no remote address).
//	hour_in(t timestamp, zone string, from int, to int) bool: the hour of t
//	  in the IANA time zone is in [from, to); from > to wraps past midnight
//	  (22 to 6).
func helpers() cel.EnvOption {
	return cel.Lib(helperLib{})
}

type helperLib struct{}

func (helperLib) ProgramOptions() []cel.ProgramOption { return nil }

func (helperLib) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("ip_in",
			cel.Overload("ip_in_string_list_string", []*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(ipIn))),
		cel.Function("hour_in",
			cel.Overload("hour_in_timestamp_string_int_int", []*cel.Type{cel.TimestampType, cel.StringType, cel.IntType, cel.IntType}, cel.BoolType,
				cel.FunctionBinding(hourIn))),
	}
}

func ipIn(ipVal, cidrs ref.Val) ref.Val {
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

// zones caches the time zones hour_in loaded: LoadLocation reads the zone
// database each time.
var zones sync.Map // string → *time.Location

func hourIn(args ...ref.Val) ref.Val {
	ts, ok1 := args[0].(types.Timestamp)
	zone, ok2 := args[1].(types.String)
	from, ok3 := args[2].(types.Int)
	to, ok4 := args[3].(types.Int)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return types.NewErr("hour_in: want (timestamp, string, int, int)")
	}
	var loc *time.Location
	if l, ok := zones.Load(string(zone)); ok {
		loc = l.(*time.Location)
	} else {
		l, err := time.LoadLocation(string(zone))
		if err != nil {
			return types.NewErr("hour_in: unknown time zone %q", string(zone))
		}
		zones.Store(string(zone), l)
		loc = l
	}
	h := types.Int(ts.Time.In(loc).Hour())
	if from <= to {
		return types.Bool(h >= from && h < to)
	}
	return types.Bool(h >= from || h < to)
}
