package oauthwire

import (
	"bytes"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/gooclaim/auth"
)

// FuzzWriteToken checks that WriteToken writes exactly the status, headers
// and body that WriteJSON writes for the token after the no-cache headers.
func FuzzWriteToken(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "Bearer", int64(3600), "claims:read", "")
	f.Add("", "", int64(0), "", auth.TokenTypeAccessToken)
	f.Add("<&>\u2028\xff\"\\\n", "bearer", int64(-1), "a b\tc", "<\u2029\x00>")
	f.Fuzz(func(t *testing.T, access, typ string, expires int64, scope, issued string) {
		tok := &auth.Token{AccessToken: access, TokenType: typ, ExpiresIn: expires, Scope: scope, IssuedTokenType: issued, JTI: "not written"}
		got := httptest.NewRecorder()
		WriteToken(got, tok)
		want := httptest.NewRecorder()
		want.Header().Set("Cache-Control", "no-store")
		want.Header().Set("Pragma", "no-cache")
		WriteJSON(want, 200, tok)
		if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("WriteToken:\n %d %q %s\nWriteJSON:\n %d %q %s", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	})
}
