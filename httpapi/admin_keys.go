package httpapi

import (
	"net/http"

	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
)

// revokeKey serves POST /v1/admin/keys/{kid}/revoke: the key leaves the
// JWKS at once and never signs again; an active key is replaced by a new
// one that signs at once.
func (a *Admin) revokeKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if a.Service.Keys == nil {
		a.fail(w, r, errNoKEK("revoke keys", "gooclaim-auth keys revoke KID"))
		return
	}
	kid := r.PathValue("kid")
	rk, err := a.Service.RevokeKey(r.Context(), kid, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.Logger.Warn("signing key revoked", "kid", rk.Key.ID, "state", string(rk.State), "reason", req.Reason,
		"replacement", replacementID(rk), "remote", remoteIP(r))
	writeAdminJSON(w, http.StatusOK, admin.ViewRevokedKey(rk, req.Reason))
}

func replacementID(rk issuer.RevokedKey) string {
	if rk.Replacement == nil {
		return ""
	}
	return rk.Replacement.ID
}
