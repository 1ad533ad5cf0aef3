// Package server assembles Gooclaim Auth and runs it: the in-memory copy
// of the clients and keys (inmem.Replica) over the store, the key ring and
// its maintenance, the rate limiters (in memory, or Redis for a fleet),
// private_key_jwt, the issuer, the HTTP API with the admin API and its
// guard, the operations listener, TLS, health and a graceful shutdown.
//
// It is the one wiring of the service: `gooclaim-auth serve` hands it a
// Config built from its flags, and every test that needs a running
// service goes through it.
//
//	srv, err := server.New(server.Config{Store: db, KEK: kek, Listen: ":8080"})
//	if err != nil { … }
//	if err := srv.Start(ctx); err != nil { … }
//	<-ctx.Done()
//	err = srv.Shutdown(context.Background())
package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/console"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/dpop"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/ops"
	"github.com/gooclaim/auth/redis"
)

// Server is the token service: New, then Start, then Shutdown (or Close).
// Its methods are safe for concurrent use; the accessors (Addr, Issuer,
// Replica, …) are meaningful once Start has succeeded.
type Server struct {
	cfg    Config
	logger *slog.Logger
	clock  auth.Clock

	data      auth.Store // cfg.Store, instrumented when there are metrics
	replica   *inmem.Replica
	tokens    *issuer.TokenCache // the tokens given again (Config.ReuseTokens)
	keys      *issuer.KeyRing
	limiter   *inmem.Limiter
	redis     *redis.Limiter // nil without Redis
	redisCl   goredis.UniversalClient
	quotas    *quotaWatch
	replay    auth.ReplayCache // of private_key_jwt assertions and DPoP proofs
	stats     *metrics.Metrics // Config.Metrics, or the server's own: the admin console's figures
	node      string           // this node's name in the figures
	issuer    *issuer.Issuer
	issuerURL string
	certs     *certReloader  // nil without TLS
	clientCAs *x509.CertPool // nil without TLSClientCAFile
	cfgFile   *configFile    // nil without ConfigFile
	http      *http.Server
	listener  net.Listener
	ops       *http.Server // nil without an ops listener
	opsLn     net.Listener

	started    atomic.Bool // Start was called
	running    atomic.Bool // Start succeeded
	cancel     context.CancelFunc
	background sync.WaitGroup // replica, key maintenance, certificate reloading
	served     chan struct{}  // closed when the public listener stops serving
	serveErr   error          // why it stopped, if it failed; set before served is closed
	stopping   atomic.Bool    // readiness fails from the start of a shutdown
	stopOnce   sync.Once
	killOnce   sync.Once
	killed     chan struct{} // closed by Close: cuts a graceful shutdown short
	stopped    chan struct{} // closed when everything is released
	err        error         // Shutdown's result; set before stopped is closed
}

// New returns a server for cfg, which it checks (reporting every problem
// at once) and completes with the defaults. It opens nothing: Start does.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:     cfg,
		logger:  cfg.Logger,
		clock:   cfg.Clock,
		served:  make(chan struct{}),
		killed:  make(chan struct{}),
		stopped: make(chan struct{}),
	}, nil
}

// Start reads the clients and keys into memory (making the first signing
// key if there is none), listens, and serves in the background until
// Shutdown or Close. ctx bounds the start only. When Start fails it
// releases what it opened, but the store, which is still the caller's.
func (s *Server) Start(ctx context.Context) (err error) {
	if s.started.Swap(true) {
		return errors.New("server: Start called twice")
	}
	defer func() {
		if err != nil {
			s.release(false)
		}
	}()
	c := &s.cfg
	m := c.Metrics
	if s.stats = m; s.stats == nil {
		// Counted all the same for the admin console's figures, but
		// exported nowhere.
		s.stats = metrics.New(metrics.BuildInfo{})
	}
	s.data = c.Store
	if m != nil {
		s.data = metrics.Store(c.Store, m)
	}
	s.tokens = issuer.NewTokenCache(c.ReuseMaxTokens)
	s.replica = inmem.NewReplica(s.data, inmem.ReplicaOptions{
		PollInterval: c.PollInterval,
		Logger:       s.logger,
		OnKeys:       func(keys []auth.Key) error { return s.keys.Load(keys) },
		// A token revoked on any node reaches this one as a change of its
		// client: this node then stops giving the client's tokens again.
		OnClient: s.tokens.Forget,
	})
	s.keys = issuer.NewKeyRing(c.KeyPolicy, c.KEK, s.replica, s.clock)
	if err := s.replica.Load(ctx); err != nil {
		return err
	}
	if _, err := s.keys.Maintain(ctx); err != nil {
		return err
	}
	if _, err := s.keys.Signer(s.clock.Now()); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if s.cfgFile = s.newConfigFile(); s.cfgFile != nil {
		// Before serving: the first token requests see the file's clients.
		s.cfgFile.check(configFileContext(ctx))
	}
	if m != nil {
		m.WatchReplica(s.replica)
		m.WatchKeys(s.keys, s.clock.Now)
	}

	if c.TLSCertFile != "" {
		if s.certs, err = newCertReloader(c.TLSCertFile, c.TLSKeyFile, s.logger); err != nil {
			return fmt.Errorf("TLS certificate %s and key %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
		}
	}
	if c.TLSClientCAFile != "" {
		if s.clientCAs, err = loadClientCAs(c.TLSClientCAFile); err != nil {
			return fmt.Errorf("TLS client CAs %s: %w", c.TLSClientCAFile, err)
		}
	}
	s.listener, err = net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	s.node = s.nodeName()
	s.issuerURL = c.Issuer
	if s.issuerURL == "" {
		_, port, _ := net.SplitHostPort(s.listener.Addr().String())
		s.issuerURL = s.scheme() + "://localhost:" + port
	}
	limiter, replay, err := s.limiters()
	if err != nil {
		return err
	}
	s.replay = replay
	assertions, err := clientauth.NewVerifier(clientauth.Config{
		Issuer:                s.issuerURL,
		TokenEndpoint:         s.issuerURL + httpapi.TokenPath,
		Replay:                replay,
		Clock:                 s.clock,
		AllowHTTP:             c.AllowHTTPJWKSURI,
		AllowPrivateAddresses: c.AllowPrivateAddresses,
		Logger:                s.logger,
		ClientCAs:             s.clientCAs,
	})
	if err != nil {
		return fmt.Errorf("private_key_jwt: %w", err)
	}
	quotas := s.quotaCounter() // before the Config, which reads s.quotas
	icfg := issuer.Config{
		Issuer:           s.issuerURL,
		Audience:         c.Audience,
		TokenTTL:         c.TokenTTL,
		RateLimit:        c.RateLimit,
		IPRateLimit:      c.IPRateLimit,
		DefaultQuotas:    c.DefaultQuotas,
		DefaultClaims:    c.DefaultClaims,
		Quotas:           quotas,
		QuotaObserver:    s.quotas,
		Revocations:      s.data,
		ClientAssertions: assertions,
		ReuseTokens:      c.ReuseTokens,
		Tokens:           s.tokens,
	}
	if s.clientCAs != nil || c.ClientCertHeader != "" {
		icfg.ClientCertificates = assertions // same key cache for self_signed_tls_client_auth
	}
	if icfg.Federation = c.Federation; icfg.Federation == nil {
		// The replica serves the trusted issuers and bindings once it
		// keeps them (auth.Federation); until then there is no federation.
		icfg.Federation, _ = any(s.replica).(auth.Federation)
	}
	if icfg.Federation != nil {
		// Same rules as the clients' jwks_uri: same egress guard, same
		// plain-http setting, same cache and refetch throttling.
		fed, err := clientauth.NewFederatedVerifier(clientauth.Config{
			Issuer:                s.issuerURL,
			TokenEndpoint:         s.issuerURL + httpapi.TokenPath,
			Clock:                 s.clock,
			AllowHTTP:             c.AllowHTTPJWKSURI,
			AllowPrivateAddresses: c.AllowPrivateAddresses,
			Logger:                s.logger,
		})
		if err != nil {
			return fmt.Errorf("federation: %w", err)
		}
		icfg.FederatedTokens = fed
		if m != nil {
			icfg.FederationObserver = m
		}
	}
	s.issuer = issuer.New(icfg, s.replica, s.keys, limiter, s.clock)
	handler, err := s.handler()
	if err != nil {
		return err
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.RequestTimeout,
		// The write deadline runs from the end of the headers, like the read
		// one: a second more lets the 400 for a body that stalled until the
		// read deadline still be written, instead of a bare closed connection.
		WriteTimeout:   c.RequestTimeout + time.Second,
		IdleTimeout:    c.IdleTimeout,
		MaxHeaderBytes: c.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if s.certs != nil {
		s.http.TLSConfig = s.certs.tlsConfig(s.clientCAs)
	}
	if c.OpsListen != "" {
		s.opsLn, err = net.Listen("tcp", c.OpsListen)
		if err != nil {
			return fmt.Errorf("ops listener on %s: %w", c.OpsListen, err)
		}
		var metricsHandler http.Handler
		if m != nil {
			metricsHandler = m.Handler()
		}
		s.ops = &http.Server{
			Handler: ops.Handler(ops.Config{Metrics: metricsHandler, Health: func() (bool, any) {
				h := s.Health()
				return h.Ready, h
			}}),
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		}
	}

	s.run(ctx)
	return nil
}

// limiters makes the rate limiter and the private_key_jwt replay cache:
// in memory, or in Redis when the fleet shares one.
func (s *Server) limiters() (auth.Limiter, auth.ReplayCache, error) {
	c, m := &s.cfg, s.cfg.Metrics
	s.limiter = inmem.NewLimiter(inmem.LimiterOptions{Clock: s.clock})
	var limiter auth.Limiter = s.limiter
	// The jti of every private_key_jwt assertion is remembered until it
	// expires: in Redis when the fleet shares one, so that an assertion
	// accepted by one node is refused by every other.
	var replay auth.ReplayCache = inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: s.clock})
	if c.RedisURL != "" {
		var err error
		s.redisCl, err = redis.ParseURL(c.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("the Redis URL: %w", err)
		}
		if m != nil {
			m.InstrumentRedis(s.redisCl)
		}
		opts := redis.LimiterOptions{Prefix: c.RedisPrefix, Logger: s.logger}
		if !c.RateLimitFailClosed {
			opts.Fallback = s.limiter
		}
		ropts := redis.ReplayCacheOptions{Prefix: c.RedisPrefix + "jti:"}
		if _, ok := s.clock.(auth.SystemClock); !ok {
			// tests; in production Redis's own clock is shared by every node
			opts.Clock, ropts.Clock = s.clock, s.clock
		}
		// go-redis reports every failed dial itself; our limiter logs an
		// outage once per episode, so the library's lines go to debug.
		goredis.SetLogger(redisLogger{s.logger})
		s.redis = redis.NewLimiter(s.redisCl, opts)
		limiter = s.redis
		replay = redis.NewReplayCache(s.redisCl, ropts)
	}
	if m != nil {
		m.WatchLimiter(s.redis) // nil: "memory"
		limiter = metrics.Limiter(limiter, m)
	}
	return limiter, replay, nil
}

// quotaCounter makes the token quotas' counter — in Redis when the fleet
// shares one, so that the fleet issues exactly the quota, else per node —
// and the watch that logs, counts and audits their breaches.
func (s *Server) quotaCounter() auth.QuotaCounter {
	s.quotas = &quotaWatch{logger: s.logger, store: s.data, metrics: s.stats, node: s.node, clock: s.clock, usage: make(map[quotaUse]quotaRatio)}
	if s.redisCl != nil {
		return redis.NewQuotaCounter(s.redisCl, redis.QuotaCounterOptions{Prefix: s.cfg.RedisPrefix + "quota:"})
	}
	return inmem.NewQuotaCounter()
}

// handler is the public listener's handler: the HTTP API and, unless
// turned off, the admin API, whose writes go through the replica so that
// they are in force on this node when the answer is sent.
func (s *Server) handler() (http.Handler, error) {
	c := &s.cfg
	api := &httpapi.Server{
		Issuer:              s.issuer,
		Keys:                s.keys,
		Scopes:              s.replica,
		Logger:              s.logger,
		Clock:               s.clock,
		Ready:               s.ready,
		NoRequestLog:        c.NoRequestLog,
		RequestLogJSON:      c.RequestLogJSON,
		AssertionAlgorithms: clientauth.Algorithms,
		TrustedProxies:      c.TrustedProxies,
		MutualTLS:           s.certs != nil && s.clientCAs != nil,
		TLSClientAuth:       s.clientCAs != nil,
		ClientCertHeader:    c.ClientCertHeader,
		Fresh:               s.fresh,
	}
	api.DPoP = &httpapi.DPoP{Replay: s.replay, MaxAge: c.DPoPProofMaxAge}
	if c.DPoPNonceRequired {
		nonces, err := dpop.NewNonceSource(c.KEK.Derive(dpop.NonceLabel), 0)
		if err != nil {
			return nil, fmt.Errorf("DPoP nonces: %w", err)
		}
		api.DPoP.Nonces = nonces
	}
	api.Observer = s.stats
	if c.Metrics != nil {
		api.DPoP.Observer = c.Metrics
	}
	if !c.NoAdminAPI {
		guard, err := api.AdminGuard(c.AdminAudience)
		if err != nil {
			return nil, fmt.Errorf("admin API: %w", err)
		}
		svc := &admin.Service{Store: s.replica, Keys: s.keys, Clock: s.clock, TokenIssuer: s.issuer,
			AllowHTTPJWKSURI: c.AllowHTTPJWKSURI, AllowPrivateAddresses: c.AllowPrivateAddresses}
		api.Admin = (&httpapi.Admin{Service: svc, Guard: guard, Logger: s.logger, NodeStats: s.fleetStats}).Handler()
		if !c.NoConsole {
			if api.Console, err = httpapi.NewConsole(console.Assets); err != nil {
				return nil, fmt.Errorf("console: %w", err)
			}
			// Sign-in codes are single use fleet-wide: the replay cache is
			// Redis's when the fleet shares one, as for DPoP proofs.
			api.Console.CodeKey = c.KEK.Derive(console.CodeLabel)
			api.Console.Replay = s.replay
			api.Console.AdminAudience = c.AdminAudience
		}
	}
	return api.Handler(), nil
}

// run starts the listeners and the background work.
func (s *Server) run(ctx context.Context) {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.background.Go(func() { s.replica.Run(bg) })
	s.background.Go(func() { s.maintainKeys(bg) })
	s.SampleStats(ctx) // the counters' starting values, and this node in the fleet's figures at once
	s.background.Go(func() { s.runStats(bg) })
	s.background.Go(func() { s.quotas.run(bg) })
	if s.cfgFile != nil {
		s.background.Go(func() { s.watchConfigFile(bg, s.cfgFile) })
	}
	if s.certs != nil {
		s.background.Go(func() { s.certs.run(bg, s.cfg.TLSReloadInterval) })
		s.logger.Info("serving HTTPS (TLS 1.2 and up, HTTP/2); the certificate files are reloaded when they change", certAttrs(s.certs.cert.Load())...)
	}
	if s.ops != nil {
		go func() {
			if err := s.ops.Serve(s.opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("ops listener failed; metrics and health checks are unavailable", "err", err)
			}
		}()
	}
	go func() {
		var err error
		if s.certs != nil {
			err = s.http.ServeTLS(s.listener, "", "") // HTTP/2 and HTTP/1.1 over TLS
		} else {
			err = s.http.Serve(s.listener)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
		close(s.served)
	}()
	s.running.Store(true)
}

// Done is closed when the public listener stops serving: once Shutdown or
// Close has begun, or when it fails (Shutdown then returns why).
func (s *Server) Done() <-chan struct{} { return s.served }

// Shutdown stops the server gracefully: readiness fails at once, the
// listener keeps serving for Config.ShutdownDelay so that load balancers
// stop sending, then closes; requests in flight finish (up to
// Config.ShutdownTimeout, or until ctx ends); then the operations listener
// closes (so that /readyz says "shutting down" to the end), the
// background work stops and the store is closed.
//
// It returns the error that stopped the public listener if it failed,
// nil otherwise: a drain cut short is logged, not returned. Calls after
// the first wait for it to finish, or for their ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.claimStop() {
		s.drain(ctx)
		s.finish()
	}
	select {
	case <-s.stopped:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server at once, as a crash would for its clients: the
// listeners and every connection are closed without draining. Then it
// releases everything as Shutdown does. A Shutdown in progress is cut
// short.
func (s *Server) Close() error {
	s.stopping.Store(true)
	s.killOnce.Do(func() { close(s.killed) })
	if s.running.Load() {
		s.http.Close()
		if s.ops != nil {
			s.ops.Close()
		}
	}
	if s.claimStop() {
		s.finish()
	}
	<-s.stopped
	return s.err
}

// claimStop reports whether this call is the first to stop the server.
func (s *Server) claimStop() bool {
	first := false
	s.stopOnce.Do(func() { first = true })
	return first
}

// drain is Shutdown's graceful part.
func (s *Server) drain(ctx context.Context) {
	s.stopping.Store(true)
	if !s.running.Load() {
		return
	}
	select {
	case <-s.served: // the listener failed: nothing to drain from
	default:
		if d := s.cfg.ShutdownDelay; d > 0 {
			s.logger.Info("shutting down: failing readiness so load balancers stop sending", "delay", auth.FormatDuration(d))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-s.killed:
			}
			t.Stop()
		}
	}
	s.logger.Info("shutting down: finishing requests in flight", "timeout", auth.FormatDuration(max(0, s.cfg.ShutdownTimeout)))
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.logger.Error("graceful shutdown timed out; closing remaining connections", "err", err)
		s.http.Close()
	}
	// The ops listener goes last, so that /readyz says "shutting down" to
	// the end.
	if s.ops != nil {
		if err := s.ops.Shutdown(ctx); err != nil {
			s.ops.Close()
		}
	}
}

// finish releases everything once the listener has stopped, and records
// the result.
func (s *Server) finish() {
	if s.running.Load() {
		<-s.served
		s.err = s.serveErr
		s.release(true)
		if s.err == nil {
			s.logger.Info("stopped")
		}
	}
	close(s.stopped)
}

// release stops the background work and closes what Start opened, and the
// store with closeStore.
func (s *Server) release(closeStore bool) {
	if s.cancel != nil {
		s.cancel()
	}
	s.background.Wait()
	if s.limiter != nil {
		s.limiter.Close()
	}
	if s.redisCl != nil {
		s.redisCl.Close()
	}
	if !s.running.Load() && s.listener != nil {
		s.listener.Close() // Start failed after listening
	}
	if s.opsLn != nil {
		s.opsLn.Close() // Start failed before serving; harmless after Shutdown
	}
	if closeStore {
		s.cfg.Store.Close()
	}
}

// Addr is the public listener's address, host:port.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// OpsAddr is the operations listener's address, "" when there is none.
func (s *Server) OpsAddr() string {
	if s.opsLn == nil {
		return ""
	}
	return s.opsLn.Addr().String()
}

// Issuer is the issuer URL: Config.Issuer, or the default made from the
// port listened on.
func (s *Server) Issuer() string { return s.issuerURL }

// TLS reports whether the public listener serves HTTPS.
func (s *Server) TLS() bool { return s.certs != nil }

// Replica is the in-memory copy of the clients and keys that the token
// endpoint reads. Its writes go through to the store and are in force on
// this node at once.
func (s *Server) Replica() *inmem.Replica { return s.replica }

// Keys is the signing-key ring.
func (s *Server) Keys() *issuer.KeyRing { return s.keys }

// Store is Config.Store, as given.
func (s *Server) Store() auth.Store { return s.cfg.Store }

func (s *Server) scheme() string {
	if s.certs != nil {
		return "https"
	}
	return "http"
}

// redisLogger sends go-redis's own log lines to slog at debug level.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.Debug("redis: " + fmt.Sprintf(format, v...))
}
