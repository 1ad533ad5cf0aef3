package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/oauthwire"
)

// handleToken is the token endpoint (RFC 6749 §3.2, §4.4). Every request is
// first charged to the rate limit — of the client_id it names, even when
// malformed or unauthenticated, else of its address — so that past the limit
// the answer is 429 whatever else is wrong with it.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	req, parseErr := oauthwire.ParseTokenRequest(r)
	c, ok := s.admit(w, r, "token", &req, parseErr)
	if !ok {
		return
	}
	if s.DPoP != nil {
		// One map lookup on the path of Bearer requests: their cost does
		// not change (BenchmarkTokenHandler).
		if proofs, sent := r.Header[DPoPHeader]; sent && !s.checkDPoP(w, r, &req, proofs) {
			return
		}
		if s.DPoP.Nonces != nil {
			// RFC 9449 §8.2: a fresh nonce with every answer, for the next request.
			w.Header().Set(DPoPNonceHeader, s.DPoP.Nonces.Nonce(s.Clock.Now()))
		}
	}
	tok, err := s.Issuer.IssueClient(r.Context(), req, c)
	if err != nil {
		s.recordEvent(w, r, req.ClientID, authEvent{name: "token.refused", outcome: errorCode(err), method: req.AuthMethod, reason: issuer.FailureReason(err)})
		s.tokenError(w, err, usedBasic(r))
		return
	}
	id := req.ClientID
	if id == "" && c != nil {
		id = c.ID // a federated client, which need not send its client_id
	}
	ev := authEvent{name: "token.issued", outcome: "issued", jti: tok.JTI, scope: tok.Scope, method: req.AuthMethod}
	if tok.Reused {
		ev.name, ev.outcome = "token.reused", "reused" // given again (issuer.TokenCache): no signature, no quota
	}
	s.recordEvent(w, r, id, ev)
	oauthwire.WriteToken(w, tok)
}

// admit runs what every endpoint a client authenticates to does first: it
// notes the client for the log, refuses while the node is too stale,
// charges the request to the rate limit — of the client_id it names, even
// when malformed or unauthenticated, else of its address — and only then
// answers a request that did not parse, so that past the limit the answer
// is 429 whatever else is wrong with it. name is the endpoint's event name;
// the three endpoints share each client's (and address's) budget. It
// reports whether the request may go on; if not, it has answered. It looks
// the client up once, for the rate limit and then authentication, and
// returns it: nil when the request names no client or an unknown one,
// which authentication refuses after the same work as a wrong secret.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, name string, req *auth.TokenRequest, parseErr error) (*auth.Client, bool) {
	req.RemoteAddr = remoteIP(r)
	if r.TLS != nil || s.ClientCertHeader != "" { // a Bearer request over plain HTTP costs this test only
		if err := s.clientCertificate(r, req); err != nil && parseErr == nil {
			parseErr = err
		}
	}
	if rec, ok := w.(*recorder); ok {
		rec.clientID = req.ClientID
	}
	if s.refuseStale(w, r, name, req.ClientID, req.AuthMethod) {
		return nil, false
	}
	c := s.Issuer.Lookup(req)
	d, scope, err := s.Issuer.LimitClient(r.Context(), req, c)
	if err != nil {
		s.Logger.Error("rate limiter failed", "err", err)
		s.recordEvent(w, r, req.ClientID, authEvent{name: name + ".refused", outcome: auth.ErrTemporarilyUnavailable.Code, method: req.AuthMethod})
		writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription("the rate limiter is unavailable; retry shortly"))
		return nil, false
	}
	setRateLimitHeaders(w.Header(), d, scope)
	if !d.Allowed {
		retry := strconv.FormatInt(max(1, seconds(d.RetryAfter)), 10)
		w.Header().Set("Retry-After", retry)
		who := "client_id"
		if scope == issuer.LimitAddress {
			who = "address"
		}
		s.recordEvent(w, r, req.ClientID, authEvent{name: name + ".refused", outcome: auth.ErrRateLimited.Code, method: req.AuthMethod})
		writeError(w, http.StatusTooManyRequests, auth.ErrRateLimited.WithDescription(
			"rate limit exceeded: at most "+strconv.Itoa(d.Limit)+" requests per "+strconv.FormatInt(seconds(d.Window), 10)+
				" seconds per "+who+" to the token, introspection and revocation endpoints together; retry after "+retry+" seconds"))
		return nil, false
	}
	if parseErr != nil {
		s.recordEvent(w, r, req.ClientID, authEvent{name: name + ".refused", outcome: errorCode(parseErr), method: req.AuthMethod})
		s.tokenError(w, parseErr, usedBasic(r))
		return nil, false
	}
	return c, true
}

// usedBasic reports whether the client tried the Authorization header,
// which decides the WWW-Authenticate challenge of a 401 (RFC 6749 §5.2).
func usedBasic(r *http.Request) bool { return r.Header.Get("Authorization") != "" }

// refuseStale answers 503 when the node's state is too old to be trusted
// (Server.Fresh), and then reports true.
func (s *Server) refuseStale(w http.ResponseWriter, r *http.Request, name, clientID, method string) bool {
	if s.Fresh == nil {
		return false
	}
	err := s.Fresh()
	if err == nil {
		return false
	}
	s.recordEvent(w, r, clientID, authEvent{name: name + ".refused", outcome: auth.ErrTemporarilyUnavailable.Code, method: method})
	writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription(auth.ErrorMessage(err)+"; retry shortly"))
	return true
}

// errorCode is the OAuth error code of err, for the logs and metrics:
// temporarily_unavailable for a server that cannot reach what it depends
// on (as tokenError answers), server_error for other failures of the server.
func errorCode(err error) string {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	if auth.ErrorCode(err) == auth.EUNAVAILABLE {
		return auth.ErrTemporarilyUnavailable.Code
	}
	return auth.ErrServerError.Code
}

func (s *Server) tokenError(w http.ResponseWriter, err error, usedBasic bool) {
	status := tokenErrorStatus(err)
	if status == http.StatusUnauthorized && usedBasic {
		// RFC 6749 §5.2: a client that tried the Authorization header gets a challenge.
		w.Header().Set("WWW-Authenticate", `Basic realm="gooclaim", charset="UTF-8"`)
	}
	if q, ok := errors.AsType[*issuer.QuotaError](err); ok {
		// RFC 9110 §10.2.3: the quota renews when its window ends.
		w.Header().Set("Retry-After", strconv.FormatInt(max(1, seconds(q.Renews.Sub(s.Clock.Now()))), 10))
	}
	var deliberate *auth.OAuthError
	if status >= 500 && !errors.As(err, &deliberate) {
		// A deliberate answer (such as "too many imported-secret checks
		// at once" under a flood of guesses) is in the request log; only
		// failures of the server are errors worth a line of their own.
		s.Logger.Error("token request failed", "err", err)
		if auth.ErrorCode(err) == auth.EUNAVAILABLE {
			err = auth.ErrTemporarilyUnavailable.WithDescription(auth.ErrorMessage(err) + "; retry shortly")
		}
	}
	writeError(w, status, err)
}

// tokenErrorStatus maps an error to its status (RFC 6749 §5.2, RFC 6585 §4).
func tokenErrorStatus(err error) int {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		switch oe.Code {
		case auth.ErrInvalidClient.Code:
			return http.StatusUnauthorized
		case auth.ErrRateLimited.Code:
			return http.StatusTooManyRequests
		case auth.ErrServerError.Code:
			return http.StatusInternalServerError
		case auth.ErrTemporarilyUnavailable.Code:
			return http.StatusServiceUnavailable
		}
		if oe == oauthwire.ErrBodyTooLarge {
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusBadRequest
	}
	if auth.ErrorCode(err) == auth.EUNAVAILABLE {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
