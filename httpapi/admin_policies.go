package httpapi

import (
	"net/http"

	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
)

// policies serves GET /v1/admin/policies: the server-wide policies of the
// node answering.
func (a *Admin) policies(w http.ResponseWriter, r *http.Request) {
	v, err := a.Service.Policies()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, v)
}

// evaluateRequest is the body of POST /v1/admin/policies/evaluate.
type evaluateRequest struct {
	ClientID  string            `json:"client_id"`
	Claims    map[string]string `json:"claims"`
	Condition *string           `json:"condition"`
	Request   struct {
		Scope      string `json:"scope"`
		Audience   string `json:"audience"`
		RemoteIP   string `json:"remote_ip"`
		AuthMethod string `json:"auth_method"`
	} `json:"request"`
}

// evaluatePolicy serves POST /v1/admin/policies/evaluate: what a client's
// expressions (or the body's in their place) give for a token request,
// without a token. It changes nothing, so it records no audit event.
func (a *Admin) evaluatePolicy(w http.ResponseWriter, r *http.Request) {
	var body evaluateRequest
	if err := decodeBody(w, r, &body, true); err != nil {
		a.fail(w, r, err)
		return
	}
	q := body.Request
	v, err := a.Service.EvaluatePolicy(r.Context(), admin.PolicyEvaluation{
		ClientID: body.ClientID, Claims: body.Claims, Condition: body.Condition,
		Request: issuer.PolicyRequest{Scope: q.Scope, Audience: q.Audience, AuthMethod: q.AuthMethod, RemoteIP: q.RemoteIP},
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, v)
}
