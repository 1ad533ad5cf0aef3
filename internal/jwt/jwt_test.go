package jwt

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/jwkset"
)

var reader = Reader{Name: "the token", MaxSize: 64}

func TestCanonicalBase64URL(t *testing.T) {
	for s, want := range map[string]bool{
		"":      true,
		"QQ":    true,  // "A"
		"QR":    false, // "A" with a stray bit
		"QUI":   true,  // "AB"
		"QUJ":   false,
		"QUJD":  true,
		"Q":     false, // impossible length
		"QQ==":  false,
		"a+b/":  false,
		"-_-_":  true,
		"QUJD ": false,
	} {
		if got := CanonicalBase64URL(s); got != want {
			t.Errorf("CanonicalBase64URL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{"", "the token is empty"},
		{strings.Repeat("a", 65), "the token is 65 bytes, more than the 64 accepted"},
		{`{"protected":"e30"}`, "the token is in the JWS JSON serialization"},
		{"a.b.c.d.e", "the token has 5 parts, a JWE"},
		{"e30", "the token has 1 part, not the 3"},
		{"e30.e30", "the token has 2 parts, not the 3 of a signed JWT"},
		{"..", "the token's header is empty"},
		{"e30..c2ln", "the token's payload is empty"},
		{"e30.e30.", "the token is unsigned: its signature is empty"},
		{"e30.e30.c2ln=", "the token's signature is not unpadded base64url"},
		{"e30.e30.QR", "the token's signature is not unpadded base64url"}, // a stray bit
		{"e3 0.e30.c2ln", "the token's header is not unpadded base64url"},
	} {
		_, err := reader.Split(tc.token)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Split(%q) = %v, want %q", tc.token, err, tc.want)
		}
	}
	p, err := reader.Split("e30.QR.c2ln")
	if err == nil {
		t.Fatalf("a payload with a stray bit accepted: %+v", p)
	}
	p, err = reader.Split("e30.eyJ4IjoxfQ.c2ln")
	if err != nil || p != (Parts{"e30", "eyJ4IjoxfQ", "c2ln"}) {
		t.Fatalf("Split = %+v, %v", p, err)
	}
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestHeaderAndAlg(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{`{"alg":"ES256"}`, ""},
		{`{"alg":"ES256","alg":"none"}`, "the token's header is not a valid JSON object: member 'alg' appears twice"},
		{`["ES256"]`, "the token's header is not a valid JSON object: it is not an object"},
		{`{"alg":"ES256"}{}`, "data follows it"},
		{"{\"alg\":\"ES256\xff\"}", "the token's header is not UTF-8"},
		{`{}`, "the token's header has no alg string"},
		{`{"alg":1}`, "the token's header has no alg string"},
		{`{"alg":"NoNe"}`, "the token is unsigned (alg none): never accepted"},
		{`{"alg":"hs256"}`, "the token's alg 'hs256' is an HMAC algorithm: never accepted"},
	} {
		h, err := reader.Header(Parts{Header: enc(tc.header)})
		var alg string
		if err == nil {
			alg, err = reader.Alg(h)
		}
		switch {
		case tc.want == "" && (err != nil || alg != "ES256"):
			t.Errorf("%s: alg %q, %v", tc.header, alg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.header, err, tc.want)
		}
	}
	_, err := reader.Header(Parts{Header: enc(`[1]`)})
	if !errors.Is(err, jwkset.ErrNotObject) {
		t.Errorf("a header that is no object: %v, want jwkset.ErrNotObject", err)
	}
}

func TestClaims(t *testing.T) {
	c, err := reader.UnverifiedClaims(Parts{Payload: enc(`{"aud":["a","b"],"exp":1.5,"iat":0,"nbf":253402300799}`)})
	if err != nil {
		t.Fatal(err)
	}
	if aud, err := reader.Audience(c); err != nil || !slices.Equal(aud, []string{"a", "b"}) {
		t.Errorf("aud %q, %v", aud, err)
	}
	for name, want := range map[string]time.Time{
		"exp": time.Unix(1, 5e8).UTC(), "iat": time.Unix(0, 0).UTC(), "nbf": time.Unix(MaxNumericDate, 0).UTC(), "absent": {},
	} {
		if got, err := reader.Date(c, name); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
	if aud, err := reader.Audience(Claims{}); aud != nil || err != nil {
		t.Errorf("absent aud: %q, %v", aud, err)
	}
	for _, payload := range []string{`{"aud":[]}`, `{"aud":null}`, `{"aud":1}`, `{"aud":["a",1]}`} {
		c, err := reader.Claims([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if aud, err := reader.Audience(c); err == nil || err.Error() != "the token's aud claim is not a string or an array of strings" {
			t.Errorf("%s: %q, %v", payload, aud, err)
		}
	}
	for _, v := range []string{`-1`, `-0.5`, `253402300800`, `1e300`, `"1700000000"`, `null`, `true`} {
		c, err := reader.Claims([]byte(`{"exp":` + v + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := reader.Date(c, "exp"); err == nil || err.Error() != "the token's exp claim is not a NumericDate" {
			t.Errorf("exp %s: %v, %v", v, d, err)
		}
	}
	for payload, want := range map[string]string{
		`[1]`:              "the token's claims are not a valid JSON object: it is not an object",
		`{"a":1,"a":2}`:    "member 'a' appears twice",
		"{\"a\":\"\xff\"}": "the token's claims are not UTF-8",
	} {
		if _, err := reader.Claims([]byte(payload)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", payload, err, want)
		}
	}
}
