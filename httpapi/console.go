package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/console"
	"github.com/gooclaim/auth/oauthwire"
)

// Paths of the admin web console.
const (
	ConsolePath        = "/console/"
	ConsoleSessionPath = "/console/session"
)

// maxSessionBody bounds the body of POST /console/session: a code is
// under console.MaxCodeLength.
const maxSessionBody = 4 << 10

// Console serves the admin web console: its static files under
// ConsolePath, and the exchange of one-time sign-in codes (made by
// `gooclaim-auth console`) for admin access tokens at ConsoleSessionPath.
// Make one with NewConsole.
type Console struct {
	files map[string]*consoleFile // by path, index.html at the root
	// CodeKey verifies sign-in codes: the KEK derived under
	// console.CodeLabel, the same on every node.
	CodeKey []byte
	// Replay remembers each redeemed code until it expires, so that a
	// code is used once — fleet-wide when it is Redis's.
	Replay auth.ReplayCache
	// AdminAudience is the audience of the tokens issued, the one the
	// admin API's guard requires.
	AdminAudience string
}

// consoleCSP lets the console's pages load and talk to their own origin
// only: no inline script or style, no framing, no plugin, no form or
// <base> pointing elsewhere. An injected script has nowhere to come from
// and nowhere to send a token to.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleFile is one of the console's files, ready to serve.
type consoleFile struct {
	name        string
	body        []byte
	contentType string
	etag        string // a hash of body: a new binary's files are fetched again
}

// consoleTypes are the Content-Types of the console's files by extension;
// any other is application/octet-stream (and nosniff keeps it so).
var consoleTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".json":  "application/json",
	".map":   "application/json",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

// NewConsole returns the console serving the files of fsys (console.Assets),
// which it reads into memory now, with the other fields to be set.
func NewConsole(fsys fs.FS) (*Console, error) {
	files, err := loadConsoleFiles(fsys)
	if err != nil {
		return nil, err
	}
	return &Console{files: files}, nil
}

// loadConsoleFiles reads every file of fsys into memory, by path.
func loadConsoleFiles(fsys fs.FS) (map[string]*consoleFile, error) {
	files := map[string]*consoleFile{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[p] = newConsoleFile(p, body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the console's files: %w", err)
	}
	if files["index.html"] == nil {
		return nil, errors.New("the console's files have no index.html")
	}
	return files, nil
}

// consoleRoutes adds the console's routes to mux. ConsoleSessionPath has
// a method pattern of its own only: a catch-all for it would conflict
// with "GET /console/", so its 405s are answered by the others.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	files := maps.Clone(s.Console.files)
	files[ConsoleConfigFile] = s.Console.configFile()
	notAllowed := consoleHeaders(methodNotAllowed("GET, HEAD"))
	sessionNotAllowed := methodNotAllowed("POST")
	mux.Handle("GET "+ConsolePath, consoleHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ConsoleSessionPath {
			sessionNotAllowed(w, r)
			return
		}
		serveConsoleFile(w, r, files)
	})))
	mux.HandleFunc(ConsolePath, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ConsoleSessionPath {
			sessionNotAllowed(w, r)
			return
		}
		notAllowed.ServeHTTP(w, r)
	})
	mux.Handle("GET "+strings.TrimSuffix(ConsolePath, "/"), consoleHeaders(http.RedirectHandler(ConsolePath, http.StatusMovedPermanently)))
	mux.Handle(strings.TrimSuffix(ConsolePath, "/"), notAllowed)
	mux.HandleFunc("POST "+ConsoleSessionPath, s.handleConsoleSession)
}

// ConsoleConfigFile is the one console file made by the server rather
// than embedded: what the page must know of this server's settings to
// sign in — the admin audience (serve's --admin-audience) and scope. It
// is the same for everyone and holds nothing secret.
const ConsoleConfigFile = "config.json"

// configFile is ConsoleConfigFile for c's settings.
func (c *Console) configFile() *consoleFile {
	body, _ := json.Marshal(struct {
		AdminAudience string `json:"admin_audience"`
		AdminScope    string `json:"admin_scope"`
	}{c.AdminAudience, auth.ScopeAdmin}) // strings: cannot fail
	return newConsoleFile(ConsoleConfigFile, body)
}

// newConsoleFile is a file ready to serve: its Content-Type by its
// extension (application/octet-stream for an unknown one, which nosniff
// keeps so) and an ETag of its content.
func newConsoleFile(name string, body []byte) *consoleFile {
	ct, ok := consoleTypes[strings.ToLower(path.Ext(name))]
	if !ok {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	return &consoleFile{name: name, body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// consoleHeaders sets the headers of every console page and file.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// Revalidate every time (a 304 when unchanged): a new binary's
		// files are never mixed with an old one's from a cache.
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// serveConsoleFile serves the file at the request's path, or index.html
// for a path that names none: the console's own routes (/console/clients)
// are the page's to handle.
func serveConsoleFile(w http.ResponseWriter, r *http.Request, files map[string]*consoleFile) {
	f := files[strings.TrimPrefix(r.URL.Path, ConsolePath)]
	if f == nil {
		f = files["index.html"]
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	// ServeContent answers If-None-Match with 304, HEAD and ranges.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

// errInvalidCode is the one answer to every refused sign-in code:
// forged, expired or already used look the same, so trying codes teaches
// nothing.
var errInvalidCode = &auth.OAuthError{Code: "invalid_code",
	Description: "the sign-in link is invalid, expired or already used: run gooclaim-auth console for a new one"}

// handleConsoleSession serves POST /console/session: a sign-in code,
// verified and used once, for an admin access token of the console's
// client (console.ClientID), which the admin API's guard checks like any
// other — so that disabling that client ends every console session.
func (s *Server) handleConsoleSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, errUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSessionBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the request body is larger than %d bytes; send {\"code\": \"…\"}", maxSessionBody)))
			return
		}
		writeError(w, http.StatusBadRequest, badRequest("the request body could not be read: %v", err))
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Code == "" {
		writeError(w, http.StatusBadRequest, badRequest(`the request body must be a JSON object {"code": "…"} holding the code of the sign-in link`))
		return
	}
	now := s.Clock.Now()
	code, err := console.VerifyCode(s.Console.CodeKey, req.Code, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, errInvalidCode)
		return
	}
	fresh, err := s.Console.Replay.Use(r.Context(), "console:"+code.JTI, code.ExpiresAt())
	if err != nil {
		s.Logger.Error("console sign-in: the replay cache failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription("sign-in links cannot be checked now: the replay cache is unavailable; retry shortly"))
		return
	}
	if !fresh {
		s.Logger.Warn("console sign-in refused: the link was used before", "created_by", code.CreatedBy, "remote", remoteIP(r))
		writeError(w, http.StatusBadRequest, errInvalidCode)
		return
	}
	c := s.Issuer.Lookup(&auth.TokenRequest{ClientID: console.ClientID})
	tok, err := s.Issuer.IssueAuthenticated(r.Context(), c, auth.TokenRequest{ClientID: console.ClientID, Scope: auth.ScopeAdmin, Audience: s.Console.AdminAudience})
	if err != nil {
		s.refuseConsoleSession(w, r, code, err)
		return
	}
	s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "console sign-in", slog.String("created_by", code.CreatedBy),
		slog.String("client_id", console.ClientID), slog.String("jti", tok.JTI), slog.String("remote", remoteIP(r)))
	oauthwire.WriteJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Page        string `json:"page"`
		ClientID    string `json:"client_id"`
		CreatedBy   string `json:"created_by"`
	}{tok.AccessToken, tok.TokenType, tok.ExpiresIn, code.Page, console.ClientID, code.CreatedBy})
}

// refuseConsoleSession answers a valid code for which no token could be
// issued: the console's client is disabled, deleted or lacks the admin
// scope or audience (the operator's doing: the same answer as a bad code,
// and the reason in the log), or the server cannot sign.
func (s *Server) refuseConsoleSession(w http.ResponseWriter, r *http.Request, code console.Code, err error) {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		s.Logger.Warn("console sign-in refused: the console's client cannot have an admin token; run gooclaim-auth console to create it, or enable it",
			"client_id", console.ClientID, "created_by", code.CreatedBy, "err", oe.Description, "remote", remoteIP(r))
		writeError(w, http.StatusBadRequest, errInvalidCode)
		return
	}
	s.Logger.Error("console sign-in failed", "err", err)
	writeError(w, http.StatusServiceUnavailable, auth.ErrTemporarilyUnavailable.WithDescription("no admin token can be issued now; retry shortly"))
}
