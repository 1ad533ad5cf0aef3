package httpapi

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
)

// setRateLimitHeaders tells the client its limit, what is left and when it
// may send again, as the IETF draft's structured fields
// (draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy and RateLimit) and
// the de-facto X-RateLimit-* trio. X-RateLimit-Reset is in seconds from now,
// like the draft's t, not an epoch time: it does not depend on clocks agreeing.
//
// It is on every request's path, so it costs two allocations: the values
// that change per request (RateLimit, whose r and t are also the
// X-RateLimit-Remaining and -Reset values) are one string, the five
// header value slices one array; the policy's values are remembered.
func setRateLimitHeaders(h http.Header, d auth.Decision, scope issuer.LimitScope) {
	p := policyFor(scope, d.Limit, seconds(d.Window))
	reset := seconds(d.Reset)
	if !d.Allowed {
		reset = max(1, seconds(d.RetryAfter))
	}
	var a [64]byte
	b := append(a[:0], p.name...)
	b = append(b, ";r="...)
	r0 := len(b)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	r1 := len(b)
	b = append(b, ";t="...)
	t0 := len(b)
	b = strconv.AppendInt(b, reset, 10)
	rl := string(b)
	v := new([5]string)
	v[0], v[1], v[2], v[3], v[4] = p.policy, rl, p.value, rl[r0:r1], rl[t0:]
	h["Ratelimit-Policy"] = v[0:1:1]
	h["Ratelimit"] = v[1:2:2]
	h["X-Ratelimit-Limit"] = v[2:3:3]
	h["X-Ratelimit-Remaining"] = v[3:4:4]
	h["X-Ratelimit-Reset"] = v[4:5:5]
}

// ratePolicy is the part of the rate-limit headers that depends only on
// the policy: what it is keyed on, its limit and window.
type ratePolicy struct {
	limit  int
	window int64  // seconds
	name   string // `"default"` or `"address"`
	policy string // the RateLimit-Policy value, `"default";q=60;w=60`
	value  string // the limit, X-RateLimit-Limit
}

// lastPolicy remembers the last policy of each scope: most requests are
// charged at the default rate, so their policy values are made once.
var lastPolicy [2]atomic.Pointer[ratePolicy]

func policyFor(scope issuer.LimitScope, limit int, window int64) *ratePolicy {
	slot := &lastPolicy[0]
	if scope == issuer.LimitAddress {
		slot = &lastPolicy[1]
	}
	if p := slot.Load(); p != nil && p.limit == limit && p.window == window {
		return p
	}
	p := &ratePolicy{limit: limit, window: window, name: `"default"`, value: strconv.Itoa(limit)}
	if scope == issuer.LimitAddress {
		p.name = `"address"`
	}
	p.policy = p.name + ";q=" + p.value + ";w=" + strconv.FormatInt(window, 10)
	slot.Store(p)
	return p
}
