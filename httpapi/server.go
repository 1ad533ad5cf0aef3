// Package httpapi is the HTTP face of Gooclaim Auth: routes, middleware, and
// the mapping of domain and OAuth errors to HTTP statuses — the only package
// that knows them. Endpoints:
//
//	POST /v1/auth/token                          RFC 6749 §4.4 token endpoint
//	POST /v1/auth/introspect                     RFC 7662 introspection
//	POST /v1/auth/revoke                         RFC 7009 revocation
//	     /v1/admin/…                             the admin API (admin*.go)
//	GET  /.well-known/jwks.json                  RFC 7517 JWK Set
//	GET  /.well-known/oauth-authorization-server RFC 8414 metadata
//	GET  /.well-known/openid-configuration       the same document
//	GET  /healthz, /readyz                       liveness and readiness (status only)
//	GET  /openapi.yaml                           the OpenAPI 3.1 contract
//	GET  /console/…                              the admin web console (console.go)
//	POST /console/session                        a sign-in code for an admin token
package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/oauthwire"
)

// Paths of the public endpoints.
const (
	TokenPath        = "/v1/auth/token"
	IntrospectPath   = "/v1/auth/introspect"
	RevokePath       = "/v1/auth/revoke"
	JWKSPath         = "/.well-known/jwks.json"
	MetadataPath     = "/.well-known/oauth-authorization-server"
	OIDCMetadataPath = "/.well-known/openid-configuration"
	HealthPath       = "/healthz"
	ReadyPath        = "/readyz"
)

// ScopeLister lists the scopes that may be granted (for discovery).
type ScopeLister interface {
	Scopes() []string
}

// Server holds what the handlers need. All fields are required but Logger, Clock and Ready.
type Server struct {
	Issuer *issuer.Issuer
	Keys   *issuer.KeyRing
	Scopes ScopeLister
	Logger *slog.Logger
	Clock  auth.Clock
	// Ready reports whether the node should receive traffic; nil means
	// always. It is all the public /readyz tells: the state of what the
	// node depends on is for operators, on the operations listener (package
	// ops), not for anyone who can reach this one.
	Ready func() bool
	// NoRequestLog turns off the one-line-per-request log; errors and the
	// token, introspection and revocation events are still logged.
	NoRequestLog bool
	// Admin serves the admin API under AdminPrefix, typically an Admin's
	// Handler guarded by AdminGuard; nil leaves it out.
	Admin http.Handler
	// AssertionAlgorithms are the algorithms accepted for private_key_jwt
	// client assertions; empty means that method is not offered.
	AssertionAlgorithms []string
	// TrustedProxies are the peers whose X-Forwarded-For and Forwarded
	// headers are believed (see ClientAddr); empty believes none, and the
	// peer's own address is the client's.
	TrustedProxies []netip.Prefix
	// MutualTLS says the listener asks TLS clients for a certificate
	// (RFC 8705), and TLSClientAuth that the certificate authorities to
	// verify tls_client_auth certificates against are configured: for
	// discovery. ClientCertHeader names the header in which a trusted
	// proxy forwards the client certificate of the TLS connection it
	// terminated; empty reads none. See clientcert.go.
	MutualTLS        bool
	TLSClientAuth    bool
	ClientCertHeader string
	// Fresh, when set and returning an error, refuses token, introspection
	// and revocation requests with 503 temporarily_unavailable and the
	// error's message: the node's copy of the clients is too old to be
	// trusted (see server.Config.MaxStaleness). nil means always fresh.
	Fresh func() error
	// Observer receives every request and token, introspection and
	// revocation outcome, for metrics; nil means none.
	Observer Observer
	// RequestLogJSON, when set, is the writer of Logger's handler, which
	// must then be a slog.JSONHandler with no options but Level (or a
	// wrapper that writes at level INFO what it does), without WithAttrs
	// or WithGroup, and the writer safe for concurrent use: the request
	// log's lines are written to it directly, byte for byte as that
	// handler would write them but at a fraction of the cost, when Logger
	// is enabled at INFO. nil sends them through Logger.
	RequestLogJSON io.Writer
	// DPoP, when set, accepts DPoP proofs at the token endpoint and binds
	// the tokens of requests that carry one to the proof's key (RFC 9449);
	// nil ignores the DPoP header, as a server without DPoP does, and
	// issues Bearer tokens.
	DPoP *DPoP
	// Console, when set, serves the admin web console under ConsolePath
	// (NewConsole); nil leaves it out, and its paths are unknown.
	Console *Console

	tokenURL string // the token endpoint's URL, the htu of DPoP proofs
}

// Handler returns the routed handler with its middleware.
func (s *Server) Handler() http.Handler {
	s.setDefaults()
	mux := http.NewServeMux()
	for path, h := range map[string]http.HandlerFunc{
		TokenPath:      s.handleToken,
		IntrospectPath: s.handleIntrospect,
		RevokePath:     s.handleRevoke,
	} {
		mux.HandleFunc("POST "+path, h)
		mux.HandleFunc(path, methodNotAllowed("POST"))
	}
	if s.Admin != nil {
		mux.Handle(AdminPrefix, s.Admin)
	}
	if s.Console != nil {
		s.consoleRoutes(mux)
	}
	for path, h := range map[string]http.HandlerFunc{
		JWKSPath:         s.handleJWKS,
		MetadataPath:     s.handleMetadata,
		OIDCMetadataPath: s.handleMetadata,
		HealthPath:       s.handleHealth,
		ReadyPath:        s.handleReady,
		OpenAPIPath:      s.handleOpenAPI,
		SchemaPath:       s.handleSchema,
	} {
		mux.HandleFunc("GET "+path, h)
		mux.HandleFunc(path, methodNotAllowed("GET, HEAD"))
	}
	// RFC 8414 §3: for an issuer with a path, the metadata lives at the
	// well-known path followed by the issuer's path.
	if p := issuerPath(s.Issuer.Config().Issuer); p != "" {
		mux.HandleFunc("GET "+MetadataPath+p, s.handleMetadata)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &auth.OAuthError{Code: "not_found", Description: "no endpoint at this path; the token endpoint is POST " + TokenPath})
	})
	h := securityHeaders(canonicalOnly(mux))
	if !s.NoRequestLog || s.Observer != nil {
		h = s.logRequests(h)
	}
	return s.recoverPanics(s.forwardedCertificate(s.clientAddr(closeAfterAmbiguousFraming(h))))
}

// setDefaults fills in the optional fields left nil.
func (s *Server) setDefaults() {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Clock == nil {
		s.Clock = auth.SystemClock{}
	}
	s.setDPoPDefaults()
}

// issuerPath is the path of an issuer URL without its trailing slash ("" for none).
func issuerPath(iss string) string {
	i := strings.Index(iss, "://")
	if i < 0 {
		return ""
	}
	rest := iss[i+3:]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return ""
	}
	return strings.TrimSuffix(rest[j:], "/")
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, &auth.OAuthError{Code: "method_not_allowed", Description: r.Method + " is not allowed here; use " + allow})
	}
}

// writeError writes err in the Error shape. A 503 always says when to
// retry (RFC 9110 §10.2.3): every reason for one here is expected to pass
// within moments, and a client that knows waits instead of hammering.
func writeError(w http.ResponseWriter, status int, err error) {
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	oauthwire.WriteError(w, status, err)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	oauthwire.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady answers 200 {"status":"ready"} when the node should receive
// traffic and 503 {"status":"unavailable"} otherwise (no signing key, its
// copy of the clients older than allowed, shutting down) — and nothing
// more, not even why: this listener is public, and the reasons name key
// IDs, the store's backend and its last error (database hosts), client
// counts and the rate limiter's state. A load balancer needs only the
// status; operators read the detail on the operations listener.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.Ready != nil && !s.Ready() {
		oauthwire.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	oauthwire.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// seconds rounds a duration up to whole seconds, as Retry-After and the rate-limit headers want.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
