// Command protected-api is a small resource server protected by Gooclaim
// Auth access tokens, built with the verification kit: every request must
// carry a valid Bearer token for this API's audience, and each route names
// the scopes it needs. Failures are answered per RFC 6750 §3 by the kit's
// middleware.
//
// Run it against a local `gooclaim-auth serve`:
//
//	go run ./examples/protected-api
//
// Flags (or the environment variables in brackets):
//
//	--issuer    the token service [API_ISSUER], default http://localhost:8080
//	--audience  this API's audience [API_AUDIENCE], default https://api.gooclaim.com
//	--listen    where to listen [API_LISTEN], default 127.0.0.1:8081
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gooclaim/auth/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "protected-api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	issuer := flag.String("issuer", envOr("API_ISSUER", "http://localhost:8080"), "issuer URL of the token service")
	audience := flag.String("audience", envOr("API_AUDIENCE", "https://api.gooclaim.com"), "this API's audience: tokens must be issued for it")
	listen := flag.String("listen", envOr("API_LISTEN", "127.0.0.1:8081"), "address to listen on")
	flag.Parse()

	// New fetches the issuer's metadata and keys once, so a wrong issuer
	// shows now rather than on the first request.
	v, err := verify.New(ctx, verify.Config{Issuer: *issuer, Audience: *audience})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	// Reading claims needs claims:read; filing one needs claims:write.
	mux.Handle("GET /claims", v.Middleware("claims:read")(http.HandlerFunc(listClaims)))
	mux.Handle("POST /claims", v.Middleware("claims:write")(http.HandlerFunc(fileClaim)))
	// Any valid token may ask who it is.
	mux.Handle("GET /whoami", v.Middleware()(http.HandlerFunc(whoami)))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	slog.Info("protected-api listening", "url", "http://"+ln.Addr().String(), "issuer", *issuer, "audience", *audience)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func listClaims(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"client_id": c.ClientID,
		"claims":    []map[string]string{{"id": "CLM-1001", "status": "open"}, {"id": "CLM-1002", "status": "paid"}},
	})
}

func fileClaim(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, http.StatusCreated, map[string]any{"id": "CLM-1003", "filed_by": c.ClientID})
}

func whoami(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"client_id": c.ClientID, "scopes": c.Scopes, "audience": c.Audience,
		"expires_at": c.Expiry.UTC().Format(time.RFC3339),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
