package verify

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/dpop"
)

// DefaultDPoPMaxAge is DPoP.MaxAge's default.
const DefaultDPoPMaxAge = time.Minute

// DPoP configures the acceptance of DPoP-bound tokens (RFC 9449 §7).
type DPoP struct {
	// ExternalURL is this resource server's URL as its clients call it,
	// such as "https://api.gooclaim.com" (required): a proof's htu must be
	// ExternalURL followed by the request's path (query and fragment
	// left out, RFC 9449 §4.3). It is configured, not read from the Host
	// header or X-Forwarded-*, which the sender chooses: a proof made for
	// another server must not pass here. Give the path prefix too when a
	// proxy in front strips one ("https://gw.example/claims").
	ExternalURL string

	// MaxAge is how old a proof's iat may be; Config.Leeway is allowed on
	// either side for clock skew. Default DefaultDPoPMaxAge (1m). A proof
	// can be replayed for the same method and URL until then unless
	// ReplayCache catches it.
	MaxAge time.Duration

	// ReplayCache records every accepted proof's jti, per key, until the
	// proof expires, so that a captured proof cannot be sent again (RFC
	// 9449 §11.1). Default an in-memory cache of this process (at most a
	// million live entries, then it fails closed): behind a load balancer
	// a proof replayed to another instance is not seen, so a fleet should
	// share one (redis.ReplayCache fits this interface).
	ReplayCache ReplayCache

	// Nonces, when set, makes proofs carry a nonce of this resource server
	// (RFC 9449 §9): a proof without a valid one is answered 401
	// use_dpop_nonce with a fresh nonce in the DPoP-Nonce header, which
	// the client kit retries with once. It bounds how long a proof made
	// ahead of time (by malware on the client host, say) stays usable.
	// Nil: no nonce.
	Nonces DPoPNonces

	// Required refuses every token that is not DPoP-bound (no cnf.jkt),
	// Bearer ones included: for an API that only DPoP clients may call.
	Required bool
}

// ReplayCache remembers keys until a time; auth.ReplayCache and its
// implementations (inmem, redis) fit it.
type ReplayCache interface {
	// Use records key until the given time. It returns false when key is
	// already recorded and not yet expired: a replay.
	Use(ctx context.Context, key string, until time.Time) (bool, error)
}

// DPoPNonces are the nonces a resource server hands out (RFC 9449 §9).
type DPoPNonces interface {
	// Nonce returns the nonce to send in a DPoP-Nonce header now.
	Nonce() string
	// Valid reports whether a proof's nonce is one of this server's and
	// still current.
	Valid(nonce string) bool
}

// dpopSettings are a checked DPoP.
type dpopSettings struct {
	base     string // ExternalURL without a trailing slash
	maxAge   time.Duration
	replay   ReplayCache
	nonces   DPoPNonces
	required bool
	algs     string // the algs attribute of the challenges
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func (d *DPoP) check(now func() time.Time, allowHTTP bool, bad func(string, ...any)) *dpopSettings {
	s := &dpopSettings{
		maxAge: d.MaxAge, replay: d.ReplayCache, nonces: d.Nonces, required: d.Required,
		algs: strings.Join(dpop.Algorithms, " "),
	}
	switch {
	case d.ExternalURL == "":
		bad("DPoP.ExternalURL is required: this API's URL as clients call it, which DPoP proofs' htu must name")
	default:
		if err := checkURL(d.ExternalURL, allowHTTP); err != nil {
			bad("DPoP.ExternalURL: %v", err)
		} else if u, _ := url.Parse(d.ExternalURL); u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			bad("DPoP.ExternalURL %q must not have a query, fragment or user information", d.ExternalURL)
		}
		s.base = strings.TrimRight(d.ExternalURL, "/")
	}
	switch {
	case d.MaxAge < 0:
		bad("DPoP.MaxAge %v is negative", d.MaxAge)
	case d.MaxAge == 0:
		s.maxAge = DefaultDPoPMaxAge
	}
	if s.replay == nil {
		s.replay = inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clockFunc(now)})
	}
	return s
}

// requestURL is the URL a proof for r must name: ExternalURL and the
// path of the request line as it arrived (http.StripPrefix leaves
// RequestURI alone), without the query.
func (d *dpopSettings) requestURL(r *http.Request) string {
	path := r.URL.EscapedPath()
	if r.RequestURI != "" && r.RequestURI != "*" {
		p := r.RequestURI
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if u, err := url.Parse(p); err == nil && u.IsAbs() {
			p = u.EscapedPath() // absolute-form request target
		}
		path = p
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return d.base + path
}

// checkDPoP checks the DPoP proof of a request presenting the DPoP-bound
// token (RFC 9449 §7.1): one DPoP header holding a proof, valid as
// internal/dpop checks it, for this method and URL, with ath the token's
// hash, recent, with a valid nonce if the server uses them, signed by the
// key of the token's cnf.jkt, and not seen before.
func (v *Verifier) checkDPoP(r *http.Request, token string, c *Claims) *Error {
	d := v.cfg.dpop
	proofs := r.Header.Values("DPoP")
	switch len(proofs) {
	case 0:
		return dpopError(CodeInvalidDPoPProof, "the request has no DPoP header: send a DPoP proof made for this request with a DPoP-bound token (RFC 9449 section 7.1)", nil)
	case 1:
	default:
		return dpopError(CodeInvalidDPoPProof, "the request has more than one DPoP header (RFC 9449 section 4.3)", nil)
	}
	params := dpop.Params{
		Method: r.Method, URL: d.requestURL(r), Now: v.cfg.now(),
		MaxAge: d.maxAge, Leeway: v.cfg.leeway, AccessToken: token,
	}
	if d.nonces != nil {
		params.Nonce = d.nonces.Valid
	}
	p, err := dpop.Verify(proofs[0], params)
	if err != nil {
		if errors.Is(err, dpop.ErrNonce) {
			return dpopError(CodeUseDPoPNonce, err.Error(), nil)
		}
		return dpopError(CodeInvalidDPoPProof, err.Error(), nil)
	}
	if subtle.ConstantTimeCompare([]byte(p.JKT), []byte(c.Confirmation.JKT)) != 1 {
		return dpopError(CodeInvalidDPoPProof, "the DPoP proof is signed by another key than the one the token is bound to (cnf.jkt, RFC 9449 section 7.1)", nil)
	}
	fresh, err := d.replay.Use(r.Context(), p.ReplayKey(), p.ReplayUntil(params))
	switch {
	case err != nil:
		return dpopError(CodeInvalidDPoPProof, "the DPoP proof's jti could not be checked against the replay cache; try again", err)
	case !fresh:
		return dpopError(CodeInvalidDPoPProof, "the DPoP proof was used before (its jti is known): make a new proof for every request (RFC 9449 section 11.1)", nil)
	}
	return nil
}

func dpopError(code, description string, cause error) *Error {
	return &Error{Code: code, Description: description, err: cause, dpop: true}
}
