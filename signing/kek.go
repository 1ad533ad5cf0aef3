package signing

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// KEKSize is the length of a key-encryption key: an AES-256 key.
const KEKSize = 32

// sealedVersion is the first byte of every sealed value, so that the format
// (today AES-256-GCM with a random 96-bit nonce) can change later.
const sealedVersion = 1

const (
	nonceSize = 12
	tagSize   = 16
)

// howToMakeKEK ends every error about a malformed key-encryption key.
const howToMakeKEK = "make one with: openssl rand -base64 32"

// ErrWrongKEK is returned by [KEK.Open] when the sealed value does not
// authenticate: it was sealed under another key-encryption key, for another
// key ID, or it has been altered.
var ErrWrongKEK = errors.New("cannot decrypt signing key: wrong key-encryption key?")

// KEK is a key-encryption key: it seals signing keys' private halves for
// storage with AES-256-GCM. It is safe for concurrent use.
type KEK struct {
	aead        cipher.AEAD
	fingerprint string
	// prk is the HKDF-SHA256 pseudorandom key extracted from the key, from
	// which Derive expands keys for other uses: never the key itself, so
	// that no other use can weaken the sealing.
	prk []byte
}

// ParseKEK reads a key-encryption key: 32 bytes, base64-encoded with the
// standard or URL-safe alphabet, padded or not. Surrounding whitespace is
// ignored, so the output of `openssl rand -base64 32` can be used as is.
// Errors never repeat the text.
func ParseKEK(text []byte) (*KEK, error) {
	s := bytes.TrimSpace(text)
	if len(s) == 0 {
		return nil, errors.New("key-encryption key is empty; " + howToMakeKEK)
	}
	s = bytes.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if bytes.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	key := make([]byte, enc.DecodedLen(len(s)))
	defer clear(key)
	n, err := enc.Decode(key, s)
	if err != nil {
		return nil, errors.New("key-encryption key is not valid base64; " + howToMakeKEK)
	}
	key = key[:n]
	if len(key) != KEKSize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d; %s", len(key), KEKSize, howToMakeKEK)
	}
	return newKEK(key)
}

func newKEK(key []byte) (*KEK, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	h := sha256.New()
	h.Write([]byte("gooclaim-auth key-encryption key fingerprint\x00"))
	h.Write(key)
	prk, err := hkdf.Extract(sha256.New, key, []byte("gooclaim-auth key-encryption key derivation"))
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return &KEK{aead: aead, fingerprint: hex.EncodeToString(h.Sum(nil)[:4]), prk: prk}, nil
}

// Derive returns a 32-byte key for another use than sealing, expanded
// with HKDF-SHA256 (RFC 5869) under label, which names that use: the same
// on every node that shares the key-encryption key, such as the DPoP
// nonces every node of a fleet must accept. Distinct labels give
// independent keys, and none reveals the key-encryption key.
func (k *KEK) Derive(label string) []byte {
	key, err := hkdf.Expand(sha256.New, k.prk, label, 32)
	if err != nil {
		// Only a length over 255 hash blocks fails, never 32 bytes.
		panic("signing: HKDF-Expand of 32 bytes failed: " + err.Error())
	}
	return key
}

// Fingerprint returns a short identifier of the key for logs and diagnostics:
// 8 hex digits of a labelled SHA-256 of the key. It reveals nothing useful
// about the key, but tells two keys apart.
func (k *KEK) Fingerprint() string { return k.fingerprint }

// Seal encrypts and authenticates plaintext, binding it to aad, which must be
// given again to Open. The result is a version byte, a random 12-byte nonce,
// then the AES-256-GCM ciphertext and tag.
func (k *KEK) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = sealedVersion
	rand.Read(out[1:]) // never fails (crypto/rand crashes the program instead)
	return k.aead.Seal(out, out[1:1+nonceSize], plaintext, aad)
}

// Open decrypts what Seal returned for the same aad. It returns ErrWrongKEK
// when the value does not authenticate.
func (k *KEK) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("cannot decrypt signing key: sealed value is %d bytes, too short", len(sealed))
	}
	if sealed[0] != sealedVersion {
		return nil, fmt.Errorf("cannot decrypt signing key: unknown sealed format version %d", sealed[0])
	}
	plaintext, err := k.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrWrongKEK
	}
	return plaintext, nil
}

// maxKEKFileSize bounds what LoadKEKFile reads: a key is 45 bytes.
const maxKEKFileSize = 4096

// LoadKEKFile reads a key-encryption key from a file holding its base64
// text (see ParseKEK). The file must not be accessible to group or others;
// on Linux, group bits that are only the mask of a POSIX ACL letting this
// process's user read the file are accepted too (a systemd credential,
// LoadCredential=, shows as mode 0440 so).
func LoadKEKFile(path string) (*KEK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("load key-encryption key: %s is not a regular file", path)
	}
	// Windows has no such permission bits; its ACLs are the operator's job.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" && !aclGrantsOnlyOwnerAndUs(path, perm) {
		return nil, fmt.Errorf("load key-encryption key: %s is accessible by group or others (mode %#o); run: chmod 600 %s", path, perm, path)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxKEKFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key: %w", err)
	}
	if len(text) > maxKEKFileSize {
		return nil, fmt.Errorf("load key-encryption key: %s is larger than %d bytes; %s", path, maxKEKFileSize, howToMakeKEK)
	}
	kek, err := ParseKEK(text)
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key from %s: %w", path, err)
	}
	return kek, nil
}

// CreateKEKFile generates a new key-encryption key and writes it to a new
// file, base64 and a newline, with mode 0600. It fails (with an error
// matching fs.ErrExist) if the file already exists: an existing key is never
// overwritten.
func CreateKEKFile(path string) (*KEK, error) {
	key := make([]byte, KEKSize)
	rand.Read(key)
	kek, err := newKEK(key)
	if err != nil {
		return nil, err
	}
	text := base64.StdEncoding.AppendEncode(nil, key)
	text = append(text, '\n')
	clear(key)

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key-encryption key: %w", err)
	}
	_, err = f.Write(text)
	clear(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create key-encryption key: %w", err)
	}
	return kek, nil
}

// LoadOrCreateKEKFile loads the key-encryption key from path, creating the
// file with a new key if it does not exist. created reports whether it did.
func LoadOrCreateKEKFile(path string) (kek *KEK, created bool, err error) {
	kek, err = LoadKEKFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kek, false, err
	}
	kek, err = CreateKEKFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our two calls: use theirs.
		kek, err = LoadKEKFile(path)
		return kek, false, err
	}
	return kek, err == nil, err
}
