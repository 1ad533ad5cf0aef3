// Package egress decides which addresses the server may connect to when it
// fetches a URL that someone else chose: a client's jwks_uri today, a
// trusted issuer's metadata and keys with federation. Without it, whoever
// registers such a URL could make the server send requests into its own
// network — a loopback admin port, a cloud metadata service
// (169.254.169.254, 100.100.100.200), a Kubernetes service — and learn
// from the outcome what answered (server-side request forgery).
//
// The policy denies every range of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890, RFC 8190) and the other non-public ranges
// listed by [Denied]. It is applied twice:
//
//   - when a URL is registered, to its host: an IP literal in a denied
//     range, and localhost, are refused with an error naming the range
//     ([Policy.CheckHost]);
//   - when a connection is made, to the address actually connected to,
//     after name resolution, for every connection — the first and those of
//     redirects ([Policy.Control], [Policy.Transport], [Policy.Guard]). A
//     name that resolves to a denied address, or changes its answer after
//     registration (DNS rebinding), is refused there.
//
// The second check is the one that holds; the first gives a clear error
// early.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Policy says which addresses may be connected to. The zero value is the
// policy: every range of [Denied] is refused.
type Policy struct {
	// Allow lists prefixes let through although a denied range holds
	// them: a test's loopback server, or an internal network an operator
	// names explicitly. Empty, nothing is let through.
	Allow []netip.Prefix
}

// DeniedError is an address, or a host name, that the policy refuses.
type DeniedError struct {
	// Addr is the address refused, as given (it may be an IPv4-mapped
	// IPv6 address); invalid when Host is set.
	Addr netip.Addr
	// Host is a name refused without resolving it: localhost.
	Host string
	// Range is the most specific denied range holding the address.
	Range Range
}

func (e *DeniedError) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("%q always resolves to a loopback address (RFC 6761 §6.3), in %s: not a public address", e.Host, e.Range)
	}
	if u := e.Addr.Unmap(); u != e.Addr {
		return fmt.Sprintf("%s is the IPv4 address %s, in %s: not a public address", e.Addr, u, e.Range)
	}
	return fmt.Sprintf("%s is in %s: not a public address", e.Addr, e.Range)
}

// Check returns a *DeniedError when a is in a denied range, nil when it is
// a public address. An IPv4-mapped IPv6 address is checked as the IPv4
// address it maps; an IPv6 zone is ignored.
func (p Policy) Check(a netip.Addr) error {
	if !a.IsValid() {
		return errors.New("no address to check")
	}
	plain := a.WithZone("").Unmap() // Prefix.Contains is false for an address with a zone
	rg, ok := find(plain)
	if !ok {
		return nil
	}
	for _, allowed := range p.Allow {
		if allowed.Contains(plain) {
			return nil
		}
	}
	return &DeniedError{Addr: a.WithZone(""), Range: rg}
}

// Check applies the zero Policy.
func Check(a netip.Addr) error { return Policy{}.Check(a) }

// CheckHost checks a URL's host (url.URL.Hostname: no port, no brackets)
// before any connection: an IP literal in a denied range, localhost or a
// name under .localhost (which resolve to loopback without DNS, RFC 6761
// §6.3), or a host that only a lenient resolver would read as an IPv4
// address (127.1, 0x7f000001, 2130706433) is refused. Other names are
// left to the check at connect time, which sees what they resolve to.
func (p Policy) CheckHost(host string) error {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		if p.Check(loopback.Prefix.Addr().Next()) == nil {
			return nil // the loopback address is allowed
		}
		return &DeniedError{Host: host, Range: loopback}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return p.Check(a)
	}
	if numeric(name) {
		return fmt.Errorf("host %q reads as an IPv4 address to some resolvers and as a name to others: write an address as four decimal numbers (a.b.c.d), or use a name", host)
	}
	return nil
}

// CheckHost applies the zero Policy.
func CheckHost(host string) error { return Policy{}.CheckHost(host) }

// numeric reports whether every dot-separated label of name is a decimal,
// octal or hex number: no DNS name is (RFC 1123 §2.1, RFC 3696 §2), but
// inet_aton reads it as an IPv4 address.
func numeric(name string) bool {
	if name == "" {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		digits := label
		if h, ok := strings.CutPrefix(label, "0x"); ok {
			digits = h
			if digits == "" {
				continue // "0x" alone is 0 to inet_aton
			}
			if strings.Trim(digits, "0123456789abcdef") != "" {
				return false
			}
			continue
		}
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			return false
		}
	}
	return true
}

// IsLoopbackHost reports whether host (url.URL.Hostname) is localhost, a
// name under .localhost, or a loopback IP literal: 127.0.0.0/8, ::1, or
// either as an IPv4-mapped address.
func IsLoopbackHost(host string) bool {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.WithZone("").Unmap().IsLoopback()
}

// Control is a net.Dialer Control function applying the policy to the
// address about to be connected to (after name resolution, so whatever a
// name resolves to): it refuses a denied address with its *DeniedError.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("egress: cannot check address %q: %w", address, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("egress: cannot check address %q: not an IP address", address)
	}
	return p.Check(a)
}

// Control applies the zero Policy.
func Control(network, address string, c syscall.RawConn) error {
	return Policy{}.Control(network, address, c)
}

// Dialer returns a dialer with the usual timeouts that connects only to
// addresses the policy allows.
func (p Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
}

// Transport returns a clone of http.DefaultTransport (or, when it was
// replaced by something else, a transport with the same settings) with
// the policy installed as by Guard.
func (p Policy) Transport() *http.Transport {
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		if t, err := p.Guard(d); err == nil {
			return t
		}
	}
	t, _ := p.Guard(&http.Transport{
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	})
	return t
}

// NewTransport applies the zero Policy.
func NewTransport() *http.Transport { return Policy{}.Transport() }

// Guard returns a clone of t that connects only to addresses the policy
// allows: its DialContext is replaced by Dialer's, and its Proxy removed,
// since a proxy would connect on the server's behalf, to the target,
// past the check. A transport with its own DialTLS or DialTLSContext is
// refused: it would make https connections itself, unchecked.
func (p Policy) Guard(t *http.Transport) (*http.Transport, error) {
	//lint:ignore SA1019 DialTLS is deprecated, and still used when set
	if t.DialTLSContext != nil || t.DialTLS != nil {
		return nil, errors.New("the transport makes its own TLS connections (DialTLS or DialTLSContext), which the address check cannot see: remove them, or check addresses in them yourself")
	}
	c := t.Clone()
	c.Proxy = nil
	// DialContext takes priority over a Dial the caller may have set.
	c.DialContext = p.Dialer().DialContext
	return c, nil
}
