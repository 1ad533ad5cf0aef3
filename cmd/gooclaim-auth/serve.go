package main

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authconfig"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/egress"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/redis"
	"github.com/gooclaim/auth/server"
	"github.com/gooclaim/auth/signing"
)

// serveConfig is the configuration of `serve`; its zero value is not used,
// the flags' defaults are.
type serveConfig struct {
	// requestLog is the writer of the logger's JSON handler, to which the
	// request log's lines are written directly (server.Config.RequestLogJSON);
	// set by serve, not a setting.
	requestLog        io.Writer
	listen            string
	opsListen         string
	issuer            string
	audience          string
	signingAlg        string
	tokenTTL          durationValue
	rateLimit         rateValue
	ipRateLimit       rateValue
	defaultQuotas     quotasValue
	reuseTokens       bool
	reuseMaxTokens    int
	defaultClaims     claimsValue
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
	dpopNonce         string
	dpopProofMaxAge   durationValue
	shutdownDelay     durationValue
	adminAudience     string
	noAdminAPI        bool
	noConsole         bool
	allowHTTPJWKSURI  bool
	allowPrivate      bool
	env               string
	behindProxy       bool
	trustedProxies    prefixesValue
	tlsCert, tlsKey   string
	tlsClientCA       string
	clientCertHeader  string
	configFile        string
	configFileEvery   durationValue
	configFilePrune   bool

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
		dpopNonce:         "off",
		dpopProofMaxAge:   durationValue(httpapi.DefaultDPoPMaxAge),
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
		configFileEvery:   durationValue(server.DefaultConfigFileInterval),
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
			c.requestLog = lw // INFO lines: flushingHandler adds nothing to them
			srv, err := startServer(cmd.Context(), c, g, logger, nil)
			if err != nil {
				return err
			}
			return serveUntil(cmd.Context(), srv)
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
	f.Var(&c.trustedProxies, "trusted-proxies", "CIDRs or addresses of the proxies whose X-Forwarded-For / Forwarded headers (and --client-cert-header) are believed for the per-address limit and the logs (default: none)")
	f.StringVar(&c.tlsClientCA, "tls-client-ca", "", "PEM bundle of the CAs whose client certificates authenticate tls_client_auth clients (mutual TLS, RFC 8705); the HTTPS listener then asks every client for a certificate, without requiring one, and tokens requested with one are bound to it")
	f.StringVar(&c.clientCertHeader, "client-cert-header", "", "header in which a TLS-terminating proxy forwards the client certificate (PEM, URL-encoded PEM as nginx's $ssl_client_escaped_cert, or Envoy's x-forwarded-client-cert); read from --trusted-proxies only, removed from every other request")
	f.StringVar(&c.audience, "audience", c.audience, "default token audience (aud) for clients that set none")
	f.StringVar(&c.signingAlg, "signing-alg", c.signingAlg, "signing algorithm of new keys: ES256, EdDSA or RS256")
	f.Var(&c.tokenTTL, "token-ttl", "default access token lifetime (clients may override; at most 24h)")
	f.Var(&c.rateLimit, "rate-limit", "token requests allowed per client_id in any rolling window, LIMIT/WINDOW")
	f.Var(&c.ipRateLimit, "ip-rate-limit", "token requests without a client_id allowed per remote address, LIMIT/WINDOW")
	f.Var(&c.defaultClaims, "default-claim", `claim NAME='EXPR' of every client's tokens, a CEL expression over client, request and now (region='"eu"'); a client's own --claim of the same name wins; checked at start; repeatable (default: none)`)
	f.Var(&c.defaultQuotas, "default-quota", "token quota TOKENS/WINDOW of the clients that set none: tokens issued per fixed UTC window (10000/1d, 1000/1h; the window must divide a day), fleet-wide with --redis-url; repeatable (default: none)")
	f.BoolVar(&c.reuseTokens, "reuse-tokens", false, "give a client's live token again to its requests for the same scope, audience and binding while over half its lifetime is left, instead of signing a new one: the default of the clients that set no --reuse-tokens of their own (per node; see docs/policies.md)")
	f.IntVar(&c.reuseMaxTokens, "reuse-max-tokens", issuer.DefaultTokenCacheSize, "how many tokens each node keeps to give again (about 1 KB each)")
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
	f.StringVar(&c.dpopNonce, "dpop-nonce", c.dpopNonce, "server nonces in DPoP proofs at the token endpoint (RFC 9449 §8): required (a proof made ahead of time is useless; every node of a fleet sharing the key-encryption key accepts the others' nonces) or off")
	f.Var(&c.dpopProofMaxAge, "dpop-proof-max-age", "how old a DPoP proof's iat may be at the token endpoint (plus 5s of clock skew)")
	f.StringVar(&c.adminAudience, "admin-audience", c.adminAudience, "audience (aud) the admin API requires of its Bearer tokens: one no other API accepts, never --audience")
	f.BoolVar(&c.noAdminAPI, "no-admin-api", false, "do not serve the admin API (/v1/admin/), nor the web console that uses it")
	f.BoolVar(&c.noConsole, "no-console", false, "do not serve the admin web console (/console/) and its sign-in links")
	f.BoolVar(&c.allowHTTPJWKSURI, "allow-http-jwks-uri", false, "let private_key_jwt clients register plain http jwks_uri values (development only; implied by an http:// issuer in development)")
	f.BoolVar(&c.allowPrivate, "allow-private-addresses", false, "let the server fetch keys — clients' jwks_uri, trusted issuers' discovery documents and keys — from loopback, private, link-local and other special-purpose addresses (development only; implied in development when the issuer's host is a loopback address)")
	f.StringVar(&c.configFile, "config-file", "", "configuration document of clients and trusted issuers (apiVersion "+authconfig.APIVersion+", as gooclaim-auth apply reads; a mounted ConfigMap, say) applied at start and whenever it changes; a bad file is refused whole and logged. Not --config, which holds these flags")
	f.Var(&c.configFileEvery, "config-file-interval", "how often --config-file is checked for changes")
	f.BoolVar(&c.configFilePrune, "config-file-prune", false, "with --config-file: delete the clients and trusted issuers an earlier apply made that the file no longer names (as apply --prune)")
	f.Var(&c.shutdownDelay, "shutdown-delay", "on SIGTERM, how long to keep serving with /readyz failing before closing the listener, so that load balancers stop sending first")
}

// startServer opens the database and the key-encryption key named by g,
// starts a server with c's settings, and logs what it serves. It returns
// once the server serves, in the background; clock may be nil for the
// system clock.
func startServer(ctx context.Context, c *serveConfig, g *globalFlags, logger *slog.Logger, clock auth.Clock) (_ *server.Server, err error) {
	db, err := openStore(ctx, g, clock)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close() // the server closes it once started
		}
	}()
	kek, err := loadKEK(ctx, g, db, logger)
	if err != nil {
		return nil, err
	}
	cfg := c.serverConfig(db, kek, logger, clock)
	cfg.RequestLogJSON = c.requestLog
	srv, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	logStart(srv, c, g, logger)
	logEnvironment(srv, c, g, logger)
	return srv, nil
}

// serveUntil lets srv serve until ctx ends (SIGINT, SIGTERM) or its
// listener fails, then shuts it down gracefully.
func serveUntil(ctx context.Context, srv *server.Server) error {
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	return srv.Shutdown(context.Background())
}

// serverConfig is the server's configuration: c's settings (validated),
// the open database and key-encryption key, a fresh metrics registry, and
// the egress rules c implies.
func (c *serveConfig) serverConfig(db database, kek *signing.KEK, logger *slog.Logger, clock auth.Clock) server.Config {
	bi := buildInfo()
	allowPrivate, _ := c.privateAddresses()
	shutdownTimeout := time.Duration(c.shutdownTimeout)
	if shutdownTimeout == 0 {
		shutdownTimeout = -1 // --shutdown-timeout 0: no grace at all (the server's zero is its default)
	}
	return server.Config{
		Store:          db,
		KEK:            kek,
		Listen:         c.listen,
		OpsListen:      c.opsListen,
		Issuer:         c.issuer,
		Audience:       c.audience,
		AdminAudience:  c.adminAudience,
		NoAdminAPI:     c.noAdminAPI,
		NoConsole:      c.noConsole,
		TokenTTL:       time.Duration(c.tokenTTL),
		RateLimit:      auth.Rate(c.rateLimit),
		IPRateLimit:    auth.Rate(c.ipRateLimit),
		DefaultQuotas:  c.defaultQuotas,
		DefaultClaims:  map[string]string(c.defaultClaims),
		ReuseTokens:    c.reuseTokens,
		ReuseMaxTokens: c.reuseMaxTokens,
		KeyPolicy: issuer.KeyPolicy{
			Algorithm:      c.signingAlg,
			PublishAhead:   time.Duration(c.publishAhead),
			RotationPeriod: time.Duration(c.rotationPeriod),
		},
		KeyCheckInterval:      time.Duration(c.keyCheckInterval),
		PollInterval:          time.Duration(c.pollInterval),
		MaxStaleness:          time.Duration(c.maxStaleness),
		ShutdownDelay:         time.Duration(c.shutdownDelay),
		ShutdownTimeout:       shutdownTimeout,
		ReadHeaderTimeout:     time.Duration(c.readHeaderTimeout),
		RequestTimeout:        time.Duration(c.requestTimeout),
		IdleTimeout:           time.Duration(c.idleTimeout),
		MaxHeaderBytes:        int(c.maxHeaderBytes),
		NoRequestLog:          c.noRequestLog,
		TLSCertFile:           c.tlsCert,
		TLSKeyFile:            c.tlsKey,
		TLSReloadInterval:     c.tlsReloadEvery,
		ConfigFile:            c.configFile,
		ConfigFileInterval:    time.Duration(c.configFileEvery),
		ConfigFilePrune:       c.configFilePrune,
		TrustedProxies:        c.trustedProxies,
		TLSClientCAFile:       c.tlsClientCA,
		ClientCertHeader:      c.clientCertHeader,
		RedisURL:              c.redisURL,
		RedisPrefix:           c.redisPrefix,
		RateLimitFailClosed:   c.rateLimitFail == "closed",
		DPoPNonceRequired:     c.dpopNonce == "required",
		DPoPProofMaxAge:       time.Duration(c.dpopProofMaxAge),
		AllowHTTPJWKSURI:      c.allowHTTPKeys(),
		AllowPrivateAddresses: allowPrivate,
		Logger:                logger,
		Clock:                 clock,
		Metrics:               metrics.New(metrics.BuildInfo{Version: bi.Version, Commit: bi.Commit, Date: bi.Date, GoVersion: bi.GoVersion}),
	}
}

// logStart says what the server serves, and how to begin when it has no
// clients yet.
func logStart(srv *server.Server, c *serveConfig, g *globalFlags, logger *slog.Logger) {
	h := srv.Health()
	logger.Info("gooclaim-auth serving",
		"version", version,
		"issuer", srv.Issuer(),
		"listen", srv.Addr(),
		"ops_listen", srv.OpsAddr(),
		"database", redactURL(g.database),
		"env", c.env,
		"config", g.config,
		"tls", srv.TLS(),
		"trusted_proxies", c.trustedProxies.String(),
		"rate_limiter", h.RateLimiter.Backend,
		"signing_alg", h.Keys.Algorithm,
		"signing_kid", h.Keys.ActiveKID,
		"clients", h.Store.Clients)
	if h.Store.Clients == 0 {
		cmd := `gooclaim-auth clients create --name my-service --scope "claims:read"`
		if g.database != "./gooclaim-auth.db" {
			cmd += " --database " + redactURL(g.database)
		}
		logger.Info("no clients yet; create one with: " + cmd)
	}
}

// issuerOrDefault is the issuer, or the server's default without its port
// (http://localhost:<port>, https with TLS): enough to know the scheme and
// the host before the server has listened.
func (c *serveConfig) issuerOrDefault() string {
	if c.issuer != "" {
		return c.issuer
	}
	return c.scheme() + "://localhost"
}

// allowHTTPKeys says whether private_key_jwt clients may use plain-http
// jwks_uri values: asked for, or implied by an http issuer in development;
// never implied in production.
func (c *serveConfig) allowHTTPKeys() bool {
	return c.allowHTTPJWKSURI || (c.env != production && strings.HasPrefix(c.issuerOrDefault(), "http://"))
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
	u, err := url.Parse(c.issuerOrDefault())
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
func logEnvironment(srv *server.Server, c *serveConfig, g *globalFlags, logger *slog.Logger) {
	if c.env == development {
		var would, fixes []string
		for _, r := range c.productionRefusals(g) {
			would = append(would, r.what)
			fixes = append(fixes, r.fix)
		}
		if len(would) > 0 {
			logger.Warn("development environment: "+strings.Join(would, "; ")+" — each allowed here, refused with --env production",
				"env", c.env, "refused_in_production", would, "fixes", fixes)
		}
		if _, implied := c.privateAddresses(); implied {
			logger.Info("development environment with a loopback issuer: client keys may be fetched from loopback and private addresses, as with --allow-private-addresses (never with --env production)", "issuer", srv.Issuer())
		}
	}
	if c.behindProxy && len(c.trustedProxies) == 0 {
		logger.Warn("--behind-proxy without --trusted-proxies: the per-address rate limit and the logs see the proxy's address, not the clients'")
	}
	if c.behindProxy && strings.HasPrefix(srv.Issuer(), "http://localhost:") {
		logger.Warn("--behind-proxy with the default issuer: set --issuer to the https URL clients reach through the proxy", "issuer", srv.Issuer())
	}
}
