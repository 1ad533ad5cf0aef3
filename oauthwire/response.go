package oauthwire

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/bufpool"
	"github.com/gooclaim/auth/internal/jsonenc"
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
// not be cached: the bytes and headers WriteJSON would write for t (as
// FuzzWriteToken checks), from a pooled buffer, the three header values in
// one array — it is on every token's path.
func WriteToken(w http.ResponseWriter, t *auth.Token) {
	h := w.Header()
	v := &[3]string{"no-store", "no-cache", "application/json"}
	h["Cache-Control"] = v[0:1:1]
	h["Pragma"] = v[1:2:2]
	h["Content-Type"] = v[2:3:3]
	w.WriteHeader(http.StatusOK)
	tb := bufpool.Get()
	tb.B = appendToken(tb.B, t)
	w.Write(tb.B)
	bufpool.Put(tb)
}

// appendToken appends t as json.Marshal writes it, and a newline.
func appendToken(dst []byte, t *auth.Token) []byte {
	dst = append(dst, `{"access_token":`...)
	dst = jsonenc.AppendString(dst, t.AccessToken)
	dst = append(dst, `,"token_type":`...)
	dst = jsonenc.AppendString(dst, t.TokenType)
	dst = append(dst, `,"expires_in":`...)
	dst = jsonenc.AppendInt(dst, t.ExpiresIn)
	if t.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = jsonenc.AppendString(dst, t.Scope)
	}
	if t.IssuedTokenType != "" { // token exchange only (RFC 8693 §2.2.1)
		dst = append(dst, `,"issued_token_type":`...)
		dst = jsonenc.AppendString(dst, t.IssuedTokenType)
	}
	return append(dst, "}\n"...)
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
