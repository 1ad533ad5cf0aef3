package auth

// Sender-constrained tokens: an access token bound to a key its client
// holds, so that a leaked token is useless without the key — DPoP (RFC
// 9449), a key proven by a signed proof with every request, and mutual TLS
// (RFC 8705), the client certificate of the TLS connection.

// Client authentication methods of RFC 8705 §2.
const (
	// AuthTLSClientAuth authenticates the client by a certificate, issued by
	// a CA the server trusts, whose subject DN or a SAN is the one the
	// client registered (TLSClientAuth).
	AuthTLSClientAuth = "tls_client_auth"
	// AuthSelfSignedTLSClientAuth authenticates the client by a certificate
	// whose public key is one of the client's registered keys (JWKS).
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// TokenTypeDPoP is the token_type of a DPoP-bound access token (RFC 9449
// §5); such a token is presented as "Authorization: DPoP <token>".
const TokenTypeDPoP = "DPoP"

// TLSClientAuth is what a tls_client_auth client's certificate must name
// (RFC 8705 §2.1.2): exactly one of the fields is set, compared exactly —
// the subject DN in its RFC 4514 string form, or one subjectAltName entry.
type TLSClientAuth struct {
	SubjectDN string
	SANDNS    string
	SANURI    string
	SANIP     string
	SANEmail  string
}

// IsZero reports whether nothing is registered.
func (t TLSClientAuth) IsZero() bool { return t == TLSClientAuth{} }

// Confirmation is the "cnf" claim (RFC 7800) of a sender-constrained
// token: the key the client must prove it holds.
type Confirmation struct {
	// JKT is the JWK SHA-256 thumbprint (RFC 7638) of the DPoP key (RFC
	// 9449 §6.1), base64url.
	JKT string `json:"jkt,omitempty"`
	// X5TS256 is the SHA-256 thumbprint of the DER client certificate (RFC
	// 8705 §3.1), base64url.
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// Errors of RFC 9449 §5 and §8.
var (
	ErrInvalidDPoPProof = &OAuthError{Code: "invalid_dpop_proof"}
	ErrUseDPoPNonce     = &OAuthError{Code: "use_dpop_nonce"}
)
