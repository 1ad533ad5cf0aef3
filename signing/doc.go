// Package signing holds Gooclaim Auth's signing keys and everything that turns
// them into bytes on the wire: the key-encryption key that seals private keys
// at rest, compact JWS signing of access tokens, and the JWK Set that
// resource servers fetch to verify them.
//
//   - Tokens are JWS Compact Serializations (RFC 7515 §7.1) whose protected
//     header is {"alg":…,"typ":"at+jwt","kid":…}, the JWT access token
//     profile's media type (RFC 9068 §2.1).
//   - Algorithms are ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4, with the
//     64-byte R||S signature, not ASN.1), RS256 (RSASSA-PKCS1-v1_5 with
//     SHA-256, RFC 7518 §3.3, 2048-bit keys) and EdDSA with Ed25519
//     (RFC 8037 §3.1).
//   - Public keys are published as a JWK Set (RFC 7517 §5) with the
//     parameters of RFC 7518 §6.2 (EC), §6.3 (RSA) and RFC 8037 §2 (OKP).
//   - A key's ID ("kid", RFC 7515 §4.1.4) is its JWK SHA-256 thumbprint
//     (RFC 7638 §3), base64url without padding, so that it is derived from
//     the key alone and the same everywhere.
//   - Private keys are stored as PKCS #8 DER sealed with AES-256-GCM under a
//     key-encryption key (KEK) that never leaves the configuration; the kid is
//     the additional authenticated data, binding each sealed key to its ID.
//
// Signing is written directly over crypto/ecdsa, crypto/ed25519 and
// crypto/rsa rather than through a JOSE library: it is the token endpoint's
// hot path and the compact serialization is a few lines. The tests verify
// every algorithm with github.com/go-jose/go-jose/v4, using keys read back
// out of the JWK Set.
package signing
