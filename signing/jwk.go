package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/gooclaim/auth"
)

// jwk is a public JSON Web Key (RFC 7517 §4) with the parameters of
// RFC 7518 §6.2.1 (EC), §6.3.1 (RSA) and RFC 8037 §2 (OKP).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// jwkParams returns the key type and public parameters of pub.
func jwkParams(pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jwk{}, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
		// 0x04 || X || Y, each coordinate the full 32 bytes as
		// RFC 7518 §6.2.1.2 requires.
		b, err := k.Bytes()
		if err != nil {
			return jwk{}, fmt.Errorf("ECDSA public key: %w", err)
		}
		const size = 32
		return jwk{Kty: "EC", Crv: "P-256", X: b64(b[1 : 1+size]), Y: b64(b[1+size:])}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return jwk{}, fmt.Errorf("Ed25519 public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	case *rsa.PublicKey:
		// Big-endian, without leading zeros (RFC 7518 §6.3.1.1, §6.3.1.2).
		return jwk{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	default:
		return jwk{}, fmt.Errorf("unsupported public key type %T", pub)
	}
}

// JWKS returns the JWK Set (RFC 7517 §5) of the keys' public halves, in the
// order given, each with "kty", "use":"sig", "alg", "kid" and its public
// parameters. An empty list gives {"keys":[]}.
func JWKS(keys []auth.Key) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		pub, err := PublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("JWKS: %w", err)
		}
		j, err := jwkParams(pub)
		if err != nil {
			return nil, fmt.Errorf("JWKS: key %q: %w", k.ID, err)
		}
		j.Use, j.Alg, j.Kid = "sig", k.Algorithm, k.ID
		set.Keys = append(set.Keys, j)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return b, nil
}
