package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	gojose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3).
const minRSABits = 2048

// parseJWKS reads a JWK Set (RFC 7517 §5) one key at a time, so that a key
// of a type it does not know does not hide the others, and keeps the public
// signature keys that verify one of the allowed algorithms.
func parseJWKS(body []byte, allowed []string) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	set := &keySet{byKID: make(map[string][]publicKey, len(doc.Keys))}
	for i, raw := range doc.Keys {
		k, kid, err := parseJWK(raw, allowed)
		if err != nil {
			set.ignored = append(set.ignored, fmt.Sprintf("key %d (kid %s): %v", i, quote(kid), err))
			continue
		}
		if _, ok := set.byKID[kid]; !ok {
			set.kids = append(set.kids, kid)
		}
		set.byKID[kid] = append(set.byKID[kid], k)
	}
	if len(set.byKID) == 0 {
		return nil, fmt.Errorf("no usable key (%d in the set): %s", len(doc.Keys), strings.Join(set.ignored, "; "))
	}
	slices.Sort(set.kids)
	return set, nil
}

func parseJWK(raw json.RawMessage, allowed []string) (publicKey, string, error) {
	var meta struct {
		Kid    string   `json:"kid"`
		Use    string   `json:"use"`
		KeyOps []string `json:"key_ops"`
	}
	_ = json.Unmarshal(raw, &meta) // only for the messages; go-jose reads the key
	var jwk gojose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return publicKey{}, meta.Kid, err
	}
	switch {
	case jwk.KeyID == "":
		return publicKey{}, "", errors.New("no kid, so no token can name it")
	case jwk.Use != "" && jwk.Use != "sig":
		return publicKey{}, jwk.KeyID, fmt.Errorf("use %s, not sig", quote(jwk.Use))
	case meta.KeyOps != nil && !slices.Contains(meta.KeyOps, "verify"):
		return publicKey{}, jwk.KeyID, errors.New("key_ops lacks verify")
	case !jwk.IsPublic():
		// A symmetric key, or a private one: the issuer published a secret.
		return publicKey{}, jwk.KeyID, errors.New("not a public key (symmetric, or holding private parameters); never used")
	}
	implied := impliedAlgorithm(jwk.Key)
	alg := jwk.Algorithm
	switch {
	case alg == "" && implied == "":
		return publicKey{}, jwk.KeyID, errors.New("no alg, and its key type implies none")
	case alg == "":
		alg = implied
	case !keyFits(alg, jwk.Key):
		return publicKey{}, jwk.KeyID, fmt.Errorf("declares alg %s, which its key type does not fit", quote(alg))
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return publicKey{}, jwk.KeyID, fmt.Errorf("RSA key of %d bits, fewer than %d", k.N.BitLen(), minRSABits)
	}
	if !slices.Contains(allowed, alg) {
		return publicKey{}, jwk.KeyID, fmt.Errorf("alg %s is not in Config.Algorithms", alg)
	}
	return publicKey{alg: alg, key: jwk.Key}, jwk.KeyID, nil
}

// impliedAlgorithm is the algorithm a JWK without "alg" may verify: the one
// its key type leaves no doubt about. RSA keys serve several (RS256, PS256,
// …): only RS256 is assumed.
func impliedAlgorithm(pub crypto.PublicKey) string {
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

// keyFits reports whether pub is a key for alg.
func keyFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return alg == impliedAlgorithm(k)
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *rsa.PublicKey:
		return slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg)
	}
	return false
}
