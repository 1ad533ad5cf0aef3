package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth/internal/jwkset"
)

// clientAssertionTypeJWT is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultAssertionLifetime is Config.AssertionLifetime's default.
const DefaultAssertionLifetime = 60 * time.Second

// minRSABits is the smallest RSA key the kit signs with (RFC 7518 §3.3).
const minRSABits = jwkset.MinRSABits

// assertionSigner makes the client assertions of private_key_jwt.
type assertionSigner struct {
	signer   jose.Signer
	alg      string
	lifetime time.Duration
}

// newAssertionSigner checks the key and the algorithm and returns a signer,
// or the problems found.
func newAssertionSigner(key crypto.Signer, kid, alg string, lifetime time.Duration) (*assertionSigner, []string) {
	if key == nil {
		return nil, []string{"AuthPrivateKeyJWT needs PrivateKey: the client's private key, whose public key is registered with the server"}
	}
	var problems []string
	pub := key.Public()
	implied := jwkset.ImpliedAlgorithm(pub)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if implied == "" {
			problems = append(problems, fmt.Sprintf("PrivateKey is an ECDSA key on %s: use P-256, P-384 or P-521", k.Curve.Params().Name))
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			problems = append(problems, fmt.Sprintf("PrivateKey is an RSA key of %d bits, fewer than %d", k.N.BitLen(), minRSABits))
		}
	default:
		problems = append(problems, fmt.Sprintf("PrivateKey is a %T: use an ECDSA (P-256, P-384, P-521), Ed25519 or RSA (2048 bits or more) key", key))
	}
	if alg == "" {
		alg = implied
	} else if implied != "" && !jwkset.KeyFits(alg, pub) {
		problems = append(problems, fmt.Sprintf("SigningAlgorithm %q does not fit the PrivateKey (a %s key): use %s", alg, keyKind(pub), fitting(pub)))
	}
	if lifetime < 0 {
		problems = append(problems, fmt.Sprintf("AssertionLifetime %v is negative", lifetime))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if lifetime == 0 {
		lifetime = DefaultAssertionLifetime
	}

	var signingKey any
	switch key.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
		signingKey = jose.JSONWebKey{Key: key, KeyID: kid}
	default:
		// A key held elsewhere (an HSM, a cloud KMS) behind crypto.Signer.
		signingKey = &opaqueSigner{key: key, kid: kid, alg: jose.SignatureAlgorithm(alg)}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: signingKey},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, []string{fmt.Sprintf("PrivateKey cannot sign %s: %v", alg, err)}
	}
	return &assertionSigner{signer: s, alg: alg, lifetime: lifetime}, nil
}

// assertionClaims are the claims of RFC 7523 §3 for client authentication.
type assertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	JWTID    string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// sign makes a new assertion of clientID for audience aud: iss and sub
// the client ID, a jti of 128 random bits, iat now and exp now plus the
// lifetime.
func (a *assertionSigner) sign(clientID, aud string, now time.Time) (string, error) {
	var jti [16]byte
	rand.Read(jti[:]) // never fails (crypto/rand)
	payload, err := json.Marshal(assertionClaims{
		Issuer: clientID, Subject: clientID, Audience: aud,
		JWTID:    base64.RawURLEncoding.EncodeToString(jti[:]),
		IssuedAt: now.Unix(), Expiry: now.Add(a.lifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("client assertion: %w", err)
	}
	jws, err := a.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign the client assertion (%s): %w", a.alg, err)
	}
	return jws.CompactSerialize()
}

func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return "RSA"
	}
	return fmt.Sprintf("%T", pub)
}

func fitting(pub crypto.PublicKey) string {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return "RS256, RS384, RS512, PS256, PS384 or PS512"
	}
	return jwkset.ImpliedAlgorithm(pub)
}

// opaqueSigner is a jose.OpaqueSigner over a crypto.Signer whose private
// key go-jose cannot see. It follows RFC 7518: ECDSA signatures are R||S
// (§3.4), and RSASSA-PSS salts as long as the hash (§3.5).
type opaqueSigner struct {
	key crypto.Signer
	kid string
	alg jose.SignatureAlgorithm
}

func (o *opaqueSigner) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.key.Public(), KeyID: o.kid, Algorithm: string(o.alg)}
}

func (o *opaqueSigner) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{o.alg} }

func (o *opaqueSigner) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg == jose.EdDSA {
		return o.key.Sign(rand.Reader, payload, crypto.Hash(0))
	}
	var hash crypto.Hash
	switch alg {
	case jose.ES256, jose.RS256, jose.PS256:
		hash = crypto.SHA256
	case jose.ES384, jose.RS384, jose.PS384:
		hash = crypto.SHA384
	case jose.ES512, jose.RS512, jose.PS512:
		hash = crypto.SHA512
	default:
		return nil, jose.ErrUnsupportedAlgorithm
	}
	h := hash.New()
	h.Write(payload)
	digest := h.Sum(nil)
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512:
		return o.key.Sign(rand.Reader, digest, hash)
	case jose.PS256, jose.PS384, jose.PS512:
		return o.key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash})
	}
	der, err := o.key.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, err
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 {
		return nil, errors.New("the signer's ECDSA signature is not ASN.1 DER")
	}
	size := (o.key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, errors.New("the signer's ECDSA signature is out of range")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
