package clientauth

import "net/netip"

// DummyVerifications is how many dummy signature verifications were made.
func DummyVerifications() int64 { return dummyVerifications.Load() }

// WithEgressAllow returns cfg with prefixes let through the address check
// although denied: for tests that need one loopback server allowed and
// another refused.
func WithEgressAllow(cfg Config, allow ...netip.Prefix) Config {
	cfg.egressAllow = allow
	return cfg
}
