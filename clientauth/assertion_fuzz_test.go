package clientauth

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwt"
)

// checkDescription checks an error of the assertion parser: invalid_client
// with a description that fits RFC 6749 §5.2's error_description.
func checkDescription(t *testing.T, e *auth.OAuthError) {
	t.Helper()
	if e.Code != auth.ErrInvalidClient.Code || e.Description == "" {
		t.Fatalf("error %+v: want invalid_client with a description", e)
	}
	for _, r := range e.Description {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Fatalf("description holds %q, outside error_description's characters: %q", r, e.Description)
		}
	}
}

// FuzzAssertion: the client assertion parser refuses anything that is not
// a compact JWS with a usable header and claims, with a fitting description,
// and Subject agrees with a successful parse of the claims. Real assertions
// signed with a test key are among the seeds (testdata/fuzz/FuzzAssertion).
func FuzzAssertion(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	f.Add(enc(`{"alg":"ES256","kid":"k1","typ":"JWT"}`) + "." + enc(`{"iss":"svc-a","sub":"svc-a","aud":"https://auth/token","exp":1900000000,"iat":1.5e9,"jti":"j"}`) + ".c2ln")
	f.Add(enc(`{"alg":"none"}`) + "." + enc(`{"iss":"a","sub":"a","aud":["x","y"]}`) + ".")
	f.Add(enc(`{"alg":"HS256"}`) + "." + enc(`{"iss":"a","sub":"a","aud":"x","exp":1e308}`) + ".c2ln")
	f.Add(enc(`{"alg":"ES256","alg":"RS256"}`) + "." + enc(`{"sub":"a","sub":"b"}`) + ".c2ln")
	f.Add(enc(`{"alg":"ES256","crit":["b64"]}`) + "." + enc(`{"exp":-1,"nbf":"1","iat":99999999999999999999}`) + ".c2ln")
	f.Add(`{"payload":"x","signatures":[]}`)
	f.Add("a.b.c.d.e")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0=.c2ln")
	f.Fuzz(func(t *testing.T, assertion string) {
		p, e := split(assertion)
		if e != nil {
			checkDescription(t, e)
			if sub, ok := Subject(assertion); ok || sub != "" {
				t.Fatalf("Subject %q of an assertion split refuses", sub)
			}
			return
		}
		if p.Header == "" || p.Payload == "" || p.Signature == "" || p.Header+"."+p.Payload+"."+p.Signature != assertion ||
			strings.Count(assertion, ".") != 2 || len(assertion) > MaxAssertionSize {
			t.Fatalf("split(%q) = %+v: not the three non-empty parts of a compact JWS", assertion, p)
		}
		if h, e := parseHeader(p); e != nil {
			checkDescription(t, e)
		} else {
			if !slices.Contains(Algorithms, h.alg) {
				t.Fatalf("header alg %q accepted, not one of %v", h.alg, Algorithms)
			}
			if !h.hasKID && h.kid != "" {
				t.Fatalf("kid %q without hasKID", h.kid)
			}
		}
		c, e := parseClaims(p)
		sub, ok := Subject(assertion)
		if e != nil {
			checkDescription(t, e)
			if ok || sub != "" {
				t.Fatalf("Subject %q of claims parseClaims refuses", sub)
			}
			return
		}
		if c.aud == nil {
			t.Fatal("claims accepted without an audience")
		}
		for name, d := range map[string]time.Time{"exp": c.exp, "nbf": c.nbf, "iat": c.iat} {
			if !d.IsZero() && (d.Unix() <= 0 || d.Unix() > jwt.MaxNumericDate) {
				t.Fatalf("%s %v accepted, outside (0, 9999-12-31]", name, d)
			}
		}
		wantOK := c.sub != "" && c.iss == c.sub
		if ok != wantOK || (ok && sub != c.sub) {
			t.Fatalf("Subject = (%q, %v), claims iss %q sub %q", sub, ok, c.iss, c.sub)
		}
	})
}
