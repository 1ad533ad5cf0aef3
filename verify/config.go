package verify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults and bounds of Config.
const (
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 5 * time.Minute
	DefaultMinRefreshInterval = 10 * time.Second
	DefaultMaxKeyAge          = 24 * time.Hour

	// MinCacheAge and MaxCacheAge bound how long a fetched JWK Set is used
	// before it is refreshed, whatever its Cache-Control max-age says.
	MinCacheAge = time.Minute
	MaxCacheAge = time.Hour

	// MaxTokenSize is the longest token Verify reads; longer ones are
	// refused before any decoding. Gooclaim access tokens are under 2 KiB.
	MaxTokenSize = 16 << 10
)

// DefaultAlgorithms are the algorithms Gooclaim Auth signs with.
var DefaultAlgorithms = []string{"ES256", "EdDSA", "RS256"}

// supportedAlgorithms are the asymmetric JWS algorithms (RFC 7518 §3.1,
// RFC 8037 §3.1) that may be listed in Config.Algorithms.
var supportedAlgorithms = []string{
	"ES256", "ES384", "ES512", "EdDSA",
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
}

// Config configures a Verifier. Issuer and Audience are required; every
// other field's zero value is a safe default.
type Config struct {
	// Issuer is the authorization server's issuer identifier, such as
	// "https://auth.gooclaim.com" (required). Tokens' "iss" must equal it
	// exactly (RFC 9068 §4). Unless JWKSURL is set, the JWK Set's address
	// is the "jwks_uri" of the authorization server metadata (RFC 8414),
	// read from <Issuer>/.well-known/oauth-authorization-server (for an
	// issuer with a path, the well-known part goes before the path,
	// RFC 8414 §3.1, and after it is tried next), or from
	// <Issuer>/.well-known/openid-configuration if there is none there.
	// The document's "issuer" must equal Issuer exactly (RFC 8414 §3.3).
	// It is read once; a jwks_uri that changes needs a new Verifier.
	Issuer string

	// Audience identifies this resource server, such as
	// "https://api.gooclaim.com" (required): a token's "aud" (a string or
	// an array) must contain it, so that a token meant for another API is
	// refused here (RFC 9068 §4, RFC 8725 §3.9).
	Audience string

	// JWKSURL is the JWK Set's address. When set, discovery is skipped.
	JWKSURL string

	// Algorithms is the allow-list of the tokens' "alg" (RFC 8725 §3.1).
	// Default DefaultAlgorithms (ES256, EdDSA, RS256); any of ES256, ES384,
	// ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512 may be listed.
	// "none" and the HMAC algorithms (HS256, …) are refused: New fails.
	Algorithms []string

	// Leeway is the clock skew tolerated when checking "exp", "nbf" and
	// "iat". Default DefaultLeeway (30s); at most MaxLeeway (5m).
	Leeway time.Duration

	// RequiredScopes must all be in every token's "scope"; otherwise Verify
	// returns an insufficient_scope error naming the missing ones.
	// Middleware can require more per route.
	RequiredScopes []string

	// HTTPClient fetches the metadata and the JWK Set, and sends the
	// introspection requests unless Introspection.HTTPClient is set.
	// Default a client with a 10-second timeout that follows at most 5
	// redirects, each only to a URL the Config itself would accept (https,
	// or http on loopback). Every fetch is bounded by 10 seconds whatever
	// the client.
	HTTPClient *http.Client

	// MinRefreshInterval bounds how often a token with an unknown "kid"
	// makes the JWK Set be fetched again: at most once per interval, and
	// concurrent misses share one fetch, so that a flood of tokens with
	// invented kids cannot become a flood of JWKS requests. Tokens with an
	// unknown kid that arrive in between are refused at once. It also
	// spaces the retries of a failing fetch. Default
	// DefaultMinRefreshInterval (10s).
	MinRefreshInterval time.Duration

	// MaxKeyAge is how long keys keep working after the JWK Set was last
	// fetched successfully, while it cannot be fetched. Past it,
	// verification fails closed until a fetch succeeds. Default
	// DefaultMaxKeyAge (24h).
	MaxKeyAge time.Duration

	// Lazy makes New return without fetching anything: the first Verify
	// fetches the metadata and the JWK Set, and tokens are refused while
	// that fails. By default New fetches both and fails if it cannot, so
	// that a misconfiguration shows at start.
	Lazy bool

	// AllowInsecureHTTP lets Issuer, the metadata's jwks_uri and JWKSURL,
	// and the introspection endpoint, be plain http:// URLs on hosts other
	// than loopback ones. Anyone on the path of a plain HTTP fetch can
	// substitute keys and forge tokens, and read the introspection
	// client's secret, so this is for demos only.
	AllowInsecureHTTP bool

	// Introspection, when set, makes Verify also ask the authorization
	// server whether each token is still active (RFC 7662), so that a
	// revocation takes effect within Introspection.CacheTTL instead of at
	// the token's expiry. Only a token that passed every local check is
	// sent, with token_type_hint=access_token, by a client holding the
	// scope auth:introspect; an answer "active": false refuses it as "no
	// longer active". Verify fails closed: when no usable answer can be
	// had (the server is unreachable or answers an error, such as 401 for
	// bad credentials, or its answer names another iss, client_id, sub or
	// jti than the token), the token is refused as one whose status could
	// not be checked, with the cause kept for the logs.
	//
	// Middleware gets the check too, and it costs: each token not in the
	// cache adds one round trip to the authorization server to the
	// request's latency, and the server one request per distinct token per
	// CacheTTL (concurrent checks of one token share a request); while the
	// server is down, requests whose tokens are not cached are refused.
	// Nil (the default) verifies offline only: a token stays valid until
	// its exp.
	Introspection *Introspection

	// DPoP, when set, makes Middleware and VerifyRequest accept DPoP-bound
	// tokens (RFC 9449): "Authorization: DPoP <token>" with a DPoP proof
	// header checked against this request and the token's cnf.jkt. Nil
	// accepts Bearer tokens only. Either way a DPoP-bound token presented
	// as Bearer is refused (RFC 9449 §7.2): without its proof it is just
	// what a thief would present.
	DPoP *DPoP

	// ClientCertificateHeader names the header in which a TLS-terminating
	// proxy forwards the client certificate of its connection, such as
	// "Client-Cert" (RFC 9440: ":base64 DER:") or "X-SSL-Client-Cert"
	// (nginx's $ssl_client_escaped_cert: URL-escaped PEM). It is believed
	// only from TrustedProxies, and ignored from anyone else. Empty means
	// the client certificate is the one of the request's own TLS
	// connection (http.Request.TLS), if any. Certificate-bound tokens
	// (cnf x5t#S256, RFC 8705 §3) are checked against it.
	ClientCertificateHeader string

	// TrustedProxies are the addresses (or CIDR prefixes, "10.0.0.0/8")
	// of the proxies whose ClientCertificateHeader is believed: the
	// request's peer (http.Request.RemoteAddr) must be one of them. A
	// proxy listed here must remove the header from what its clients send.
	TrustedProxies []string

	// Now tells the time; nil is time.Now. Tests replace it.
	Now func() time.Time
}

// settings are a validated Config with defaults applied.
type settings struct {
	issuer, audience, jwksURL string
	algorithms                []string
	leeway                    time.Duration
	requiredScopes            []string
	client                    *http.Client
	minRefresh, maxKeyAge     time.Duration
	lazy, allowHTTP           bool
	now                       func() time.Time
	introspection             *introspectionSettings // nil: offline only
	dpop                      *dpopSettings          // nil: Bearer only
	clientCert                clientCertSettings
}

// check validates cfg and applies the defaults. It reports every problem at
// once.
func (cfg Config) check() (settings, error) {
	s := settings{
		issuer: cfg.Issuer, audience: cfg.Audience, jwksURL: cfg.JWKSURL,
		leeway: cfg.Leeway, client: cfg.HTTPClient,
		minRefresh: cfg.MinRefreshInterval, maxKeyAge: cfg.MaxKeyAge,
		lazy: cfg.Lazy, allowHTTP: cfg.AllowInsecureHTTP, now: cfg.Now,
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch {
	case cfg.Issuer == "":
		bad("Issuer is required: the authorization server's issuer URL, the tokens' iss")
	default:
		if err := checkURL(cfg.Issuer, cfg.AllowInsecureHTTP); err != nil {
			bad("Issuer: %v", err)
		} else if u, _ := url.Parse(cfg.Issuer); u.RawQuery != "" || u.Fragment != "" {
			bad("Issuer %q must not have a query or fragment (RFC 8414 §2)", cfg.Issuer)
		}
	}
	if cfg.Audience == "" {
		bad("Audience is required: this API's identifier, which every token's aud must contain; " +
			"without it a token issued for any other API would be accepted here (RFC 9068 §4)")
	}
	if cfg.JWKSURL != "" {
		if err := checkURL(cfg.JWKSURL, cfg.AllowInsecureHTTP); err != nil {
			bad("JWKSURL: %v", err)
		}
	}

	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		switch {
		case strings.EqualFold(a, "none"):
			bad("Algorithms: %q is refused: unsigned tokens are never accepted (RFC 8725 §3.1)", a)
		case len(a) >= 2 && strings.EqualFold(a[:2], "HS"):
			bad("Algorithms: %q is refused: HMAC algorithms need a shared secret, and with public keys they allow forgery (RFC 8725 §2.1)", a)
		case !slices.Contains(supportedAlgorithms, a):
			bad("Algorithms: %q is not supported (supported: %s)", a, strings.Join(supportedAlgorithms, ", "))
		case !slices.Contains(s.algorithms, a):
			s.algorithms = append(s.algorithms, a)
		}
	}

	switch {
	case cfg.Leeway < 0:
		bad("Leeway %v is negative", cfg.Leeway)
	case cfg.Leeway > MaxLeeway:
		bad("Leeway %v is more than the maximum %v", cfg.Leeway, MaxLeeway)
	case cfg.Leeway == 0:
		s.leeway = DefaultLeeway
	}
	for _, sc := range cfg.RequiredScopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			bad("RequiredScopes: %q is not a scope token (RFC 6749 §3.3)", sc)
		} else if !slices.Contains(s.requiredScopes, sc) {
			s.requiredScopes = append(s.requiredScopes, sc)
		}
	}
	switch {
	case cfg.MinRefreshInterval < 0:
		bad("MinRefreshInterval %v is negative", cfg.MinRefreshInterval)
	case cfg.MinRefreshInterval == 0:
		s.minRefresh = DefaultMinRefreshInterval
	}
	switch {
	case cfg.MaxKeyAge < 0:
		bad("MaxKeyAge %v is negative", cfg.MaxKeyAge)
	case cfg.MaxKeyAge == 0:
		s.maxKeyAge = DefaultMaxKeyAge
	}
	if s.client == nil {
		allowHTTP := cfg.AllowInsecureHTTP
		s.client = &http.Client{
			Timeout: fetchTimeout,
			// A redirect may not lead where a URL in the Config could not.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("stopped after 5 redirects")
				}
				return checkURL(req.URL.String(), allowHTTP)
			},
		}
	}
	if cfg.Introspection != nil {
		s.introspection = cfg.Introspection.check(cfg, s.client, bad)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.clientCert = cfg.checkClientCert(bad)
	if cfg.DPoP != nil {
		s.dpop = cfg.DPoP.check(s.now, cfg.AllowInsecureHTTP, bad)
	}
	if len(problems) > 0 {
		return settings{}, errors.New("verify: invalid Config: " + strings.Join(problems, "; "))
	}
	return s, nil
}

// checkURL accepts an absolute https URL, or an http one on a loopback host
// (or anywhere when allowHTTP is set).
func checkURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && u.Host != "":
		if allowHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q is plain http on a non-loopback host: what goes over it (keys, tokens, secrets) can be read and substituted; use https (or set AllowInsecureHTTP for a demo)", raw)
	default:
		return fmt.Errorf("%q is not an absolute https URL", raw)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
