package oauthwire

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gooclaim/auth"
)

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"the response could not be encoded"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// WriteToken writes a successful token response (RFC 6749 §5.1), which must
// not be cached.
func WriteToken(w http.ResponseWriter, t *auth.Token) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	WriteJSON(w, http.StatusOK, t)
}

// WriteError writes err in the seed's Error shape {error, error_description}
// (RFC 6749 §5.2) with the given status. An error that is not an
// *auth.OAuthError is written as server_error without its text, which may
// hold internal details.
func WriteError(w http.ResponseWriter, status int, err error) {
	var oe *auth.OAuthError
	if !errors.As(err, &oe) {
		oe = auth.ErrServerError.WithDescription("the server failed to handle the request; try again later")
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	WriteJSON(w, status, oe)
}
