package httpapi

import (
	"net/http"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/oauthwire"
)

// authenticateOperation runs what introspection and revocation share: the
// admission of every client request (admit), on the client's one budget
// for the three endpoints, and the client's authentication. On failure it has answered and
// returns nil.
func (s *Server) authenticateOperation(w http.ResponseWriter, r *http.Request, name string) (*auth.Client, oauthwire.TokenOperation) {
	op, parseErr := oauthwire.ParseTokenOperation(r)
	known, ok := s.admit(w, r, name, &op.Client, parseErr)
	if !ok {
		return nil, op
	}
	c, err := s.Issuer.AuthenticateClient(r.Context(), op.Client, known)
	if err != nil {
		s.recordEvent(w, r, op.Client.ClientID, authEvent{name: name + ".refused", outcome: errorCode(err), method: op.Client.AuthMethod, reason: issuer.FailureReason(err)})
		s.tokenError(w, err, usedBasic(r))
		return nil, op
	}
	return c, op
}

// handleIntrospect is the introspection endpoint (RFC 7662 §2): a client
// allowed the scope auth:introspect asks whether a token is active.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	c, op := s.authenticateOperation(w, r, "introspection")
	if c == nil {
		return
	}
	res, err := s.Issuer.Introspect(r.Context(), c, op.Token)
	if err != nil {
		s.recordEvent(w, r, c.ID, authEvent{name: "introspection.refused", outcome: errorCode(err), method: op.Client.AuthMethod})
		s.operationError(w, err)
		return
	}
	outcome := "inactive"
	if res.Active {
		outcome = "active"
	}
	s.recordEvent(w, r, c.ID, authEvent{name: "introspection", outcome: outcome, jti: res.JWTID, method: op.Client.AuthMethod})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	oauthwire.WriteJSON(w, http.StatusOK, res)
}

// handleRevoke is the revocation endpoint (RFC 7009 §2): a client revokes
// one of its own tokens. Any token hint is accepted, since there is only
// one kind of token here; an invalid or foreign token changes nothing and
// gets the same 200 (§2.2).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	c, op := s.authenticateOperation(w, r, "revocation")
	if c == nil {
		return
	}
	ctx := auth.WithAudit(r.Context(), auth.Audit{Actor: "client:" + c.ID, RemoteAddr: remoteIP(r)})
	if err := s.Issuer.Revoke(ctx, c, op.Token); err != nil {
		s.recordEvent(w, r, c.ID, authEvent{name: "revocation.refused", outcome: errorCode(err), method: op.Client.AuthMethod})
		s.operationError(w, err)
		return
	}
	s.recordEvent(w, r, c.ID, authEvent{name: "revocation", outcome: "done", method: op.Client.AuthMethod})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// operationError answers a failure after authentication: a client not
// allowed the operation gets 403, failures of the server 5xx.
func (s *Server) operationError(w http.ResponseWriter, err error) {
	if errorCode(err) == auth.ErrUnauthorizedClient.Code {
		writeError(w, http.StatusForbidden, err)
		return
	}
	if errorCode(err) == auth.ErrUnsupportedTokenType.Code {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.Logger.Error("token operation failed", "err", err)
	writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription("the server could not complete the request; retry shortly"))
}
