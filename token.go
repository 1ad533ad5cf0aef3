package auth

// Client authentication methods (RFC 8414 token_endpoint_auth_methods_supported values).
const (
	AuthNone              = ""
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

// GrantClientCredentials is the only grant this server issues (RFC 6749 §4.4).
const GrantClientCredentials = "client_credentials"

// TokenRequest is a parsed token request (RFC 6749 §4.4.2), whatever its encoding.
// Empty fields are absent (RFC 6749 §3.2).
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	// AuthMethod is how the client authenticated (AuthClientSecretBasic/Post), AuthNone if it did not.
	AuthMethod string
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
}

// Audience is the "aud" claim: one string when there is one value (the common
// form, which every JWT library reads), an array otherwise (RFC 7519 §4.1.3).
type Audience []string
