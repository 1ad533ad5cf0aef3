package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// ClientView and SecretView are the views the CLI shows too (admin.View).
type (
	ClientView = admin.ClientView
	SecretView = admin.SecretView
)

// clientWithSecret answers the calls that make a secret: the only time it is seen.
type clientWithSecret struct {
	Client       ClientView `json:"client"`
	ClientSecret string     `json:"client_secret,omitempty"`
}

// clientNotFound says a client does not exist and how to find the right one.
func clientNotFound(id string) error {
	return &auth.OAuthError{Code: "not_found", Description: fmt.Sprintf("no client with client_id %q; GET %sclients lists them", id, AdminPrefix)}
}

// failClient is fail with a clearer answer when the client does not exist.
func (a *Admin) failClient(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, auth.ErrNotFound) {
		err = clientNotFound(id)
	}
	a.fail(w, r, err)
}

// findClients serves GET /v1/admin/clients.
func (a *Admin) findClients(w http.ResponseWriter, r *http.Request) {
	f, err := parseClientFilter(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, next, err := a.Service.FindClients(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	views := make([]ClientView, 0, len(page))
	for _, c := range page {
		views = append(views, admin.View(c))
	}
	writeAdminJSON(w, http.StatusOK, struct {
		Clients   []ClientView `json:"clients"`
		NextAfter string       `json:"next_after"`
	}{views, next})
}

func parseClientFilter(q url.Values) (admin.ClientFilter, error) {
	var f admin.ClientFilter
	for name, values := range q {
		if len(values) != 1 {
			return f, badRequest("query parameter %q: give it once", name)
		}
		v := values[0]
		switch name {
		case "limit":
			n, err := parseLimit(v)
			if err != nil {
				return f, err
			}
			f.Limit = n
		case "after":
			f.After = v
		case "name":
			f.Name = v
		case "scope":
			f.Scope = v
		case "disabled":
			b, err := strconv.ParseBool(v)
			if err != nil || (v != "true" && v != "false") {
				return f, badRequest("query parameter disabled=%q: use true or false", v)
			}
			f.Disabled = &b
		default:
			key, ok := strings.CutPrefix(name, "metadata.")
			if !ok {
				return f, badRequest("unknown query parameter %q; use limit, after, name, disabled, scope or metadata.KEY", name)
			}
			if key == "" {
				return f, badRequest("query parameter metadata.: name the key, as in metadata.owner=team-a")
			}
			if f.Metadata == nil {
				f.Metadata = map[string]string{}
			}
			f.Metadata[key] = v
		}
	}
	return f, nil
}

// parseLimit reads a page size: 1 to 1000.
func parseLimit(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, badRequest("query parameter limit=%q: a whole number from 1 to 1000", v)
	}
	return n, nil
}

// createRequest is the body of POST /v1/admin/clients.
type createRequest struct {
	ClientID     string            `json:"client_id"`
	Name         string            `json:"name"`
	Scopes       []string          `json:"scopes"`
	Audiences    []string          `json:"audiences"`
	TokenTTL     string            `json:"token_ttl"`
	RateLimit    string            `json:"rate_limit"`
	Quotas       []string          `json:"quotas"`
	QuotaMode    string            `json:"quota_mode"`
	Claims       map[string]string `json:"claims"`
	Condition    string            `json:"condition"`
	TokenReuse   string            `json:"token_reuse"` // on, off or default; absent: default
	AuthMethods  []string          `json:"auth_methods"`
	JWKS         json.RawMessage   `json:"jwks"`
	JWKSURI      string            `json:"jwks_uri"`
	Metadata     map[string]string `json:"metadata"`
	ClientSecret string            `json:"client_secret"`
	// Federated binds the client to subjects of trusted issuers; given
	// without keys or client_secret, the client gets no secret.
	Federated         []admin.FederatedView `json:"federated"`
	ExchangeAudiences []string              `json:"exchange_audiences"`
	// Sender-constrained tokens, named as the client metadata of RFC 9449
	// §5.2 and RFC 8705 §2.1.2 and §3.4; a client with a tls_client_auth_*
	// field and no other credential gets no secret.
	DPoPBoundAccessTokens                 bool `json:"dpop_bound_access_tokens"`
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens"`
	tlsClientAuthFields
}

// tlsClientAuthFields are what a tls_client_auth client's certificate must
// name (RFC 8705 §2.1.2), one of them at most.
type tlsClientAuthFields struct {
	SubjectDN *string `json:"tls_client_auth_subject_dn"`
	SANDNS    *string `json:"tls_client_auth_san_dns"`
	SANURI    *string `json:"tls_client_auth_san_uri"`
	SANIP     *string `json:"tls_client_auth_san_ip"`
	SANEmail  *string `json:"tls_client_auth_san_email"`
}

// value returns the fields given (absent or null as ""), and whether any was.
func (f *tlsClientAuthFields) value() (auth.TLSClientAuth, bool) {
	var t auth.TLSClientAuth
	given := false
	for _, p := range []struct {
		from *string
		to   *string
	}{{f.SubjectDN, &t.SubjectDN}, {f.SANDNS, &t.SANDNS}, {f.SANURI, &t.SANURI}, {f.SANIP, &t.SANIP}, {f.SANEmail, &t.SANEmail}} {
		if p.from != nil {
			*p.to, given = *p.from, true
		}
	}
	return t, given
}

// createClient serves POST /v1/admin/clients.
func (a *Admin) createClient(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	spec := admin.ClientSpec{
		ID: req.ClientID, Name: req.Name, Scopes: req.Scopes, Audiences: req.Audiences,
		AuthMethods: req.AuthMethods, JWKSURI: req.JWKSURI, Metadata: req.Metadata, Secret: req.ClientSecret,
		Claims: req.Claims, Condition: req.Condition,
		Federated: federatedField(req.Federated), ExchangeAudiences: req.ExchangeAudiences,

		RequireDPoP: req.DPoPBoundAccessTokens, RequireCertificateBoundTokens: req.TLSClientCertificateBoundAccessTokens,
	}
	spec.TLSClientAuth, _ = req.tlsClientAuthFields.value()
	var err error
	if spec.TokenTTL, err = parseTTL("token_ttl", req.TokenTTL); err != nil {
		a.fail(w, r, err)
		return
	}
	if spec.RateLimit, err = parseRateField(req.RateLimit); err != nil {
		a.fail(w, r, err)
		return
	}
	if spec.Quotas, spec.QuotaMode, err = parseQuotaFields(req.Quotas, req.QuotaMode); err != nil {
		a.fail(w, r, err)
		return
	}
	if spec.TokenReuse, err = parseReuseField(req.TokenReuse, true); err != nil {
		a.fail(w, r, err)
		return
	}
	if spec.JWKS, err = jwksField(req.JWKS); err != nil {
		a.fail(w, r, err)
		return
	}
	c, secret, err := a.Service.CreateClient(r.Context(), spec)
	if err != nil {
		if errors.Is(err, auth.ErrConflict) && !isFederatedConflict(err) {
			err = &auth.OAuthError{Code: "conflict", Description: fmt.Sprintf("a client with client_id %q already exists: choose another client_id, or leave it out for a generated one", req.ClientID)}
		}
		a.fail(w, r, err)
		return
	}
	if req.ClientSecret != "" {
		secret = "" // imported: the caller has it, and it is not echoed
	}
	w.Header().Set("Location", AdminPrefix+"clients/"+url.PathEscape(c.ID))
	writeAdminJSON(w, http.StatusCreated, clientWithSecret{admin.View(c), secret})
}

// getClient serves GET /v1/admin/clients/{id}.
func (a *Admin) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := a.Service.Client(r.Context(), id)
	a.answerClient(w, r, id, c, err)
}

// answerClient answers with the client's view, or with err.
func (a *Admin) answerClient(w http.ResponseWriter, r *http.Request, id string, c *auth.Client, err error) {
	if err != nil {
		a.failClient(w, r, id, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, admin.View(c))
}

// updateRequest is the body of PATCH /v1/admin/clients/{id}: absent (or
// null) fields are left alone, but jwks: null removes the JWK Set.
type updateRequest struct {
	Name        *string            `json:"name"`
	Scopes      *[]string          `json:"scopes"`
	Audiences   *[]string          `json:"audiences"`
	TokenTTL    *string            `json:"token_ttl"`
	RateLimit   *string            `json:"rate_limit"`
	Quotas      *[]string          `json:"quotas"` // [] removes them
	QuotaMode   *string            `json:"quota_mode"`
	Claims      *map[string]string `json:"claims"`    // {} removes them
	Condition   *string            `json:"condition"` // "" removes it
	TokenReuse  *string            `json:"token_reuse"`
	AuthMethods *[]string          `json:"auth_methods"`
	JWKS        json.RawMessage    `json:"jwks"` // absent: nil; null: "null"
	JWKSURI     *string            `json:"jwks_uri"`
	Metadata    *map[string]string `json:"metadata"`
	Disabled    *bool              `json:"disabled"`
	// Federated and ExchangeAudiences replace the lists; [] empties them.
	Federated         *[]admin.FederatedView `json:"federated"`
	ExchangeAudiences *[]string              `json:"exchange_audiences"`
	// The requirements are turned on or off; a tls_client_auth_* field
	// replaces whichever was registered, and "" removes it.
	DPoPBoundAccessTokens                 *bool `json:"dpop_bound_access_tokens"`
	TLSClientCertificateBoundAccessTokens *bool `json:"tls_client_certificate_bound_access_tokens"`
	tlsClientAuthFields
}

func (u *updateRequest) empty() bool {
	_, tls := u.tlsClientAuthFields.value()
	return u.Name == nil && u.Scopes == nil && u.Audiences == nil && u.TokenTTL == nil && u.RateLimit == nil &&
		u.Quotas == nil && u.QuotaMode == nil && u.Claims == nil && u.Condition == nil && u.TokenReuse == nil && u.AuthMethods == nil && u.JWKS == nil && u.JWKSURI == nil && u.Metadata == nil && u.Disabled == nil &&
		u.Federated == nil && u.ExchangeAudiences == nil &&
		u.DPoPBoundAccessTokens == nil && u.TLSClientCertificateBoundAccessTokens == nil && !tls
}

// updateClient serves PATCH /v1/admin/clients/{id}.
func (a *Admin) updateClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req updateRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.empty() {
		a.fail(w, r, badRequest("nothing to change: give at least one of %s", strings.Join(jsonFields(&req), ", ")))
		return
	}
	u := admin.ClientUpdate{
		Name: req.Name, Scopes: req.Scopes, Audiences: req.Audiences, AuthMethods: req.AuthMethods,
		JWKSURI: req.JWKSURI, Metadata: req.Metadata, Disabled: req.Disabled, ExchangeAudiences: req.ExchangeAudiences,
		Claims: req.Claims, Condition: req.Condition,

		RequireDPoP: req.DPoPBoundAccessTokens, RequireCertificateBoundTokens: req.TLSClientCertificateBoundAccessTokens,
	}
	if t, given := req.tlsClientAuthFields.value(); given {
		u.TLSClientAuth = &t
	}
	if req.Federated != nil {
		l := federatedField(*req.Federated)
		u.Federated = &l
	}
	if req.TokenTTL != nil {
		d, err := parseTTL("token_ttl", *req.TokenTTL)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u.TokenTTL = &d
	}
	if req.RateLimit != nil {
		rate, err := parseRateField(*req.RateLimit)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u.RateLimit = &rate
	}
	if req.Quotas != nil || req.QuotaMode != nil {
		var list []string
		mode := ""
		if req.Quotas != nil {
			list = *req.Quotas
		}
		if req.QuotaMode != nil {
			mode = *req.QuotaMode
		}
		qs, m, err := parseQuotaFields(list, mode)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if req.Quotas != nil {
			u.Quotas = &qs
		}
		if req.QuotaMode != nil {
			u.QuotaMode = &m
		}
	}
	if req.TokenReuse != nil {
		reuse, err := parseReuseField(*req.TokenReuse, false)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u.TokenReuse = &reuse
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
	c, err := a.Service.UpdateClient(r.Context(), id, u)
	a.answerClient(w, r, id, c, err)
}

// setDisabled serves POST /v1/admin/clients/{id}/disable and /enable.
func (a *Admin) setDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := decodeBody(w, r, &struct{}{}, false); err != nil {
			a.fail(w, r, err)
			return
		}
		c, err := a.Service.SetDisabled(r.Context(), id, disabled)
		a.answerClient(w, r, id, c, err)
	}
}

// deleteClient serves DELETE /v1/admin/clients/{id}.
func (a *Admin) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.Service.DeleteClient(r.Context(), id); err != nil {
		a.failClient(w, r, id, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// defaultSecretGrace is how long the old secret keeps working after a
// rotation when the request does not say.
const defaultSecretGrace = 24 * time.Hour

// rotateSecret serves POST /v1/admin/clients/{id}/rotate-secret.
func (a *Admin) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req struct {
		Grace *string `json:"grace"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	grace := defaultSecretGrace
	if req.Grace != nil {
		d, err := auth.ParseDuration(*req.Grace)
		if err != nil {
			a.fail(w, r, badRequest("grace: %v; 0 ends the old secret at once", err))
			return
		}
		grace = d
	}
	c, secret, err := a.Service.RotateSecret(r.Context(), id, grace)
	if err != nil {
		a.failClient(w, r, id, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, clientWithSecret{admin.View(c), secret})
}

// revokeSecret serves POST /v1/admin/clients/{id}/revoke-secret.
func (a *Admin) revokeSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req struct {
		Old bool `json:"old"`
	}
	if err := decodeBody(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	if !req.Old {
		a.fail(w, r, badRequest(`old: must be true — this endpoint ends the grace of the secrets older than the newest one; send {"old": true}`))
		return
	}
	c, err := a.Service.RevokeOldSecrets(r.Context(), id)
	a.answerClient(w, r, id, c, err)
}

// revokeTokens serves POST /v1/admin/clients/{id}/revoke-tokens.
func (a *Admin) revokeTokens(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := decodeBody(w, r, &struct{}{}, false); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.Service.RevokeClientTokens(r.Context(), id)
	a.answerClient(w, r, id, c, err)
}

// parseTTL reads a client's token lifetime: "" or "0" (or "default") is
// the server's default.
func parseTTL(field, s string) (time.Duration, error) {
	switch strings.TrimSpace(s) {
	case "", "0", "default":
		return 0, nil
	}
	d, err := auth.ParseDuration(s)
	if err != nil {
		return 0, badRequest("%s: %v; \"\" or \"0\" means the server's default", field, err)
	}
	return d, nil
}

// parseRateField reads rate_limit: "" or "0" (or "default") is the
// server's default.
func parseRateField(s string) (auth.Rate, error) {
	switch strings.TrimSpace(s) {
	case "", "0", "default":
		return auth.Rate{}, nil
	}
	rate, err := auth.ParseRate(s)
	if err != nil {
		return auth.Rate{}, badRequest("rate_limit: %v; \"\" or \"0\" means the server's default", err)
	}
	return rate, nil
}

// parseQuotaFields reads the quotas and quota_mode fields: a list of
// "N/WINDOW" (a window that divides a day) and "enforce" or "warn" ("" is
// enforce).
func parseQuotaFields(list []string, mode string) ([]auth.Rate, string, error) {
	qs, err := auth.ParseQuotas(list)
	if err != nil {
		return nil, "", badRequest("quotas: %v", err)
	}
	m, err := auth.CheckQuotaMode(mode)
	if err != nil {
		return nil, "", badRequest("quota_mode: %v", err)
	}
	return qs, m, nil
}

// parseReuseField reads token_reuse: exactly the words the document's
// enum lists, on, off and default (the server's setting), so that the API
// takes what it shows (admin.TokenReuseName); "" is default too when
// absentOK, as a create request without the field decodes to it.
func parseReuseField(s string, absentOK bool) (string, error) {
	if s == "" && absentOK {
		return auth.ReuseDefault, nil
	}
	if s == "on" || s == "off" || s == "default" {
		return auth.CheckTokenReuse(s) // takes all three
	}
	return "", badRequest(`token_reuse: %q: want "on" (a request for what a live token of the client already grants gets that token again while over half its lifetime is left), "off" (always a new token) or "default" (the server's setting, serve --reuse-tokens)`, s)
}

// jwksField reads the jwks field: a JSON object, or null for none.
func jwksField(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, badRequest(`jwks: must be a JWK Set object such as {"keys":[…]} (RFC 7517 §5), or null`)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, badRequest("jwks: %v", err)
	}
	return b.Bytes(), nil
}

// parseDuration reads a duration as the CLI does: Go's form ("36h",
