package client

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/gooclaim/auth/internal/dpop"
)

// AuthStyle is how the client authenticates to the token endpoint
// (RFC 6749 §2.3, RFC 8414 token_endpoint_auth_methods_supported). The
// zero value is AuthBasic.
type AuthStyle int

const (
	// AuthBasic sends client_id and client_secret in an HTTP Basic
	// Authorization header, each form-url-encoded first (RFC 6749 §2.3.1):
	// "client_secret_basic". It is the default.
	AuthBasic AuthStyle = iota
	// AuthPost sends client_id and client_secret as body parameters:
	// "client_secret_post".
	AuthPost
	// AuthPrivateKeyJWT sends, instead of a secret, a JWT client assertion
	// signed with Config.PrivateKey (RFC 7523 §2.2, RFC 7521 §4.2):
	// "private_key_jwt". A new assertion is made for every request, retries
	// included, and sent as the body parameters client_assertion_type and
	// client_assertion, with client_id. No secret crosses the network.
	AuthPrivateKeyJWT
	// AuthFederatedJWT sends, instead of a secret, a token that an identity
	// provider the server trusts issued to the workload — a Kubernetes
	// service account token, a CI job's OIDC token, a SPIFFE JWT-SVID — as
	// the client assertion, unchanged (RFC 7523 §2.2): "federated_jwt".
	// The token comes from Config.FederatedTokenFile, read again for every
	// request (retries included) so that a token the platform rotates on
	// disk is always current, or from Config.FederatedToken. client_id is
	// sent only when Config.ClientID is set: the server finds the client
	// from the token's issuer and subject.
	AuthFederatedJWT
	// AuthTLSClientAuth authenticates with the client certificate of the
	// TLS connection, issued by a CA the server trusts, whose subject DN
	// or a SAN the client registered (RFC 8705 §2.1): "tls_client_auth".
	// Only client_id is sent; Config.TLSCertificate is required.
	AuthTLSClientAuth
	// AuthSelfSignedTLSClientAuth authenticates with a client certificate
	// whose public key is one of the client's registered keys (RFC 8705
	// §2.2): "self_signed_tls_client_auth". Only client_id is sent;
	// Config.TLSCertificate is required.
	AuthSelfSignedTLSClientAuth
	// AuthNone sends no client authentication at all: "none". It is only
	// for Config.Exchange with a subject token that identifies the client
	// by itself (a federated token, RFC 8693 §2.1); the client credentials
	// grant always needs client authentication, so Config.Token refuses it.
	AuthNone
)

// String returns the RFC 8414 name of the style.
func (s AuthStyle) String() string {
	switch s {
	case AuthBasic:
		return "client_secret_basic"
	case AuthPost:
		return "client_secret_post"
	case AuthPrivateKeyJWT:
		return "private_key_jwt"
	case AuthFederatedJWT:
		return "federated_jwt"
	case AuthTLSClientAuth:
		return "tls_client_auth"
	case AuthSelfSignedTLSClientAuth:
		return "self_signed_tls_client_auth"
	case AuthNone:
		return "none"
	}
	return fmt.Sprintf("AuthStyle(%d)", int(s))
}

// Encoding is the media type of the token request's body.
type Encoding int

const (
	// EncodingForm sends application/x-www-form-urlencoded, as RFC 6749
	// §4.4.2 specifies. It is the default.
	EncodingForm Encoding = iota
	// EncodingJSON sends application/json, which Gooclaim Auth also accepts.
	EncodingJSON
)

// String returns the media type of the encoding.
func (e Encoding) String() string {
	switch e {
	case EncodingForm:
		return "application/x-www-form-urlencoded"
	case EncodingJSON:
		return "application/json"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Defaults of the Config fields left zero.
const (
	DefaultExpirySkew    = 30 * time.Second
	DefaultHTTPTimeout   = 10 * time.Second
	DefaultMaxRetries    = 3
	DefaultMinBackoff    = 200 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
)

// defaultHTTPClient is used when Config.HTTPClient is nil.
var defaultHTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}

// Config describes a client of the client credentials grant (RFC 6749 §4.4)
// and how to reach its token endpoint. Its zero value needs only a token
// endpoint (TokenURL or Issuer) and a ClientID to work.
//
// A Config must not be modified or copied while it is in use by a
// TokenSource or Client made from it.
type Config struct {
	// TokenURL is the token endpoint, for example
	// "https://auth.gooclaim.com/v1/auth/token". When it is set, Issuer is not
	// used.
	TokenURL string

	// Issuer is the authorization server's issuer identifier, for example
	// "https://auth.gooclaim.com", used when TokenURL is empty: the token
	// endpoint is read from its metadata (RFC 8414 §3, see Discover), once,
	// and cached in the Config.
	Issuer string

	// ClientID and ClientSecret are the client's credentials. With
	// AuthPrivateKeyJWT, ClientSecret is not used; with AuthFederatedJWT
	// and AuthNone neither is required, and ClientID, when set, is sent as
	// client_id.
	ClientID     string
	ClientSecret string

	// FederatedTokenFile is the file holding the workload's token for
	// AuthFederatedJWT: a Kubernetes projected service account token
	// (/var/run/secrets/tokens/gooclaim-auth, say), a SPIFFE JWT-SVID
	// written by a helper. It is read for every token request, retries
	// included, because the platform replaces the token before it expires
	// (the kubelet rewrites the file) and an old one is refused. Set it or
	// FederatedToken, not both.
	FederatedTokenFile string

	// FederatedToken returns the workload's token for AuthFederatedJWT,
	// for platforms that hand it out over an API rather than in a file
	// (GitHubActionsToken is one). It is called for every token request,
	// retries included, with the request's context; an error fails the
	// request and is not retried. Set it or FederatedTokenFile, not both.
	FederatedToken func(ctx context.Context) (string, error)

	// PrivateKey signs the client assertions of AuthPrivateKeyJWT (required
	// with it, unused otherwise): an *ecdsa.PrivateKey on P-256, P-384 or
	// P-521, an ed25519.PrivateKey, an *rsa.PrivateKey of 2048 bits or more,
	// or any crypto.Signer whose Public() is one of those public keys (a key
	// in an HSM or a cloud KMS). Its public key is registered with the
	// server, as a JWK Set or at a jwks_uri.
	PrivateKey crypto.Signer

	// KeyID is sent as the assertions' "kid" header: the "kid" of the
	// public key in the registered JWK Set. Empty sends no kid, and the
	// server tries the client's keys of the algorithm.
	KeyID string

	// SigningAlgorithm is the assertions' JWS algorithm. Empty means the
	// one of the key: ES256, ES384 or ES512 by curve, EdDSA, or RS256. An
	// RSA key may use RS384, RS512, PS256, PS384 or PS512 instead; the
	// registered JWK must then declare that "alg".
	SigningAlgorithm string

	// AssertionLifetime is how long an assertion is valid (its exp less
	// its iat). Zero means DefaultAssertionLifetime (60s). Gooclaim Auth
	// refuses assertions valid for more than 5 minutes.
	AssertionLifetime time.Duration

	// Scopes are the scopes requested (RFC 6749 §3.3), each one scope token.
	// None means all the scopes the client is allowed.
	Scopes []string

	// Audience is the API the token is for, sent as the "resource" parameter
	// (RFC 8707 §2). Empty means the client's default audience.
	Audience string

	// AuthStyle is how the client authenticates; the zero value is AuthBasic.
	AuthStyle AuthStyle

	// Encoding is the request body's media type; the zero value is EncodingForm.
	Encoding Encoding

	// ExpirySkew is how long before its expiry a cached token is replaced;
	// zero means DefaultExpirySkew (30s), negative means none. It is never
	// more than half the token's lifetime, so that a short-lived token is
	// still used.
	ExpirySkew time.Duration

	// HTTPClient sends the token and metadata requests, and its Transport,
	// Timeout, Jar and CheckRedirect are those of the client Config.Client
	// returns. Nil means a client with a timeout of DefaultHTTPTimeout (10s)
	// over http.DefaultTransport.
	HTTPClient *http.Client

	// MaxRetries bounds the retries of one token request; zero means
	// DefaultMaxRetries (3), negative means none.
	MaxRetries int

	// MinBackoff and MaxBackoff shape the wait before a retry after a
	// transient failure: before retry n (counting from 0) the wait is drawn
	// uniformly from [0, min(MaxBackoff, MinBackoff·2ⁿ)] ("full jitter").
	// Zero means DefaultMinBackoff (200ms) and DefaultMaxBackoff (5s).
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// MaxRetryAfter is the longest Retry-After the client waits for before
	// retrying a 429 (or 503) answer; a longer one returns the *Error at
	// once. Zero means DefaultMaxRetryAfter (60s), negative means never wait.
	MaxRetryAfter time.Duration

	// DPoP asks for DPoP-bound tokens (RFC 9449) with a key generated for
	// this Config (ECDSA P-256, ES256), which never leaves the process:
	// every token request carries a new DPoP proof of it (retries
	// included), the token is bound to it (token_type "DPoP"), and
	// Config.Client sends every API request with "Authorization: DPoP
	// <token>" and a new proof naming the request's method and URL and
	// the token's hash. A server's use_dpop_nonce answer is retried once
	// with the nonce it sent (RFC 9449 §8, §9). Tokens bound to a generated
	// key die with the process; set DPoPKey to keep them across restarts.
	DPoP bool

	// DPoPKey is the DPoP key, instead of a generated one (DPoP need not
	// be set then): an *ecdsa.PrivateKey (P-256, P-384, P-521), an
	// ed25519.PrivateKey or an *rsa.PrivateKey of 2048 bits or more, held
	// in the process. Its algorithm is the one it implies (ES256, ES384,
	// ES512, EdDSA, RS256).
	DPoPKey crypto.Signer

	// TLSCertificate is the client certificate presented on the TLS
	// connections to the token endpoint (and to the APIs Config.Client
	// calls, which a certificate-bound token needs, RFC 8705 §3): for
	// AuthTLSClientAuth and AuthSelfSignedTLSClientAuth, and for tokens
	// bound to the certificate whatever the authentication. The transport
	// is a clone of HTTPClient's *http.Transport (or of
	// http.DefaultTransport) with the certificate added.
	TLSCertificate *tls.Certificate

	// binding holds the *bindingState: the DPoP key, the servers' nonces
	// and the mutual TLS client. (An atomic.Value, not the struct, so that
	// a Config not yet in use can still be copied.)
	binding atomic.Value

	// discovered caches the token endpoint found through Issuer, as a
	// *discovered; it is only used while Issuer is unchanged.
	discovered atomic.Value
}

// discovered is a token endpoint read from an issuer's metadata.
type discovered struct {
	issuer, tokenURL string
}

// settings is a Config with its defaults applied, checked.
type settings struct {
	tokenURL, issuer       string
	clientID, clientSecret string
	scope, resource        string
	authStyle              AuthStyle
	assertion              *assertionSigner                          // with AuthPrivateKeyJWT
	federated              func(ctx context.Context) (string, error) // with AuthFederatedJWT
	encoding               Encoding
	expirySkew             time.Duration
	hc                     *http.Client
	dpopKey                crypto.Signer // nil without DPoP
	binding                *bindingState
	maxRetries             int
	minBackoff, maxBackoff time.Duration
	maxRetryAfter          time.Duration
}

// settings applies the defaults and checks the Config, listing every problem.
func (c *Config) settings() (*settings, error) {
	s := &settings{
		tokenURL:      c.TokenURL,
		issuer:        c.Issuer,
		clientID:      c.ClientID,
		clientSecret:  c.ClientSecret,
		scope:         strings.Join(c.Scopes, " "),
		resource:      c.Audience,
		authStyle:     c.AuthStyle,
		encoding:      c.Encoding,
		expirySkew:    orDefault(c.ExpirySkew, DefaultExpirySkew),
		hc:            c.httpClient(),
		maxRetries:    c.MaxRetries,
		minBackoff:    orDefault(c.MinBackoff, DefaultMinBackoff),
		maxBackoff:    orDefault(c.MaxBackoff, DefaultMaxBackoff),
		maxRetryAfter: orDefault(c.MaxRetryAfter, DefaultMaxRetryAfter),
	}
	switch {
	case s.maxRetries == 0:
		s.maxRetries = DefaultMaxRetries
	case s.maxRetries < 0:
		s.maxRetries = 0
	}
	var problems []string
	switch {
	case c.TokenURL != "":
		if err := checkURL(c.TokenURL); err != nil {
			problems = append(problems, "TokenURL: "+err.Error())
		}
	case c.Issuer != "":
		if err := checkURL(c.Issuer); err != nil {
			problems = append(problems, "Issuer: "+err.Error())
		}
	default:
		problems = append(problems, "set TokenURL or Issuer")
	}
	if c.ClientID == "" && c.AuthStyle != AuthFederatedJWT && c.AuthStyle != AuthNone {
		problems = append(problems, "ClientID is empty")
	}
	for _, sc := range c.Scopes {
		if !isScopeToken(sc) {
			problems = append(problems, fmt.Sprintf("scope %q is not one scope token (RFC 6749 §3.3): give each scope as its own element, without spaces or quotes", sc))
		}
	}
	if c.PrivateKey != nil && c.AuthStyle != AuthPrivateKeyJWT {
		problems = append(problems, "PrivateKey is set but AuthStyle is "+c.AuthStyle.String()+": set AuthStyle to AuthPrivateKeyJWT to authenticate with the key")
	}
	if (c.FederatedTokenFile != "" || c.FederatedToken != nil) && c.AuthStyle != AuthFederatedJWT {
		problems = append(problems, "FederatedTokenFile or FederatedToken is set but AuthStyle is "+c.AuthStyle.String()+": set AuthStyle to AuthFederatedJWT to authenticate with the workload's token")
	}
	switch c.AuthStyle {
	case AuthBasic, AuthPost, AuthNone:
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		if c.TLSCertificate == nil {
			problems = append(problems, c.AuthStyle.String()+" needs TLSCertificate: the client certificate that authenticates the client (RFC 8705 §2)")
		}
	case AuthPrivateKeyJWT:
		var p []string
		s.assertion, p = newAssertionSigner(c.PrivateKey, c.KeyID, c.SigningAlgorithm, c.AssertionLifetime)
		problems = append(problems, p...)
	case AuthFederatedJWT:
		switch {
		case c.FederatedTokenFile != "" && c.FederatedToken != nil:
			problems = append(problems, "set FederatedTokenFile or FederatedToken, not both")
		case c.FederatedTokenFile != "":
			s.federated = tokenFile(c.FederatedTokenFile)
		case c.FederatedToken != nil:
			s.federated = c.FederatedToken
		default:
			problems = append(problems, "AuthFederatedJWT needs FederatedTokenFile (the file the platform writes the workload's token to) or FederatedToken")
		}
	default:
		problems = append(problems, "unknown "+c.AuthStyle.String())
	}
	if c.Encoding != EncodingForm && c.Encoding != EncodingJSON {
		problems = append(problems, "unknown "+c.Encoding.String())
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 {
		problems = append(problems, "MinBackoff and MaxBackoff may not be negative")
	} else if s.minBackoff > s.maxBackoff {
		problems = append(problems, fmt.Sprintf("MinBackoff (%v) is longer than MaxBackoff (%v)", s.minBackoff, s.maxBackoff))
	}
	s.binding = c.bindingState()
	if c.TLSCertificate != nil {
		hc, err := c.tlsClient()
		if err != nil {
			problems = append(problems, err.Error())
		}
		s.hc = hc
	}
	if key, err := c.dpopKey(); err != nil {
		problems = append(problems, "DPoP: generate the key: "+err.Error())
	} else if key != nil {
		if _, err := dpop.Thumbprint(key.Public()); err != nil {
			problems = append(problems, "DPoPKey: "+err.Error())
		}
		s.dpopKey = key
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("client: invalid Config: %s", strings.Join(problems, "; "))
	}
	s.expirySkew = max(s.expirySkew, 0)
	s.maxRetryAfter = max(s.maxRetryAfter, 0)
	return s, nil
}

func (c *Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

// tokenEndpoint returns TokenURL, or the token endpoint of the Issuer's
// metadata, discovered once.
func (c *Config) tokenEndpoint(ctx context.Context, s *settings) (string, error) {
	if s.tokenURL != "" {
		return s.tokenURL, nil
	}
	if d, ok := c.discovered.Load().(*discovered); ok && d.issuer == s.issuer {
		return d.tokenURL, nil
	}
	md, err := Discover(ctx, s.issuer, s.hc)
	if err != nil {
		return "", err
	}
	c.discovered.Store(&discovered{issuer: s.issuer, tokenURL: md.TokenEndpoint})
	return md.TokenEndpoint, nil
}

// TokenSource returns a TokenSource that returns the same token until
// ExpirySkew before it expires, then requests a new one. Concurrent callers
// share one request: however many goroutines ask while no valid token is
// cached, exactly one token request is made and all of them get its
// result. If the request fails while the cached token has not yet expired
// (inside the skew), that token is returned instead of the error, and the
// next call tries again.
//
// ctx governs every token request the source makes: cancelling it makes them
// fail. Each call returns a source with its own cache, so make one and share
// it.
func (c *Config) TokenSource(ctx context.Context) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &tokenSource{ctx: ctx, conf: c, fetch: c.Token}
}

// Client returns an HTTP client that sends every request with a token of
// c.TokenSource(ctx) in its Authorization header (see Transport). Its
// Timeout, Jar, CheckRedirect and base Transport are those of c.HTTPClient:
// by default a 10s timeout over http.DefaultTransport.
//
// With DPoP (Config.DPoP or DPoPKey) every request carries "Authorization:
// DPoP <token>" and a new proof; with TLSCertificate it goes over the
// transport that presents the certificate.
func (c *Config) Client(ctx context.Context) *http.Client {
	hc := c.httpClient()
	base := hc.Transport
	if c.TLSCertificate != nil {
		if tc, err := c.tlsClient(); err == nil {
			base = tc.Transport
		}
		// else: every token request fails with the error, and so every call
	}
	key, _ := c.dpopKey() // an error fails the token requests, and so every call
	return &http.Client{
		Transport:     &Transport{Source: c.TokenSource(ctx), Base: base, DPoPKey: key, binding: c.bindingState()},
		CheckRedirect: hc.CheckRedirect,
		Jar:           hc.Jar,
		Timeout:       hc.Timeout,
	}
}

// Token requests a token from the token endpoint, retrying as the package
// documentation describes. It does not cache: use TokenSource or Client for
// that. The token's Expiry is set from "expires_in", and Extra("scope") is
// the granted scope (the requested one when the server leaves it out, as
// RFC 6749 §5.1 allows).
func (c *Config) Token(ctx context.Context) (*oauth2.Token, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	if s.authStyle == AuthNone {
		return nil, errors.New("client: invalid Config: AuthStyle is AuthNone, but the client credentials grant needs client authentication; AuthNone is for Exchange only")
	}
	endpoint, err := c.tokenEndpoint(ctx, s)
	if err != nil {
		return nil, err
	}
	return s.fetch(ctx, endpoint, s.clientCredentials())
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkURL checks that u is an absolute http or https URL.
func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%q is not a URL", u)
	}
	if (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", u)
	}
	return nil
}

// isScopeToken reports whether s is a scope-token: 1*NQCHAR, where NQCHAR
// is %x21 / %x23-5B / %x5D-7E (RFC 6749 §3.3).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}
