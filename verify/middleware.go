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
// It makes the checks of VerifyRequest, sender-constrained tokens
// included.
//
// The token is read from the Authorization header only, "Bearer <token>"
// with the scheme in any case (RFC 6750 §2.1), or "DPoP <token>" with
// Config.DPoP (RFC 9449 §7.1); tokens in the query string or a form body
// (§2.2, §2.3) are not accepted, since they end up in logs and caches.
// Refusals follow RFC 6750 §3, with a JSON body {"error",
// "error_description"}:
//
//	no Bearer credentials:    401, WWW-Authenticate: Bearer realm="gooclaim"
//	a bad token:              401, Bearer realm="gooclaim", error="invalid_token", error_description="…"
//	a missing scope:          403, Bearer realm="gooclaim", error="insufficient_scope", error_description="…", scope="a b"
//	two Authorization headers: 400, Bearer realm="gooclaim", error="invalid_request", error_description="…"
//
// With Config.DPoP every answer also carries the challenge
// `DPoP realm="gooclaim", algs="ES256 …"` (RFC 9449 §7.1), and a request
// made with the DPoP scheme is answered with it alone, its error one of
// invalid_token, insufficient_scope, invalid_dpop_proof or use_dpop_nonce
// (the last with a DPoP-Nonce header). With DPoP.Required the Bearer
// challenge is left out.
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
			c, e := v.verifyRequest(r, required)
			if e != nil || c == nil {
				v.WriteChallenge(w, e)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

// VerifyRequest verifies the access token of an HTTP request, as
// Middleware does, and returns its claims: the token of the Authorization
// header checked as Verify does, then its binding. A DPoP-bound token
// (cnf.jkt) must come with the DPoP scheme and a proof for this request
// (Config.DPoP; RFC 9449 §7.1): presented as Bearer it is refused, since
// without its proof it is what a thief holds (§7.2). A certificate-bound
// token (cnf x5t#S256) must come over a connection with the client
// certificate it names, or from a trusted proxy that forwards it (RFC 8705
// §3). A request without credentials gets ErrNoCredentials.
//
// Errors are *Error, to answer with the Verifier's WriteChallenge.
func (v *Verifier) VerifyRequest(r *http.Request) (*Claims, error) {
	c, e := v.verifyRequest(r, nil)
	switch {
	case e != nil:
		return nil, e
	case c == nil:
		return nil, ErrNoCredentials
	}
	return c, nil
}

// ErrNoCredentials is VerifyRequest's error for a request with no access
// token at all; WriteChallenge answers it with a challenge without error,
// as RFC 6750 §3.1 asks.
var ErrNoCredentials = &Error{}

// verifyRequest is VerifyRequest with Middleware's extra scopes; nil, nil
// when the request has no credentials.
func (v *Verifier) verifyRequest(r *http.Request, extraScopes []string) (*Claims, *Error) {
	scheme, token, e := v.credentials(r)
	if e != nil || token == "" {
		return nil, e
	}
	isDPoP := scheme == schemeDPoP
	c, e := v.verify(r.Context(), token, extraScopes)
	if e != nil {
		e.dpop = isDPoP
		return nil, e
	}
	cnf := c.Confirmation
	dpopBound := cnf != nil && cnf.JKT != ""
	switch {
	case dpopBound && !isDPoP:
		// RFC 9449 §7.2: a DPoP-bound token as Bearer is a downgrade.
		return nil, invalidToken("the token is DPoP-bound (cnf.jkt): send it as Authorization: DPoP <token> with a DPoP proof (RFC 9449 section 7.2)")
	case isDPoP && !dpopBound:
		return nil, dpopError(CodeInvalidToken, "the token is not DPoP-bound: send it as Authorization: Bearer <token>, without a DPoP proof", nil)
	case isDPoP:
		if e := v.checkDPoP(r, token, c); e != nil {
			return nil, e
		}
	case v.cfg.dpop != nil && v.cfg.dpop.required:
		return nil, invalidToken("this resource accepts DPoP-bound tokens only: request the token with a DPoP proof and send it as Authorization: DPoP <token>")
	}
	if cnf != nil && cnf.X5TS256 != "" {
		if e := v.checkCertificateBinding(r, c); e != nil {
			e.dpop = isDPoP
			return nil, e
		}
	}
	return c, nil
}

// Authorization schemes read from requests.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// credentials returns the scheme and token of the Authorization header:
// Bearer (RFC 6750 §2.1) or, with Config.DPoP, DPoP (RFC 9449 §7.1);
// token "" if there are none.
func (v *Verifier) credentials(r *http.Request) (scheme, token string, e *Error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", "", nil
	case 1:
	default:
		return "", "", &Error{Code: CodeInvalidRequest, Description: "the request has more than one Authorization header"}
	}
	name, rest, _ := strings.Cut(values[0], " ")
	switch {
	case strings.EqualFold(name, schemeBearer):
		scheme = schemeBearer
	case strings.EqualFold(name, schemeDPoP) && v.cfg.dpop != nil:
		scheme = schemeDPoP
	default:
		return "", "", nil // another scheme: no credentials of ours
	}
	isDPoP := scheme == schemeDPoP
	token = strings.TrimLeft(rest, " ")
	if token == "" {
		e := invalidToken("the Authorization header has the " + scheme + " scheme but no token")
		e.dpop = isDPoP
		return "", "", e
	}
	if !isB64Token(token) {
		e := invalidToken("the " + scheme + " token has characters a token cannot have (RFC 6750 section 2.1)")
		e.dpop = isDPoP
		return "", "", e
	}
	return scheme, token, nil
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
// Bearer credentials at all, so the challenge has no error attribute. It
// knows nothing of DPoP: a Verifier's WriteChallenge method does.
func WriteChallenge(w http.ResponseWriter, e *Error) {
	writeChallenge(w, e, nil)
}

// WriteChallenge answers a refused request as Middleware does: the
// function WriteChallenge's answer, with the DPoP challenge (RFC 9449
// §7.1) when Config.DPoP is set, and a DPoP-Nonce header for
// use_dpop_nonce. e == nil (or ErrNoCredentials) means the request had no
// credentials.
func (v *Verifier) WriteChallenge(w http.ResponseWriter, e *Error) {
	writeChallenge(w, e, v.cfg.dpop)
}

func writeChallenge(w http.ResponseWriter, e *Error, d *dpopSettings) {
	if e != nil && e.Code == "" {
		e = nil // ErrNoCredentials
	}
	status := http.StatusUnauthorized
	var attrs string
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{"unauthorized", "this resource needs an access token: send Authorization: Bearer <token>"}
	if d != nil {
		body.Description = "this resource needs an access token: send Authorization: DPoP <token> with a DPoP proof, or Bearer <token>"
		if d.required {
			body.Description = "this resource needs a DPoP-bound access token: send Authorization: DPoP <token> with a DPoP proof"
		}
	}
	if e != nil {
		desc := headerSafe(e.Description)
		body.Error, body.Description = e.Code, desc
		attrs = `, error="` + e.Code + `"`
		if desc != "" {
			attrs += `, error_description="` + desc + `"`
		}
		switch e.Code {
		case CodeInsufficientScope:
			status = http.StatusForbidden
			if len(e.Scopes) > 0 {
				attrs += `, scope="` + strings.Join(e.Scopes, " ") + `"`
			}
		case CodeInvalidRequest:
			status = http.StatusBadRequest
		}
	}
	h := w.Header()
	bearer := `Bearer realm="` + Realm + `"`
	switch {
	case d == nil:
		h.Set("WWW-Authenticate", bearer+attrs)
	case e != nil && e.dpop:
		h.Set("WWW-Authenticate", `DPoP realm="`+Realm+`", algs="`+d.algs+`"`+attrs)
	default:
		h.Del("WWW-Authenticate")
		if !d.required || (e != nil && e.Code == CodeInvalidRequest) {
			h.Add("WWW-Authenticate", bearer+attrs)
			attrs = ""
		}
		h.Add("WWW-Authenticate", `DPoP realm="`+Realm+`", algs="`+d.algs+`"`+attrs)
	}
	if d != nil && d.nonces != nil && e != nil && e.Code == CodeUseDPoPNonce {
		h.Set("DPoP-Nonce", d.nonces.Nonce())
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(body) // two strings: cannot fail
	w.Write(append(b, '\n'))
}
