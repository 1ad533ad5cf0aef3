package client

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDescription bounds the Description made from a body that is not an
// RFC 6749 §5.2 error, such as a proxy's HTML page.
const maxDescription = 200

// Error is an error answer of the token endpoint: the HTTP status and, when
// the body is the JSON of RFC 6749 §5.2, its "error" and "error_description".
// Read it with errors.As:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == "invalid_client" { … }
type Error struct {
	// StatusCode is the HTTP status, such as 400, 401, 429 or 503.
	StatusCode int
	// Code is the "error" member, such as "invalid_client", "invalid_scope"
	// or "rate_limited"; empty when the body was not an RFC 6749 §5.2 error.
	Code string
	// Description is the "error_description" member, or the start of a body
	// that was not an RFC 6749 §5.2 error.
	Description string
	// RetryAfter is the delay of the Retry-After header (RFC 9110 §10.2.3),
	// zero when there was none.
	RetryAfter time.Duration
}

// Error describes the answer: "token endpoint answered 401 Unauthorized:
// invalid_client: client authentication failed".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("token endpoint answered ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	return b.String()
}

// newError reads an error answer; hasRetryAfter tells whether it had a
// readable Retry-After header.
func newError(resp *http.Response, body []byte) (e *Error, hasRetryAfter bool) {
	e = &Error{StatusCode: resp.StatusCode}
	e.RetryAfter, hasRetryAfter = parseRetryAfter(resp.Header, time.Now())
	var oe struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oe) == nil && oe.Code != "" {
		e.Code, e.Description = oe.Code, oe.Description
		return e, hasRetryAfter
	}
	e.Description = excerpt(body)
	return e, hasRetryAfter
}

// excerpt is the start of a body as one line of text, cut at a character
// boundary.
func excerpt(body []byte) string {
	cut := len(body) > 4*maxDescription
	s := strings.ToValidUTF8(string(body[:min(len(body), 4*maxDescription)]), "")
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxDescription {
		s, cut = string([]rune(s)[:maxDescription]), true
	}
	if cut {
		s += "…"
	}
	return s
}
