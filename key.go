package auth

import "time"

// Signing algorithms (RFC 7518 §3, RFC 8037).
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// Key is one signing key. Keys are immutable once stored; their lifecycle is
// derived from their times and from the keys that follow them:
//
//   - published (in the JWKS) from CreatedAt,
//   - signing from SigningFrom (CreatedAt plus the publish-ahead delay, so
//     that verifiers' JWKS caches hold the key before any token uses it),
//   - retired when a newer key starts signing, and published until the last
//     token it signed has expired, then deleted.
type Key struct {
	ID          string // the JWS "kid"
	Algorithm   string // ES256, EdDSA or RS256
	Public      []byte // public key, PKIX DER
	Sealed      []byte // private key, PKCS #8 DER sealed with AES-256-GCM under the key-encryption key
	CreatedAt   time.Time
	SigningFrom time.Time
}
