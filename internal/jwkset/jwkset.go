// Package jwkset reads JWK Sets (RFC 7517 §5) into the public signature keys
// they hold, with the rules both the resource servers' kit (verify) and the
// token endpoint's client authentication (clientauth) apply: one JWK at a
// time, so that a key of a type it does not know does not hide the others;
// public signature keys only; an algorithm that fits the key (RFC 8725
// §3.1); RSA keys of at least MinRSABits bits. It also holds what both read
// of JOSE documents around the keys: JSON objects without duplicate members
// (DecodeObject), quoting of untrusted values for messages (Quote), and the
// freshness of a fetched set (MaxAge).
package jwkset

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA key accepted (RFC 7518 §3.3).
const MinRSABits = 2048

// Key is one usable key of a JWK Set.
type Key struct {
	// KID is the JWK's "kid"; empty only when Options.RequireKID is false.
	KID string
	// Alg is the algorithm it verifies: the JWK's "alg", or the one its
	// type implies (ImpliedAlgorithm).
	Alg string
	// Key is an *ecdsa.PublicKey, an ed25519.PublicKey or an *rsa.PublicKey.
	Key crypto.PublicKey
}

// Problem is why one JWK of a set is not used.
type Problem struct {
	Index int    // its position in "keys"
	KID   string // its kid, if it has one
	Err   error  // matches ErrNotForSigning or ErrNotPublic when it is one of those
}

// String says which key it is and why it is not used.
func (p Problem) String() string {
	return fmt.Sprintf("key %d (kid %s): %v", p.Index, Quote(p.KID), p.Err)
}

// Set is a parsed JWK Set.
type Set struct {
	Keys    []Key     // the usable keys, in the set's order
	Ignored []Problem // the others, and why
}

// Options say which keys are usable.
type Options struct {
	// Algorithms are the algorithms a key may verify (required).
	Algorithms []string
	// AlgorithmsName names the Algorithms list in messages, such as
	// "Config.Algorithms". Empty means "the accepted algorithms".
	AlgorithmsName string
	// RequireKID makes a JWK without "kid" unusable.
	RequireKID bool
}

// Errors that some Problems match, for callers that treat them apart.
var (
	// ErrNotForSigning: the JWK says it is for another use ("use" other
	// than "sig", or "key_ops" without "verify").
	ErrNotForSigning = errors.New("not a signature verification key")
	// ErrNotPublic: a symmetric key, or one holding private parameters.
	ErrNotPublic = errors.New("not a public key (symmetric, or holding private parameters); never used")
)

// kindError is a message that matches one of the errors above.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Parse reads a JWK Set and keeps the public signature keys that verify
// one of opts.Algorithms. It fails when body is not a JWK Set or holds no
// usable key.
func Parse(body []byte, opts Options) (*Set, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	set := &Set{Keys: make([]Key, 0, len(doc.Keys))}
	for i, raw := range doc.Keys {
		k, err := ParseKey(raw, opts)
		if err != nil {
			set.Ignored = append(set.Ignored, Problem{Index: i, KID: k.KID, Err: err})
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		why := make([]string, len(set.Ignored))
		for i, p := range set.Ignored {
			why[i] = p.String()
		}
		return nil, fmt.Errorf("no usable key (%d in the set): %s", len(doc.Keys), strings.Join(why, "; "))
	}
	return set, nil
}

// ParseKey reads one JWK. On error the returned Key holds only the KID,
// if the JWK has one, for the messages.
func ParseKey(raw json.RawMessage, opts Options) (Key, error) {
	var meta struct {
		Kid    string   `json:"kid"`
		KeyOps []string `json:"key_ops"`
	}
	_ = json.Unmarshal(raw, &meta) // only for the messages and key_ops; go-jose reads the key
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return Key{KID: meta.Kid}, err
	}
	kid := Key{KID: jwk.KeyID}
	switch {
	case jwk.KeyID == "" && opts.RequireKID:
		return Key{}, errors.New("no kid, so no token can name it")
	case jwk.Use != "" && jwk.Use != "sig":
		return kid, &kindError{"use " + Quote(jwk.Use) + ", not sig", ErrNotForSigning}
	case meta.KeyOps != nil && !slices.Contains(meta.KeyOps, "verify"):
		return kid, &kindError{"key_ops lacks verify", ErrNotForSigning}
	case !jwk.IsPublic():
		// A symmetric key, or a private one: its owner published a secret.
		return kid, ErrNotPublic
	}
	implied := ImpliedAlgorithm(jwk.Key)
	alg := jwk.Algorithm
	switch {
	case alg == "" && implied == "":
		return kid, errors.New("no alg, and its key type implies none")
	case alg == "":
		alg = implied
	case !KeyFits(alg, jwk.Key):
		return kid, fmt.Errorf("declares alg %s, which its key type does not fit", Quote(alg))
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < MinRSABits {
		return kid, fmt.Errorf("RSA key of %d bits, fewer than %d", k.N.BitLen(), MinRSABits)
	}
	if !slices.Contains(opts.Algorithms, alg) {
		name := opts.AlgorithmsName
		if name == "" {
			name = "the accepted algorithms (" + strings.Join(opts.Algorithms, ", ") + ")"
		}
		return kid, fmt.Errorf("alg %s is not in %s", alg, name)
	}
	return Key{KID: jwk.KeyID, Alg: alg, Key: jwk.Key}, nil
}

// ImpliedAlgorithm is the algorithm a JWK without "alg" may verify: the
// one its key type leaves no doubt about. RSA keys serve several (RS256,
// PS256, …): only RS256 is assumed. pub may be a public key or a
// crypto.Signer's Public().
func ImpliedAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256"
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
	case ed25519.PublicKey:
		return "EdDSA"
	case *rsa.PublicKey:
		return "RS256"
	}
	return ""
}

// KeyFits reports whether pub is a key for alg.
func KeyFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return alg == ImpliedAlgorithm(k)
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *rsa.PublicKey:
		return slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg)
	}
	return false
}

// maxQuoted bounds how much of a value read from a JWK or a token a
// message repeats.
const maxQuoted = 48

// Quote renders a value read from a JWK or a token for a message: in single
// quotes, at most 48 characters, with every character outside printable
// ASCII, and the quotes and backslash, replaced by '?' (RFC 6749 §5.2 and
// RFC 6750 §3 allow neither in error_description).
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	n := 0
	for _, r := range s {
		if n == maxQuoted {
			b.WriteString("...")
			break
		}
		n++
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '\'' {
			r = '?'
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// MaxAge reads the freshness an HTTP response gives a JWK Set: its
// Cache-Control max-age less its Age (for a response from a shared cache),
// bounded to [lo, hi]. no-cache and no-store give lo; ok is false when the
// response says nothing, so that the caller applies its own default.
func MaxAge(h http.Header, lo, hi time.Duration) (age time.Duration, ok bool) {
	for _, cc := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(cc, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return lo, true
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && n >= 0 {
					age, ok = time.Duration(min(n, int64(hi/time.Second)))*time.Second, true
				}
			}
		}
	}
	if !ok {
		return 0, false
	}
	if n, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && n > 0 {
		age -= time.Duration(min(n, int64(hi/time.Second))) * time.Second
	}
	return min(max(age, lo), hi), true
}
