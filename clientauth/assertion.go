package clientauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwkset"
	"github.com/gooclaim/auth/internal/jwt"
)

// header is what Verify reads from an assertion's protected header.
type header struct {
	alg    string
	kid    string
	hasKID bool
}

// assertions reads client assertions (internal/jwt): their shape, header
// and claims, with the rules shared with the verify kit.
var assertions = jwt.Reader{Name: "the client assertion", MaxSize: MaxAssertionSize}

// invalid returns an invalid_client error with the description, made to
// fit RFC 6749 §5.2's error_description (%x20-21 / %x23-5B / %x5D-7E):
// any other character becomes '?'.
func invalid(format string, args ...any) *auth.OAuthError {
	d := strings.ReplaceAll(fmt.Sprintf(format, args...), "§", "section ")
	d = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, d)
	return auth.ErrInvalidClient.WithDescription(d)
}

// unreadable is invalid for an error of assertions, except that a part
// that is JSON but no object keeps this package's shorter wording; what
// names the part ("header is", "claims are").
func unreadable(err error, what string) *auth.OAuthError {
	if errors.Is(err, jwkset.ErrNotObject) {
		return invalid("the client assertion's %s not a JSON object", what)
	}
	return invalid("%s", err)
}

var quote = jwkset.Quote

// split checks an assertion's shape: the JWS compact serialization
// (RFC 7515 §7.1), three non-empty parts of canonical base64url.
func split(assertion string) (jwt.Parts, *auth.OAuthError) {
	if assertion == "" { // named as the request's parameter
		return jwt.Parts{}, invalid("client_assertion is empty")
	}
	p, err := assertions.Split(assertion)
	if err != nil {
		return jwt.Parts{}, invalid("%s", err)
	}
	return p, nil
}

// assertionTypes are the typ values accepted (compared case-insensitively):
// none, or a JWT's (RFC 7519 §5.1), or the explicit type of
// draft-ietf-oauth-rfc7523bis. Others name another kind of JWT (a DPoP
// proof, an access token, …) that the client's key may also sign, which
// must not pass for a client assertion (RFC 8725 §3.11).
var assertionTypes = []string{"jwt", "application/jwt", "client-authentication+jwt"}

// parseHeader reads the protected header: an alg of Algorithms (never
// none, never HMAC: RFC 8725 §3.1, §3.2), a kid if any, a typ of
// assertionTypes if any, and no crit (RFC 7515 §4.1.11: no extension is
// understood). jku, x5u, jwk and x5c are never used: the keys are those the
// client registered (RFC 8725 §3.10).
func parseHeader(p jwt.Parts) (header, *auth.OAuthError) {
	members, err := assertions.Header(p)
	if err != nil {
		return header{}, unreadable(err, "header is")
	}
	if _, ok := members["crit"]; ok {
		return header{}, invalid("the client assertion's header has crit: no JWS extension is supported")
	}
	alg, err := assertions.Alg(members)
	if err != nil {
		return header{}, invalid("%s", err)
	}
	if !slices.Contains(Algorithms, alg) {
		return header{}, invalid("the client assertion's alg %s is not accepted (accepted: %s)", quote(alg), strings.Join(Algorithms, ", "))
	}
	if _, present := members["typ"]; present {
		typ, ok := members.String("typ")
		if !ok {
			return header{}, invalid("the client assertion's typ is not a string")
		}
		if !slices.Contains(assertionTypes, strings.ToLower(typ)) {
			return header{}, invalid("the client assertion's typ %s is not JWT: another kind of token (RFC 8725 section 3.11)", quote(typ))
		}
	}
	h := header{alg: alg}
	if _, present := members["kid"]; present {
		var ok bool
		if h.kid, ok = members.String("kid"); !ok {
			return header{}, invalid("the client assertion's kid is not a string")
		}
		h.hasKID = true
	}
	return h, nil
}

// claims are an assertion's claims (RFC 7523 §3).
type claims struct {
	iss, sub, jti string
	aud           []string
	exp, nbf, iat time.Time // zero when absent
}

// parseClaims reads the claims of the payload, unverified.
func parseClaims(p jwt.Parts) (*claims, *auth.OAuthError) {
	raw, err := assertions.UnverifiedClaims(p)
	if err != nil {
		return nil, unreadable(err, "claims are")
	}
	return readClaims(raw)
}

// readClaims reads the claims of a decoded payload.
func readClaims(raw jwt.Claims) (*claims, *auth.OAuthError) {
	c := &claims{}
	var err error
	var e *auth.OAuthError
	for _, sc := range []struct {
		name string
		dst  *string
	}{{"iss", &c.iss}, {"sub", &c.sub}, {"jti", &c.jti}} {
		if *sc.dst, e = stringClaim(raw, sc.name); e != nil {
			return nil, e
		}
	}
	if c.aud, err = assertions.Audience(raw); err != nil {
		return nil, invalid("%s", err)
	}
	if c.aud == nil {
		return nil, invalid("the client assertion has no aud claim: it must name this server (RFC 7523 §3, item 3)")
	}
	for _, dc := range []struct {
		name string
		dst  *time.Time
	}{{"exp", &c.exp}, {"nbf", &c.nbf}, {"iat", &c.iat}} {
		if *dc.dst, e = dateClaim(raw, dc.name); e != nil {
			return nil, e
		}
	}
	return c, nil
}

// stringClaim returns a string claim, "" when absent.
func stringClaim(raw jwt.Claims, name string) (string, *auth.OAuthError) {
	v, ok := raw[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid("the client assertion's %s claim is not a string", name)
	}
	return s, nil
}

// dateClaim reads a NumericDate, the zero time when absent. An assertion is
// made just before it is sent, so a date in the first second of 1970 is an
// unset field of the client's, refused.
func dateClaim(raw jwt.Claims, name string) (time.Time, *auth.OAuthError) {
	t, err := assertions.Date(raw, name)
	switch {
	case err != nil:
		return time.Time{}, invalid("%s", err)
	case !t.IsZero() && t.Unix() <= 0:
		return time.Time{}, invalid("the client assertion's %s claim is not a NumericDate since 1970-01-01T00:00:01Z", name)
	}
	return t, nil
}

// Subject returns the client an assertion claims to come from, unverified:
// its "sub" when it equals its "iss", as RFC 7523 §3 requires of a client
// assertion. The token endpoint uses it to find the client when the request
// has no client_id (RFC 7521 §4.2 makes client_id optional) — and to
// charge the request to that client's rate limit — before Verify proves it.
// ok is false when the assertion is malformed or names no single client.
func Subject(assertion string) (sub string, ok bool) {
	p, e := split(assertion)
	if e != nil {
		return "", false
	}
	c, e := parseClaims(p)
	if e != nil || c.sub == "" || c.iss != c.sub {
		return "", false
	}
	return c.sub, true
}
