package clientauth

import "net/netip"

// WithEgressAllow returns cfg with prefixes let through the address check
// although denied: for tests that need one loopback server allowed and
// another refused.
func WithEgressAllow(cfg Config, allow ...netip.Prefix) Config {
	cfg.egressAllow = allow
	return cfg
}
