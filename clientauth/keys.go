package clientauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/gooclaim/auth/internal/egress"
	"github.com/gooclaim/auth/internal/jwkset"
)

// Algorithms are the assertion signing algorithms accepted, advertised in
// discovery as token_endpoint_auth_signing_alg_values_supported. "none"
// and the HMAC algorithms are never accepted: a public key is not a shared
// secret (RFC 8725 §3.1, §3.2).
var Algorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// MaxJWKSSize bounds a registered or fetched JWK Set.
const MaxJWKSSize = 64 << 10

// CheckJWKS checks a JWK Set a client registers: JSON of at most
// MaxJWKSSize bytes with a "keys" array of public signature keys, each
// usable as Verifier uses keys (the rules of verify's too: an alg of
// Algorithms that fits the key, or a key type that implies one; RSA keys
// of at least 2048 bits). A private or symmetric key is refused outright;
// a key marked for another use ("use" other than "sig", "key_ops" without
// "verify") is allowed and ignored, but at least one key must be usable.
func CheckJWKS(data []byte) error {
	if len(data) > MaxJWKSSize {
		return fmt.Errorf("the JWK Set is over %d bytes", MaxJWKSSize)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("not a JWK Set (RFC 7517 §5): %v", err)
	}
	if len(doc.Keys) == 0 {
		return errors.New(`not a JWK Set (RFC 7517 §5): no "keys", or an empty array`)
	}
	usable := 0
	for i, raw := range doc.Keys {
		k, err := jwkset.ParseKey(raw, parseOptions)
		switch {
		case err == nil:
			usable++
		case errors.Is(err, jwkset.ErrNotPublic):
			return fmt.Errorf("key %d (kid %q) is private or symmetric: register only public keys, and keep the private key to yourself", i, k.KID)
		case errors.Is(err, jwkset.ErrNotForSigning):
			// Not for us; the verifier ignores it too.
		default:
			return fmt.Errorf("key %d (kid %q): %v", i, k.KID, err)
		}
	}
	if usable == 0 {
		return errors.New("no key of the JWK Set is a signature key (use sig): private_key_jwt could never verify an assertion")
	}
	return nil
}

// JWKSURIPolicy is what CheckJWKSURI accepts beyond an https URL whose
// host is a name or a public address.
type JWKSURIPolicy struct {
	// AllowHTTP accepts plain http (development only: keys fetched over
	// it can be substituted). It says nothing about addresses.
	AllowHTTP bool
	// AllowPrivateAddresses accepts a host that is an IP literal in a
	// range of internal/egress (loopback, private, link-local, carrier-
	// grade NAT, …) or localhost (development only).
	AllowPrivateAddresses bool
}

// CheckJWKSURI checks a jwks_uri a client registers: an absolute https URL
// (or http with p.AllowHTTP), without user info or fragment, whose host is
// not localhost nor an IP literal in a special-purpose range (unless
// p.AllowPrivateAddresses). A refused host's error wraps the
// *egress.DeniedError naming the range. A name is checked only when the
// URI is fetched, by what it resolves to then.
func CheckJWKSURI(raw string, p JWKSURIPolicy) error {
	var pol *egress.Policy
	if !p.AllowPrivateAddresses {
		pol = &egress.Policy{}
	}
	return checkJWKSURI(raw, p.AllowHTTP, pol)
}

// checkJWKSURI is CheckJWKSURI with the address policy pol (nil: any
// address).
func checkJWKSURI(raw string, allowHTTP bool, pol *egress.Policy) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("jwks_uri %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("jwks_uri %q is plain http: keys fetched over it can be substituted; use https", raw)
	default:
		return fmt.Errorf("jwks_uri %q: use an https URL", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("jwks_uri %q: no user info or fragment", raw)
	}
	if pol != nil {
		if err := pol.CheckHost(u.Hostname()); err != nil {
			return fmt.Errorf("jwks_uri %q: %w; keys are fetched from public addresses only", raw, err)
		}
	}
	return nil
}
