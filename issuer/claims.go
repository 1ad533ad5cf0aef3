package issuer

import (
	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jsonenc"
)

// appendClaims appends c as JSON, byte for byte what json.Marshal(&c)
// writes (same member order, omitempty, escaping; FuzzAppendClaims checks
// it): the claims are signed as encoded, so a difference would change
// every token. Hand-written because json.Marshal is a few microseconds and
// several allocations per token on the hottest path (see package jsonenc).
func appendClaims(dst []byte, c *auth.Claims) []byte {
	dst = append(dst, `{"iss":`...)
	dst = jsonenc.AppendString(dst, c.Issuer)
	dst = append(dst, `,"sub":`...)
	dst = jsonenc.AppendString(dst, c.Subject)
	dst = append(dst, `,"aud":`...)
	if len(c.Audience) == 1 { // auth.Audience.MarshalJSON: one value as a string
		dst = jsonenc.AppendString(dst, c.Audience[0])
	} else {
		dst = jsonenc.AppendStrings(dst, c.Audience)
	}
	dst = append(dst, `,"client_id":`...)
	dst = jsonenc.AppendString(dst, c.ClientID)
	if c.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = jsonenc.AppendString(dst, c.Scope)
	}
	dst = append(dst, `,"iat":`...)
	dst = jsonenc.AppendInt(dst, c.IssuedAt)
	dst = append(dst, `,"exp":`...)
	dst = jsonenc.AppendInt(dst, c.Expiry)
	dst = append(dst, `,"jti":`...)
	dst = jsonenc.AppendString(dst, c.JWTID)
	if c.ClientIncarnation != "" {
		dst = append(dst, `,"client_incarnation":`...)
		dst = jsonenc.AppendString(dst, c.ClientIncarnation)
	}
	if c.Cnf != nil {
		dst = append(dst, `,"cnf":`...)
		dst = appendConfirmation(dst, c.Cnf)
	}
	if c.Act != nil {
		dst = append(dst, `,"act":`...)
		dst = appendActor(dst, c.Act)
	}
	dst = append(dst, c.Extra...)
	return append(dst, '}')
}

// appendActor appends an "act" claim (RFC 8693 §4.1) as json.Marshal
// writes an *auth.Actor, nested actors inside. The depth is bounded by
// whoever built the chain (issuer.exchange refuses deep ones); the
// recursion follows it.
func appendActor(dst []byte, a *auth.Actor) []byte {
	dst = append(dst, `{"sub":`...)
	dst = jsonenc.AppendString(dst, a.Subject)
	if a.Act != nil {
		dst = append(dst, `,"act":`...)
		dst = appendActor(dst, a.Act)
	}
	return append(dst, '}')
}

// appendConfirmation appends a "cnf" claim (RFC 7800 §3.1) as json.Marshal
// writes an *auth.Confirmation: {} when both members are empty.
func appendConfirmation(dst []byte, c *auth.Confirmation) []byte {
	dst = append(dst, '{')
	if c.JKT != "" {
		dst = append(dst, `"jkt":`...)
		dst = jsonenc.AppendString(dst, c.JKT)
	}
	if c.X5TS256 != "" {
		if c.JKT != "" {
			dst = append(dst, ',')
		}
		dst = append(dst, `"x5t#S256":`...)
		dst = jsonenc.AppendString(dst, c.X5TS256)
	}
	return append(dst, '}')
}
