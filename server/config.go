package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/policy"
	"github.com/gooclaim/auth/redis"
	"github.com/gooclaim/auth/signing"
)

// Config is what a Server serves and how. Store and KEK are required; the
// zero value of every other field takes the default given beside it (for
// a flag of `gooclaim-auth serve`, the flag's default) or means "none".
// The settings are taken as they are: the checks of the command line and
// the refusals of --env production are the caller's (cmd/gooclaim-auth
// validate.go); New checks only what the server itself cannot work
// without.
type Config struct {
	// Store holds the clients, signing keys, revocations and audit trail:
	// an open store whose schema is up to date, such as one from
	// sqlite.Open or postgres.Open followed by Migrate. The server reads
	// the clients and keys into memory at Start and follows its changes;
	// it closes the store when it stops (Shutdown, Close). Until Start has
	// succeeded, closing it is the caller's job.
	Store auth.Store
	// KEK is the key-encryption key that seals the private signing keys
	// in Store.
	KEK *signing.KEK

	// Listen is the public listener's address, host:port. Default ":8080";
	// port 0 picks a free one (Addr tells which).
	Listen string
	// OpsListen is the operations listener's address (GET /metrics,
	// /healthz, and /readyz with the Health detail), host:port; empty
	// means none. Keep it off the public network.
	OpsListen string
	// Issuer is the tokens' iss and the base of the endpoint URLs in the
	// metadata. Default http://localhost:<the port listened on>, https
	// with TLS.
	Issuer string
	// Audience is the default token audience (aud) for clients that set
	// none. Default issuer.DefaultAudience.
	Audience string
	// AdminAudience is the audience the admin API requires of its Bearer
	// tokens, one no other API accepts. Default auth.AdminAudience.
	AdminAudience string
	// NoAdminAPI leaves the admin API (/v1/admin/) out, and with it the
	// web console, which is a client of it.
	NoAdminAPI bool
	// NoConsole leaves the admin web console (/console/, and the exchange
	// of sign-in links at /console/session) out.
	NoConsole bool

	// TokenTTL is the default access-token lifetime. Default
	// issuer.DefaultTokenTTL.
	TokenTTL time.Duration
	// RateLimit is the default limit per client_id, shared by the token,
	// introspection and revocation endpoints. Default issuer.DefaultRate.
	RateLimit auth.Rate
	// IPRateLimit limits the requests that name no client_id, per remote
	// address. Default issuer.DefaultRate.
	IPRateLimit auth.Rate
	// DefaultClaims are claim expressions in CEL (package policy), by
	// claim name, applied to every client's tokens; a client's own claim of
	// the same name wins. Checked when the server starts.
	DefaultClaims map[string]string
	// DefaultQuotas are the token quotas of the clients that set none
	// (auth.ParseQuota: windows that divide a day), counted fleet-wide in
	// Redis when RedisURL is set, else per node. Empty means none.
	DefaultQuotas []auth.Rate
	// ReuseTokens is the default of the clients whose TokenReuse is
	// auth.ReuseDefault: a request for the scope, audience and binding of
	// a live token the node issued the client, with over half its
	// lifetime left, gets that token again instead of a new signature.
	ReuseTokens bool
	// ReuseMaxTokens bounds the tokens each node keeps to give again.
	// Default issuer.DefaultTokenCacheSize.
	ReuseMaxTokens int
	// KeyPolicy is the signing keys' algorithm and lifecycle; its zero
	// fields take issuer's defaults.
	KeyPolicy issuer.KeyPolicy
	// KeyCheckInterval is how often the server creates, rotates and prunes
	// signing keys when due, and prunes the revocations of expired tokens.
	// Default 1m.
	KeyCheckInterval time.Duration

	// ConfigFile is a configuration document (authconfig: clients and
	// trusted issuers) applied at Start and again whenever its content
	// changes, checked every ConfigFileInterval (default
	// DefaultConfigFileInterval); empty means none. A bad file is refused
	// whole and logged, and the store keeps its state. ConfigFilePrune
	// deletes what an earlier apply made and the file no longer names.
	ConfigFile         string
	ConfigFileInterval time.Duration
	ConfigFilePrune    bool

	// PollInterval is how often changes made by other processes (the CLI,
	// other nodes) are read into memory; PostgreSQL's notifications bring
	// them sooner. Default 500ms.
	PollInterval time.Duration
	// MaxStaleness is how long the node keeps issuing tokens from memory
	// while it cannot read the store; past it, token, introspection and
	// revocation requests get 503 and the node is not ready until a read
	// succeeds. Zero means no bound.
	MaxStaleness time.Duration

	// ShutdownDelay is how long Shutdown keeps serving with readiness
	// failing before it closes the listener, so that load balancers stop
	// sending first. Default none.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds how long Shutdown waits for requests in
	// flight, after ShutdownDelay; past it their connections are closed.
	// Default 30s; negative means no wait at all.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout is the time allowed to read a request's headers.
	// Default 5s.
	ReadHeaderTimeout time.Duration
	// RequestTimeout is the time allowed to read a request and write its
	// response. Default 10s.
	RequestTimeout time.Duration
	// IdleTimeout is how long an idle keep-alive connection is kept.
	// Default 2m.
	IdleTimeout time.Duration
	// MaxHeaderBytes is the largest request header block accepted.
	// Default 16 KiB.
	MaxHeaderBytes int
	// NoRequestLog turns off the one line per request in the log.
	NoRequestLog bool
	// RequestLogJSON, when set, is the writer of Logger's slog.JSONHandler
	// (level its only option, no WithAttrs or WithGroup; safe for
	// concurrent use): the request log's lines are written to it directly,
	// the same bytes for a fraction of the cost (httpapi.Server.RequestLogJSON).
	RequestLogJSON io.Writer

	// TLSCertFile and TLSKeyFile are the PEM certificate chain and private
	// key to serve HTTPS (and HTTP/2) with; both or neither. Empty means
	// plain HTTP. The files are reread every TLSReloadInterval and a
	// changed pair that loads replaces the one in service.
	TLSCertFile, TLSKeyFile string
	// TLSReloadInterval is how often the certificate files are checked for
	// a change. Default 2s.
	TLSReloadInterval time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For and Forwarded
	// headers are believed, for the per-address limit and the logs, and
	// whose ClientCertHeader is. Default none: the peer's address is the
	// client's.
	TrustedProxies []netip.Prefix

	// TLSClientCAFile is a PEM bundle of the certificate authorities
	// whose client certificates authenticate tls_client_auth clients
	// (RFC 8705 §2.1). With TLS, the listener then asks every client for
	// a certificate, without requiring one or checking it (the
	// authentication method does, and a self-signed certificate must get
	// through for self_signed_tls_client_auth); and a token requested
	// with a certificate is bound to it (§3). Read once, at Start.
	TLSClientCAFile string
	// ClientCertHeader names the header in which a proxy that terminates
	// TLS forwards the client's certificate (PEM, URL-encoded PEM as
	// nginx's $ssl_client_escaped_cert, or Envoy's
	// x-forwarded-client-cert), believed from TrustedProxies only and
	// removed from every other request. Empty means none.
	ClientCertHeader string

	// RedisURL names the Redis (redis:// or rediss://) that holds the
	// fleet-wide rate limit and the replay cache of private_key_jwt
	// assertions and DPoP proofs. Empty
	// means an in-memory limit and cache per node.
	RedisURL string
	// RedisPrefix is put before every key the server writes to Redis.
	// Default redis.DefaultPrefix.
	RedisPrefix string
	// RateLimitFailClosed refuses token requests (503) while Redis is
	// unreachable. The default, fail open, lets each node enforce the
	// limit itself meanwhile.
	RateLimitFailClosed bool

	// DPoPNonceRequired requires every DPoP proof at the token endpoint to
	// carry a server nonce (RFC 9449 §8): a proof made ahead of time by a
	// thief of the client's key is then useless. Nonces are made from the
	// KEK, so every node that shares it accepts the others' nonces. Off by
	// default: a client then needs one request less.
	DPoPNonceRequired bool
	// DPoPProofMaxAge is how old a DPoP proof's iat may be. Default
	// httpapi.DefaultDPoPMaxAge.
	DPoPProofMaxAge time.Duration

	// AllowHTTPJWKSURI lets private_key_jwt clients register plain http
	// jwks_uri values, and the server fetch them.
	AllowHTTPJWKSURI bool
	// AllowPrivateAddresses lets the server fetch keys (jwks_uri) from
	// loopback, private, link-local and other special-purpose addresses.
	// Both settings apply to trusted issuers' keys too (their jwks_uri
	// and OpenID discovery documents).
	AllowPrivateAddresses bool

	// Federation finds the trusted issuers and the clients bound to their
	// subjects, for federated client authentication and token exchange.
	// Nil means the server's replica when it implements auth.Federation
	// (and no federation when it does not): set it only to serve the
	// trusted issuers from elsewhere, such as in a test.
	Federation auth.Federation

	// Logger receives the server's log. Default slog.Default().
	Logger *slog.Logger
	// Clock tells the time to tokens, keys, limiters and the store's
	// records. Default the system clock; tests replace it.
	Clock auth.Clock
	// Metrics, when set, receives the server's metrics and is served at
	// /metrics on the operations listener; nil means no metrics. A
	// Metrics serves one Server.
	Metrics *metrics.Metrics
}

// Defaults of Config.
const (
	DefaultListen            = ":8080"
	DefaultKeyCheckInterval  = time.Minute
	DefaultPollInterval      = 500 * time.Millisecond
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultRequestTimeout    = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 16 << 10
	DefaultTLSReloadInterval = 2 * time.Second
)

// withDefaults returns c with its defaults filled in, and what is wrong
// with it, every problem at once.
func (c Config) withDefaults() (Config, error) {
	var p []string
	if c.Store == nil {
		p = append(p, "Store is required: an open store such as sqlite.Open's or postgres.Open's")
	}
	if c.KEK == nil {
		p = append(p, "KEK is required: the key-encryption key of the signing keys in Store")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p = append(p, "TLSCertFile and TLSKeyFile go together: give both, or neither for plain HTTP")
	}
	if c.ClientCertHeader != "" && !httpapi.ValidHeaderName(c.ClientCertHeader) {
		p = append(p, fmt.Sprintf("ClientCertHeader %q is not a header name (letters, digits and -)", c.ClientCertHeader))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TokenTTL", c.TokenTTL}, {"KeyCheckInterval", c.KeyCheckInterval}, {"PollInterval", c.PollInterval},
		{"MaxStaleness", c.MaxStaleness}, {"ShutdownDelay", c.ShutdownDelay},
		{"ReadHeaderTimeout", c.ReadHeaderTimeout}, {"RequestTimeout", c.RequestTimeout}, {"IdleTimeout", c.IdleTimeout},
		{"TLSReloadInterval", c.TLSReloadInterval}, {"DPoPProofMaxAge", c.DPoPProofMaxAge},
		{"ConfigFileInterval", c.ConfigFileInterval},
	} {
		if d.v < 0 {
			p = append(p, fmt.Sprintf("%s %v is negative", d.name, d.v))
		}
	}
	if c.ReuseMaxTokens < 0 {
		p = append(p, fmt.Sprintf("ReuseMaxTokens %d is negative", c.ReuseMaxTokens))
	}
	if c.MaxHeaderBytes < 0 {
		p = append(p, fmt.Sprintf("MaxHeaderBytes %d is negative", c.MaxHeaderBytes))
	}
	for _, err := range policy.CheckClaims(c.DefaultClaims) {
		p = append(p, "DefaultClaims: "+err.Error())
	}
	if _, err := auth.ParseQuotas(auth.FormatQuotas(c.DefaultQuotas)); err != nil {
		p = append(p, "DefaultQuotas: "+err.Error())
	}
	if len(p) > 0 {
		return c, errors.New("server: invalid Config: " + strings.Join(p, "; "))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.AdminAudience == "" {
		c.AdminAudience = auth.AdminAudience
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = redis.DefaultPrefix
	}
	def(&c.KeyCheckInterval, DefaultKeyCheckInterval)
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.TLSReloadInterval, DefaultTLSReloadInterval)
	def(&c.ConfigFileInterval, DefaultConfigFileInterval)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = auth.SystemClock{}
	}
	return c, nil
}
