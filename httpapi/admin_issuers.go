package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// IssuerView is the view the CLI shows too (admin.ViewIssuer).
type IssuerView = admin.IssuerView

// issuerNotFound says a trusted issuer does not exist and how to find the right one.
func issuerNotFound(name string) error {
	return &auth.OAuthError{Code: "not_found", Description: fmt.Sprintf("no trusted issuer named %q; GET %sissuers lists them", name, AdminPrefix)}
}

// failIssuer is fail with a clearer answer when the issuer does not exist.
func (a *Admin) failIssuer(w http.ResponseWriter, r *http.Request, name string, err error) {
	if errors.Is(err, auth.ErrNotFound) {
		err = issuerNotFound(name)
	}
	a.fail(w, r, err)
}

// listIssuers serves GET /v1/admin/issuers.
func (a *Admin) listIssuers(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		a.fail(w, r, badRequest("GET %sissuers takes no query parameters: it lists every trusted issuer", AdminPrefix))
		return
	}
	ts, err := a.Service.ListIssuers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, struct {
		Issuers []IssuerView `json:"issuers"`
	}{admin.ViewIssuers(ts)})
}

// createIssuerRequest is the body of POST /v1/admin/issuers.
type createIssuerRequest struct {
	Name        string          `json:"name"`
	Issuer      string          `json:"issuer"`
	JWKSURI     string          `json:"jwks_uri"`
	JWKS        json.RawMessage `json:"jwks"`
	Audience    string          `json:"audience"`
	MaxTokenAge string          `json:"max_token_age"`
}

// createIssuer serves POST /v1/admin/issuers.
func (a *Admin) createIssuer(w http.ResponseWriter, r *http.Request) {
	var req createIssuerRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	spec := admin.IssuerSpec{Name: req.Name, Issuer: req.Issuer, JWKSURI: req.JWKSURI, Audience: req.Audience}
	var err error
	if spec.MaxTokenAge, err = parseMaxTokenAge(req.MaxTokenAge); err != nil {
		a.fail(w, r, err)
		return
	}
	if spec.JWKS, err = jwksField(req.JWKS); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.Service.CreateIssuer(r.Context(), spec)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", AdminPrefix+"issuers/"+url.PathEscape(t.Name))
	writeAdminJSON(w, http.StatusCreated, admin.ViewIssuer(t))
}

// getIssuer serves GET /v1/admin/issuers/{name}.
func (a *Admin) getIssuer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	t, err := a.Service.Issuer(r.Context(), name)
	a.answerIssuer(w, r, name, t, err)
}

func (a *Admin) answerIssuer(w http.ResponseWriter, r *http.Request, name string, t *auth.TrustedIssuer, err error) {
	if err != nil {
		a.failIssuer(w, r, name, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, admin.ViewIssuer(t))
}

// updateIssuerRequest is the body of PATCH /v1/admin/issuers/{name}:
// absent (or null) fields are left alone, but jwks: null removes the JWK
// Set.
type updateIssuerRequest struct {
	Issuer      *string         `json:"issuer"`
	JWKSURI     *string         `json:"jwks_uri"`
	JWKS        json.RawMessage `json:"jwks"` // absent: nil; null: "null"
	Audience    *string         `json:"audience"`
	MaxTokenAge *string         `json:"max_token_age"`
	Disabled    *bool           `json:"disabled"`
}

// updateIssuer serves PATCH /v1/admin/issuers/{name}.
func (a *Admin) updateIssuer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req updateIssuerRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	u := admin.IssuerUpdate{Issuer: req.Issuer, JWKSURI: req.JWKSURI, Audience: req.Audience, Disabled: req.Disabled}
	if req.MaxTokenAge != nil {
		d, err := parseMaxTokenAge(*req.MaxTokenAge)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u.MaxTokenAge = &d
	}
	if req.JWKS != nil {
		jwks, err := jwksField(req.JWKS)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if jwks == nil {
			jwks = []byte{}
		}
		u.JWKS = &jwks
	}
	if u.IsEmpty() {
		a.fail(w, r, badRequest("nothing to change: give at least one of %s", strings.Join(jsonFields(&req), ", ")))
		return
	}
	t, err := a.Service.UpdateIssuer(r.Context(), name, u)
	a.answerIssuer(w, r, name, t, err)
}

// deleteIssuer serves DELETE /v1/admin/issuers/{name}.
func (a *Admin) deleteIssuer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.Service.DeleteIssuer(r.Context(), name); err != nil {
		a.failIssuer(w, r, name, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseMaxTokenAge reads max_token_age: "", "0" or "default" is
// auth.DefaultMaxTokenAge.
func parseMaxTokenAge(s string) (time.Duration, error) {
	switch strings.TrimSpace(s) {
	case "", "0", "default":
		return 0, nil
	}
	d, err := auth.ParseDuration(s)
	if err != nil {
		return 0, badRequest("max_token_age: %v; \"\" or \"0\" means the default, %s", err, auth.FormatDuration(auth.DefaultMaxTokenAge))
	}
	return d, nil
}

// federatedField reads a client's federated identities.
func federatedField(l []admin.FederatedView) []auth.FederatedIdentity {
	if l == nil {
		return nil
	}
	out := make([]auth.FederatedIdentity, len(l))
	for i, f := range l {
		out[i] = auth.FederatedIdentity{Issuer: f.Issuer, Subject: f.Subject}
	}
	return out
}

// isFederatedConflict reports whether a conflict is about a federated
// identity rather than the client's ID.
func isFederatedConflict(err error) bool {
	return strings.Contains(auth.ErrorMessage(err), "federated identity")
}
