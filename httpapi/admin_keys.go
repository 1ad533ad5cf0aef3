package httpapi

import (
	"net/http"

	"github.com/gooclaim/auth/issuer"
)

// RevokedKeyView is the answer to a key revocation.
type RevokedKeyView struct {
	// Revoked is the key removed, with the state it was in.
	Revoked KeyView `json:"revoked"`
	// Replacement is the key that signs in its place when the revoked key
	// was the active one; absent otherwise.
	Replacement *KeyView `json:"replacement,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

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
	v := RevokedKeyView{Revoked: KeyView{KID: rk.Key.ID, Algorithm: rk.Key.Algorithm, State: string(rk.State),
		CreatedAt: rk.Key.CreatedAt, SigningFrom: rk.Key.SigningFrom}, Reason: req.Reason}
	if k := rk.Replacement; k != nil {
		v.Replacement = &KeyView{KID: k.ID, Algorithm: k.Algorithm, State: string(issuer.KeyActive), CreatedAt: k.CreatedAt, SigningFrom: k.SigningFrom}
	}
	writeAdminJSON(w, http.StatusOK, v)
}

func replacementID(rk issuer.RevokedKey) string {
	if rk.Replacement == nil {
		return ""
	}
	return rk.Replacement.ID
}
