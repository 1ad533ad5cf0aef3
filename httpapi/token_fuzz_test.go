package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gooclaim/auth/oauthwire"
)

// FuzzTokenErrorStatus: whatever a token request holds, a parse error maps
// to a client-error status (400, 401 or 413), never a 5xx.
func FuzzTokenErrorStatus(f *testing.F) {
	f.Add("application/json", "", []byte(`{"grant_type":"client_credentials","client_id":"svc","client_secret":"s"}`))
	f.Add("application/json", "Basic !!", []byte(`{}`))
	f.Add("text/plain", "Digest x", []byte("x"))
	f.Add("application/x-www-form-urlencoded", "", bytes.Repeat([]byte("a"), oauthwire.MaxBodyBytes+1))
	f.Fuzz(func(t *testing.T, contentType, authorization string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/token", bytes.NewReader(body))
		if contentType != "" {
			r.Header["Content-Type"] = []string{contentType}
		}
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		_, err := oauthwire.ParseTokenRequest(r)
		if err == nil {
			return
		}
		switch status := tokenErrorStatus(err); status {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("parse error %v maps to %d, not a client error", err, status)
		}
	})
}
