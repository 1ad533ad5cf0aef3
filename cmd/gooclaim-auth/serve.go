package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/egress"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/ops"
	"github.com/gooclaim/auth/postgres"
	"github.com/gooclaim/auth/redis"
)

// serveConfig is the configuration of `serve`; its zero value is not used,
// the flags' defaults are.
type serveConfig struct {
	listen            string
	opsListen         string
	issuer            string
	audience          string
	signingAlg        string
	tokenTTL          durationValue
	rateLimit         rateValue
	ipRateLimit       rateValue
	publishAhead      durationValue
	rotationPeriod    durationValue
	keyCheckInterval  durationValue
	pollInterval      durationValue
	maxStaleness      durationValue
	shutdownTimeout   durationValue
	readHeaderTimeout durationValue
	requestTimeout    durationValue
	idleTimeout       durationValue
	maxHeaderBytes    sizeValue
	noRequestLog      bool
	redisURL          string
	redisPrefix       string
	rateLimitFail     string
	shutdownDelay     durationValue
	adminAudience     string
	noAdminAPI        bool
	allowHTTPJWKSURI  bool
	allowPrivate      bool
	env               string
	behindProxy       bool
	trustedProxies    prefixesValue
	tlsCert, tlsKey   string

	// tlsReloadEvery is how often the certificate files are checked for a
	// change (not a flag; tests shorten it).
	tlsReloadEvery time.Duration
}

// The environments of --env.
const (
	development = "development"
	production  = "production"
)

// defaultServeConfig holds the flags' defaults.
func defaultServeConfig() *serveConfig {
	return &serveConfig{
		listen:            ":8080",
		opsListen:         "127.0.0.1:9090",
		audience:          issuer.DefaultAudience,
		signingAlg:        auth.ES256,
		maxHeaderBytes:    16 << 10,
		redisPrefix:       redis.DefaultPrefix,
		rateLimitFail:     "open",
		tokenTTL:          durationValue(issuer.DefaultTokenTTL),
		rateLimit:         rateValue(issuer.DefaultRate),
		ipRateLimit:       rateValue(issuer.DefaultRate),
		publishAhead:      durationValue(issuer.DefaultPublishAhead),
		rotationPeriod:    durationValue(issuer.DefaultRotationPeriod),
		keyCheckInterval:  durationValue(time.Minute),
		pollInterval:      durationValue(500 * time.Millisecond),
		maxStaleness:      durationValue(15 * time.Minute),
		shutdownTimeout:   durationValue(30 * time.Second),
		readHeaderTimeout: durationValue(5 * time.Second),
		requestTimeout:    durationValue(10 * time.Second),
		idleTimeout:       durationValue(2 * time.Minute),
		adminAudience:     auth.AdminAudience,
		env:               development,
		tlsReloadEvery:    2 * time.Second,
	}
}

func newServeCmd(e *env, g *globalFlags) *cobra.Command {
	c := defaultServeConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the token service",
		Long: `Run the token service: POST /v1/auth/token, the JWKS and the discovery documents.

With no flags it keeps its state in ./gooclaim-auth.db (created and migrated
automatically), listens on :8080 and uses the issuer http://localhost:8080
(https://localhost:8080 with --tls-cert and --tls-key).

Settings may also come from GOOCLAIM_<FLAG> variables and a YAML file
(--config); see gooclaim-auth config print.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{serveScoped: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(g); err != nil {
				return err
			}
			level, _ := parseLevel(g.logLevel) // checked by validate
			lw := newLogWriter(e.stderr, 200*time.Millisecond)
			defer lw.Close()
			logger := slog.New(flushingHandler{slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: level}), lw})
			s, err := startServer(cmd.Context(), c, g, logger, nil)
			if err != nil {
				return err
			}
			return s.wait()
		},
	}
	addServeFlags(cmd.Flags(), c)
	return cmd
}

// addServeFlags defines serve's flags on f, bound to c (also used by config
// print, and to know the keys a configuration file may hold).
func addServeFlags(f *pflag.FlagSet, c *serveConfig) {
	f.StringVar(&c.listen, "listen", c.listen, "address to listen on, host:port")
	f.StringVar(&c.opsListen, "ops-listen", c.opsListen, `address of the operations listener (GET /metrics, /healthz, /readyz), host:port; "" turns it off. Keep it off the public network`)
	f.StringVar(&c.issuer, "issuer", "", "issuer URL: the tokens' iss and the base of the endpoint URLs (default http://localhost:<listen port>, https with TLS)")
	f.StringVar(&c.env, "env", c.env, "environment: production (refuses generated keys, plain HTTP, an http issuer, a SQLite file others can read) or development")
	f.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain file to serve HTTPS (and HTTP/2) with; reloaded when the file changes (with --tls-key)")
	f.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.BoolVar(&c.behindProxy, "behind-proxy", false, "TLS is terminated by a proxy or load balancer in front: lets --env production serve plain HTTP")
	f.Var(&c.trustedProxies, "trusted-proxies", "CIDRs or addresses of the proxies whose X-Forwarded-For / Forwarded headers are believed for the per-address limit and the logs (default: none)")
	f.StringVar(&c.audience, "audience", c.audience, "default token audience (aud) for clients that set none")
	f.StringVar(&c.signingAlg, "signing-alg", c.signingAlg, "signing algorithm of new keys: ES256, EdDSA or RS256")
	f.Var(&c.tokenTTL, "token-ttl", "default access token lifetime (clients may override; at most 24h)")
	f.Var(&c.rateLimit, "rate-limit", "token requests allowed per client_id in any rolling window, LIMIT/WINDOW")
	f.Var(&c.ipRateLimit, "ip-rate-limit", "token requests without a client_id allowed per remote address, LIMIT/WINDOW")
	f.Var(&c.publishAhead, "key-publish-ahead", "how long a new key is published in the JWKS before it signs")
	f.Var(&c.rotationPeriod, "key-rotation-period", "how long a key signs before the next one takes over (e.g. 90d)")
	f.Var(&c.keyCheckInterval, "key-check-interval", "how often the server checks whether a key rotation is due")
	f.Var(&c.pollInterval, "poll-interval", "how often changes made by other processes (the CLI) are picked up")
	f.Var(&c.maxStaleness, "max-staleness", "how long a node keeps issuing tokens from its in-memory copy of the clients while it cannot read the database; past it, token, introspection and revocation requests get 503 and /readyz fails until a sync succeeds (0: forever)")
	f.Var(&c.shutdownTimeout, "shutdown-timeout", "how long a graceful shutdown waits for requests in flight")
	f.Var(&c.readHeaderTimeout, "read-header-timeout", "time allowed to read a request's headers")
	f.Var(&c.requestTimeout, "request-timeout", "time allowed to read a request and write its response")
	f.Var(&c.idleTimeout, "idle-timeout", "how long an idle keep-alive connection is kept")
	f.Var(&c.maxHeaderBytes, "max-header-bytes", "largest request header block accepted (16KiB, or bytes)")
	f.BoolVar(&c.noRequestLog, "no-request-log", false, "do not log one line per request")
	f.StringVar(&c.redisURL, "redis-url", "", "redis:// URL of the Redis that holds the fleet-wide rate limit (default: a per-node in-memory limit)")
	f.StringVar(&c.redisPrefix, "redis-prefix", c.redisPrefix, "prefix of the rate-limit keys in Redis")
	f.StringVar(&c.rateLimitFail, "rate-limit-fail", c.rateLimitFail, "when Redis is unreachable: open (each node enforces the limit itself) or closed (token requests get 503)")
	f.StringVar(&c.adminAudience, "admin-audience", c.adminAudience, "audience (aud) the admin API requires of its Bearer tokens: one no other API accepts, never --audience")
	f.BoolVar(&c.noAdminAPI, "no-admin-api", false, "do not serve the admin API (/v1/admin/)")
	f.BoolVar(&c.allowHTTPJWKSURI, "allow-http-jwks-uri", false, "let private_key_jwt clients register plain http jwks_uri values (development only; implied by an http:// issuer in development)")
	f.BoolVar(&c.allowPrivate, "allow-private-addresses", false, "let the server fetch keys — jwks_uri today, trusted issuers later — from loopback, private, link-local and other special-purpose addresses (development only; implied in development when the issuer's host is a loopback address)")
	f.Var(&c.shutdownDelay, "shutdown-delay", "on SIGTERM, how long to keep serving with /readyz failing before closing the listener, so that load balancers stop sending first")
}

// server is a running `serve`.
type server struct {
	cfg      *serveConfig
	logger   *slog.Logger
	store    database
	data     auth.Store // store, instrumented: everything but Close and type checks uses it
	metrics  *metrics.Metrics
	ops      *http.Server // nil without --ops-listen
	opsLn    net.Listener
	draining sync.WaitGroup // a shutdown in progress
	replica  *inmem.Replica
	keys     *issuer.KeyRing
	limiter  *inmem.Limiter
	redis    *redis.Limiter
	redisCl  goredis.UniversalClient
	issuer   *issuer.Issuer
	http     *http.Server
	certs    *certReloader // nil without TLS
	listener net.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan error
	stopping atomic.Bool
}

// startServer opens everything, listens, and serves in the background until
// ctx ends. clock may be nil for the system clock.
func startServer(ctx context.Context, c *serveConfig, g *globalFlags, logger *slog.Logger, clock auth.Clock) (_ *server, err error) {
	if clock == nil {
		clock = auth.SystemClock{}
	}
	s := &server{cfg: c, logger: logger, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.store, err = openStore(ctx, g, clock)
	if err != nil {
		return nil, err
	}
	kek, err := loadKEK(ctx, g, s.store, logger)
	if err != nil {
		return nil, err
	}
	bi := buildInfo()
	s.metrics = metrics.New(metrics.BuildInfo{Version: bi.Version, Commit: bi.Commit, Date: bi.Date, GoVersion: bi.GoVersion})
	s.data = metrics.Store(s.store, s.metrics)
	s.replica = inmem.NewReplica(s.data, inmem.ReplicaOptions{
		PollInterval: time.Duration(c.pollInterval),
		Logger:       logger,
		OnKeys:       func(keys []auth.Key) error { return s.keys.Load(keys) },
	})
	s.keys = issuer.NewKeyRing(issuer.KeyPolicy{
		Algorithm:      c.signingAlg,
		PublishAhead:   time.Duration(c.publishAhead),
		RotationPeriod: time.Duration(c.rotationPeriod),
	}, kek, s.replica, clock)
	if err := s.replica.Load(ctx); err != nil {
		return nil, err
	}
	if _, err := s.keys.Maintain(ctx); err != nil {
		return nil, err
	}
	if _, err := s.keys.Signer(clock.Now()); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	s.metrics.WatchReplica(s.replica)
	s.metrics.WatchKeys(s.keys, clock.Now)

	if c.tlsCert != "" {
		if s.certs, err = newCertReloader(c.tlsCert, c.tlsKey, logger); err != nil {
			return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
	}
	s.listener, err = net.Listen("tcp", c.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", c.listen, err)
	}
	if c.issuer == "" {
		_, port, _ := net.SplitHostPort(s.listener.Addr().String())
		c.issuer = c.scheme() + "://localhost:" + port
	}
	s.limiter = inmem.NewLimiter(inmem.LimiterOptions{Clock: clock})
	var limiter auth.Limiter = s.limiter
	if c.redisURL != "" {
		s.redisCl, err = redis.ParseURL(c.redisURL)
		if err != nil {
			return nil, fmt.Errorf("--redis-url: %w", err)
		}
		s.metrics.InstrumentRedis(s.redisCl)
		opts := redis.LimiterOptions{Prefix: c.redisPrefix, Logger: logger}
		if c.rateLimitFail == "open" {
			opts.Fallback = s.limiter
		}
		if _, ok := clock.(auth.SystemClock); !ok {
			opts.Clock = clock // tests; in production Redis's own clock is shared by every node
		}
		// go-redis reports every failed dial itself; our limiter logs an
		// outage once per episode, so the library's lines go to debug.
		goredis.SetLogger(redisLogger{logger})
		s.redis = redis.NewLimiter(s.redisCl, opts)
		limiter = s.redis
	}
	s.metrics.WatchLimiter(s.redis) // nil: "memory"
	limiter = metrics.Limiter(limiter, s.metrics)
	// The jti of every private_key_jwt assertion is remembered until it
	// expires: in Redis when the fleet shares one, so that an assertion
	// accepted by one node is refused by every other.
	var replay auth.ReplayCache = inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: clock})
	if s.redisCl != nil {
		ropts := redis.ReplayCacheOptions{Prefix: c.redisPrefix + "jti:"}
		if _, ok := clock.(auth.SystemClock); !ok {
			ropts.Clock = clock
		}
		replay = redis.NewReplayCache(s.redisCl, ropts)
	}
	// Plain-http jwks_uri values: asked for, or implied by an http issuer
	// in development; never implied in production.
	allowHTTPKeys := c.allowHTTPJWKSURI || (c.env != production && strings.HasPrefix(c.issuer, "http://"))
	allowPrivate, _ := c.privateAddresses()
	assertions, err := clientauth.NewVerifier(clientauth.Config{
		Issuer:                c.issuer,
		TokenEndpoint:         c.issuer + httpapi.TokenPath,
		Replay:                replay,
		Clock:                 clock,
		AllowHTTP:             allowHTTPKeys,
		AllowPrivateAddresses: allowPrivate,
		Logger:                logger,
	})
	if err != nil {
		return nil, fmt.Errorf("private_key_jwt: %w", err)
	}
	s.issuer = issuer.New(issuer.Config{
		Issuer:           c.issuer,
		Audience:         c.audience,
		TokenTTL:         time.Duration(c.tokenTTL),
		RateLimit:        auth.Rate(c.rateLimit),
		IPRateLimit:      auth.Rate(c.ipRateLimit),
		Revocations:      s.data,
		ClientAssertions: assertions,
	}, s.replica, s.keys, limiter, clock)
	api := &httpapi.Server{Issuer: s.issuer, Keys: s.keys, Scopes: s.replica, Logger: logger, Clock: clock, Ready: s.isReady,
		NoRequestLog: c.noRequestLog, AssertionAlgorithms: clientauth.Algorithms, TrustedProxies: c.trustedProxies,
		Observer: s.metrics, Fresh: s.fresh}
	var self atomic.Pointer[http.Handler]
	if !c.noAdminAPI {
		guard, err := newAdminGuard(ctx, s.issuer, c.adminAudience, &self)
		if err != nil {
			return nil, fmt.Errorf("admin API: %w", err)
		}
		svc := &admin.Service{Store: s.data, Keys: s.keys, Clock: clock, AllowHTTPJWKSURI: allowHTTPKeys, AllowPrivateAddresses: allowPrivate}
		api.Admin = (&httpapi.Admin{Service: svc, Guard: guard, Logger: logger}).Handler()
	}
	handler := api.Handler()
	self.Store(&handler)
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: time.Duration(c.readHeaderTimeout),
		ReadTimeout:       time.Duration(c.requestTimeout),
		// The write deadline runs from the end of the headers, like the read
		// one: a second more lets the 400 for a body that stalled until the
		// read deadline still be written, instead of a bare closed connection.
		WriteTimeout:   time.Duration(c.requestTimeout) + time.Second,
		IdleTimeout:    time.Duration(c.idleTimeout),
		MaxHeaderBytes: int(c.maxHeaderBytes),
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if s.certs != nil {
		s.http.TLSConfig = s.certs.tlsConfig()
	}
	if c.opsListen != "" {
		s.opsLn, err = net.Listen("tcp", c.opsListen)
		if err != nil {
			return nil, fmt.Errorf("--ops-listen %s: %w", c.opsListen, err)
		}
		s.ops = &http.Server{
			Handler:           ops.Handler(ops.Config{Metrics: s.metrics.Handler(), Health: s.health}),
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
	}

	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go s.replica.Run(s.ctx)
	go s.maintainKeys(time.Duration(c.keyCheckInterval))
	if s.certs != nil {
		go s.certs.run(s.ctx, c.tlsReloadEvery)
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
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	go func() {
		<-ctx.Done()
		s.shutdown()
	}()
	s.logStart(g, clock)
	return s, nil
}

func (s *server) logStart(g *globalFlags, clock auth.Clock) {
	signer, _ := s.keys.Signer(clock.Now())
	s.logger.Info("gooclaim-auth serving",
		"version", version,
		"issuer", s.cfg.issuer,
		"listen", s.listener.Addr().String(),
		"ops_listen", s.opsAddr(),
		"database", redactURL(g.database),
		"env", s.cfg.env,
		"config", g.config,
		"tls", s.certs != nil,
		"trusted_proxies", s.cfg.trustedProxies.String(),
		"rate_limiter", s.limiterBackend(),
		"signing_alg", signer.Algorithm(),
		"signing_kid", signer.KeyID(),
		"clients", s.replica.Len())
	if s.replica.Len() == 0 {
		cmd := `gooclaim-auth clients create --name my-service --scope "claims:read"`
		if g.database != "./gooclaim-auth.db" {
			cmd += " --database " + redactURL(g.database)
		}
		s.logger.Info("no clients yet; create one with: " + cmd)
	}
	if s.certs != nil {
		s.logger.Info("serving HTTPS (TLS 1.2 and up, HTTP/2); the certificate files are reloaded when they change", certAttrs(s.certs.cert.Load())...)
	}
	s.logEnvironment(g)
}

// privateAddresses says whether the server fetches keys from loopback,
// private and other special-purpose addresses: when asked to, or, in
// development only, implied by an issuer on a loopback host (the default
// http://localhost:<port>), where the keys are served beside the server.
// An http issuer does not imply it: a development server at
// http://auth.internal is on a network, and its clients' jwks_uri must
// not reach into it.
func (c *serveConfig) privateAddresses() (allowed, implied bool) {
	if c.allowPrivate {
		return true, false
	}
	if c.env == production {
		return false, false
	}
	u, err := url.Parse(c.issuer)
	implied = err == nil && egress.IsLoopbackHost(u.Hostname())
	return implied, implied
}

// scheme is the scheme this server serves.
func (c *serveConfig) scheme() string {
	if c.tlsCert != "" {
		return "https"
	}
	return "http"
}

// logEnvironment says, in development, in one line, what production would
// refuse; and warns of settings that are allowed but probably wrong.
func (s *server) logEnvironment(g *globalFlags) {
	c := s.cfg
	if c.env == development {
		var would, fixes []string
		for _, r := range c.productionRefusals(g) {
			would = append(would, r.what)
			fixes = append(fixes, r.fix)
		}
		if len(would) > 0 {
			s.logger.Warn("development environment: "+strings.Join(would, "; ")+" — each allowed here, refused with --env production",
				"env", c.env, "refused_in_production", would, "fixes", fixes)
		}
		if _, implied := c.privateAddresses(); implied {
			s.logger.Info("development environment with a loopback issuer: client keys may be fetched from loopback and private addresses, as with --allow-private-addresses (never with --env production)", "issuer", c.issuer)
		}
	}
	if c.behindProxy && len(c.trustedProxies) == 0 {
		s.logger.Warn("--behind-proxy without --trusted-proxies: the per-address rate limit and the logs see the proxy's address, not the clients'")
	}
	if c.behindProxy && strings.HasPrefix(c.issuer, "http://localhost:") {
		s.logger.Warn("--behind-proxy with the default issuer: set --issuer to the https URL clients reach through the proxy", "issuer", c.issuer)
	}
}

// maintainKeys creates, rotates and prunes keys when due, on every node;
// the store's transaction makes sure only one node's change happens.
func (s *server) maintainKeys(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			changed, err := s.keys.Maintain(s.ctx)
			if err != nil {
				s.logger.Error("signing key maintenance failed; will retry", "err", err)
			} else if changed {
				s.logger.Info("signing keys rotated or pruned", "next_rotation", s.keys.NextRotation(time.Now()))
			}
			// Revoked token IDs are kept only while the tokens could still be used.
			if n, err := s.data.PruneRevocations(s.ctx, time.Now().Add(-time.Minute)); err != nil {
				s.logger.Error("pruning expired revocations failed; will retry", "err", err)
			} else if n > 0 {
				s.logger.Debug("pruned expired revocations", "count", n)
			}
		}
	}
}

// health reports whether the node should receive traffic, with the state
// of what it depends on: the ops listener's /readyz (the public one gets
// only the first result, see isReady). A node keeps serving while the store or Redis is
// down (from its replica; with the fallback limiter), so those degrade the
// detail, not readiness.
func (s *server) health() (bool, any) {
	now := time.Now()
	ready, reason := true, ""
	signer, err := s.keys.Signer(now)
	keys := map[string]any{}
	if err != nil {
		ready, reason = false, err.Error()
		keys["error"] = err.Error()
	} else {
		keys["active_kid"], keys["alg"] = signer.KeyID(), signer.Algorithm()
		if next := s.keys.NextRotation(now); !next.IsZero() {
			keys["next_rotation"] = next
		}
	}
	if err := s.fresh(); err != nil {
		ready, reason = false, auth.ErrorMessage(err)
	}
	if s.stopping.Load() {
		ready, reason = false, "shutting down"
	}
	last := s.replica.LastSync()
	store := map[string]any{
		"backend":     storeBackend(s.store),
		"clients":     s.replica.Len(),
		"last_sync":   last,
		"sync_age_ms": now.Sub(last).Milliseconds(),
		"state":       "ok",
	}
	if err := s.replica.SyncError(); err != nil {
		store["state"], store["last_error"] = "unreachable", auth.ErrorMessage(err)
	}
	if bound := time.Duration(s.cfg.maxStaleness); bound > 0 {
		store["max_staleness_ms"] = bound.Milliseconds()
	}
	detail := map[string]any{
		"keys":         keys,
		"store":        store,
		"rate_limiter": s.limiterState(),
	}
	if reason != "" {
		detail["reason"] = reason
	}
	return ready, detail
}

// fresh returns an auth.EUNAVAILABLE error when the replica has not been
// in step with the store for longer than --max-staleness. Until then a node
// that cannot reach its database keeps issuing tokens from memory; past
// it, it fails closed: otherwise a client disabled or deleted meanwhile
// (on another node, or once the database is back on a node partitioned
// from it) would stay usable for as long as the outage lasts.
func (s *server) fresh() error {
	bound := time.Duration(s.cfg.maxStaleness)
	if bound <= 0 {
		return nil
	}
	if age := time.Since(s.replica.LastSync()); age > bound {
		return auth.Errorf(auth.EUNAVAILABLE, "the clients and keys in memory were last read from the database %s ago, more than --max-staleness %s: the database is unreachable", auth.FormatDuration(age.Truncate(time.Second)), auth.FormatDuration(bound))
	}
	return nil
}

// isReady is the public /readyz's answer: readiness alone, none of
// health's detail.
func (s *server) isReady() bool {
	ok, _ := s.health()
	return ok
}

func (s *server) ready() error {
	if ok, d := s.health(); !ok {
		return errors.New(d.(map[string]any)["reason"].(string))
	}
	return nil
}

func storeBackend(db database) string {
	if _, ok := db.(*postgres.DB); ok {
		return "postgres"
	}
	return "sqlite"
}

func (s *server) limiterBackend() string {
	if s.redis == nil {
		return "memory"
	}
	return s.redis.State().Backend
}

func (s *server) limiterState() map[string]any {
	if s.redis == nil {
		return map[string]any{"backend": "memory", "tracked_keys": s.limiter.Len()}
	}
	st := s.redis.State()
	m := map[string]any{"backend": st.Backend, "since": st.Since, "fail": s.cfg.rateLimitFail, "fallback_requests": st.Fallbacks}
	if st.LastError != "" {
		m["last_error"] = st.LastError
	}
	return m
}

// opsAddr is the ops listener's address, "" when there is none.
func (s *server) opsAddr() string {
	if s.opsLn == nil {
		return ""
	}
	return s.opsLn.Addr().String()
}

// Addr is the address the server listens on.
func (s *server) Addr() string { return s.listener.Addr().String() }

// shutdown stops accepting connections, lets requests in flight finish
// (up to the shutdown timeout), then stops the background work.
func (s *server) shutdown() {
	if s.stopping.Swap(true) {
		return
	}
	s.draining.Add(1)
	defer s.draining.Done()
	if d := time.Duration(s.cfg.shutdownDelay); d > 0 {
		s.logger.Info("shutting down: failing readiness so load balancers stop sending", "delay", auth.FormatDuration(d))
		time.Sleep(d)
	}
	s.logger.Info("shutting down: finishing requests in flight", "timeout", auth.FormatDuration(time.Duration(s.cfg.shutdownTimeout)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.shutdownTimeout))
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

// wait blocks until the server has stopped, then releases everything.
func (s *server) wait() error {
	err := <-s.done
	// Serve returns as soon as Shutdown starts: let requests in flight and
	// the ops listener finish before the store and Redis are closed.
	s.draining.Wait()
	s.close()
	if err == nil {
		s.logger.Info("stopped")
	}
	return err
}

func (s *server) close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.limiter != nil {
		s.limiter.Close()
	}
	if s.redisCl != nil {
		s.redisCl.Close()
	}
	if s.opsLn != nil {
		s.opsLn.Close() // start failed before serving; harmless after Shutdown
	}
	if s.store != nil {
		s.store.Close()
	}
}

// redisLogger sends go-redis's own log lines to slog at debug level.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.Debug("redis: " + fmt.Sprintf(format, v...))
}
