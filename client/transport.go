package client

import (
	"context"
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
// When the resource server answers 401 with a Bearer challenge whose error
// is "invalid_token" (RFC 6750 §3.1), and Source is one made by
// Config.TokenSource, Transport drops that token from Source's cache and
// sends the request once more with a new token — provided the request has
// no body or one that can be replayed (Request.GetBody, which
// http.NewRequest sets for in-memory bodies). Otherwise the 401 is returned.
//
// The token is sent only to the host of the request the caller made: a
// redirect to another host (or port) is followed without it.
type Transport struct {
	// Source supplies the tokens. It must be safe for concurrent use; the
	// sources of Config.TokenSource and oauth2.ReuseTokenSource are.
	Source oauth2.TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
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
	resp, err := t.base().RoundTrip(withToken(req, tok, req.Body))
	if err != nil || !isInvalidToken(resp) {
		return resp, err
	}
	cs, ok := t.Source.(contextSource)
	if !ok || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return resp, nil
	}
	cs.drop(tok)
	fresh, err := cs.token(req.Context())
	if err != nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil // no better token: the caller gets the 401
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	return t.base().RoundTrip(withToken(req, fresh, body))
}

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

// withToken returns a clone of req with body and tok's Authorization header.
func withToken(req *http.Request, tok *oauth2.Token, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	tok.SetAuthHeader(r)
	return r
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

// isInvalidToken reports whether resp is a 401 with a Bearer challenge
// whose error is "invalid_token" (RFC 6750 §3.1).
func isInvalidToken(resp *http.Response) bool {
	return resp.StatusCode == http.StatusUnauthorized &&
		bearerError(resp.Header.Values("WWW-Authenticate")) == "invalid_token"
}

// bearerError returns the "error" parameter of the Bearer challenge in
// WWW-Authenticate header values (RFC 9110 §11.6.1, RFC 6750 §3), or "".
func bearerError(values []string) string {
	for _, v := range values {
		l := lexer{s: v}
		for {
			l.skip(" \t,")
			scheme := l.token()
			if scheme == "" {
				break // end, or not a challenge
			}
			bearer := strings.EqualFold(scheme, "Bearer")
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
