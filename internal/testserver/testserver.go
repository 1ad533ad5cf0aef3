// Package testserver runs the real token service in-process for the tests
// of packages that cannot reach cmd/gooclaim-auth (the client and verify
// kits, the examples): a temporary SQLite database, the replica, the key
// ring, the in-memory limiter, the issuer and the HTTP API, on an
// httptest.Server.
package testserver

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
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
}

// Server is a running token service.
type Server struct {
	*httptest.Server
	Issuer  string // the issuer URL (= URL)
	Admin   *admin.Service
	Keys    *issuer.KeyRing
	Replica *inmem.Replica
}

// New starts a server, stopped when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	if opts.Clock == nil {
		opts.Clock = auth.SystemClock{}
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{Clock: opts.Clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kek, err := signing.CreateKEKFile(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	s.Replica = inmem.NewReplica(db, inmem.ReplicaOptions{
		PollInterval: 50 * time.Millisecond,
		OnKeys:       func(keys []auth.Key) error { return s.Keys.Load(keys) },
		Logger:       slog.New(slog.DiscardHandler),
	})
	s.Keys = issuer.NewKeyRing(issuer.KeyPolicy{Algorithm: opts.Algorithm, PublishAhead: opts.PublishAhead}, kek, s.Replica, opts.Clock)
	if err := s.Replica.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: opts.Clock})
	api := &httpapi.Server{Keys: s.Keys, Scopes: s.Replica, Clock: opts.Clock, Logger: slog.New(slog.DiscardHandler)}
	s.Server = httptest.NewUnstartedServer(nil)
	s.Issuer = "http://" + s.Listener.Addr().String()
	api.Issuer = issuer.New(issuer.Config{Issuer: s.Issuer, RateLimit: opts.RateLimit}, s.Replica, s.Keys, limiter, opts.Clock)
	s.Config.Handler = api.Handler()
	s.Start()
	s.Admin = &admin.Service{Store: s.Replica, Keys: s.Keys, Clock: opts.Clock}
	runCtx, cancel := context.WithCancel(ctx)
	go s.Replica.Run(runCtx)
	t.Cleanup(func() {
		s.Close()
		cancel()
		limiter.Close()
		db.Close()
	})
	return s
}

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
