package verify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// Realm is the realm of the WWW-Authenticate challenges Middleware sends.
const Realm = "gooclaim"

type claimsKey struct{}

// FromContext returns the claims Middleware verified for this request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// NewContext returns a copy of ctx carrying c, as Middleware does (for
// handlers' tests).
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// Middleware returns HTTP middleware that lets a request through only with
// a valid access token granting requiredScopes (in addition to
// Config.RequiredScopes; an argument holding spaces counts as several
// scopes), and puts its claims in the request's context (FromContext).
//
// The token is read from the Authorization header only, "Bearer <token>"
// with the scheme in any case (RFC 6750 §2.1); tokens in the query string or
// a form body (§2.2, §2.3) are not accepted, since they end up in logs and
// caches. Refusals follow RFC 6750 §3, with a JSON body
// {"error", "error_description"}:
//
//	no Bearer credentials:    401, WWW-Authenticate: Bearer realm="gooclaim"
//	a bad token:              401, Bearer realm="gooclaim", error="invalid_token", error_description="…"
//	a missing scope:          403, Bearer realm="gooclaim", error="insufficient_scope", error_description="…", scope="a b"
//	two Authorization headers: 400, Bearer realm="gooclaim", error="invalid_request", error_description="…"
//
// It panics if a scope contains a double quote or a backslash: such a
// scope cannot be named in a challenge.
func (v *Verifier) Middleware(requiredScopes ...string) func(http.Handler) http.Handler {
	var required []string
	for _, s := range requiredScopes {
		for _, f := range strings.Fields(s) {
			if strings.ContainsAny(f, `"\`) {
				panic("verify: Middleware: scope " + quote(f) + " contains a double quote or a backslash")
			}
			required = append(required, f)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, e := bearerToken(r)
			if e != nil {
				WriteChallenge(w, e)
				return
			}
			if token == "" {
				WriteChallenge(w, nil)
				return
			}
			c, e := v.verify(r.Context(), token, required)
			if e != nil {
				WriteChallenge(w, e)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

// bearerToken returns the token of the Authorization header's Bearer
// credentials (RFC 6750 §2.1), "" if there are none.
func bearerToken(r *http.Request) (string, *Error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", &Error{Code: CodeInvalidRequest, Description: "the request has more than one Authorization header"}
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil // another scheme: no Bearer credentials
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return "", invalidToken("the Authorization header has the Bearer scheme but no token")
	}
	if !isB64Token(token) {
		return "", invalidToken("the Bearer token has characters a token cannot have (RFC 6750 §2.1)")
	}
	return token, nil
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// WriteChallenge answers a refused request as RFC 6750 §3 says — 401 with
// a WWW-Authenticate challenge, 403 for insufficient_scope, 400 for
// invalid_request — and the body {"error", "error_description"}, for a
// resource server that makes a check of its own after Middleware's (the
// admin API's revocation check is one). e == nil means the request had no
// Bearer credentials at all, so the challenge has no error attribute.
func WriteChallenge(w http.ResponseWriter, e *Error) {
	status := http.StatusUnauthorized
	challenge := `Bearer realm="` + Realm + `"`
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{"unauthorized", "this resource needs an access token: send Authorization: Bearer <token>"}
	if e != nil {
		desc := headerSafe(e.Description)
		body.Error, body.Description = e.Code, desc
		challenge += `, error="` + e.Code + `"`
		if desc != "" {
			challenge += `, error_description="` + desc + `"`
		}
		switch e.Code {
		case CodeInsufficientScope:
			status = http.StatusForbidden
			if len(e.Scopes) > 0 {
				challenge += `, scope="` + strings.Join(e.Scopes, " ") + `"`
			}
		case CodeInvalidRequest:
			status = http.StatusBadRequest
		}
	}
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(body) // two strings: cannot fail
	w.Write(append(b, '\n'))
}
