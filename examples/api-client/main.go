// Command api-client calls the protected-api example with an access token
// from Gooclaim Auth, using the client kit: the kit's *http.Client fetches
// a token with the client credentials grant, caches it until shortly before
// it expires, and adds it to every request as a Bearer token.
//
// Run it against a local `gooclaim-auth serve` and `go run ./examples/protected-api`:
//
//	GOOCLAIM_CLIENT_ID=gooclaim_app_… GOOCLAIM_CLIENT_SECRET=gcs_… go run ./examples/api-client
//
// The credentials come from the environment (or --client-secret-file), never
// from a flag, so they stay out of the process list. Other flags (or the
// environment variables in brackets):
//
//	--issuer  the token service [API_ISSUER], default http://localhost:8080
//	--api     the protected API [API_URL], default http://127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/gooclaim/auth/client"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "api-client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	issuer := flag.String("issuer", envOr("API_ISSUER", "http://localhost:8080"), "issuer URL of the token service")
	api := flag.String("api", envOr("API_URL", "http://127.0.0.1:8081"), "base URL of the protected API")
	secretFile := flag.String("client-secret-file", "", "file holding the client secret (default: $GOOCLAIM_CLIENT_SECRET)")
	flag.Parse()

	secret := os.Getenv("GOOCLAIM_CLIENT_SECRET")
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(string(b))
	}
	cfg := &client.Config{
		Issuer:       *issuer,
		ClientID:     os.Getenv("GOOCLAIM_CLIENT_ID"),
		ClientSecret: secret,
		Scopes:       []string{"claims:read"},
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return errors.New("set GOOCLAIM_CLIENT_ID and GOOCLAIM_CLIENT_SECRET (create a client with: gooclaim-auth clients create --name api-client --scope claims:read)")
	}

	// One *http.Client for the program's life: it shares one cached token
	// across every request and goroutine.
	hc := cfg.Client(ctx)
	for _, path := range []string{"/whoami", "/claims"} {
		if err := get(ctx, hc, *api+path); err != nil {
			return err
		}
	}
	return nil
}

func get(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err // a *client.Error when the token could not be had
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s %s", url, resp.Status, resp.Header.Get("WWW-Authenticate"), body)
	}
	fmt.Printf("GET %s\n%s", url, body)
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
