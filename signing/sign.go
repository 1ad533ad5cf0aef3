package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/bufpool"
)

// TypeAccessToken is the "typ" header of JWT access tokens (RFC 9068 §2.1).
const TypeAccessToken = "at+jwt"

var b64 = base64.RawURLEncoding

// Signer signs with one key. It is safe for concurrent use.
type Signer struct {
	kid, alg string
	header   string // base64url of {"alg":…,"typ":"at+jwt","kid":…}
	sigSize  int    // signature length in bytes

	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
	rsa *rsa.PrivateKey
}

// NewSigner opens k's sealed private key with kek and checks that it is the
// private half of k.Public and suits k.Algorithm.
func NewSigner(k auth.Key, kek *KEK) (*Signer, error) {
	if kek == nil {
		return nil, fmt.Errorf("signing key %q: no key-encryption key", k.ID)
	}
	pub, err := PublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	der, err := kek.Open(k.Sealed, []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("signing key %q: %w", k.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %q: private key: %w", k.ID, err)
	}
	var privPub interface{ Equal(crypto.PublicKey) bool }
	if cs, ok := priv.(crypto.Signer); ok {
		privPub, _ = cs.Public().(interface{ Equal(crypto.PublicKey) bool })
	}
	if privPub == nil || !privPub.Equal(pub) {
		return nil, fmt.Errorf("signing key %q: the private key does not match the public key", k.ID)
	}
	header, err := encodeHeader(k.Algorithm, TypeAccessToken, k.ID)
	if err != nil {
		return nil, fmt.Errorf("signing key %q: %w", k.ID, err)
	}
	s := &Signer{kid: k.ID, alg: k.Algorithm, header: header}
	// PublicKey has checked that the public key, hence the private key
	// matching it, suits the algorithm.
	switch priv := priv.(type) {
	case *ecdsa.PrivateKey:
		s.ec, s.sigSize = priv, 2*32
	case ed25519.PrivateKey:
		s.ed, s.sigSize = priv, ed25519.SignatureSize
	case *rsa.PrivateKey:
		s.rsa, s.sigSize = priv, priv.Size()
	}
	return s, nil
}

// KeyID returns the signing key's ID, the "kid" of the tokens it signs.
func (s *Signer) KeyID() string { return s.kid }

// Algorithm returns the signing algorithm: auth.ES256, auth.EdDSA or auth.RS256.
func (s *Signer) Algorithm() string { return s.alg }

// Sign returns the JWS compact serialization (RFC 7515 §7.1) of claims, a
// JWT access token (RFC 9068) whose protected header is exactly
// {"alg":"<alg>","typ":"at+jwt","kid":"<kid>"}. The claims must be a JSON
// object; they are signed as given, not checked.
func (s *Signer) Sign(claims []byte) (string, error) {
	return s.sign(s.header, claims)
}

// SignWithType is Sign with another "typ" header (RFC 7515 §4.1.9), such as
// "JWT"; an empty typ leaves the header out. Only Sign's header is
// precomputed.
func (s *Signer) SignWithType(typ string, claims []byte) (string, error) {
	if typ == TypeAccessToken {
		return s.sign(s.header, claims)
	}
	header, err := encodeHeader(s.alg, typ, s.kid)
	if err != nil {
		return "", err
	}
	return s.sign(header, claims)
}

// sign writes header.payload.signature into a pooled buffer sized up front
// and returns a copy of it.
func (s *Signer) sign(header string, claims []byte) (string, error) {
	sb := bufpool.Get()
	defer bufpool.Put(sb)
	n := len(header) + 1 + b64.EncodedLen(len(claims))
	buf := slices.Grow(sb.B, n+1+b64.EncodedLen(s.sigSize))
	sb.B = buf
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, claims)
	signingInput := buf[:n]
	buf = append(buf, '.')

	switch {
	case s.ec != nil: // RFC 7518 §3.4
		digest := sha256.Sum256(signingInput)
		der, err := ecdsa.SignASN1(rand.Reader, s.ec, digest[:])
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		var rs [64]byte
		if err := derToRS(rs[:], der); err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		buf = b64.AppendEncode(buf, rs[:])
	case s.ed != nil: // RFC 8037 §3.1
		sig := ed25519.Sign(s.ed, signingInput)
		buf = b64.AppendEncode(buf, sig)
	case s.rsa != nil: // RFC 7518 §3.3
		digest := sha256.Sum256(signingInput)
		sig, err := rsa.SignPKCS1v15(nil, s.rsa, crypto.SHA256, digest[:])
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		buf = b64.AppendEncode(buf, sig)
	default:
		return "", errors.New("sign: signer has no key (use NewSigner)")
	}
	return string(buf), nil
}

// encodeHeader returns the base64url JOSE header {"alg":…,"typ":…,"kid":…}
// (RFC 7515 §4.1), in that order, typ left out when empty.
func encodeHeader(alg, typ, kid string) (string, error) {
	h := struct {
		Alg string `json:"alg"`
		Typ string `json:"typ,omitempty"`
		Kid string `json:"kid"`
	}{alg, typ, kid}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(h); err != nil {
		return "", fmt.Errorf("JOSE header: %w", err)
	}
	return b64.EncodeToString(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// derToRS converts an ASN.1 DER ECDSA-Sig-Value, SEQUENCE { r INTEGER,
// s INTEGER }, as crypto/ecdsa returns, into the fixed-size R||S of JWS
// (RFC 7518 §3.4), each integer left-padded to half of out.
func derToRS(out, der []byte) error {
	size := len(out) / 2
	clear(out)
	seq, rest, ok := readDER(der, 0x30)
	if !ok || len(rest) != 0 {
		return errors.New("malformed ECDSA signature")
	}
	for i := range 2 {
		var v []byte
		v, seq, ok = readDER(seq, 0x02)
		if !ok || len(v) == 0 || v[0]&0x80 != 0 { // empty or negative
			return errors.New("malformed ECDSA signature")
		}
		v = bytes.TrimLeft(v, "\x00")
		if len(v) > size {
			return errors.New("malformed ECDSA signature")
		}
		copy(out[(i+1)*size-len(v):(i+1)*size], v)
	}
	if len(seq) != 0 {
		return errors.New("malformed ECDSA signature")
	}
	return nil
}

// readDER reads one DER element with the given tag and a short-form length
// (under 128 bytes, enough for any P-256 signature) and returns its content
// and what follows it.
func readDER(b []byte, tag byte) (content, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag || b[1] >= 0x80 || int(b[1]) > len(b)-2 {
		return nil, nil, false
	}
	n := 2 + int(b[1])
	return b[2:n], b[n:], true
}
