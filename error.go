package auth

import (
	"errors"
	"fmt"
)

// Error codes of the domain, independent of any transport. The HTTP layer
// maps them to statuses; nothing else does.
const (
	ECONFLICT    = "conflict"
	EINVALID     = "invalid"
	ENOTFOUND    = "not_found"
	EUNAVAILABLE = "unavailable"
	EINTERNAL    = "internal"
)

// Error is an error of the domain: a code and a message meant for the user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is matches errors of the same code, so errors.Is(err, ErrNotFound) holds
// for any not-found error, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrNotFound      = &Error{Code: ENOTFOUND, Message: "not found"}
	ErrConflict      = &Error{Code: ECONFLICT, Message: "already exists"}
	ErrInvalid       = &Error{Code: EINVALID, Message: "invalid"}
	ErrUnavailable   = &Error{Code: EUNAVAILABLE, Message: "unavailable"}
	ErrChangesPruned = errors.New("changes after the given sequence number were pruned; reload everything")
)

// ErrorCode returns the code of a domain error in err's chain, EINTERNAL otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of a domain error in err's chain, and a
// generic text for anything else (whose details must not reach a client).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
