package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/oauthwire"
	"github.com/gooclaim/auth/verify"
)

// AdminPrefix is where the admin API lives. Its endpoints:
//
//	GET    /v1/admin/clients                      find clients (filters, pages)
//	POST   /v1/admin/clients                      create a client
//	GET    /v1/admin/clients/{id}                 show one
//	PATCH  /v1/admin/clients/{id}                 change settings
//	DELETE /v1/admin/clients/{id}                 delete
//	POST   /v1/admin/clients/{id}/disable         stop it obtaining tokens
//	POST   /v1/admin/clients/{id}/enable          let it again
//	POST   /v1/admin/clients/{id}/rotate-secret   new secret, old one in grace
//	POST   /v1/admin/clients/{id}/revoke-secret   end the grace of old secrets
//	POST   /v1/admin/clients/{id}/revoke-tokens   revoke every token it holds
//	GET    /v1/admin/issuers                      trusted issuers (secretless workloads)
//	POST   /v1/admin/issuers                      trust an issuer
//	GET    /v1/admin/issuers/{name}               show one
//	PATCH  /v1/admin/issuers/{name}               change settings, disable, enable
//	DELETE /v1/admin/issuers/{name}               stop trusting it (no client bound)
//	GET    /v1/admin/keys                         signing keys (public facts)
//	POST   /v1/admin/keys/rotate                  add a signing key
//	POST   /v1/admin/keys/{kid}/revoke            remove a (compromised) key at once
//	GET    /v1/admin/audit                        read the audit trail (never edit it)
//	GET    /v1/admin/stats                        live figures of the last 15 minutes, per node
//	POST   /v1/admin/apply                        plan or apply a configuration document
//	GET    /v1/admin/policies                     the server-wide policies of this node
//	POST   /v1/admin/policies/evaluate            try a client's expressions (no token)
const AdminPrefix = "/v1/admin/"

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 1 << 20

// Admin serves the admin API under AdminPrefix. Every use case goes through
// Service, which the CLI uses too, so that the two never disagree; this
// type only translates between HTTP and the service.
type Admin struct {
	Service *admin.Service
	// Guard authenticates the caller: it must put *verify.Claims in the
	// request context (verify.NewContext) or answer the request itself.
	// Server.AdminGuard is the one to use: a verify.Verifier's
	// Middleware(auth.ScopeAdmin) plus a revocation check. Requests that
	// reach the API without claims are refused with 401, so a missing or
	// broken Guard fails closed.
	Guard func(http.Handler) http.Handler
	// Logger receives the causes of 500s, which callers never see; nil means slog.Default().
	Logger *slog.Logger
	// NodeStats gives GET /v1/admin/stats the figures of the live nodes;
	// nil shows none.
	NodeStats NodeStatsFunc
}

// Handler returns the admin API, wrapped in Guard.
func (a *Admin) Handler() http.Handler {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	const clients, client = AdminPrefix + "clients", AdminPrefix + "clients/{id}"
	const issuers, issuer = AdminPrefix + "issuers", AdminPrefix + "issuers/{name}"
	routes := []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{"GET", clients, a.findClients},
		{"POST", clients, a.createClient},
		{"GET", client, a.getClient},
		{"PATCH", client, a.updateClient},
		{"DELETE", client, a.deleteClient},
		{"POST", client + "/disable", a.setDisabled(true)},
		{"POST", client + "/enable", a.setDisabled(false)},
		{"POST", client + "/rotate-secret", a.rotateSecret},
		{"POST", client + "/revoke-secret", a.revokeSecret},
		{"POST", client + "/revoke-tokens", a.revokeTokens},
		{"GET", issuers, a.listIssuers},
		{"POST", issuers, a.createIssuer},
		{"GET", issuer, a.getIssuer},
		{"PATCH", issuer, a.updateIssuer},
		{"DELETE", issuer, a.deleteIssuer},
		{"GET", AdminPrefix + "keys", a.listKeys},
		{"POST", AdminPrefix + "keys/rotate", a.rotateKeys},
		{"POST", AdminPrefix + "keys/{kid}/revoke", a.revokeKey},
		{"GET", AdminPrefix + "audit", a.auditEvents},
		{"GET", AdminPrefix + "stats", a.stats},
		{"POST", AdminPrefix + "apply", a.apply},
		{"GET", AdminPrefix + "policies", a.policies},
		{"POST", AdminPrefix + "policies/evaluate", a.evaluatePolicy},
	}
	mux := http.NewServeMux()
	var paths []string
	allowed := map[string][]string{}
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		if _, ok := allowed[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.method == "GET" {
			allowed[rt.path] = append(allowed[rt.path], "HEAD")
		}
	}
	// The same paths without a method: any other method gets 405 with
	// Allow, in the Error shape (the mux's own 405 is plain text).
	for _, p := range paths {
		mux.HandleFunc(p, methodNotAllowed(strings.Join(allowed[p], ", ")))
	}
	mux.HandleFunc(AdminPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &auth.OAuthError{Code: "not_found",
			Description: "no admin endpoint at " + r.URL.Path + "; the admin API serves " + AdminPrefix + "clients, " + AdminPrefix + "issuers, " + AdminPrefix + "keys, " + AdminPrefix + "audit, " + AdminPrefix + "stats, " + AdminPrefix + "apply and " + AdminPrefix + "policies"})
	})
	var h http.Handler = a.authorize(mux)
	if a.Guard != nil {
		h = a.Guard(h)
	}
	return h
}

// authorize refuses requests without verified admin claims (fail closed:
// Guard should have refused them already) and records who the caller is
// for the audit trail.
func (a *Admin) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		claims, ok := verify.FromContext(r.Context())
		if !ok || claims.ClientID == "" {
			a.Logger.Error("admin request without verified claims: the admin API's Guard is missing or does not set them", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+verify.Realm+`"`)
			writeError(w, http.StatusUnauthorized, &auth.OAuthError{Code: "unauthorized",
				Description: "the admin API needs an access token with scope " + auth.ScopeAdmin + ": send Authorization: Bearer <token>"})
			return
		}
		if !claims.HasScope(auth.ScopeAdmin) {
			writeError(w, http.StatusForbidden, &auth.OAuthError{Code: "insufficient_scope",
				Description: "the access token lacks scope " + auth.ScopeAdmin + ": obtain one with scope=" + auth.ScopeAdmin})
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.clientID = claims.ClientID
		}
		ctx := auth.WithAudit(r.Context(), auth.Audit{Actor: "client:" + claims.ClientID, RemoteAddr: remoteIP(r)})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// writeAdminJSON writes a successful response; authorize has set
// Cache-Control: no-store already.
func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	oauthwire.WriteJSON(w, status, v)
}

// badRequest is a 400 invalid_request with the description.
func badRequest(format string, args ...any) error {
	return auth.ErrInvalidRequest.WithDescription(fmt.Sprintf(format, args...))
}

// errBodyTooLarge answers bodies over maxAdminBody.
var errBodyTooLarge = auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the request body is larger than %d bytes; send only the fields to set", maxAdminBody))

// errUnsupportedMediaType answers bodies that are not JSON.
var errUnsupportedMediaType = &auth.OAuthError{Code: "unsupported_media_type", Description: "the request body must be JSON: send Content-Type: application/json"}

// fail answers err: an *auth.OAuthError as it is (with the status its code
// implies), a domain error by its code, anything else as a 500 whose cause
// is logged and never shown.
func (a *Admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		status := http.StatusBadRequest
		switch {
		case oe == errBodyTooLarge || oe == errApplyTooLarge:
			status = http.StatusRequestEntityTooLarge
		case oe == errUnsupportedMediaType || oe == errApplyMediaType:
			status = http.StatusUnsupportedMediaType
		case oe.Code == "not_found":
			status = http.StatusNotFound
		case oe.Code == "conflict":
			status = http.StatusConflict
		case oe.Code == auth.ErrTemporarilyUnavailable.Code:
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, oe)
		return
	}
	msg := auth.ErrorMessage(err)
	switch auth.ErrorCode(err) {
	case auth.EINVALID:
		writeError(w, http.StatusBadRequest, auth.ErrInvalidRequest.WithDescription(msg))
	case auth.ENOTFOUND:
		writeError(w, http.StatusNotFound, &auth.OAuthError{Code: "not_found", Description: msg})
	case auth.ECONFLICT:
		writeError(w, http.StatusConflict, &auth.OAuthError{Code: "conflict", Description: msg})
	case auth.EUNAVAILABLE:
		a.Logger.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription(msg+"; retry shortly"))
	default:
		a.Logger.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, auth.ErrServerError.WithDescription("the server failed to handle the request; try again later, and tell its operators if it persists"))
	}
}

// decodeBody reads r's JSON object into v, which must be a pointer to a
// struct: at most maxAdminBody bytes, no unknown fields, nothing after the
// object. An empty body leaves v alone, and is an error only when required.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, required bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errBodyTooLarge
		}
		return badRequest("the request body could not be read: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return badRequest("the request body is empty: send a JSON object with the fields %s", strings.Join(jsonFields(v), ", "))
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errUnsupportedMediaType
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonBodyError(err, v)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the request body holds more than one JSON value: send one object")
	}
	return nil
}

// jsonBodyError says what is wrong with a body in terms of its fields.
func jsonBodyError(err error, v any) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return badRequest("the request body is not valid JSON: %v at byte %d", se, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON: it ends too early")
	case errors.As(err, &te) && te.Field == "":
		return badRequest("the request body must be a JSON object, not a JSON %s", te.Value)
	case errors.As(err, &te):
		return badRequest("field %s: must be %s, not a JSON %s", te.Field, jsonKind(te.Type), te.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest("unknown field %s in the request body; the fields are %s", f, strings.Join(jsonFields(v), ", "))
	}
	return badRequest("the request body is not a valid JSON object: %v", err)
}

// jsonKind names a Go type as the JSON value it decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}

// jsonFields lists the JSON field names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	if t.Kind() != reflect.Struct {
		return out
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" { // promoted, as encoding/json promotes them
			out = append(out, jsonFields(reflect.New(f.Type).Interface())...)
			continue
		}
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
