// Package testserver runs the real token service in-process for the tests
// of packages that cannot reach cmd/gooclaim-auth (the client and verify
// kits, the examples, the dashboard's metrics): package server on a loopback port over a temporary
// SQLite database, the same wiring as `gooclaim-auth serve`.
package testserver

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/server"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// Options tune a Server; the zero value works.
type Options struct {
	// Clock drives tokens, keys and the limiter; nil is the system clock.
	Clock auth.Clock
	// Algorithm of the signing keys; default ES256.
	Algorithm string
	// RateLimit per client_id; default 60/1m.
	RateLimit auth.Rate
	// PublishAhead of rotations; default 10m.
	PublishAhead time.Duration
	// Metrics, when set, receives the server's metrics.
	Metrics *metrics.Metrics
	// RedisURL, when set, makes the rate limiter Redis's (failing open to
	// the in-memory one).
	RedisURL string
	// Federation, when set, serves the trusted issuers and their bindings
	// (server.Config.Federation); nil uses the replica's, if it keeps them.
	// Loopback issuers (internal/testoidc) are reached: the server then
	// allows plain http and private addresses for keys.
	Federation auth.Federation
	// Issuer, when set, is the server's configured issuer URL, as behind a
	// proxy: requests still go to URL.
	Issuer string
	// DPoPNonceRequired requires server nonces in DPoP proofs.
	DPoPNonceRequired bool
	// DPoPProofMaxAge is how old a DPoP proof may be; default the server's.
	DPoPProofMaxAge time.Duration
}

// Server is a running token service.
type Server struct {
	// Server is the service itself.
	Server *server.Server
	// URL is the listener's base URL, http://127.0.0.1:PORT.
	URL string
	// Issuer is the issuer URL, http://localhost:PORT.
	Issuer string
	// Admin runs the management use cases on the server's replica: its
	// changes are in force on the server at once.
	Admin   *admin.Service
	Keys    *issuer.KeyRing
	Replica *inmem.Replica

	client *http.Client
}

// New starts a server, stopped when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{Clock: opts.Clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		t.Fatal(err)
	}
	kek, err := signing.CreateKEKFile(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Store:        db,
		KEK:          kek,
		Listen:       "127.0.0.1:0",
		PollInterval: 50 * time.Millisecond,
		RateLimit:    opts.RateLimit,
		KeyPolicy:    issuer.KeyPolicy{Algorithm: opts.Algorithm, PublishAhead: opts.PublishAhead},
		Logger:       slog.New(slog.DiscardHandler),
		Clock:        opts.Clock,
		Metrics:      opts.Metrics,
		RedisURL:     opts.RedisURL,
		Federation:   opts.Federation,
		Issuer:       opts.Issuer,

		DPoPNonceRequired: opts.DPoPNonceRequired,
		DPoPProofMaxAge:   opts.DPoPProofMaxAge,
		// The loopback OIDC issuers of the tests serve plain http.
		AllowHTTPJWKSURI:      opts.Federation != nil,
		AllowPrivateAddresses: opts.Federation != nil,
	})
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		db.Close()
		t.Fatalf("testserver: %v", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("testserver: %v", err)
		}
	})
	return &Server{
		Server:  srv,
		URL:     "http://" + srv.Addr(),
		Issuer:  srv.Issuer(),
		Admin:   &admin.Service{Store: srv.Replica(), Keys: srv.Keys(), Clock: opts.Clock},
		Keys:    srv.Keys(),
		Replica: srv.Replica(),
		client:  &http.Client{Transport: transport},
	}
}

// Client returns an HTTP client for the server, whose idle connections are
// closed when the test ends.
func (s *Server) Client() *http.Client { return s.client }

// CreateClient registers a client with the given scopes (and audiences, the
// first the default) and returns its ID and secret.
func (s *Server) CreateClient(t testing.TB, scopes []string, audiences ...string) (id, secret string) {
	t.Helper()
	c, secret, err := s.Admin.CreateClient(context.Background(), admin.ClientSpec{Name: "test", Scopes: scopes, Audiences: audiences})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

// TokenURL is the token endpoint's URL.
func (s *Server) TokenURL() string { return s.Issuer + httpapi.TokenPath }
