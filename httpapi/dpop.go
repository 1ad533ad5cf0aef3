package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/dpop"
)

// DPoP configures DPoP proofs at the token endpoint (RFC 9449): a token
// request with a valid proof gets a token bound to the proof's key.
type DPoP struct {
	// Replay records the jti of every accepted proof, so that a proof is
	// used once (RFC 9449 §11.1): redis.ReplayCache for a fleet, where a
	// proof used on one node must be refused on every other. Required.
	Replay auth.ReplayCache
	// MaxAge is how old a proof's iat may be. Default DefaultDPoPMaxAge.
	MaxAge time.Duration
	// Leeway is the clock skew allowed between client and server, on both
	// sides of the window. Default DefaultDPoPLeeway.
	Leeway time.Duration
	// Nonces, when set, requires every proof to carry a nonce it made
	// (RFC 9449 §8), which bounds a proof's usefulness by the server's
	// clock rather than the client's; nil requires none.
	Nonces *dpop.NonceSource
	// Observer counts proofs by outcome; nil counts nothing.
	Observer DPoPObserver
}

// DPoPObserver counts the DPoP proofs the token endpoint checks, by
// outcome (one of the DPoPOutcome constants). *metrics.Metrics implements
// it.
type DPoPObserver interface {
	ObserveDPoP(outcome string)
}

// Outcomes of a DPoP proof, for DPoPObserver.
const (
	DPoPValid    = "valid"    // accepted, its jti recorded
	DPoPInvalid  = "invalid"  // refused: invalid_dpop_proof
	DPoPReplayed = "replayed" // valid, but its jti was used before
	DPoPNonce    = "nonce"    // refused for its nonce: use_dpop_nonce
)

// Defaults of DPoP.
const (
	DefaultDPoPMaxAge = time.Minute
	DefaultDPoPLeeway = 5 * time.Second
)

// DPoPHeader is the request header of a proof and DPoPNonceHeader the
// response header of a server nonce (RFC 9449 §4.1, §8). The map keys are
// the canonical forms, so that a lookup costs no canonicalization.
const (
	DPoPHeader      = "Dpop"
	DPoPNonceHeader = "Dpop-Nonce"
)

// checkDPoP verifies the request's DPoP proof (proofs holds the header's
// values: there must be exactly one, RFC 9449 §4.3 item 1) for a POST to
// this server's token endpoint, at its configured issuer URL — not the
// Host header, which a proxy may change and a client may forge — records
// its jti, and sets req.DPoPJKT. It reports whether the request may go on;
// if not, it has answered.
func (s *Server) checkDPoP(w http.ResponseWriter, r *http.Request, req *auth.TokenRequest, proofs []string) bool {
	d := s.DPoP
	refuse := func(outcome string, err error) bool {
		if d.Observer != nil {
			d.Observer.ObserveDPoP(outcome)
		}
		if errors.Is(err, auth.ErrUseDPoPNonce) && d.Nonces != nil {
			w.Header().Set(DPoPNonceHeader, d.Nonces.Nonce(s.Clock.Now()))
		}
		s.recordEvent(w, r, req.ClientID, authEvent{name: "token.refused", outcome: errorCode(err), method: req.AuthMethod})
		s.tokenError(w, err, usedBasic(r))
		return false
	}
	if len(proofs) != 1 {
		return refuse(DPoPInvalid, auth.ErrInvalidDPoPProof.WithDescription("the request has several DPoP headers: send exactly one proof (RFC 9449 §4.3)"))
	}
	now := s.Clock.Now()
	p := dpop.Params{Method: http.MethodPost, URL: s.tokenURL, Now: now, MaxAge: d.MaxAge, Leeway: d.Leeway}
	if d.Nonces != nil {
		p.Nonce = func(n string) bool { return d.Nonces.Valid(n, now) }
	}
	proof, err := dpop.Verify(proofs[0], p)
	switch {
	case errors.Is(err, dpop.ErrNonce):
		return refuse(DPoPNonce, auth.ErrUseDPoPNonce.WithDescription(err.Error()))
	case err != nil:
		return refuse(DPoPInvalid, auth.ErrInvalidDPoPProof.WithDescription(err.Error()))
	}
	// Recorded only now that the signature verified: a forger cannot use
	// up the jti values of a client's proofs.
	fresh, err := d.Replay.Use(r.Context(), proof.ReplayKey(), proof.ReplayUntil(p))
	switch {
	case err != nil:
		s.Logger.Error("DPoP replay cache failed", "err", err)
		return refuse(DPoPInvalid, auth.ErrTemporarilyUnavailable.WithDescription("the replay cache of DPoP proofs is unavailable; retry shortly"))
	case !fresh:
		return refuse(DPoPReplayed, auth.ErrInvalidDPoPProof.WithDescription("the DPoP proof's jti was used before: make a fresh proof, with a new jti, for every request (RFC 9449 §11.1)"))
	}
	if d.Observer != nil {
		d.Observer.ObserveDPoP(DPoPValid)
	}
	req.DPoPProof, req.DPoPJKT = proofs[0], proof.JKT
	return true
}

// setDPoPDefaults fills in DPoP's defaults and the token endpoint's URL.
func (s *Server) setDPoPDefaults() {
	s.tokenURL = s.Issuer.Config().Issuer + TokenPath
	if s.DPoP == nil {
		return
	}
	d := *s.DPoP // a copy: the caller's value is left as it gave it
	if d.MaxAge <= 0 {
		d.MaxAge = DefaultDPoPMaxAge
	}
	if d.Leeway <= 0 {
		d.Leeway = DefaultDPoPLeeway
	}
	s.DPoP = &d
}
