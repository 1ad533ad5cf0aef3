package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/verify"
)

// AdminGuard returns the authentication of the admin API that s serves,
// for Admin.Guard: a Bearer access token from this server, checked by the
// verification kit as any resource server would check it (signature with
// a key of the published JWK Set, typ at+jwt, iss, aud = audience,
// exp/nbf/iat, the scope auth:admin), and then checked with what only the
// server knows (issuer.Inspect): revocation, and that its client is the
// incarnation it was issued to, enabled, has not revoked its tokens
// since, and still holds auth:admin and the audience.
//
// The kit reads s's metadata and JWK Set exactly as a remote resource
// server would, but from s's own handlers in this process rather than over
// the network, so the issuer URL need not be reachable from inside (behind
// a proxy it often is not). It reads them on the first admin request.
func (s *Server) AdminGuard(audience string) (func(http.Handler) http.Handler, error) {
	s.setDefaults()
	iss := s.Issuer.Config().Issuer
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:     iss,
		Audience:   audience,
		HTTPClient: &http.Client{Transport: inProcess{handler: s.discoveryHandler(), prefix: issuerPath(iss)}},
		Lazy:       true,
		// The fetches never leave the process, so an http:// issuer is
		// safe here even on a non-loopback name.
		AllowInsecureHTTP: true,
	})
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		active := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := s.Issuer.Inspect(r.Context(), bearerToken(r.Header.Get("Authorization")))
			if err != nil {
				writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription("the token's revocation status could not be checked; retry shortly"))
				return
			}
			if !res.Active {
				verify.WriteChallenge(w, &verify.Error{Code: verify.CodeInvalidToken,
					Description: "the token is revoked, or its client is disabled, deleted (or created again since), or no longer holds a scope or audience the token carries"})
				return
			}
			next.ServeHTTP(w, r)
		})
		return v.Middleware(auth.ScopeAdmin)(active)
	}, nil
}

// discoveryHandler serves what a resource server reads of s: the metadata
// (at each of its well-known paths) and the JWK Set.
func (s *Server) discoveryHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MetadataPath, s.handleMetadata)
	mux.HandleFunc("GET "+OIDCMetadataPath, s.handleMetadata)
	mux.HandleFunc("GET "+JWKSPath, s.handleJWKS)
	if p := issuerPath(s.Issuer.Config().Issuer); p != "" {
		mux.HandleFunc("GET "+MetadataPath+p, s.handleMetadata)
	}
	return mux
}

// inProcess is an http.RoundTripper that answers requests with a handler
// in this process. An issuer with a path (https://example.com/auth, behind
// a proxy that strips /auth) names its endpoints under that path; the
// handler serves them at the root, so the prefix is removed first.
type inProcess struct {
	handler http.Handler
	prefix  string // the issuer's path, if any
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.prefix != "" {
		req = req.Clone(req.Context())
		req.URL.Path = strings.TrimPrefix(req.URL.Path, t.prefix)
		if !strings.HasPrefix(req.URL.Path, "/") {
			req.URL.Path = "/" + req.URL.Path
		}
	}
	rec := httptest.NewRecorder()
	t.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// bearerToken returns the token of an "Authorization: Bearer" value (the
// verification kit has already checked its form).
func bearerToken(h string) string {
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
