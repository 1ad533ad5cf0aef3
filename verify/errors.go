package verify

import (
	"strings"
	"unicode/utf8"

	"github.com/gooclaim/auth/internal/jwkset"
)

// Error codes of RFC 6750 §3.1.
const (
	// CodeInvalidToken: the token is malformed, expired, revoked, not for
	// this resource server, or cannot be checked (401).
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope: the token is valid but lacks a required scope (403).
	CodeInsufficientScope = "insufficient_scope"
	// CodeInvalidRequest: the request carries credentials in a malformed
	// way, such as two Authorization headers (400). Only Middleware uses it.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidDPoPProof: the DPoP proof sent with a DPoP-bound token is
	// missing, malformed, not for this request, replayed or signed by
	// another key than the token's (RFC 9449 §7.1; 401).
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	// CodeUseDPoPNonce: the proof lacks a valid nonce of this resource
	// server; the answer's DPoP-Nonce header holds one (RFC 9449 §9; 401).
	CodeUseDPoPNonce = "use_dpop_nonce"
)

// Sentinel errors to match with errors.Is: an *Error matches the sentinel of
// its Code, whatever its description. Never modify them.
var (
	ErrInvalidToken      = &Error{Code: CodeInvalidToken}
	ErrInsufficientScope = &Error{Code: CodeInsufficientScope}
	ErrInvalidRequest    = &Error{Code: CodeInvalidRequest}
	ErrInvalidDPoPProof  = &Error{Code: CodeInvalidDPoPProof}
	ErrUseDPoPNonce      = &Error{Code: CodeUseDPoPNonce}
)

// Error is why a token was refused, in the terms of RFC 6750 §3.
type Error struct {
	// Code is CodeInvalidToken, CodeInsufficientScope, CodeInvalidRequest,
	// CodeInvalidDPoPProof or CodeUseDPoPNonce.
	Code string
	// Description says what failed, for the caller (the error_description
	// attribute); Error adds the underlying cause for logs. It never
	// contains the token; values read from the token (such as its kid or
	// iss) are shortened and stripped of quotes and control characters.
	Description string
	// Scopes are, for CodeInsufficientScope, every scope the resource
	// requires (the RFC 6750 "scope" attribute); the description names the
	// missing ones.
	Scopes []string

	err error // the cause, if any (a fetch error, a go-jose error)
	// dpop: the request used the DPoP scheme, so the answer is a DPoP
	// challenge (RFC 9449 §7.1).
	dpop bool
}

// Error returns the code, the description and the cause, if any.
func (e *Error) Error() string {
	s := e.Code
	if s == "" {
		s = "no access token"
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, verify.ErrInvalidToken) holds for every invalid_token error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.err }

func invalidToken(description string) *Error {
	return &Error{Code: CodeInvalidToken, Description: description}
}

func invalidTokenCause(description string, cause error) *Error {
	return &Error{Code: CodeInvalidToken, Description: description, err: cause}
}

// quote renders a value read from a token for an error description (see
// jwkset.Quote): short, quoted, only characters RFC 6750 §3 allows.
func quote(s string) string { return jwkset.Quote(s) }

// headerSafe makes a description fit RFC 6750 §3's error_description
// grammar (%x20-21 / %x23-5B / %x5D-7E): any other character becomes '?',
// and the length is bounded.
func headerSafe(s string) string {
	const max = 400
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	s = strings.ReplaceAll(s, "§", "section ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
