package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gooclaim/auth"
)

// rsaBits is the size of the RSA keys NewKey generates, and the smallest
// accepted for RS256 (RFC 7518 §3.3 requires 2048 or more).
const rsaBits = 2048

// supported lists the algorithms, for error messages.
const supported = auth.ES256 + ", " + auth.EdDSA + ", " + auth.RS256

// NewKey generates a signing key for alg (auth.ES256, auth.EdDSA or
// auth.RS256). Its ID is its RFC 7638 JWK thumbprint, its public half is
// stored as PKIX DER and its private half as PKCS #8 DER sealed under kek
// with the ID as additional data. The times are stored in UTC.
func NewKey(alg string, kek *KEK, createdAt, signingFrom time.Time) (auth.Key, error) {
	if kek == nil {
		return auth.Key{}, fmt.Errorf("new %s key: no key-encryption key", alg)
	}
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case auth.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case auth.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case auth.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return auth.Key{}, fmt.Errorf("new key: unsupported algorithm %q (supported: %s)", alg, supported)
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("new %s key: %w", alg, err)
	}
	pub := priv.Public()
	kid, err := Thumbprint(pub)
	if err != nil {
		return auth.Key{}, fmt.Errorf("new %s key: %w", alg, err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return auth.Key{}, fmt.Errorf("new %s key: %w", alg, err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return auth.Key{}, fmt.Errorf("new %s key: %w", alg, err)
	}
	sealed := kek.Seal(privDER, []byte(kid))
	clear(privDER)
	return auth.Key{
		ID:          kid,
		Algorithm:   alg,
		Public:      pubDER,
		Sealed:      sealed,
		CreatedAt:   createdAt.UTC(),
		SigningFrom: signingFrom.UTC(),
	}, nil
}

// PublicKey parses k's public key and checks that it suits k.Algorithm. The
// result is an *ecdsa.PublicKey, an ed25519.PublicKey or an *rsa.PublicKey.
func PublicKey(k auth.Key) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(k.Public)
	if err != nil {
		return nil, fmt.Errorf("key %q: public key: %w", k.ID, err)
	}
	if err := checkAlgorithm(k.Algorithm, pub); err != nil {
		return nil, fmt.Errorf("key %q: %w", k.ID, err)
	}
	return pub, nil
}

// checkAlgorithm reports whether pub is a key for alg.
func checkAlgorithm(alg string, pub crypto.PublicKey) error {
	switch alg {
	case auth.ES256:
		if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P256() {
			return nil
		}
	case auth.EdDSA:
		if _, ok := pub.(ed25519.PublicKey); ok {
			return nil
		}
	case auth.RS256:
		if k, ok := pub.(*rsa.PublicKey); ok {
			if k.N.BitLen() < rsaBits {
				return fmt.Errorf("RS256 key has %d bits, want at least %d", k.N.BitLen(), rsaBits)
			}
			return nil
		}
	default:
		return fmt.Errorf("unsupported algorithm %q (supported: %s)", alg, supported)
	}
	return fmt.Errorf("public key is %s, not usable with %s", keyKind(pub), alg)
}

func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of a public key,
// base64url without padding: the key ID NewKey assigns.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	p, err := jwkParams(pub)
	if err != nil {
		return "", err
	}
	// RFC 7638 §3.2: the required members only, in lexicographic order, no
	// whitespace. Every value is a fixed name or base64url, so none needs
	// escaping.
	var s string
	switch p.Kty {
	case "EC":
		s = `{"crv":"` + p.Crv + `","kty":"EC","x":"` + p.X + `","y":"` + p.Y + `"}`
	case "OKP":
		s = `{"crv":"` + p.Crv + `","kty":"OKP","x":"` + p.X + `"}`
	case "RSA":
		s = `{"e":"` + p.E + `","kty":"RSA","n":"` + p.N + `"}`
	}
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
