package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/verify"
)

// inProcess is an http.RoundTripper that serves requests with a handler in
// this process: the admin API's verifier reads this server's own metadata
// and JWK Set through it, exactly as a remote resource server would over
// the network, without depending on the issuer URL being reachable from
// inside (behind a proxy it often is not).
//
// An issuer with a path (https://example.com/auth, behind a proxy that strips
// /auth) names its endpoints under that path; the handler serves them at the
// root, so the prefix is removed first.
type inProcess struct {
	handler *atomic.Pointer[http.Handler]
	prefix  string // the issuer's path, if any
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	if t.prefix != "" {
		req = req.Clone(req.Context())
		req.URL.Path = strings.TrimPrefix(req.URL.Path, t.prefix)
		if !strings.HasPrefix(req.URL.Path, "/") {
			req.URL.Path = "/" + req.URL.Path
		}
	}
	(*t.handler.Load()).ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// newAdminGuard returns the admin API's authentication: a Bearer access
// token from this server, checked by the verification kit like any resource
// server would (signature with a published key, typ at+jwt, iss, aud = the
// admin audience, exp/nbf/iat, the scope auth:admin), and then checked
// with what only the server knows (issuer.Inspect): revocation, and that
// its client is the incarnation it was issued to, enabled, has not revoked
// its tokens since, and still holds auth:admin and the admin audience.
func newAdminGuard(ctx context.Context, iss *issuer.Issuer, audience string, self *atomic.Pointer[http.Handler]) (func(http.Handler) http.Handler, error) {
	v, err := verify.New(ctx, verify.Config{
		Issuer:     iss.Config().Issuer,
		Audience:   audience,
		HTTPClient: &http.Client{Transport: inProcess{handler: self, prefix: issuerPath(iss.Config().Issuer)}},
		Lazy:       true, // the handler it reads is built after the guard
		// The fetches never leave the process, so an http:// issuer is
		// safe here even on a non-loopback name.
		AllowInsecureHTTP: true,
	})
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		active := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := bearer(r.Header.Get("Authorization"))
			res, err := iss.Inspect(r.Context(), token)
			if err != nil {
				writeAdminChallenge(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the token's revocation status could not be checked; retry shortly")
				return
			}
			if !res.Active {
				writeAdminChallenge(w, http.StatusUnauthorized, verify.CodeInvalidToken, "the token is revoked, or its client is disabled, deleted (or created again since), or no longer holds a scope or audience the token carries")
				return
			}
			next.ServeHTTP(w, r)
		})
		return v.Middleware(auth.ScopeAdmin)(active)
	}, nil
}

// issuerPath is the path of an issuer URL without its trailing slash ("" for none).
func issuerPath(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// bearer returns the token of an "Authorization: Bearer" value (the
// verification kit has already checked its form).
func bearer(h string) string {
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func writeAdminChallenge(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+verify.Realm+`", error="`+code+`", error_description="`+description+`"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(`{"error":"` + code + `","error_description":"` + description + `"}` + "\n"))
}
