// Package credential makes and checks client credentials (RFC 6749 §2.3.1):
// client IDs, client secrets and their hashes at rest.
//
// Generated secrets carry 256 random bits behind a recognisable prefix, so a
// leaked one is found by secret scanners. Because they cannot be guessed, a
// single SHA-256 is a safe and fast hash for them (a slow password hash adds
// nothing against a 2^256 search). Secrets a user brings (imported from
// another system, like the seed's example) may be weak, so they are hashed
// with argon2id; after one successful slow check the Verifier remembers a
// keyed fast hash in memory so that the token endpoint stays fast.
package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

const (
	// ClientIDPrefix starts generated client IDs, as in the seed's "gooclaim_app_12345".
	ClientIDPrefix = "gooclaim_app_"
	// SecretPrefix starts generated secrets ("gooclaim client secret"), so scanners can find leaked ones.
	SecretPrefix = "gcs_"

	sha256Prefix = "sha256:"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewClientID returns "gooclaim_app_" followed by 20 base32 characters (100 random bits).
func NewClientID() string {
	var b [13]byte
	rand.Read(b[:])
	return ClientIDPrefix + idEncoding.EncodeToString(b[:])[:20]
}

// NewSecret returns a new secret: the prefix and 256 random bits, base64url.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// NewSecretID returns a short identifier for a stored secret (not derived from it).
func NewSecretID() string {
	var b [5]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// HashGenerated hashes a generated, high-entropy secret with SHA-256.
func HashGenerated(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return sha256Prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckImported reports what is wrong with a secret a user brings, if anything.
func CheckImported(secret string) error {
	switch {
	case secret == "":
		return errors.New("the secret is empty")
	case len(secret) > 1024:
		return errors.New("the secret is longer than 1024 bytes")
	case !utf8.ValidString(secret):
		return errors.New("the secret is not valid UTF-8")
	case strings.ContainsFunc(secret, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("the secret contains control characters (a trailing newline?)")
	}
	return nil
}

// Kind tells how a stored hash was made.
type Kind int

const (
	KindUnknown  Kind = iota
	KindSHA256        // generated secret
	KindArgon2id      // imported secret
)

// KindOf returns the kind of an encoded hash.
func KindOf(hash string) Kind {
	switch {
	case strings.HasPrefix(hash, sha256Prefix):
		return KindSHA256
	case strings.HasPrefix(hash, argon2Prefix):
		return KindArgon2id
	}
	return KindUnknown
}

func (k Kind) String() string {
	switch k {
	case KindSHA256:
		return "generated (sha256)"
	case KindArgon2id:
		return "imported (argon2id)"
	}
	return "unknown"
}

// sha256Equal compares a presented secret's SHA-256 with an encoded hash in
// constant time (for a well-formed hash).
func sha256Equal(sum *[32]byte, hash string) bool {
	var want [32]byte
	n, err := base64.RawURLEncoding.Decode(want[:], []byte(hash[len(sha256Prefix):]))
	if err != nil || n != 32 {
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// mustRandom fills b from crypto/rand, which never fails since Go 1.24 (it
// crashes the program rather than return predictable bytes).
func mustRandom(b []byte) { rand.Read(b) }
