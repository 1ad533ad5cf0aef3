package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes parses a list of CIDRs or bare addresses (a bare address is
// a /32 or /128), as --trusted-proxies takes them.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, &net.ParseError{Type: "CIDR address", Text: s}
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

type clientAddrKey struct{}

// clientAddr is the middleware that decides, once per request, which
// address the request comes from (see ClientAddr) and keeps it for the
// rate limit, the logs and the audit trail. Without trusted proxies it does
// nothing: remoteIP reads the peer's address.
func (s *Server) clientAddr(next http.Handler) http.Handler {
	if len(s.TrustedProxies) == 0 {
		return next
	}
	trusted := s.TrustedProxies
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := ClientAddr(r, trusted)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, addr)))
	})
}

// remoteIP is the address a request is charged to and logged under: the
// one clientAddr believed, else the TCP peer's.
func remoteIP(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddrKey{}).(string); ok {
		return a
	}
	return peerIP(r)
}

// peerIP is the TCP peer's address, without the port.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ClientAddr returns the address of the client that sent r. Forwarding
// headers — Forwarded (RFC 7239 §4, its "for" parameters) or
// X-Forwarded-For — are believed only when the TCP peer is in trusted, and
// then only as far as trusted proxies vouch for them: the chain, peer last,
// is read from the right and the first address not itself trusted is the
// client (left of it everything was written by the client, so may be
// spoofed). When every hop is trusted the left-most one is the client.
//
// A malformed entry on the trusted part of the chain (a value that is not
// an address, "unknown", an obfuscated identifier, a broken quoted string),
// or both headers present and naming different clients, give the peer's
// address: a trusted proxy's header that cannot be read is not guessed at.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := peerIP(r)
	pa, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(pa.Unmap(), trusted) {
		return peer
	}
	fwd, xff := r.Header.Values("Forwarded"), r.Header.Values("X-Forwarded-For")
	if len(fwd) == 0 && len(xff) == 0 {
		return peer
	}
	var fromFwd, fromXFF netip.Addr
	if len(fwd) > 0 {
		chain, ok := forwardedFor(fwd)
		if !ok {
			return peer
		}
		if fromFwd, ok = rightmostUntrusted(chain, pa.Unmap(), trusted); !ok {
			return peer
		}
	}
	if len(xff) > 0 {
		var ok bool
		if fromXFF, ok = rightmostUntrusted(splitList(xff), pa.Unmap(), trusted); !ok {
			return peer
		}
	}
	switch {
	case !fromFwd.IsValid():
		return fromXFF.String()
	case !fromXFF.IsValid() || fromFwd == fromXFF:
		return fromFwd.String()
	}
	return peer // the two headers disagree: one was written by the client
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rightmostUntrusted walks chain (the peer appended) from the right and
// returns the first address not trusted, or the left-most when all are.
// An entry it must read and cannot gives false; entries left of the answer
// are never read.
func rightmostUntrusted(chain []string, peer netip.Addr, trusted []netip.Prefix) (netip.Addr, bool) {
	last := peer
	for i := len(chain) - 1; i >= 0; i-- {
		a, ok := parseNode(chain[i])
		if !ok {
			return netip.Addr{}, false
		}
		if !isTrusted(a, trusted) {
			return a, true
		}
		last = a
	}
	return last, true
}

// parseNode reads one hop: an IPv4 or IPv6 address, optionally with a port
// ("192.0.2.1:80", "[2001:db8::1]:80") or in brackets ("[2001:db8::1]"),
// as X-Forwarded-For and RFC 7239 §6 write them.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// splitList splits comma-separated header values, across repeated headers.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

// forwardedFor returns the "for" value of every element of the Forwarded
// headers, in order (RFC 7239 §4: elements separated by commas, pairs by
// semicolons, values tokens or quoted strings). An element without "for",
// or a header that does not parse, gives false.
func forwardedFor(values []string) ([]string, bool) {
	var out []string
	for _, v := range values {
		p := forwardedParser{s: v}
		for {
			element, ok := p.element()
			if !ok {
				return nil, false
			}
			f, ok := element["for"]
			if !ok {
				return nil, false
			}
			out = append(out, f)
			if p.done() {
				break
			}
		}
	}
	return out, true
}

type forwardedParser struct {
	s string
	i int
}

func (p *forwardedParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// done consumes the comma after an element and reports whether the header ends here.
func (p *forwardedParser) done() bool {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return false
	}
	return true
}

// element reads pairs up to the next comma or the end; the parameter names
// are case-insensitive.
func (p *forwardedParser) element() (map[string]string, bool) {
	pairs := map[string]string{}
	for {
		p.skipSpace()
		start := p.i
		for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
			p.i++
		}
		name := strings.ToLower(p.s[start:p.i])
		if name == "" || p.i >= len(p.s) || p.s[p.i] != '=' {
			return nil, false
		}
		p.i++
		value, ok := p.value()
		if !ok {
			return nil, false
		}
		if _, dup := pairs[name]; dup {
			return nil, false // RFC 7239 §4: each parameter at most once per element
		}
		pairs[name] = value
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] == ',' {
			return pairs, true
		}
		if p.s[p.i] != ';' {
			return nil, false
		}
		p.i++
	}
}

func (p *forwardedParser) value() (string, bool) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			switch c := p.s[p.i]; c {
			case '"':
				p.i++
				return b.String(), true
			case '\\':
				if p.i+1 >= len(p.s) {
					return "", false
				}
				p.i++
				b.WriteByte(p.s[p.i])
			default:
				b.WriteByte(c)
			}
		}
		return "", false // unterminated
	}
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i], p.i > start
}

// isTokenChar reports whether c may appear in an RFC 7230 token.
func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
