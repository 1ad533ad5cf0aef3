package policy

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/decls"
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
				cel.BinaryBinding(ipIn)),
			// ipIn checks its arguments as CEL's guard would, without the
			// iterator the guard allocates at every call.
			decls.DisableTypeGuards(true)),
		cel.Function("hour_in",
			cel.Overload("hour_in_timestamp_string_int_int", []*cel.Type{cel.TimestampType, cel.StringType, cel.IntType, cel.IntType}, cel.BoolType,
				cel.FunctionBinding(hourIn))),
	}
}

func ipIn(ipVal, cidrs ref.Val) ref.Val {
	// CEL's guard (DisableTypeGuards): the arguments' runtime types, a
	// list's by its first element.
	s, ok := ipVal.(types.String)
	list, isList := cidrs.(traits.Lister)
	if isList && list.Size() != types.IntZero {
		_, isList = list.Get(types.IntZero).(types.String)
	}
	if !ok || !isList || cidrs.Type().TypeName() != types.ListType.TypeName() {
		return decls.MaybeNoSuchOverload("ip_in", ipVal, cidrs)
	}
	addr, err := netip.ParseAddr(string(s))
	if err != nil {
		return types.False
	}
	addr = addr.Unmap()
	ranges, ok := parsedCIDRs(list)
	if !ok {
		ranges = parseCIDRs(list)
	}
	for _, r := range ranges {
		switch {
		case r.notString:
			return types.NewErr("ip_in: the CIDR list holds a non-string")
		case r.bad != "":
			return types.NewErr("ip_in: %q is not a CIDR range such as 10.0.0.0/8", r.bad)
		case r.prefix.Contains(addr):
			return types.True
		}
	}
	return types.False
}

// cidr is one element of ip_in's list: a range, or what makes the list
// fail when ip_in reaches it (in order: an earlier range that holds the
// address answers true first).
type cidr struct {
	prefix    netip.Prefix
	bad       string // the text of an element that is not a range
	notString bool
}

// parseCIDRs parses list's elements up to the first that fails.
func parseCIDRs(list traits.Lister) []cidr {
	n := list.Size().(types.Int)
	ranges := make([]cidr, 0, n)
	for i := types.Int(0); i < n; i++ {
		c, ok := list.Get(i).(types.String)
		if !ok {
			return append(ranges, cidr{notString: true})
		}
		p, err := netip.ParsePrefix(string(c))
		if err != nil {
			return append(ranges, cidr{bad: string(c)})
		}
		ranges = append(ranges, cidr{prefix: p})
	}
	return ranges
}

// cidrLists are the parsed CIDR lists ip_in was given, by their text: a
// condition's list is nearly always a constant, parsed at its first use
// rather than at every token. Past maxCIDRLists texts the map starts
// again; a list of over maxCIDRKey bytes is parsed each time.
var cidrLists = struct {
	sync.RWMutex
	m map[string][]cidr
}{m: map[string][]cidr{}}

const (
	maxCIDRLists = 1000
	maxCIDRKey   = 4096
)

// parsedCIDRs returns list's ranges from cidrLists, parsing and keeping
// them on first use; false for a list it does not keep (a non-string
// element, too long).
func parsedCIDRs(list traits.Lister) ([]cidr, bool) {
	var buf [256]byte
	key := buf[:0]
	n := list.Size().(types.Int)
	for i := types.Int(0); i < n; i++ {
		c, ok := list.Get(i).(types.String)
		if !ok || len(key)+len(c) > maxCIDRKey {
			return nil, false
		}
		// Length-prefixed: no two lists have the same key.
		key = binary.AppendUvarint(key, uint64(len(c)))
		key = append(key, c...)
	}
	cidrLists.RLock()
	ranges, ok := cidrLists.m[string(key)]
	cidrLists.RUnlock()
	if ok {
		return ranges, true
	}
	ranges = parseCIDRs(list)
	cidrLists.Lock()
	if len(cidrLists.m) >= maxCIDRLists {
		clear(cidrLists.m)
	}
	cidrLists.m[string(key)] = ranges
	cidrLists.Unlock()
	return ranges, true
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
