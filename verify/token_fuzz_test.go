package verify

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkFuzzError checks an error of the token parser: invalid_token, with a
// UTF-8 description that holds no control character and does not repeat
// the token.
func checkFuzzError(t *testing.T, e *Error, token string) {
	t.Helper()
	if e.Code != CodeInvalidToken || e.Description == "" {
		t.Fatalf("error %+v: want invalid_token with a description", e)
	}
	if !utf8.ValidString(e.Description) {
		t.Fatalf("description is not UTF-8: %q", e.Description)
	}
	for _, r := range e.Description {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("description holds control character %U: %q", r, e.Description)
		}
	}
	if len(token) >= 24 && strings.Contains(e.Description, token) {
		t.Fatalf("description repeats the token: %q", e.Description)
	}
}

var fuzzAllowed = []string{"ES256", "EdDSA", "RS256"}

// FuzzParseHeader: resource servers parse untrusted tokens. parseHeader
// accepts only three canonical base64url parts with an allowed alg, the
// at+jwt typ and a kid; anything else is a described invalid_token.
func FuzzParseHeader(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	f.Add(enc(`{"alg":"ES256","typ":"at+jwt","kid":"k1"}`) + "." + enc(`{"iss":"https://auth.example"}`) + ".c2ln")
	f.Add(enc(`{"alg":"none","typ":"at+jwt","kid":"k1"}`) + "." + enc(`{}`) + ".")
	f.Add(enc(`{"alg":"HS256","typ":"JWT","kid":"k1"}`) + ".e30.c2ln")
	f.Add(enc(`{"alg":"ES256","typ":"at+jwt","kid":"k1","kid":"k2"}`) + ".e30.c2ln")
	f.Add(enc(`{"alg":"ES256","typ":"at+jwt","kid":"k1","\u0061lg":"RS256"}`) + ".e30.c2lo")
	f.Add(enc(`{"alg":"ES256","typ":"application/AT+JWT","kid":"k","crit":["exp"]}`) + ".e30.c2ln")
	f.Add("e30.e30.c2ln=")
	f.Add(`{"protected":"e30"}`)
	f.Fuzz(func(t *testing.T, token string) {
		h, e := parseHeader(token, fuzzAllowed)
		if e != nil {
			checkFuzzError(t, e, token)
			return
		}
		if !slices.Contains(fuzzAllowed, h.alg) || h.kid == "" {
			t.Fatalf("header %+v accepted", h)
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 || len(token) > MaxTokenSize {
			t.Fatalf("token of %d parts, %d bytes accepted", len(parts), len(token))
		}
		for _, p := range parts {
			b, err := base64.RawURLEncoding.Strict().DecodeString(p)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != p {
				t.Fatalf("part %q is not canonical unpadded base64url", p)
			}
		}
	})
}

// FuzzCheckClaims: a token whose claims pass is for this issuer and
// audience, not expired, not from the future, with distinct non-empty
// scopes; other claims are a described invalid_token.
func FuzzCheckClaims(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	v, err := New(f.Context(), Config{Issuer: "https://auth.example", Audience: "https://api.example",
		JWKSURL: "https://auth.example/jwks", Lazy: true, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"iss":"https://auth.example","aud":"https://api.example","exp":1800000300,"iat":1800000000,"sub":"svc","client_id":"svc","jti":"j","scope":"a b a"}`))
	f.Add([]byte(`{"iss":"https://auth.example","aud":["x","https://api.example"],"exp":1.8000003e9,"iat":1799999999.5,"nbf":1800000000,"sub":"s","client_id":"c"}`))
	f.Add([]byte(`{"iss":"https://auth.example","iss":"https://evil.example","aud":"https://api.example"}`))
	f.Add([]byte(`{"iss":"https://auth.example","aud":"https://api.example","exp":1e999,"iat":-1}`))
	f.Add([]byte(`{"iss":"https://auth.example","aud":"https://api.example","exp":"1800000300","iat":1800000000}`))
	f.Add([]byte("{\"iss\":\"\xff\"}"))
	f.Add([]byte(`{"a":[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]} `))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, e := v.checkClaims(payload, now)
		if e != nil {
			checkFuzzError(t, e, string(payload))
			return
		}
		if c.Issuer != "https://auth.example" || !slices.Contains(c.Audience, "https://api.example") {
			t.Fatalf("claims for iss %q aud %q accepted", c.Issuer, c.Audience)
		}
		leeway := v.cfg.leeway
		if !now.Before(c.Expiry.Add(leeway)) || c.IssuedAt.After(now.Add(leeway)) || c.NotBefore.After(now.Add(leeway)) {
			t.Fatalf("claims outside their validity accepted: exp %v iat %v nbf %v", c.Expiry, c.IssuedAt, c.NotBefore)
		}
		for i, s := range c.Scopes {
			if s == "" || slices.Contains(c.Scopes[:i], s) {
				t.Fatalf("scopes %q: empty or repeated", c.Scopes)
			}
		}
	})
}
