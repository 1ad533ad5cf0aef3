package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// Confirmation is the "cnf" claim (RFC 7800 §3.1) of a sender-constrained
// token: the key its client must prove it holds with every request.
type Confirmation struct {
	// JKT is the JWK SHA-256 thumbprint (RFC 7638) of the client's DPoP
	// key, base64url (RFC 9449 §6.1): the token is sent as
	// "Authorization: DPoP <token>" with a proof signed by that key.
	JKT string
	// X5TS256 ("x5t#S256") is the SHA-256 of the client's DER certificate,
	// base64url (RFC 8705 §3.1): the token is accepted only over a
	// connection where the client presented that certificate.
	X5TS256 string
}

// confirmationClaim reads "cnf". A cnf that names no method this kit can
// check (a "jwk", a "jku", an unknown member) is refused rather than
// ignored: the issuer bound the token to something, and accepting it
// unbound would throw that away (RFC 7800 §3.1).
func confirmationClaim(v any) (*Confirmation, *Error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidToken("the token's cnf claim is not a JSON object")
	}
	c := &Confirmation{}
	for name, val := range m {
		s, isString := val.(string)
		switch name {
		case "jkt":
			if !isString || s == "" {
				return nil, invalidToken("the token's cnf.jkt is not a non-empty string")
			}
			c.JKT = s
		case "x5t#S256":
			if !isString || s == "" {
				return nil, invalidToken("the token's cnf.x5t#S256 is not a non-empty string")
			}
			c.X5TS256 = s
		default:
			return nil, invalidToken("the token's cnf has " + quote(name) + ", a confirmation method this resource server cannot check")
		}
	}
	if c.JKT == "" && c.X5TS256 == "" {
		return nil, invalidToken("the token's cnf claim is empty")
	}
	return c, nil
}

// CertificateThumbprint returns the x5t#S256 of a DER certificate: its
// SHA-256, base64url without padding (RFC 8705 §3.1).
func CertificateThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkCertificateBinding checks a token bound to a certificate (cnf
// x5t#S256) against the client certificate of the request (RFC 8705 §3):
// the one of the TLS connection, or the one a trusted proxy forwarded.
func (v *Verifier) checkCertificateBinding(r *http.Request, c *Claims) *Error {
	der, e := v.cfg.clientCert.certificate(r)
	if e != nil {
		return e
	}
	if der == nil {
		return invalidToken("the token is bound to a client certificate (cnf x5t#S256) but the request came without one: " +
			"send it over mutual TLS with the certificate the token was issued for (RFC 8705 section 3)")
	}
	got := CertificateThumbprint(der)
	if subtle.ConstantTimeCompare([]byte(got), []byte(c.Confirmation.X5TS256)) != 1 {
		return invalidToken("the token is bound to another client certificate than the one presented (cnf x5t#S256 differs, RFC 8705 section 3)")
	}
	return nil
}
