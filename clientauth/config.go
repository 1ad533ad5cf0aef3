package clientauth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/egress"
)

// Defaults and bounds of Config.
const (
	DefaultMaxLifetime        = 5 * time.Minute
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 5 * time.Minute
	DefaultJWKSCacheTTL       = 5 * time.Minute
	DefaultMinRefetchInterval = 10 * time.Second

	// MinCacheAge and MaxCacheAge bound the Cache-Control max-age of a
	// fetched JWK Set that is honoured instead of JWKSCacheTTL.
	MinCacheAge = time.Minute
	MaxCacheAge = time.Hour

	// MaxStaleJWKS is how long a fetched JWK Set keeps being used while
	// its jwks_uri cannot be fetched again.
	MaxStaleJWKS = 24 * time.Hour

	// MaxAssertionSize is the longest assertion read; longer ones are
	// refused before any decoding.
	MaxAssertionSize = 16 << 10

	// MaxJTILength is the longest jti accepted, in bytes.
	MaxJTILength = 256

	// FetchTimeout bounds every fetch of a jwks_uri, whatever the HTTP client.
	FetchTimeout = 10 * time.Second
)

// Config configures a Verifier. Replay and one of Issuer and TokenEndpoint
// are required; every other field's zero value is a safe default.
type Config struct {
	// Issuer is the authorization server's issuer identifier, such as
	// "https://auth.gooclaim.com", and TokenEndpoint its token endpoint's
	// URL. An assertion's "aud" (a string or an array) must contain one of
	// them, compared exactly (RFC 7523 §3, item 3). At least one is required.
	Issuer        string
	TokenEndpoint string

	// Replay remembers the jti of every accepted assertion until it
	// expires, so that each is used once (RFC 7523 §3, item 7): an
	// inmem.ReplayCache for one node, a redis.ReplayCache for a fleet
	// (required).
	Replay auth.ReplayCache

	// HTTPClient fetches the clients' jwks_uri. Default a client with a
	// FetchTimeout (10s) timeout. Whatever the client, unless
	// AllowPrivateAddresses is set, it connects only to public addresses
	// (internal/egress): its transport — the default one, or a clone of
	// the given *http.Transport, whose Proxy is then dropped (a proxy
	// would connect past the check) — checks every address it connects
	// to, after name resolution and for every redirect. A client whose
	// Transport is not an *http.Transport, or makes its own TLS
	// connections (DialTLSContext), cannot be checked and is refused by
	// NewVerifier unless AllowPrivateAddresses is set. Every fetch is
	// bounded by FetchTimeout and MaxJWKSSize, and a redirect is followed
	// only to a URL CheckJWKSURI accepts, at most 5 times.
	HTTPClient *http.Client

	// Clock tells the time. Nil means auth.SystemClock{}.
	Clock auth.Clock

	// MaxLifetime bounds how long an assertion may live: its exp may be at
	// most MaxLifetime (plus Leeway) after now, and its iat, when present,
	// at most MaxLifetime (plus Leeway) before now. A long-lived assertion
	// is a credential that can be stolen and replayed on a server that
	// does not remember its jti. Default DefaultMaxLifetime (5m).
	MaxLifetime time.Duration

	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// Default DefaultLeeway (30s); at most MaxLeeway.
	Leeway time.Duration

	// AllowHTTP lets jwks_uri be a plain http URL. Anyone on the path of
	// a plain HTTP fetch can substitute the client's keys and authenticate
	// as it, so this is for development only. It says nothing about
	// addresses: see AllowPrivateAddresses.
	AllowHTTP bool

	// AllowPrivateAddresses lets a jwks_uri be fetched from a loopback,
	// private, link-local or other special-purpose address (every range
	// of internal/egress), and be localhost. A jwks_uri is chosen by
	// whoever registers a client; with this set, it can make the server
	// send requests into its own network (an admin port, a cloud metadata
	// service), so this is for development only, where the keys are
	// served next to the server.
	AllowPrivateAddresses bool

	// egressAllow lets prefixes through although denied, with
	// AllowPrivateAddresses off: tests, which need one loopback server
	// allowed and another refused (export_test.go).
	egressAllow []netip.Prefix

	// JWKSCacheTTL is how long a fetched JWK Set is used before it is
	// fetched again, unless the response's Cache-Control max-age says
	// otherwise (bounded to [MinCacheAge, MaxCacheAge]). Default
	// DefaultJWKSCacheTTL (5m).
	JWKSCacheTTL time.Duration

	// MinRefetchInterval bounds how often an assertion whose key is not in
	// the cached set makes a jwks_uri be fetched again: at most once per
	// interval per URI, concurrent misses sharing one fetch, so that a
	// flood of assertions with invented kids cannot become a flood of
	// requests to the client's server. It also spaces the retries of a
	// failing fetch. Default DefaultMinRefetchInterval (10s).
	MinRefetchInterval time.Duration

	// Logger receives a warning when a jwks_uri cannot be fetched (the
	// client is only told that its keys are unavailable). Nil means
	// slog.Default().
	Logger *slog.Logger

	// ClientCAs are the certificate authorities a tls_client_auth client's
	// certificate must chain to (RFC 8705 §2.1); nil refuses that method.
	// self_signed_tls_client_auth needs none (§2.2).
	ClientCAs *x509.CertPool
}

// settings are a checked Config with its defaults applied.
type settings struct {
	issuer, tokenEndpoint string
	replay                auth.ReplayCache
	client                *http.Client
	clock                 auth.Clock
	maxLifetime, leeway   time.Duration
	allowHTTP             bool
	egress                *egress.Policy // nil: private addresses allowed
	cacheTTL, minRefetch  time.Duration
	logger                *slog.Logger
	clientCAs             *x509.CertPool
}

// check validates cfg and applies the defaults, reporting every problem
// at once.
func (cfg Config) check() (settings, error) { return cfg.checkFor(true) }

// checkFor is check; needReplay is false for a FederatedVerifier, whose
// tokens are not one-time.
func (cfg Config) checkFor(needReplay bool) (settings, error) {
	s := settings{
		issuer: cfg.Issuer, tokenEndpoint: cfg.TokenEndpoint, replay: cfg.Replay,
		clock: cfg.Clock, maxLifetime: cfg.MaxLifetime, leeway: cfg.Leeway,
		allowHTTP: cfg.AllowHTTP, cacheTTL: cfg.JWKSCacheTTL, minRefetch: cfg.MinRefetchInterval,
		logger: cfg.Logger, clientCAs: cfg.ClientCAs,
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if cfg.Issuer == "" && cfg.TokenEndpoint == "" {
		bad("set Issuer or TokenEndpoint (or both): an assertion's aud must name one of them")
	}
	if cfg.Replay == nil && needReplay {
		bad("Replay is required: without it a client assertion could be used any number of times (RFC 7523 §3, item 7)")
	}
	positive := func(name string, d *time.Duration, def time.Duration) {
		switch {
		case *d < 0:
			bad("%s %v is negative", name, *d)
		case *d == 0:
			*d = def
		}
	}
	positive("MaxLifetime", &s.maxLifetime, DefaultMaxLifetime)
	positive("Leeway", &s.leeway, DefaultLeeway)
	if s.leeway > MaxLeeway {
		bad("Leeway %v is more than the maximum %v", s.leeway, MaxLeeway)
	}
	positive("JWKSCacheTTL", &s.cacheTTL, DefaultJWKSCacheTTL)
	positive("MinRefetchInterval", &s.minRefetch, DefaultMinRefetchInterval)
	if s.clock == nil {
		s.clock = auth.SystemClock{}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if !cfg.AllowPrivateAddresses {
		s.egress = &egress.Policy{Allow: cfg.egressAllow}
	}
	client, err := fetchClient(cfg.HTTPClient, s.allowHTTP, s.egress)
	if err != nil {
		bad("%v", err)
	}
	s.client = client
	if len(problems) > 0 {
		return settings{}, errors.New("clientauth: invalid Config: " + strings.Join(problems, "; "))
	}
	return s, nil
}

// fetchClient returns a copy of hc (or a default client) whose transport
// connects only to addresses pol allows (any when pol is nil), and that
// follows a redirect only to a URL checkJWKSURI accepts, at most 5 times,
// before hc's own CheckRedirect.
func fetchClient(hc *http.Client, allowHTTP bool, pol *egress.Policy) (*http.Client, error) {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = FetchTimeout
	}
	if pol != nil {
		switch t := c.Transport.(type) {
		case nil:
			c.Transport = pol.Transport()
		case *http.Transport:
			g, err := pol.Guard(t)
			if err != nil {
				return nil, fmt.Errorf("HTTPClient: %w (or set AllowPrivateAddresses, development only)", err)
			}
			c.Transport = g
		default:
			return nil, fmt.Errorf("HTTPClient's Transport is a %T: the check that keeps jwks_uri fetches off private addresses can only be installed in an *http.Transport; give one, or set AllowPrivateAddresses (development only)", t)
		}
	}
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		if err := checkJWKSURI(req.URL.String(), allowHTTP, pol); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &c, nil
}
