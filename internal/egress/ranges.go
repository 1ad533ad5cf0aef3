package egress

import (
	"fmt"
	"net/netip"
)

// Range is an address range the server does not connect to.
type Range struct {
	Prefix netip.Prefix
	Name   string // as its registry names it
	Spec   string // where it is defined
}

func (r Range) String() string { return fmt.Sprintf("%s (%s, %s)", r.Prefix, r.Name, r.Spec) }

// Denied returns every range the server does not connect to, in the
// order of the registries.
func Denied() []Range { return append([]Range(nil), denied...) }

func r(prefix, name, spec string) Range {
	return Range{Prefix: netip.MustParsePrefix(prefix), Name: name, Spec: spec}
}

// denied is every entry of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890, updated by RFC 8190), as of their 2025 revisions:
//
//	https://www.iana.org/assignments/iana-ipv4-special-registry/
//	https://www.iana.org/assignments/iana-ipv6-special-registry/
//
// whatever their "Globally Reachable" column says. An entry marked globally
// reachable (the AS112 and AMT blocks, the PCP and TURN anycast addresses,
// ORCHIDv2, 64:ff9b::/96) is infrastructure or an address with its own
// path, never where a client's public keys are published; refusing it
// costs nothing and keeps the list a plain copy of the registries rather
// than a selection. 6to4 and Teredo embed an IPv4 address that the relay,
// not this check, would connect to, and NAT64 64:ff9b::/96 reaches
// whatever IPv4 address it embeds: all three are refused as whole prefixes.
//
// The registries' ::ffff:0:0/96 (IPv4-mapped) entry is not listed: such an
// address is unmapped and checked as the IPv4 address it is (see
// Policy.Check), which is what the operating system connects to.
//
// Beyond the registries: multicast (which the special-purpose registries
// leave to their own registries), the deprecated site-local and
// IPv4-compatible IPv6 blocks, and every IPv6 address outside 2000::/3,
// the only block IANA assigns global unicast addresses from (IANA IPv6
// Address Space registry; RFC 4291 §2.4): the rest is reserved by the IETF
// or one of the special blocks above.
//
// A check reports the longest (most specific) prefix holding the address.
var denied = []Range{
	// IPv4 Special-Purpose Address Registry.
	r("0.0.0.0/8", `"This network"`, "RFC 791 §3.2"),
	r("0.0.0.0/32", `"This host on this network"`, "RFC 1122 §3.2.1.3"),
	r("10.0.0.0/8", "Private-Use", "RFC 1918"),
	r("100.64.0.0/10", "Shared Address Space, carrier-grade NAT", "RFC 6598"),
	r("127.0.0.0/8", "Loopback", "RFC 1122 §3.2.1.3"),
	r("169.254.0.0/16", "Link Local", "RFC 3927"),
	r("172.16.0.0/12", "Private-Use", "RFC 1918"),
	r("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890 §2.1"),
	r("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
	r("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
	r("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723"),
	r("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
	r("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 §2.2"),
	r("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 §2.2"),
	r("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
	r("192.31.196.0/24", "AS112-v4", "RFC 7535"),
	r("192.52.193.0/24", "AMT", "RFC 7450"),
	r("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
	r("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751"),
	r("192.168.0.0/16", "Private-Use", "RFC 1918"),
	r("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"),
	r("198.18.0.0/15", "Benchmarking", "RFC 2544"),
	r("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
	r("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
	r("240.0.0.0/4", "Reserved", "RFC 1112 §4"),
	r("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 §7"),
	// Beyond the registry.
	r("224.0.0.0/4", "Multicast", "RFC 5771"),

	// IPv6 Special-Purpose Address Registry.
	r("::1/128", "Loopback Address", "RFC 4291"),
	r("::/128", "Unspecified Address", "RFC 4291"),
	r("64:ff9b::/96", "IPv4-IPv6 Translation, NAT64", "RFC 6052"),
	r("64:ff9b:1::/48", "IPv4-IPv6 Translation, local-use NAT64", "RFC 8215"),
	r("100::/64", "Discard-Only Address Block", "RFC 6666"),
	r("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
	r("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
	r("2001::/32", "TEREDO", "RFC 4380, RFC 8190"),
	r("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723"),
	r("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
	r("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
	r("2001:2::/48", "Benchmarking", "RFC 5180"),
	r("2001:3::/32", "AMT", "RFC 7450"),
	r("2001:4:112::/48", "AS112-v6", "RFC 7535"),
	r("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),
	r("2001:20::/28", "ORCHIDv2", "RFC 7343"),
	r("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374"),
	r("2001:db8::/32", "Documentation", "RFC 3849"),
	r("2002::/16", "6to4", "RFC 3056"),
	r("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534"),
	r("3fff::/20", "Documentation", "RFC 9637"),
	r("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
	r("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190"),
	r("fe80::/10", "Link-Local Unicast", "RFC 4291"),
	// Beyond the registry.
	r("::/96", "Deprecated IPv4-compatible addresses", "RFC 4291 §2.5.5.1"),
	r("fec0::/10", "Deprecated site-local addresses", "RFC 3879"),
	r("ff00::/8", "Multicast", "RFC 4291 §2.7"),
	r("::/3", "Reserved by the IETF: outside 2000::/3, the global unicast space", "RFC 4291 §2.4"),
	r("4000::/2", "Reserved by the IETF: outside 2000::/3, the global unicast space", "RFC 4291 §2.4"),
	r("8000::/1", "Reserved by the IETF: outside 2000::/3, the global unicast space", "RFC 4291 §2.4"),
}

// loopback is the range named for "localhost", which resolves to it
// without asking DNS (RFC 6761 §6.3).
var loopback, _ = find(netip.AddrFrom4([4]byte{127, 0, 0, 1}))

// find returns the longest prefix of denied holding a, which must be
// unmapped and without zone.
func find(a netip.Addr) (Range, bool) {
	var best Range
	found := false
	for _, d := range denied {
		if d.Prefix.Contains(a) && (!found || d.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = d, true
		}
	}
	return best, found
}
