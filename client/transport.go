package client

import (
	"context"
	"crypto"
	"errors"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// Transport is an http.RoundTripper that sends each request with a token of
// Source in its Authorization header (RFC 6750 §2.1). It does not modify
// the caller's request: it sends a clone.
//
// A DPoP token (token_type "DPoP", RFC 9449) is sent as "Authorization:
// DPoP <token>" with a DPoP header holding a new proof signed by DPoPKey,
// for the request's method and URL and the token's hash (ath, §7). When
// the resource server answers 401 with a DPoP challenge whose error is
// "use_dpop_nonce" and a new DPoP-Nonce header (§9), the request is sent
// once more with a proof carrying that nonce; the nonce is kept for the
// next requests to that server.
//
// When the resource server answers 401 with a Bearer (or DPoP) challenge
// whose error is "invalid_token" (RFC 6750 §3.1), and Source is one made
// by Config.TokenSource, Transport drops that token from Source's cache
// and sends the request once more with a new token. Either retry needs a
// request without a body or with one that can be replayed
// (Request.GetBody, which http.NewRequest sets for in-memory bodies);
// otherwise the 401 is returned.
//
// The token is sent only to the host of the request the caller made: a
// redirect to another host (or port) is followed without it.
type Transport struct {
	// Source supplies the tokens. It must be safe for concurrent use; the
	// sources of Config.TokenSource and oauth2.ReuseTokenSource are.
	Source oauth2.TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// DPoPKey signs the proofs of DPoP tokens: the key the tokens are
	// bound to (Config.DPoPKey, or the key Config.DPoP generated, which
	// Config.Client passes on). A DPoP token without it fails the request.
	DPoPKey crypto.Signer

	binding *bindingState // shared with the Config; nil: local
	local   bindingState
}

// contextSource is a source whose callers can give up waiting on their own
// context; Config.TokenSource's is one.
type contextSource interface {
	token(ctx context.Context) (*oauth2.Token, error)
	drop(*oauth2.Token)
}

// RoundTrip sends req with a token.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameHostAsFirst(req) {
		return t.base().RoundTrip(req)
	}
	tok, err := t.token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.send(req, tok, req.Body)
	if err != nil {
		return nil, err
	}
	if isDPoPToken(tok) && t.bindingState().keepNonce(req.URL.String(), resp.Header) &&
		challengeError(resp, "DPoP") == "use_dpop_nonce" && replayable {
		if resp, err = t.resend(req, resp, tok); err != nil {
			return nil, err
		}
	}
	if !isInvalidToken(resp) {
		return resp, nil
	}
	cs, ok := t.Source.(contextSource)
	if !ok || !replayable {
		return resp, nil
	}
	cs.drop(tok)
	fresh, err := cs.token(req.Context())
	if err != nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil // no better token: the caller gets the 401
	}
	return t.resend(req, resp, fresh)
}

// resend sends req again with tok, after the answer resp, which it
// discards; on failure to rewind the body the caller gets resp.
func (t *Transport) resend(req *http.Request, resp *http.Response, tok *oauth2.Token) (*http.Response, error) {
	body := req.Body
	if req.GetBody != nil {
		var err error
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	return t.send(req, tok, body)
}

// send sends a clone of req with body and tok's Authorization header, and
// a DPoP proof for a DPoP token.
func (t *Transport) send(req *http.Request, tok *oauth2.Token, body io.ReadCloser) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Body = body
	tok.SetAuthHeader(r)
	if isDPoPToken(tok) {
		if t.DPoPKey == nil {
			closeBody(r)
			return nil, errors.New("client.Transport: the token is DPoP-bound (token_type DPoP) but DPoPKey is nil: set it to the key the token is bound to")
		}
		p, err := t.bindingState().newProof(t.DPoPKey, r.Method, r.URL.String(), tok.AccessToken)
		if err != nil {
			closeBody(r)
			return nil, err
		}
		r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		r.Header.Set("DPoP", p)
	}
	return t.base().RoundTrip(r)
}

func (t *Transport) bindingState() *bindingState {
	if t.binding != nil {
		return t.binding
	}
	return &t.local
}

func isDPoPToken(tok *oauth2.Token) bool { return strings.EqualFold(tok.TokenType, "DPoP") }

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) token(ctx context.Context) (*oauth2.Token, error) {
	if t.Source == nil {
		return nil, errors.New("client.Transport: Source is nil")
	}
	if cs, ok := t.Source.(contextSource); ok {
		return cs.token(ctx)
	}
	return t.Source.Token()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// sameHostAsFirst reports whether req goes to the host and port of the
// request its client was first asked to send, before any redirect. Go's
// http.Client drops Authorization on a redirect to another domain; this
// keeps Transport from adding it back.
func sameHostAsFirst(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first == req || (strings.EqualFold(first.URL.Host, req.URL.Host) && first.URL.Scheme == req.URL.Scheme)
}

// isInvalidToken reports whether resp is a 401 with a Bearer or DPoP
// challenge whose error is "invalid_token" (RFC 6750 §3.1, RFC 9449 §7.1).
func isInvalidToken(resp *http.Response) bool {
	return challengeError(resp, "Bearer") == "invalid_token" || challengeError(resp, "DPoP") == "invalid_token"
}

// challengeError returns the "error" parameter of a 401's challenge of
// scheme, or "".
func challengeError(resp *http.Response, scheme string) string {
	if resp.StatusCode != http.StatusUnauthorized {
		return ""
	}
	return schemeError(resp.Header.Values("WWW-Authenticate"), scheme)
}

// bearerError returns the "error" parameter of the Bearer challenge in
// WWW-Authenticate header values (RFC 9110 §11.6.1, RFC 6750 §3), or "".
func bearerError(values []string) string { return schemeError(values, "Bearer") }

// schemeError returns the "error" parameter of the challenge of scheme in
// WWW-Authenticate header values, or "".
func schemeError(values []string, want string) string {
	for _, v := range values {
		l := lexer{s: v}
		for {
			l.skip(" \t,")
			scheme := l.token()
			if scheme == "" {
				break // end, or not a challenge
			}
			bearer := strings.EqualFold(scheme, want)
			for {
				l.skip(" \t")
				if l.eat(',') {
					continue
				}
				mark := l.i
				name := l.token()
				if name == "" {
					if l.end() {
						break
					}
					l.skipUntil(',') // a token68 or junk
					continue
				}
				l.skip(" \t")
				if !l.eat('=') {
					l.i = mark // name is the next challenge's scheme
					break
				}
				l.skip(" \t")
				value, ok := l.quoted()
				if !ok {
					value = l.token()
				}
				if bearer && strings.EqualFold(name, "error") {
					return value
				}
			}
			if l.end() {
				break
			}
		}
	}
	return ""
}

// lexer reads the tokens and quoted strings of an HTTP header value.
type lexer struct {
	s string
	i int
}

func (l *lexer) end() bool { return l.i >= len(l.s) }

func (l *lexer) eat(c byte) bool {
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

func (l *lexer) skip(set string) {
	for l.i < len(l.s) && strings.IndexByte(set, l.s[l.i]) >= 0 {
		l.i++
	}
}

func (l *lexer) skipUntil(c byte) {
	for l.i < len(l.s) && l.s[l.i] != c {
		l.i++
	}
}

// token reads a token (RFC 9110 §5.6.2).
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) && isTchar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// quoted reads a quoted-string (RFC 9110 §5.6.4), unescaping it.
func (l *lexer) quoted() (string, bool) {
	if !l.eat('"') {
		return "", false
	}
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && l.i < len(l.s):
			b.WriteByte(l.s[l.i])
			l.i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true // unterminated: take what there is
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
