// Package dpop checks and makes DPoP proofs (RFC 9449): the JWTs by which
// a client proves, with every request, that it holds the private key an
// access token is bound to. It knows nothing of HTTP servers: the token
// endpoint (httpapi) and resource servers give Verify the request's method
// and URL, and record the proof's jti in their replay cache themselves
// (ReplayKey), since only they know whether the cache is one node's or the
// fleet's.
//
// Verify follows the checklist of RFC 9449 §4.3; NewProof makes proofs for
// the client kit and tests; NonceSource makes and checks the server nonces
// of §8 on every node of a fleet without shared state.
package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth/internal/jwkset"
	"github.com/gooclaim/auth/internal/jwt"
)

// Type is the "typ" header of a DPoP proof (RFC 9449 §4.2).
const Type = "dpop+jwt"

// Algorithms are the signature algorithms a proof may use: asymmetric only
// (RFC 9449 §4.2: never none nor a MAC, since the key must be the client's
// alone), in the order discovery advertises them.
var Algorithms = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// Limits on what a proof may hold: a proof arrives before the client is
// known, so nothing in it may cost more than a bounded amount.
const (
	// MaxSize bounds a proof, in bytes: an RSA-4096 jwk and signature with
	// room to spare.
	MaxSize = 8192
	// MaxJTILength bounds the jti, which the replay cache stores.
	MaxJTILength = 256
	// MaxRSABits bounds an RSA key, whose verification cost grows with it.
	MaxRSABits = 8192
)

// privateMembers are the JWK members that hold secrets (RFC 7518 §6.2.2,
// §6.3.2, §6.4.1; RFC 8037 §2): a proof's jwk holding any of them has
// published its private key, and is refused whatever else it holds.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ErrNonce is matched (errors.Is) by Verify's errors when the proof lacks a
// valid server nonce: the answer is use_dpop_nonce with a fresh nonce
// (RFC 9449 §8), not invalid_dpop_proof.
var ErrNonce = errors.New("DPoP nonce")

// nonceError is an error description that matches ErrNonce.
type nonceError struct{ msg string }

func (e *nonceError) Error() string { return e.msg }
func (e *nonceError) Unwrap() error { return ErrNonce }

// Params say what a proof must be for.
type Params struct {
	// Method is the request's HTTP method, which htm must equal.
	Method string
	// URL is the request's URL as this server knows itself (its configured
	// issuer URL and the path, never the Host header a proxy may rewrite);
	// htu must equal it, both normalized (NormalizeURL), query and fragment
	// ignored (RFC 9449 §4.3, item 9).
	URL string
	// Now is the time of the check.
	Now time.Time
	// MaxAge is how old iat may be; Leeway is the clock skew allowed on
	// either side, so iat may also be up to Leeway in the future.
	MaxAge, Leeway time.Duration
	// Nonce, when set, makes the nonce claim required and decides whether
	// its value is a valid server nonce (RFC 9449 §8).
	Nonce func(nonce string) bool
	// AccessToken, when set, makes the ath claim required: the base64url
	// SHA-256 of the access token presented with the proof (RFC 9449 §4.3,
	// item 12), for resource servers.
	AccessToken string
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint of the proof's key (RFC 7638),
	// base64url: what a bound token's cnf.jkt holds (RFC 9449 §6.1).
	JKT string
	// JTI is the proof's jti, to be recorded as used (ReplayKey).
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
}

// ReplayKey is the replay cache key of the proof, unique to its key and
// jti (a client cannot use up another key's jti values), and apart from
// the keys of client assertions, which start with a client ID (never
// empty, never starting with NUL).
func (p *Proof) ReplayKey() string { return "\x00dpop\x00" + p.JKT + "\x00" + p.JTI }

// ReplayUntil is how long the proof's jti must be remembered: as long as
// Verify would accept the proof at all.
func (p *Proof) ReplayUntil(params Params) time.Time {
	return p.IssuedAt.Add(params.MaxAge + params.Leeway)
}

var reader = jwt.Reader{Name: "the DPoP proof", MaxSize: MaxSize}

// Verify checks proof, the value of a request's DPoP header, as RFC 9449
// §4.3 lists: a compact JWS whose header has typ dpop+jwt, an asymmetric
// alg of Algorithms and a public jwk it is signed with; claims jti, htm
// (p.Method), htu (p.URL), iat (within p.MaxAge and p.Leeway of p.Now),
// nonce when p.Nonce is set and ath when p.AccessToken is. Whether the jti
// was seen before is the caller's to check, after Verify succeeds. Errors
// are descriptions for an error_description; those about the nonce match
// ErrNonce.
func Verify(proof string, p Params) (*Proof, error) {
	parts, err := reader.Split(proof)
	if err != nil {
		return nil, err
	}
	h, err := reader.Header(parts)
	if err != nil {
		return nil, err
	}
	if typ, ok := h.String("typ"); !ok || !strings.EqualFold(typ, Type) {
		return nil, fmt.Errorf("the DPoP proof's header has typ %s, not %q (RFC 9449 §4.2)", quoteMember(h, "typ"), Type)
	}
	alg, err := reader.Alg(h)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(Algorithms, alg) {
		return nil, fmt.Errorf("the DPoP proof's alg %s is not one of %s", jwkset.Quote(alg), strings.Join(Algorithms, ", "))
	}
	jwk, err := publicJWK(h["jwk"], alg)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return nil, fmt.Errorf("the DPoP proof is not a valid JWS: %v", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, errors.New("the DPoP proof's signature does not verify with its jwk")
	}
	c, err := reader.Claims(payload)
	if err != nil {
		return nil, err
	}
	jti, ok := c["jti"].(string)
	switch {
	case !ok || jti == "":
		return nil, errors.New("the DPoP proof has no jti string (RFC 9449 §4.2)")
	case len(jti) > MaxJTILength:
		return nil, fmt.Errorf("the DPoP proof's jti is %d bytes, more than the %d accepted", len(jti), MaxJTILength)
	}
	if htm, _ := c["htm"].(string); htm != p.Method {
		return nil, fmt.Errorf("the DPoP proof's htm is %s, but the request's method is %s: make a proof for this request", jwkset.Quote(htm), p.Method)
	}
	htu, _ := c["htu"].(string)
	want, err := NormalizeURL(p.URL)
	if err != nil {
		return nil, fmt.Errorf("the server's own URL %q: %w", p.URL, err)
	}
	if got, err := NormalizeURL(htu); err != nil || got != want {
		return nil, fmt.Errorf("the DPoP proof's htu is %s, but this request's URL is %s: make a proof for this URL", jwkset.Quote(htu), want)
	}
	iat, err := reader.Date(c, "iat")
	switch {
	case err != nil:
		return nil, err
	case iat.IsZero():
		return nil, errors.New("the DPoP proof has no iat (RFC 9449 §4.2)")
	case iat.After(p.Now.Add(p.Leeway)):
		return nil, fmt.Errorf("the DPoP proof's iat is %s in the future: check the client's clock", iat.Sub(p.Now).Round(time.Second))
	case iat.Before(p.Now.Add(-p.MaxAge - p.Leeway)):
		return nil, fmt.Errorf("the DPoP proof was issued %s ago, more than the %s accepted: make a fresh proof for every request", p.Now.Sub(iat).Round(time.Second), p.MaxAge)
	}
	if p.Nonce != nil {
		n, ok := c["nonce"].(string)
		switch {
		case !ok:
			return nil, &nonceError{"the DPoP proof has no nonce, which this server requires: retry with the one in the DPoP-Nonce header (RFC 9449 §8)"}
		case !p.Nonce(n):
			return nil, &nonceError{"the DPoP proof's nonce is not valid (expired, or not this server's): retry with the one in the DPoP-Nonce header (RFC 9449 §8)"}
		}
	}
	if p.AccessToken != "" {
		ath, _ := c["ath"].(string)
		if subtle.ConstantTimeCompare([]byte(ath), []byte(AccessTokenHash(p.AccessToken))) != 1 {
			return nil, errors.New("the DPoP proof's ath is not the hash of the access token sent with it (RFC 9449 §4.3, item 12)")
		}
	}
	jkt, err := thumbprint(jwk)
	if err != nil {
		return nil, err
	}
	return &Proof{JKT: jkt, JTI: jti, IssuedAt: iat}, nil
}

// publicJWK reads the header's jwk: a public key (no private member, not
// symmetric) of a type alg is for, RSA of MinRSABits to MaxRSABits.
func publicJWK(raw json.RawMessage, alg string) (*jose.JSONWebKey, error) {
	if raw == nil {
		return nil, errors.New("the DPoP proof's header has no jwk: it must carry the public key it is signed with (RFC 9449 §4.2)")
	}
	m, err := jwkset.DecodeObject[json.RawMessage](raw)
	if err != nil {
		return nil, fmt.Errorf("the DPoP proof's jwk is not a JSON object: %w", err)
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, fmt.Errorf("the DPoP proof's jwk holds the private or symmetric member %q: send the public key only, and replace this key, which is no longer secret", name)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("the DPoP proof's jwk is not a valid JWK: %v", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if !jwk.IsPublic() || !jwk.Valid() {
		return nil, errors.New("the DPoP proof's jwk is not a public key")
	}
	if !jwkset.KeyFits(alg, jwk.Key) {
		return nil, fmt.Errorf("the DPoP proof's jwk is not a key for its alg %s", alg)
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok {
		if n := k.N.BitLen(); n < jwkset.MinRSABits || n > MaxRSABits {
			return nil, fmt.Errorf("the DPoP proof's jwk is an RSA key of %d bits, not %d to %d", n, jwkset.MinRSABits, MaxRSABits)
		}
	}
	return &jwk, nil
}

// quoteMember renders header member name for a message: "none" when absent.
func quoteMember(h jwt.Header, name string) string {
	raw, ok := h[name]
	if !ok {
		return "none"
	}
	if s, ok := h.String(name); ok {
		return jwkset.Quote(s)
	}
	return jwkset.Quote(string(raw))
}

// AccessTokenHash is the ath of a proof sent with accessToken: base64url
// SHA-256 of its ASCII (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Thumbprint returns the JWK SHA-256 thumbprint (RFC 7638) of a public
// key, base64url: the jkt of RFC 9449 §6.1. pub may be a crypto.Signer's
// Public().
func Thumbprint(pub crypto.PublicKey) (string, error) {
	return thumbprint(&jose.JSONWebKey{Key: pub})
}

func thumbprint(jwk *jose.JSONWebKey) (string, error) {
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("the thumbprint of the DPoP key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// NewProof makes a DPoP proof for a request of method to url, signed by
// signer with alg (one of Algorithms fitting the key; "" for the one the
// key implies): a fresh random jti, iat now, the nonce when not empty and
// ath when accessToken is not empty (a request to a resource server).
func NewProof(signer crypto.Signer, alg, method, url, accessToken, nonce string, now time.Time) (string, error) {
	pub := signer.Public()
	if alg == "" {
		alg = jwkset.ImpliedAlgorithm(pub)
	}
	if !slices.Contains(Algorithms, alg) || !jwkset.KeyFits(alg, pub) {
		return "", fmt.Errorf("DPoP proof: alg %q does not fit a %T, or is not one of %s", alg, pub, strings.Join(Algorithms, ", "))
	}
	switch signer.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
	default:
		// go-jose signs with opaque signers (a KMS, an HSM) through
		// OpaqueSigner only; the kit's keys are in-process.
		return "", fmt.Errorf("DPoP proof: a %T cannot sign here: use an *ecdsa.PrivateKey, an ed25519.PrivateKey or an *rsa.PrivateKey", signer)
	}
	pubJWK := jose.JSONWebKey{Key: pub}
	opts := (&jose.SignerOptions{}).WithType(Type).WithHeader("jwk", pubJWK)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: signer}, opts)
	if err != nil {
		return "", fmt.Errorf("DPoP proof: %w", err)
	}
	var jti [16]byte
	rand.Read(jti[:])
	claims := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"htm": method,
		"htu": stripQuery(url),
		"iat": json.Number(strconv.FormatInt(now.Unix(), 10)),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		claims["ath"] = AccessTokenHash(accessToken)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("DPoP proof: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("DPoP proof: %w", err)
	}
	return jws.CompactSerialize()
}

// stripQuery drops the query and fragment, which htu leaves out (RFC 9449
// §4.2).
func stripQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
