package httpapi

import (
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gooclaim/auth"
)

// recorder remembers what the handler answered, for the request log and
// the Observer.
type recorder struct {
	http.ResponseWriter
	status   int
	clientID string
	event    authEvent // name "" when there was none
	logged   bool      // the request gets a log line, which carries the event
}

// authEvent is what happened at the token, introspection or revocation
// endpoint, logged as structured fields: who (client_id, address), what
// (event, outcome: "issued", "active", … or the OAuth error code), and the
// token's jti and scope — never a secret, an assertion or a token. reason
// says why a refusal was made when the answer hides it (a federated
// token's: issuer.FailureReason), for operators only.
type authEvent struct {
	name, outcome, jti, scope, method, reason string
}

// appendAttrs appends the event's attributes to attrs.
func (e *authEvent) appendAttrs(attrs []slog.Attr) []slog.Attr {
	attrs = append(attrs, slog.String("event", e.name), slog.String("outcome", e.outcome))
	if e.method != "" {
		attrs = append(attrs, slog.String("auth_method", e.method))
	}
	if e.jti != "" {
		attrs = append(attrs, slog.String("jti", e.jti))
	}
	if e.scope != "" {
		attrs = append(attrs, slog.String("scope", e.scope))
	}
	if e.reason != "" {
		attrs = append(attrs, slog.String("reason", e.reason))
	}
	return attrs
}

// recordEvent logs ev: on the request's log line when requests are logged,
// so that a token costs one line, else on a line of its own. The Observer,
// if any, gets it when the request ends.
func (s *Server) recordEvent(w http.ResponseWriter, r *http.Request, clientID string, ev authEvent) {
	if rec, ok := w.(*recorder); ok {
		rec.clientID, rec.event = clientID, ev
		if rec.logged {
			return
		}
	}
	var buf [maxEventAttrs]slog.Attr
	attrs := append(ev.appendAttrs(buf[:0]), slog.String("remote", remoteIP(r)))
	if clientID != "" {
		attrs = append(attrs, slog.String("client_id", clientID))
	}
	s.Logger.LogAttrs(r.Context(), slog.LevelInfo, ev.name, attrs...)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one structured line per request, unless NoRequestLog:
// never a header value or a body, which may hold secrets; the client_id is
// not one. It reports every request to the Observer, if any.
//
// It is on every request's path: its recorder is pooled and the line's
// attributes are gathered in an array on the stack (slog copies them into
// its Record), so what it allocates is slog's own.
func (s *Server) logRequests(next http.Handler) http.Handler {
	logged, observer := !s.NoRequestLog, s.Observer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorderPool.Get().(*recorder)
		*rec = recorder{ResponseWriter: w, logged: logged}
		defer func() {
			*rec = recorder{} // drop the references to the request's values
			recorderPool.Put(rec)
		}()
		next.ServeHTTP(rec, r)
		if observer != nil {
			observe(observer, r, rec, time.Since(start))
		}
		if !logged {
			return
		}
		remote := remoteIP(r)
		var buf [maxRequestAttrs]slog.Attr
		attrs := append(buf[:0],
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", remote),
		)
		if len(s.TrustedProxies) > 0 {
			if peer := peerIP(r); peer != remote {
				attrs = append(attrs, slog.String("peer", peer)) // the proxy that forwarded it
			}
		}
		if rec.clientID != "" {
			attrs = append(attrs, slog.String("client_id", rec.clientID))
		}
		if rec.event.name != "" {
			attrs = rec.event.appendAttrs(attrs)
		}
		s.logRequestLine(r.Context(), attrs)
	})
}

// maxEventAttrs is how many attributes an event's own line can have: the
// event's six, remote and client_id.
const maxEventAttrs = 8

// maxRequestAttrs is how many attributes a request's line can have: five
// always, peer, client_id, and the event's six.
const maxRequestAttrs = 13

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// recoverPanics turns a panic into a 500 in the Error shape and a logged
// stack; the client never sees the stack.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Logger.Error("panic while handling a request", "panic", v, "path", r.URL.Path, "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, auth.ErrServerError.WithDescription("the server failed to handle the request; try again later"))
		}()
		next.ServeHTTP(w, r)
	})
}

// nosniff is X-Content-Type-Options' value, one slice for every response
// rather than an allocation each: net/http copies header values when it
// writes them, Header.Add appends past its capacity into a new array, and
// Set replaces the slice, so nothing writes into it.
var nosniff = []string{"nosniff"}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = nosniff
		next.ServeHTTP(w, r)
	})
}

// closeAfterAmbiguousFraming closes the connection after answering a
// request whose body framing a proxy in front could have read differently,
// so that bytes it left on the connection are never served as a request of
// their own (request smuggling):
//
//   - a chunked body: net/http processes a request with both
//     Transfer-Encoding: chunked and Content-Length by the chunked coding
//     and keeps the connection open, although RFC 9112 §6.1 says the server
//     MUST close it; it drops the Content-Length before handlers run, so
//     every chunked request is treated so (token requests are a few hundred
//     bytes and clients send them with a Content-Length);
//   - HTTP/1.0: net/http ignores Transfer-Encoding in HTTP/1.0 requests
//     (and drops the header), so a chunked body sent on an HTTP/1.0
//     keep-alive connection would be read as the next request.
func closeAfterAmbiguousFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 || !r.ProtoAtLeast(1, 1) {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalOnly answers 404 in the Error shape for what http.ServeMux would
// otherwise answer itself, in plain text or with an empty redirect: a path
// with dot segments, doubled or missing slashes (a 307 to the cleaned
// path), and CONNECT (a text/plain 404). No endpoint has such a path.
func canonicalOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || !isCleanPath(r.URL.EscapedPath()) {
			writeError(w, http.StatusNotFound, &auth.OAuthError{Code: "not_found", Description: "no endpoint at this path; the token endpoint is POST " + TokenPath})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isCleanPath reports whether p is as http.ServeMux's path cleaning leaves
// it: rooted, without dot segments or doubled slashes (a trailing slash is kept).
func isCleanPath(p string) bool {
	if p == TokenPath { // the hot path's, clean by construction
		return true
	}
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
