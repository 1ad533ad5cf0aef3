package auth

// OAuthError is an error response of RFC 6749 §5.2 (and of the extensions
// that add codes: RFC 8707 invalid_target, RFC 6750 invalid_token, …).
// The package-level values are never mutated: WithDescription returns a copy.
// errors.Is matches on Code.
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *OAuthError) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is matches any OAuthError with the same code.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code == e.Code
}

// WithDescription returns a copy of e with the given description.
func (e *OAuthError) WithDescription(d string) *OAuthError {
	c := *e
	c.Description = d
	return &c
}

// The error values of RFC 6749 §5.2, RFC 8707 §2 and our rate limit.
var (
	ErrInvalidRequest         = &OAuthError{Code: "invalid_request"}
	ErrInvalidClient          = &OAuthError{Code: "invalid_client"}
	ErrInvalidGrant           = &OAuthError{Code: "invalid_grant"}
	ErrUnauthorizedClient     = &OAuthError{Code: "unauthorized_client"}
	ErrUnsupportedGrantType   = &OAuthError{Code: "unsupported_grant_type"}
	ErrInvalidScope           = &OAuthError{Code: "invalid_scope"}
	ErrInvalidTarget          = &OAuthError{Code: "invalid_target"}
	ErrRateLimited            = &OAuthError{Code: "rate_limited"}
	ErrServerError            = &OAuthError{Code: "server_error"}
	ErrTemporarilyUnavailable = &OAuthError{Code: "temporarily_unavailable"}
)

// ErrUnsupportedTokenType is RFC 7009 §2.2.1's: the server cannot revoke
// this type of token.
var ErrUnsupportedTokenType = &OAuthError{Code: "unsupported_token_type"}
