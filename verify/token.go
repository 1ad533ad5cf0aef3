package verify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gooclaim/auth/internal/jwkset"
)

// header is what Verify reads from a token's protected header.
type header struct {
	alg, kid string
}

// typ values of JWT access tokens (RFC 9068 §4), compared case-insensitively.
const (
	typAccessToken          = "at+jwt"
	typAccessTokenMediaType = "application/at+jwt"
)

// parseHeader checks a token's shape and protected header before any key
// is looked up: the JWS compact serialization (RFC 7515 §7.1) with three
// canonical base64url parts, an allowed alg (RFC 8725 §3.1), the access
// token typ (RFC 9068 §4, RFC 8725 §3.11), a kid, and no crit (RFC 7515
// §4.1.11: we understand no extension). jku, x5u, jwk and x5c are never
// used: keys come from the issuer's JWK Set only (RFC 8725 §3.10).
func parseHeader(token string, allowed []string) (header, *Error) {
	switch {
	case token == "":
		return header{}, invalidToken("the token is empty")
	case len(token) > MaxTokenSize:
		return header{}, invalidToken(fmt.Sprintf("the token is %d bytes, more than the %d accepted", len(token), MaxTokenSize))
	case token[0] == '{':
		return header{}, invalidToken("the JWS JSON serialization is not accepted: send the compact form")
	}
	switch n := strings.Count(token, ".") + 1; n {
	case 3:
	case 5:
		return header{}, invalidToken("the token has 5 parts, a JWE (encrypted JWT): access tokens here are signed JWS with 3 parts")
	case 1:
		return header{}, invalidToken("the token has 1 part, not the 3 of a signed JWT")
	default:
		return header{}, invalidToken(fmt.Sprintf("the token has %d parts, not the 3 of a signed JWT", n))
	}
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	for _, part := range []struct{ name, b64 string }{{"header", h64}, {"payload", p64}, {"signature", s64}} {
		if part.b64 == "" {
			if part.name == "signature" {
				return header{}, invalidToken("the token is unsigned: its signature is empty")
			}
			return header{}, invalidToken("the token's " + part.name + " is empty")
		}
		if !canonicalBase64URL(part.b64) {
			return header{}, invalidToken("the token's " + part.name + " is not unpadded base64url")
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(h64)
	if err != nil || !utf8.Valid(raw) {
		return header{}, invalidToken("the token's header is not base64url-encoded UTF-8")
	}
	members, err := jwkset.DecodeObject[json.RawMessage](raw)
	if err != nil {
		return header{}, invalidToken("the token's header is not a valid JSON object: " + err.Error())
	}
	for _, name := range []string{"crit", "b64", "zip", "cty"} {
		if _, ok := members[name]; ok {
			return header{}, invalidToken(fmt.Sprintf("the token's header has %q, which access tokens do not use", name))
		}
	}

	alg, ok := jwkset.StringMember(members, "alg")
	switch {
	case !ok:
		return header{}, invalidToken("the token's header has no alg string")
	case strings.EqualFold(alg, "none"):
		return header{}, invalidToken("the token is unsigned (alg none): never accepted")
	case len(alg) >= 2 && strings.EqualFold(alg[:2], "HS"):
		return header{}, invalidToken("the token's alg " + quote(alg) + " is an HMAC algorithm: never accepted")
	case !slices.Contains(allowed, alg):
		return header{}, invalidToken("the token's alg " + quote(alg) + " is not allowed (allowed: " + strings.Join(allowed, ", ") + ")")
	}
	typ, ok := jwkset.StringMember(members, "typ")
	switch {
	case !ok:
		return header{}, invalidToken("the token has no typ header: an access token has typ at+jwt (RFC 9068 §4)")
	case !strings.EqualFold(typ, typAccessToken) && !strings.EqualFold(typ, typAccessTokenMediaType):
		return header{}, invalidToken("the token's typ " + quote(typ) + " is not at+jwt: not an access token (RFC 9068 §4)")
	}
	kid, ok := jwkset.StringMember(members, "kid")
	if !ok || kid == "" {
		return header{}, invalidToken("the token's header has no kid")
	}
	return header{alg: alg, kid: kid}, nil
}

// canonicalBase64URL reports whether s is unpadded base64url whose unused
// trailing bits are zero, so that one signature has one encoding.
func canonicalBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	var mask byte
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	default:
		return true
	}
	return base64URLValue(s[len(s)-1])&mask == 0
}

func base64URLValue(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	default:
		return 63
	}
}

// checkClaims reads and checks the claims of RFC 9068 §2.2 as §4 says:
// iss, aud, exp, nbf, iat, then sub, client_id, jti and scope.
func (v *Verifier) checkClaims(payload []byte, now time.Time) (*Claims, *Error) {
	if !utf8.Valid(payload) {
		return nil, invalidToken("the token's claims are not UTF-8")
	}
	raw, err := jwkset.DecodeObject[any](payload)
	if err != nil {
		return nil, invalidToken("the token's claims are not a valid JSON object: " + err.Error())
	}
	c := &Claims{Raw: raw}
	var e *Error

	if c.Issuer, e = stringClaim(raw, "iss"); e != nil {
		return nil, e
	}
	if c.Issuer != v.cfg.issuer {
		return nil, invalidToken("the token's issuer " + quote(c.Issuer) + " is not " + quote(v.cfg.issuer))
	}
	if c.Audience, e = audienceClaim(raw); e != nil {
		return nil, e
	}
	if !slices.Contains(c.Audience, v.cfg.audience) {
		return nil, invalidToken("the token's audience does not include " + quote(v.cfg.audience) + ": it is for another API")
	}

	leeway := v.cfg.leeway
	if c.Expiry, e = dateClaim(raw, "exp", true); e != nil {
		return nil, e
	}
	if !now.Before(c.Expiry.Add(leeway)) {
		return nil, invalidToken(fmt.Sprintf("the token expired at %s (leeway %s)", c.Expiry.Format(time.RFC3339), leeway))
	}
	if c.NotBefore, e = dateClaim(raw, "nbf", false); e != nil {
		return nil, e
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(leeway)) {
		return nil, invalidToken(fmt.Sprintf("the token is not valid before %s (leeway %s)", c.NotBefore.Format(time.RFC3339), leeway))
	}
	if c.IssuedAt, e = dateClaim(raw, "iat", true); e != nil {
		return nil, e
	}
	if c.IssuedAt.After(now.Add(leeway)) {
		return nil, invalidToken(fmt.Sprintf("the token was issued in the future, at %s (leeway %s)", c.IssuedAt.Format(time.RFC3339), leeway))
	}

	if c.Subject, e = stringClaim(raw, "sub"); e != nil {
		return nil, e
	}
	if c.ClientID, e = stringClaim(raw, "client_id"); e != nil {
		return nil, e
	}
	if _, ok := raw["jti"]; ok {
		if c.JWTID, e = stringClaim(raw, "jti"); e != nil {
			return nil, e
		}
	}
	if s, ok := raw["scope"]; ok {
		str, isString := s.(string)
		if !isString {
			return nil, invalidToken("the token's scope claim is not a string")
		}
		for sc := range strings.SplitSeq(str, " ") {
			if sc != "" && !slices.Contains(c.Scopes, sc) {
				c.Scopes = append(c.Scopes, sc)
			}
		}
	}
	return c, nil
}

// stringClaim returns a required, non-empty string claim.
func stringClaim(raw map[string]any, name string) (string, *Error) {
	v, ok := raw[name]
	if !ok {
		return "", invalidToken("the token has no " + name + " claim")
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", invalidToken("the token's " + name + " claim is not a non-empty string")
	}
	return s, nil
}

// audienceClaim reads aud: a string or a non-empty array of strings
// (RFC 7519 §4.1.3).
func audienceClaim(raw map[string]any) ([]string, *Error) {
	bad := invalidToken("the token's aud claim is not a string or an array of strings")
	switch v := raw["aud"].(type) {
	case nil:
		if _, ok := raw["aud"]; !ok {
			return nil, invalidToken("the token has no aud claim")
		}
		return nil, bad
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, bad
		}
		out := make([]string, len(v))
		for i, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, bad
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, bad
	}
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are nonsense and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

// dateClaim reads a NumericDate (RFC 7519 §2: seconds since the epoch,
// possibly fractional). The zero time means absent.
func dateClaim(raw map[string]any, name string, required bool) (time.Time, *Error) {
	v, ok := raw[name]
	if !ok {
		if required {
			return time.Time{}, invalidToken("the token has no " + name + " claim")
		}
		return time.Time{}, nil
	}
	bad := invalidToken("the token's " + name + " claim is not a NumericDate")
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, bad
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < 0 || i > maxNumericDate {
			return time.Time{}, bad
		}
		return time.Unix(i, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, bad
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
