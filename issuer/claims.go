package issuer

import (
	"sync"

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
	return append(dst, '}')
}

// claimsBuf holds encoded claims while they are signed.
type claimsBuf struct{ b []byte }

var claimsPool = sync.Pool{New: func() any { return &claimsBuf{b: make([]byte, 0, 512)} }}

// maxPooledClaims bounds the buffers kept for reuse: a client with
// hundreds of scopes should not pin a large buffer per P.
const maxPooledClaims = 8 << 10

func putClaimsBuf(cb *claimsBuf) {
	if cap(cb.b) <= maxPooledClaims {
		cb.b = cb.b[:0]
		claimsPool.Put(cb)
	}
}
