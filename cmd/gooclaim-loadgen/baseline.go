package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/oauthwire"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// runBaseline is the hidden baseline-server subcommand: it serves a token
// endpoint that does only what any token endpoint must — parse the request,
// sign the claims with the active key of the database, write the response —
// so that the service's throughput can be read as a fraction of it.
func runBaseline(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(baselineCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", "", "SQLite database holding the signing key (required)")
	kekFile := fs.String("kek", "", "key-encryption key file of the database's keys (required)")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	iss := fs.String("issuer", "http://localhost:8080", "the tokens' iss: the service's issuer, so that both sign the same claims")
	audience := fs.String("audience", issuer.DefaultAudience, "the tokens' aud")
	scope := fs.String("scope", testScope, "the tokens' scope when the request names none")
	ttl := fs.Duration("token-ttl", issuer.DefaultTokenTTL, "the tokens' lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *database == "" || *kekFile == "" {
		return errors.New("--database and --kek are required")
	}
	signer, err := activeSigner(ctx, *database, *kekFile)
	if err != nil {
		return err
	}
	h := &baselineHandler{signer: signer, issuer: *iss, audience: *audience, scope: *scope, ttl: *ttl}
	mux := http.NewServeMux()
	mux.Handle("POST "+httpapi.TokenPath, h)
	mux.HandleFunc("GET "+httpapi.ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		oauthwire.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	// Off the token path, for the allocations per token (mallocs.go).
	mux.HandleFunc("GET /debug/mallocs", serveMallocs)
	// The same timeouts as serve's defaults.
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	fmt.Fprintf(stderr, "baseline-server listening on %s, signing with %s key %s\n", ln.Addr(), signer.Algorithm(), signer.KeyID())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// activeSigner opens the key that signs now in the database.
func activeSigner(ctx context.Context, database, kekFile string) (*signing.Signer, error) {
	k, kek, err := activeKey(ctx, database, kekFile)
	if err != nil {
		return nil, err
	}
	return signing.NewSigner(k, kek)
}

// activeKey returns the key that signs now in the database, still sealed,
// and the key-encryption key that opens it.
func activeKey(ctx context.Context, database, kekFile string) (auth.Key, *signing.KEK, error) {
	kek, err := signing.LoadKEKFile(kekFile)
	if err != nil {
		return auth.Key{}, nil, err
	}
	db, err := sqlite.Open(ctx, database, sqlite.Options{})
	if err != nil {
		return auth.Key{}, nil, err
	}
	keys, err := db.Keys(ctx)
	db.Close()
	if err != nil {
		return auth.Key{}, nil, err
	}
	for _, s := range issuer.Statuses(keys, time.Now(), issuer.MaxTokenTTL) {
		if s.State == issuer.KeyActive {
			return s.Key, kek, nil
		}
	}
	return auth.Key{}, nil, fmt.Errorf("%s holds no active signing key (start the server on it first)", database)
}

// baselineHandler is the bare token endpoint: no client authentication, no
// rate limit, no logging. The claims have the shape issuer.Issue builds.
type baselineHandler struct {
	signer   *signing.Signer
	issuer   string
	audience string
	scope    string
	ttl      time.Duration
}

func (h *baselineHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := oauthwire.ParseTokenRequest(r)
	if err != nil {
		oauthwire.WriteError(w, http.StatusBadRequest, err)
		return
	}
	scope := req.Scope
	if scope == "" {
		scope = h.scope
	}
	now := time.Now()
	claims := auth.Claims{
		Issuer:   h.issuer,
		Subject:  req.ClientID,
		Audience: auth.Audience{h.audience},
		ClientID: req.ClientID,
		Scope:    scope,
		IssuedAt: now.Unix(),
		Expiry:   now.Add(h.ttl).Unix(),
		JWTID:    newJTI(),
		// A value of the size of a client's: its real value needs the
		// client lookup the baseline does not do, but the claim is signed
		// and sent all the same.
		ClientIncarnation: baselineIncarnation,
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		oauthwire.WriteError(w, http.StatusInternalServerError, err)
		return
	}
	token, err := h.signer.Sign(payload)
	if err != nil {
		oauthwire.WriteError(w, http.StatusInternalServerError, err)
		return
	}
	oauthwire.WriteToken(w, &auth.Token{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(h.ttl / time.Second), Scope: scope})
}

// baselineIncarnation has the length of auth.NewIncarnation's values.
const baselineIncarnation = "baseline-incarn0"

// newJTI returns 128 random bits, base64url, as issuer's token IDs.
func newJTI() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
