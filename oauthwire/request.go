// Package oauthwire is the OAuth 2.0 wire format of the token endpoint: it
// turns an HTTP request into an auth.TokenRequest (RFC 6749 §4.4.2, §2.3.1,
// §3.2; RFC 8707 resource indicators) and writes responses and errors in the
// form of RFC 6749 §5.1 and §5.2. It knows nothing of HTTP statuses; the
// httpapi package maps errors to them.
package oauthwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gooclaim/auth"
)

// MaxBodyBytes bounds a token request's body. Real requests are a few hundred bytes.
const MaxBodyBytes = 64 << 10

// MaxClientIDLength bounds a client_id; registered IDs are far shorter.
const MaxClientIDLength = 256

// ErrBodyTooLarge is returned for a body over MaxBodyBytes.
var ErrBodyTooLarge = auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))

// Request parameters this server reads; any other is ignored (RFC 6749 §3.2).
const (
	paramGrantType           = "grant_type"
	paramClientID            = "client_id"
	paramClientSecret        = "client_secret"
	paramScope               = "scope"
	paramResource            = "resource"
	paramAudience            = "audience"
	paramClientAssertionType = "client_assertion_type" // RFC 7521 §4.2
	paramClientAssertion     = "client_assertion"
	paramToken               = "token"           // RFC 7662 §2.1, RFC 7009 §2.1
	paramTokenTypeHint       = "token_type_hint" // idem
	// Token exchange (RFC 8693 §2.1).
	paramSubjectToken       = "subject_token"
	paramSubjectTokenType   = "subject_token_type"
	paramActorToken         = "actor_token"
	paramActorTokenType     = "actor_token_type"
	paramRequestedTokenType = "requested_token_type"
)

// knownParams is the order in which parameters are checked, so that the
// error reported for a request with several problems is always the same.
//
// The token exchange parameters come last: paramIndex scans in this order,
// so the client credentials parameters are found as fast as before.
var knownParams = [...]string{paramGrantType, paramClientID, paramClientSecret, paramScope, paramResource, paramAudience,
	paramClientAssertionType, paramClientAssertion, paramToken, paramTokenTypeHint,
	paramSubjectToken, paramSubjectTokenType, paramActorToken, paramActorTokenType, paramRequestedTokenType}

// params holds the known parameters' values, indexed like knownParams.
type params [len(knownParams)]string

func paramIndex(name string) int {
	for i, n := range knownParams {
		if n == name {
			return i
		}
	}
	return -1
}

func (p *params) get(name string) string { return p[paramIndex(name)] }

// bodyBuf is a request body's buffer and the reader that bounds it, reused.
type bodyBuf struct {
	buf bytes.Buffer
	lr  io.LimitedReader
}

var bufPool = sync.Pool{New: func() any { return new(bodyBuf) }}

// ParseTokenRequest reads a token request: an application/json (the seed's
// form) or application/x-www-form-urlencoded body, with the client's
// credentials in the body or in an HTTP Basic header.
//
// On error the returned request is still filled as far as parsing got, so
// that the caller can charge the request to the client_id it names; the error
// is an *auth.OAuthError (ErrBodyTooLarge for an oversized body).
func ParseTokenRequest(r *http.Request) (auth.TokenRequest, error) {
	req, _, err := parseRequest(r)
	return req, err
}

// TokenOperation is an introspection (RFC 7662 §2.1) or revocation
// (RFC 7009 §2.1) request: the calling client's credentials and the token
// it asks about.
type TokenOperation struct {
	// Client holds the caller's credentials (GrantType and the token
	// request's other parameters are empty).
	Client        auth.TokenRequest
	Token         string
	TokenTypeHint string
}

// MaxTokenLength bounds the token parameter, and the subject_token and
// actor_token of a token exchange; our tokens are under 2 KiB, a
// Kubernetes service account token or a CI job's OIDC token under 4 KiB.
const MaxTokenLength = 16 << 10

// MaxTokenTypeLength bounds a token type URI (RFC 8693 §3); the defined
// ones are under 64 bytes.
const MaxTokenTypeLength = 256

// readExchange reads the token exchange parameters (RFC 8693 §2.1) into
// req, bounded in size; what they mean, and which are required, is the
// issuer's to decide (it answers invalid_request per §2.2.2).
func readExchange(req *auth.TokenRequest, p *params) error {
	req.SubjectToken, req.SubjectTokenType = p.get(paramSubjectToken), p.get(paramSubjectTokenType)
	req.ActorToken, req.ActorTokenType = p.get(paramActorToken), p.get(paramActorTokenType)
	req.RequestedTokenType = p.get(paramRequestedTokenType)
	switch {
	case len(req.SubjectToken) > MaxTokenLength:
		return auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("subject_token is longer than %d bytes", MaxTokenLength))
	case len(req.ActorToken) > MaxTokenLength:
		return auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("actor_token is longer than %d bytes", MaxTokenLength))
	case len(req.SubjectTokenType) > MaxTokenTypeLength || len(req.ActorTokenType) > MaxTokenTypeLength || len(req.RequestedTokenType) > MaxTokenTypeLength:
		return auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("a token type is longer than %d bytes: token types are URIs such as %s (RFC 8693 section 3)", MaxTokenTypeLength, auth.TokenTypeJWT))
	}
	return nil
}

// ParseTokenOperation reads an introspection or revocation request, in the
// same encodings and with the same client authentication as a token request.
func ParseTokenOperation(r *http.Request) (TokenOperation, error) {
	req, p, err := parseRequest(r)
	op := TokenOperation{Client: req, Token: p.get(paramToken), TokenTypeHint: p.get(paramTokenTypeHint)}
	if err != nil {
		return op, err
	}
	switch {
	case op.Token == "":
		return op, auth.ErrInvalidRequest.WithDescription("the token parameter is required: send token=<the access token>")
	case len(op.Token) > MaxTokenLength:
		return op, auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the token is longer than %d bytes", MaxTokenLength))
	}
	return op, nil
}

func parseRequest(r *http.Request) (auth.TokenRequest, params, error) {
	var req auth.TokenRequest
	basicID, basicSecret, hasBasic, basicErr := parseBasic(r.Header)
	if hasBasic && basicErr == nil {
		req.ClientID, req.ClientSecret, req.AuthMethod = basicID, basicSecret, auth.AuthClientSecretBasic
	}
	p, err := readParams(r)
	if err != nil {
		return req, p, err
	}
	if basicErr != nil {
		return req, p, basicErr
	}
	req.GrantType, req.Scope, req.Resource, req.Audience = p.get(paramGrantType), p.get(paramScope), p.get(paramResource), p.get(paramAudience)
	bodyID, bodySecret := p.get(paramClientID), p.get(paramClientSecret)
	if !hasBasic {
		req.ClientID, req.ClientSecret = bodyID, bodySecret
		if bodySecret != "" {
			req.AuthMethod = auth.AuthClientSecretPost
		}
	}
	if err := readAssertion(&req, &p, hasBasic); err != nil {
		return req, p, err
	}
	if err := readExchange(&req, &p); err != nil {
		return req, p, err
	}
	if len(req.ClientID) > MaxClientIDLength {
		// Not charged to this client_id: a limiter entry per invented
		// kilobyte-long ID would let a flood grow memory. The caller charges
		// the address instead.
		req.ClientID = ""
		return req, p, auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("client_id is longer than %d characters", MaxClientIDLength))
	}
	if !isVSCHAR(req.ClientID) {
		return req, p, auth.ErrInvalidRequest.WithDescription("client_id may contain only printable ASCII characters (RFC 6749 Appendix A.1)")
	}
	if !isVSCHAR(req.ClientSecret) {
		return req, p, auth.ErrInvalidRequest.WithDescription("client_secret may contain only printable ASCII characters (RFC 6749 Appendix A.2)")
	}
	if hasBasic {
		if bodySecret != "" {
			return req, p, auth.ErrInvalidRequest.WithDescription("the client authenticated with both HTTP Basic and client_secret in the body; use exactly one method")
		}
		if bodyID != "" && bodyID != req.ClientID {
			return req, p, auth.ErrInvalidRequest.WithDescription("client_id in the body differs from the client in the Authorization header")
		}
	}
	return req, p, nil
}

// readParams reads the body according to its content type.
func readParams(r *http.Request) (params, error) {
	var p params
	ct := r.Header.Values("Content-Type")
	if len(ct) != 1 {
		return p, auth.ErrInvalidRequest.WithDescription("send exactly one Content-Type header: application/json or application/x-www-form-urlencoded")
	}
	mt, err := mediaType(ct[0])
	if err != nil {
		return p, err
	}
	if r.ContentLength > MaxBodyBytes {
		return p, ErrBodyTooLarge
	}
	bb := bufPool.Get().(*bodyBuf)
	buf := &bb.buf
	defer func() {
		if buf.Cap() <= MaxBodyBytes+1 {
			buf.Reset()
			bb.lr = io.LimitedReader{}
			bufPool.Put(bb)
		}
	}()
	buf.Reset()
	bb.lr = io.LimitedReader{R: r.Body, N: MaxBodyBytes + 1}
	if _, err := buf.ReadFrom(&bb.lr); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return p, ErrBodyTooLarge
		}
		return p, auth.ErrInvalidRequest.WithDescription("the request body could not be read completely")
	}
	if buf.Len() > MaxBodyBytes {
		return p, ErrBodyTooLarge
	}
	body := buf.Bytes()
	if !utf8.Valid(body) {
		return p, auth.ErrInvalidRequest.WithDescription("the request body is not valid UTF-8")
	}
	// Parse first, then return p: in "return p, parseJSON(body, &p)" the
	// order in which p and the call are evaluated is unspecified.
	if mt == "application/json" {
		err = parseJSON(body, &p)
	} else {
		err = parseForm(body, &p)
	}
	return p, err
}

// mediaType checks the Content-Type value ct and returns its media type:
// one of the two a client may send, the charset, if any, UTF-8. The two
// values clients send are recognised without mime.ParseMediaType, which
// allocates a map.
func mediaType(ct string) (string, error) {
	switch ct {
	case "application/x-www-form-urlencoded", "application/json":
		return ct, nil
	}
	mt, mparams, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/x-www-form-urlencoded") {
		return "", auth.ErrInvalidRequest.WithDescription("unsupported Content-Type " + quoteTrim(ct) + ": send application/json or application/x-www-form-urlencoded")
	}
	if cs, ok := mparams["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", auth.ErrInvalidRequest.WithDescription("unsupported charset " + quoteTrim(cs) + ": the body must be UTF-8")
	}
	return mt, nil
}

func parseForm(body []byte, p *params) error {
	if ok, err := parseFormFast(body, p); ok {
		return err
	}
	return parseFormGeneral(body, p)
}

// parseFormGeneral is parseForm for any body, with url.ParseQuery.
func parseFormGeneral(body []byte, p *params) error {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return auth.ErrInvalidRequest.WithDescription("the form body is malformed: " + formError(err))
	}
	for _, name := range knownParams { // in a fixed order, so the error reported is too
		vs, ok := values[name]
		if !ok {
			continue
		}
		f := &p[paramIndex(name)]
		if len(vs) > 1 {
			return auth.ErrInvalidRequest.WithDescription("parameter " + name + " is repeated; send it once (RFC 6749 §3.2)")
		}
		if !utf8.ValidString(vs[0]) {
			return auth.ErrInvalidRequest.WithDescription("parameter " + name + " is not valid UTF-8 once decoded")
		}
		*f = vs[0]
	}
	return nil
}

// formError describes a url.ParseQuery error without echoing the body back.
func formError(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "a percent-escape is invalid"
	}
	if strings.Contains(err.Error(), "semicolon") {
		return "semicolons are not separators; use &"
	}
	return "it is not application/x-www-form-urlencoded"
}

// parseJSON reads one JSON object. Known parameters must be strings (null
// counts as absent) and appear once; unknown members are skipped whatever
// their type (RFC 6749 §3.2: unknown parameters are ignored).
func parseJSON(body []byte, p *params) error {
	if parseJSONFast(body, p) {
		return nil
	}
	return parseJSONGeneral(body, p)
}

// parseJSONGeneral is parseJSON for any body, with a json.Decoder.
func parseJSONGeneral(body []byte, p *params) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return auth.ErrInvalidRequest.WithDescription("the JSON body must be an object such as {\"grant_type\":\"client_credentials\",\"client_id\":\"…\",\"client_secret\":\"…\"}")
	}
	var seen [len(knownParams)]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		name := tok.(string) // object keys are always strings
		i := paramIndex(name)
		if i < 0 {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonError(err)
			}
			continue
		}
		f := &p[i]
		if seen[i] {
			return auth.ErrInvalidRequest.WithDescription("member " + name + " appears more than once in the JSON object")
		}
		seen[i] = true
		v, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		switch v := v.(type) {
		case string:
			*f = v
		case nil:
		case json.Delim:
			return auth.ErrInvalidRequest.WithDescription(name + " must be a string, not an " + map[json.Delim]string{'{': "object", '[': "array"}[v])
		default:
			return auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("%s must be a string, not a %s", name, jsonType(v)))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return auth.ErrInvalidRequest.WithDescription("the body holds more than one JSON value")
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func jsonError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the body is not valid JSON: %s at byte %d", se.Error(), se.Offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return auth.ErrInvalidRequest.WithDescription("the JSON body is empty or ends too early")
	}
	return auth.ErrInvalidRequest.WithDescription("the body is not valid JSON")
}

// parseBasic reads HTTP Basic client credentials (RFC 7617), each
// form-url-decoded as RFC 6749 §2.3.1 requires. hasBasic is true when an
// Authorization header was sent; err says what was wrong with it.
func parseBasic(h http.Header) (id, secret string, hasBasic bool, err error) {
	vs := h.Values("Authorization")
	if len(vs) == 0 {
		return "", "", false, nil
	}
	if len(vs) > 1 {
		return "", "", true, auth.ErrInvalidRequest.WithDescription("send at most one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vs[0], " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", true, auth.ErrInvalidClient.WithDescription("unsupported authentication scheme: use HTTP Basic (client_secret_basic) or client_secret in the body (client_secret_post)")
	}
	raw, derr := decodeBase64(strings.TrimSpace(rest))
	if derr != nil {
		return "", "", true, auth.ErrInvalidClient.WithDescription("the Basic credentials are not valid base64")
	}
	u, p, ok := strings.Cut(raw, ":")
	if !ok {
		return "", "", true, auth.ErrInvalidClient.WithDescription("the Basic credentials have no colon between client_id and client_secret")
	}
	id, err1 := url.QueryUnescape(u)
	secret, err2 := url.QueryUnescape(p)
	if err1 != nil || err2 != nil {
		return "", "", true, auth.ErrInvalidClient.WithDescription("the Basic credentials are not form-url-encoded correctly (RFC 6749 §2.3.1)")
	}
	if id == "" {
		return "", "", true, auth.ErrInvalidClient.WithDescription("the Basic credentials have an empty client_id")
	}
	return id, secret, true, nil
}

// decodeBase64 is base64.StdEncoding.DecodeString returning a string, with
// one allocation for credentials of usual length (decoded on the stack).
func decodeBase64(s string) (string, error) {
	var src [512]byte
	var a [384]byte
	if len(s) > len(src) {
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err
	}
	n, err := base64.StdEncoding.Decode(a[:], src[:copy(src[:], s)])
	if err != nil {
		return "", err
	}
	return string(a[:n]), nil
}

// isVSCHAR reports whether s holds only %x20-7E.
func isVSCHAR(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// quoteTrim quotes a client-supplied value for an error message, cut short.
func quoteTrim(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
