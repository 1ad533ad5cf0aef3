package auth

// Client authentication methods (RFC 8414 token_endpoint_auth_methods_supported values).
const (
	AuthNone              = ""
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	// AuthPrivateKeyJWT is a JWT client assertion signed with the client's
	// private key (RFC 7523 §2.2, RFC 7521 §4.2).
	AuthPrivateKeyJWT = "private_key_jwt"
	// AuthFederatedJWT is a JWT client assertion (the same parameters as
	// private_key_jwt, RFC 7523 §2.2) issued by a TrustedIssuer to one of
	// the client's federated identities: a Kubernetes service account
	// token, a CI job's OIDC token, a SPIFFE JWT-SVID.
	AuthFederatedJWT = "federated_jwt"
)

// ClientAssertionTypeJWT is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AuthMethods lists every client authentication method the server supports,
// in the order discovery advertises them.
var AuthMethods = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT}

// Grants this server issues tokens for.
const (
	GrantClientCredentials = "client_credentials"                              // RFC 6749 §4.4
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange" // RFC 8693 §2.1
)

// Token type identifiers (RFC 8693 §3).
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
)

// TokenRequest is a parsed token request (RFC 6749 §4.4.2), whatever its encoding.
// Empty fields are absent (RFC 6749 §3.2).
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	// AuthMethod is how the client authenticated (AuthClientSecretBasic,
	// AuthClientSecretPost, AuthPrivateKeyJWT or AuthFederatedJWT),
	// AuthNone if it did not.
	AuthMethod string
	// ClientAssertion is the private_key_jwt assertion (RFC 7523 §2.2), when
	// AuthMethod is AuthPrivateKeyJWT; ClientID is then the one the request
	// names, or else the assertion's unverified "sub", for the rate limit.
	ClientAssertion string
	// The token exchange parameters (RFC 8693 §2.1).
	SubjectToken       string
	SubjectTokenType   string
	ActorToken         string
	ActorTokenType     string
	RequestedTokenType string

	// DPoPProof is the request's DPoP header (RFC 9449 §4), unverified;
	// DPoPJKT is the thumbprint of its key once the proof is verified.
	DPoPProof string
	DPoPJKT   string
	// ClientCertificate is the DER certificate the client presented on the
	// TLS connection (or that a trusted proxy forwarded), nil without one.
	ClientCertificate []byte
	// ClientCertificateChain are the DER certificates the client sent
	// after it, intermediates to build its chain with (tls_client_auth).
	ClientCertificateChain [][]byte

	Scope      string // raw space-delimited scope parameter
	Resource   string // RFC 8707 resource indicator
	Audience   string // the "audience" parameter many servers accept as an alias of resource
	RemoteAddr string // the caller's address, for limits and logs
}

// Token is a successful token response (RFC 6749 §5.1).
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
	// IssuedTokenType is set by token exchange (RFC 8693 §2.2.1) only.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	// JTI is the token's "jti", for logs; it is not part of the response.
	JTI string `json:"-"`
	// Reused says the token was issued before, to an earlier request of
	// the client, and given again (issuer.TokenCache); for logs and
	// metrics, not part of the response.
	Reused bool `json:"-"`
}

// Claims are the claims of an access token (RFC 9068 §2.2).
type Claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience Audience `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	JWTID    string   `json:"jti"`
	// ClientIncarnation is the client's Incarnation when the token was
	// issued, absent for clients that have none.
	ClientIncarnation string `json:"client_incarnation,omitempty"`
	// Cnf binds a sender-constrained token to the client's key (RFC 7800,
	// RFC 9449 §6, RFC 8705 §3); nil for a Bearer token.
	Cnf *Confirmation `json:"cnf,omitempty"`
	// Act names the client acting for Subject in a token obtained by
	// delegation (RFC 8693 §4.1); nil otherwise.
	Act *Actor `json:"act,omitempty"`
	// Extra are further claims, already encoded as JSON object members
	// each preceded by a comma (`,"tenant":"acme"`): the values of the
	// client's claim expressions. Nil for the clients without any, which
	// then pay nothing for them.
	Extra []byte `json:"-"`
}

// Actor is an "act" claim (RFC 8693 §4.1): who acts, and, nested, who
// acted before it in a chain of delegations.
type Actor struct {
	Subject string `json:"sub"`
	Act     *Actor `json:"act,omitempty"`
}

// Audience is the "aud" claim: one string when there is one value (the common
// form, which every JWT library reads), an array otherwise (RFC 7519 §4.1.3).
type Audience []string

// Scopes with a meaning to this server itself.
const (
	// ScopeAdmin lets a token call the admin API (/v1/admin/).
	ScopeAdmin = "auth:admin"
	// ScopeIntrospect lets a client call the introspection endpoint (RFC 7662).
	ScopeIntrospect = "auth:introspect"
)

// AdminAudience is the default audience ("aud") the admin API requires of
// its Bearer tokens, so that a token meant for another API cannot manage
// this one. It is a URN rather than the issuer's URL so that the first admin
// client can be created from the command line, which does not know the
// server's URL.
const AdminAudience = "urn:gooclaim:auth:admin"
