package verify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth/internal/jwt"
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

// tokens reads access tokens (internal/jwt): their shape, header and
// claims, with the rules shared with client assertions.
var tokens = jwt.Reader{Name: "the token", MaxSize: MaxTokenSize}

// parseHeader checks a token's shape and protected header before any key
// is looked up: the JWS compact serialization (RFC 7515 §7.1) with three
// canonical base64url parts, an allowed alg (RFC 8725 §3.1), the access
// token typ (RFC 9068 §4, RFC 8725 §3.11), a kid, and no crit (RFC 7515
// §4.1.11: we understand no extension). jku, x5u, jwk and x5c are never
// used: keys come from the issuer's JWK Set only (RFC 8725 §3.10).
func parseHeader(token string, allowed []string) (header, *Error) {
	p, err := tokens.Split(token)
	if err != nil {
		return header{}, invalidToken(err.Error())
	}
	members, err := tokens.Header(p)
	if err != nil {
		return header{}, invalidToken(err.Error())
	}
	for _, name := range []string{"crit", "b64", "zip", "cty"} {
		if _, ok := members[name]; ok {
			return header{}, invalidToken(fmt.Sprintf("the token's header has %q, which access tokens do not use", name))
		}
	}
	alg, err := tokens.Alg(members)
	if err != nil {
		return header{}, invalidToken(err.Error())
	}
	if !slices.Contains(allowed, alg) {
		return header{}, invalidToken("the token's alg " + quote(alg) + " is not allowed (allowed: " + strings.Join(allowed, ", ") + ")")
	}
	typ, ok := members.String("typ")
	switch {
	case !ok:
		return header{}, invalidToken("the token has no typ header: an access token has typ at+jwt (RFC 9068 §4)")
	case !strings.EqualFold(typ, typAccessToken) && !strings.EqualFold(typ, typAccessTokenMediaType):
		return header{}, invalidToken("the token's typ " + quote(typ) + " is not at+jwt: not an access token (RFC 9068 §4)")
	}
	kid, ok := members.String("kid")
	if !ok || kid == "" {
		return header{}, invalidToken("the token's header has no kid")
	}
	return header{alg: alg, kid: kid}, nil
}

// checkClaims reads and checks the claims of RFC 9068 §2.2 as §4 says:
// iss, aud, exp, nbf, iat, then sub, client_id, jti and scope.
func (v *Verifier) checkClaims(payload []byte, now time.Time) (*Claims, *Error) {
	raw, err := tokens.Claims(payload)
	if err != nil {
		return nil, invalidToken(err.Error())
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
	if cnf, ok := raw["cnf"]; ok {
		if c.Confirmation, e = confirmationClaim(cnf); e != nil {
			return nil, e
		}
	}
	if a, ok := raw["act"]; ok {
		if c.Act, e = actorClaim(a, 1); e != nil {
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

// MaxActDepth bounds the nesting of "act" claims: a chain of delegations
// longer than this is refused, so that a token cannot make a verifier walk
// an arbitrarily deep structure.
const MaxActDepth = 16

// actorClaim reads an "act" claim (RFC 8693 §4.1): an object whose "sub"
// is a non-empty string, optionally with a nested "act". Its other members
// (RFC 8693 allows iss, client_id…) are left in Claims.Raw.
func actorClaim(v any, depth int) (*Actor, *Error) {
	if depth > MaxActDepth {
		return nil, invalidToken(fmt.Sprintf("the token's act claim is nested more than %d deep", MaxActDepth))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidToken("the token's act claim is not a JSON object")
	}
	sub, ok := m["sub"].(string)
	if !ok || sub == "" {
		return nil, invalidToken("the token's act claim has no sub that is a non-empty string")
	}
	a := &Actor{Subject: sub}
	if nested, ok := m["act"]; ok {
		var e *Error
		if a.Act, e = actorClaim(nested, depth+1); e != nil {
			return nil, e
		}
	}
	return a, nil
}

// stringClaim returns a required, non-empty string claim.
func stringClaim(raw jwt.Claims, name string) (string, *Error) {
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

// audienceClaim reads aud, which is required.
func audienceClaim(raw jwt.Claims) ([]string, *Error) {
	aud, err := tokens.Audience(raw)
	switch {
	case err != nil:
		return nil, invalidToken(err.Error())
	case aud == nil:
		return nil, invalidToken("the token has no aud claim")
	}
	return aud, nil
}

// dateClaim reads a NumericDate, the zero time when absent and not required.
func dateClaim(raw jwt.Claims, name string, required bool) (time.Time, *Error) {
	t, err := tokens.Date(raw, name)
	switch {
	case err != nil:
		return time.Time{}, invalidToken(err.Error())
	case t.IsZero() && required:
		return time.Time{}, invalidToken("the token has no " + name + " claim")
	}
	return t, nil
}
