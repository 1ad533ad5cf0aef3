package clientauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwkset"
)

// header is what Verify reads from an assertion's protected header.
type header struct {
	alg    string
	kid    string
	hasKID bool
}

// parts are the three base64url parts of a compact JWS.
type parts struct {
	header, payload, signature string
}

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

var quote = jwkset.Quote

// split checks an assertion's shape: the JWS compact serialization
// (RFC 7515 §7.1), three non-empty parts.
func split(assertion string) (parts, *auth.OAuthError) {
	switch {
	case assertion == "":
		return parts{}, invalid("client_assertion is empty")
	case len(assertion) > MaxAssertionSize:
		return parts{}, invalid("the client assertion is %d bytes, more than the %d accepted", len(assertion), MaxAssertionSize)
	case assertion[0] == '{':
		return parts{}, invalid("the client assertion is in the JWS JSON serialization: send the compact form (RFC 7523 §2.2)")
	}
	switch n := strings.Count(assertion, ".") + 1; n {
	case 3:
	case 5:
		return parts{}, invalid("the client assertion has 5 parts, a JWE: send a JWT signed with the client's key (a JWS of 3 parts)")
	default:
		return parts{}, invalid("the client assertion has %d parts, not the 3 of a signed JWT", n)
	}
	h, rest, _ := strings.Cut(assertion, ".")
	p, s, _ := strings.Cut(rest, ".")
	switch {
	case h == "":
		return parts{}, invalid("the client assertion's header is empty")
	case p == "":
		return parts{}, invalid("the client assertion's payload is empty")
	case s == "":
		return parts{}, invalid("the client assertion is unsigned: its signature is empty")
	}
	return parts{h, p, s}, nil
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
func parseHeader(b64 string) (header, *auth.OAuthError) {
	members, err := decodeObject(b64)
	if err != nil {
		return header{}, invalid("the client assertion's header is not %v", err)
	}
	if _, ok := members["crit"]; ok {
		return header{}, invalid("the client assertion's header has crit: no JWS extension is supported")
	}
	alg, ok := jwkset.StringMember(members, "alg")
	switch {
	case !ok:
		return header{}, invalid("the client assertion's header has no alg string")
	case strings.EqualFold(alg, "none"):
		return header{}, invalid("the client assertion is unsigned (alg none): never accepted")
	case len(alg) >= 2 && strings.EqualFold(alg[:2], "HS"):
		return header{}, invalid("the client assertion's alg %s is an HMAC algorithm: never accepted, sign with the client's private key (private_key_jwt)", quote(alg))
	case !slices.Contains(Algorithms, alg):
		return header{}, invalid("the client assertion's alg %s is not accepted (accepted: %s)", quote(alg), strings.Join(Algorithms, ", "))
	}
	if raw, present := members["typ"]; present {
		var typ string
		if json.Unmarshal(raw, &typ) != nil {
			return header{}, invalid("the client assertion's typ is not a string")
		}
		if !slices.Contains(assertionTypes, strings.ToLower(typ)) {
			return header{}, invalid("the client assertion's typ %s is not JWT: another kind of token (RFC 8725 section 3.11)", quote(typ))
		}
	}
	h := header{alg: alg}
	if _, present := members["kid"]; present {
		if h.kid, ok = jwkset.StringMember(members, "kid"); !ok {
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
	exp, nbf, iat time.Time // nbf and iat are zero when absent
}

// parseClaims reads the claims of the payload.
func parseClaims(b64 string) (*claims, *auth.OAuthError) {
	raw, err := decodeObject(b64)
	if err != nil {
		return nil, invalid("the client assertion's claims are not %v", err)
	}
	c := &claims{}
	var e *auth.OAuthError
	for _, sc := range []struct {
		name string
		dst  *string
	}{{"iss", &c.iss}, {"sub", &c.sub}, {"jti", &c.jti}} {
		if *sc.dst, e = stringClaim(raw, sc.name); e != nil {
			return nil, e
		}
	}
	if c.aud, e = audienceClaim(raw); e != nil {
		return nil, e
	}
	if c.exp, e = dateClaim(raw, "exp"); e != nil {
		return nil, e
	}
	if c.nbf, e = dateClaim(raw, "nbf"); e != nil {
		return nil, e
	}
	if c.iat, e = dateClaim(raw, "iat"); e != nil {
		return nil, e
	}
	return c, nil
}

// stringClaim returns a string claim, "" when absent.
func stringClaim(raw map[string]json.RawMessage, name string) (string, *auth.OAuthError) {
	v, ok := raw[name]
	if !ok {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", invalid("the client assertion's %s claim is not a string", name)
	}
	return s, nil
}

// audienceClaim reads aud: a string or an array of strings (RFC 7519
// §4.1.3).
func audienceClaim(raw map[string]json.RawMessage) ([]string, *auth.OAuthError) {
	v, ok := raw["aud"]
	if !ok {
		return nil, invalid("the client assertion has no aud claim: it must name this server (RFC 7523 §3, item 3)")
	}
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(v, &many) != nil || many == nil {
		return nil, invalid("the client assertion's aud claim is not a string or an array of strings")
	}
	return many, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are nonsense and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

// dateClaim reads a NumericDate (RFC 7519 §2: seconds since the epoch,
// possibly fractional). The zero time means absent.
func dateClaim(raw map[string]json.RawMessage, name string) (time.Time, *auth.OAuthError) {
	v, ok := raw[name]
	if !ok {
		return time.Time{}, nil
	}
	bad := invalid("the client assertion's %s claim is not a NumericDate", name)
	var n json.Number
	if json.Unmarshal(v, &n) != nil || len(v) == 0 || v[0] == '"' {
		return time.Time{}, bad
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i <= 0 || i > maxNumericDate {
			return time.Time{}, bad
		}
		return time.Unix(i, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxNumericDate {
		return time.Time{}, bad
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// decodeObject decodes a base64url JSON object, refusing duplicate member
// names (RFC 7515 §5.2, RFC 8725 §3.7: two readers must not see two
// values) and trailing data.
func decodeObject(b64 string) (map[string]json.RawMessage, error) {
	data, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, errors.New("unpadded base64url")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("UTF-8")
	}
	m, err := jwkset.DecodeObject[json.RawMessage](data)
	switch {
	case errors.Is(err, jwkset.ErrNotObject):
		return nil, errors.New("a JSON object")
	case err != nil:
		return nil, fmt.Errorf("a valid JSON object: %v", err)
	}
	return m, nil
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
	c, e := parseClaims(p.payload)
	if e != nil || c.sub == "" || c.iss != c.sub {
		return "", false
	}
	return c.sub, true
}
