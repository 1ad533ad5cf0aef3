// Package issuer is the client credentials grant (RFC 6749 §4.4): it
// authenticates the client (§2.3.1), applies the scope (§3.3) and audience
// (RFC 8707) policy, enforces the rate limit, and signs an RFC 9068 JWT
// access token. It also owns the signing-key lifecycle (KeyRing). It knows
// neither HTTP nor SQL.
package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/internal/bufpool"
)

// Config is the token policy. The zero value of each field takes the default
// shown beside it (see Defaults).
type Config struct {
	// Issuer is the "iss" of every token, an https URL (http on localhost in development).
	Issuer string
	// Audience is the default "aud" for clients that set none. Default https://api.gooclaim.com.
	Audience string
	// TokenTTL is the default token lifetime. Default 1h.
	TokenTTL time.Duration
	// RateLimit is the default per-client_id limit. Default 60/1m.
	RateLimit auth.Rate
	// DefaultQuotas are the token quotas of the clients that set none
	// (auth.ParseQuota); empty means none.
	DefaultQuotas []auth.Rate
	// Quotas counts the tokens of clients with quotas (inmem.QuotaCounter
	// per node, redis.QuotaCounter fleet-wide); required when any client
	// or DefaultQuotas has a quota.
	Quotas auth.QuotaCounter
	// QuotaObserver hears of quota use and breaches; nil hears nothing.
	QuotaObserver QuotaObserver
	// DefaultClaims are claim expressions in CEL (package policy) applied
	// to every client's tokens; a client's own claim of the same name wins.
	// Check them with policy.CheckClaims first: one that fails to compile
	// fails every token request.
	DefaultClaims map[string]string
	// ReuseTokens is the server's default for the clients whose
	// TokenReuse is auth.ReuseDefault: whether a request for what a live
	// token of the client already grants gets that token again (see
	// TokenCache).
	ReuseTokens bool
	// Tokens keeps the tokens to give again; nil reuses none, whatever
	// the clients' settings. In a fleet, the replica must call its
	// Forget (inmem.ReplicaOptions.OnClient) so that a token revoked on
	// another node is not given again.
	Tokens *TokenCache
	// IPRateLimit limits requests that name no client_id, per remote address. Default 60/1m.
	IPRateLimit auth.Rate
	// ClientAssertions checks private_key_jwt client assertions; nil
	// refuses that method.
	ClientAssertions AssertionVerifier
	// ClientCertificates checks tls_client_auth and
	// self_signed_tls_client_auth (RFC 8705 §2); nil refuses both.
	ClientCertificates CertificateVerifier
	// Revocations holds revoked token IDs (RFC 7009) for introspection and
	// revocation; nil means tokens cannot be revoked one by one.
	Revocations auth.RevocationStore
	// Federation finds the trusted issuers and the clients bound to their
	// subjects (the in-memory replica implements it), and FederatedTokens
	// verifies those issuers' tokens (clientauth.FederatedVerifier): with
	// both, clients authenticate with a trusted issuer's token as their
	// client assertion (auth.AuthFederatedJWT) or exchange it for an
	// access token (RFC 8693). Either nil turns federation off.
	Federation      auth.Federation
	FederatedTokens FederatedTokenVerifier
	// FederationObserver counts federated authentications by issuer and
	// outcome; nil counts nothing.
	FederationObserver FederationObserver
	// MaxSlowSecretChecks bounds the argon2id checks of imported secrets
	// running at once (19 MiB each); past it, authentication that needs one
	// is refused with temporarily_unavailable. Default one per CPU
	// (runtime.GOMAXPROCS).
	MaxSlowSecretChecks int
}

// AssertionVerifier checks a client assertion (RFC 7523 §3) against the
// client's registered keys. clientauth.Verifier implements it. Errors are
// *auth.OAuthError values for a bad assertion, others for failures of the
// server (such as the replay cache).
type AssertionVerifier interface {
	Verify(ctx context.Context, c *auth.Client, assertion string) error
}

// CertificateVerifier authenticates a client by the DER certificate it
// presented (RFC 8705 §2) with method auth.AuthTLSClientAuth or
// auth.AuthSelfSignedTLSClientAuth. clientauth.Verifier implements it.
// Errors may have a FailureReason method giving a short fixed reason.
type CertificateVerifier interface {
	VerifyCertificate(ctx context.Context, c *auth.Client, method string, leaf []byte, intermediates [][]byte) error
}

// Defaults of Config.
const (
	DefaultAudience = "https://api.gooclaim.com"
	DefaultTokenTTL = time.Hour
	// MaxTokenTTL bounds any token's lifetime; retired keys stay published this long.
	MaxTokenTTL = 24 * time.Hour
)

// DefaultRate is the seed's limit: 60 requests per minute.
var DefaultRate = auth.Rate{Limit: 60, Window: time.Minute}

func (c Config) withDefaults() Config {
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.RateLimit.IsZero() {
		c.RateLimit = DefaultRate
	}
	if c.IPRateLimit.IsZero() {
		c.IPRateLimit = DefaultRate
	}
	return c
}

// ClientLookup finds a client in memory. The returned client is shared and
// must not be modified. inmem.Replica implements it.
type ClientLookup interface {
	Lookup(id string) *auth.Client
}

// Issuer issues access tokens. Safe for concurrent use.
type Issuer struct {
	cfg      Config
	clients  ClientLookup
	keys     *KeyRing
	verifier *credential.Verifier
	limiter  auth.Limiter
	clock    auth.Clock
	policies *policies
}

// New returns an Issuer. clock may be nil for the system clock.
func New(cfg Config, clients ClientLookup, keys *KeyRing, limiter auth.Limiter, clock auth.Clock) *Issuer {
	if clock == nil {
		clock = auth.SystemClock{}
	}
	return &Issuer{cfg: cfg.withDefaults(), clients: clients, keys: keys, verifier: credential.NewVerifier(cfg.MaxSlowSecretChecks), limiter: limiter, clock: clock,
		policies: newPolicies(cfg.DefaultClaims)}
}

// Config returns the effective configuration.
func (i *Issuer) Config() Config { return i.cfg }

// LimitScope says what a rate-limit decision was keyed on.
type LimitScope int

const (
	LimitClient  LimitScope = iota // the client_id the request names
	LimitAddress                   // the remote address (the request names no client_id)
)

// Limit charges a request to an endpoint where clients authenticate (token,
// introspection, revocation) to the rate limit of the client_id it names —
// whether or not the client exists or the secret is right, so the limit also
// bounds secret guessing — or, when it names none, to its remote address.
// The three endpoints share one budget per client_id (and per address):
// with a budget each, a guesser had three times the documented rate.
func (i *Issuer) Limit(ctx context.Context, req *auth.TokenRequest) (auth.Decision, LimitScope, error) {
	return i.LimitClient(ctx, req, i.Lookup(req))
}

// Lookup returns the client a request names, nil when it names none or an
// unknown one: to be passed to LimitClient and then IssueClient or
// AuthenticateClient, so that a request reads its client once. The client
// is shared and must not be modified.
//
// Lookup also tells a federated request apart, by the unverified iss of
// its token, before any limit is charged: a client assertion whose iss is
// a trusted issuer's, or is not its sub, becomes auth.AuthFederatedJWT
// (see federatedLookup), and the client is then
// the one bound to the token's (issuer, sub), as it is for a token
// exchange of an external token (RFC 8693) without client authentication.
func (i *Issuer) Lookup(req *auth.TokenRequest) *auth.Client {
	switch {
	case req.AuthMethod == auth.AuthPrivateKeyJWT:
		if c, federated := i.federatedLookup(req.ClientAssertion, true); federated {
			req.AuthMethod = auth.AuthFederatedJWT
			return c
		}
		if req.ClientID == "" {
			// oauthwire leaves client_id to us for an assertion whose iss
			// is not its sub; as private_key_jwt it names its sub.
			_, req.ClientID, _ = unverifiedIssuer(req.ClientAssertion)
		}
	case chargedToBound(req):
		c, _ := i.federatedLookup(req.SubjectToken, false)
		return c
	}
	if req.ClientID == "" {
		return nil
	}
	c := i.clients.Lookup(req.ClientID)
	if req.AuthMethod == auth.AuthNone && req.ClientCertificate != nil && req.ClientSecret == "" {
		req.AuthMethod = certificateMethod(c) // for the log; AuthenticateClient decides the same
	}
	return c
}

// LimitClient is Limit for a request whose client Lookup returned: c is
// nil for an unknown client_id, which is charged to its own budget at the
// default rate all the same.
//
// A federated request (see Lookup) is charged to the client bound to its
// token's unverified (issuer, sub), c, or when there is none to its
// address: never to the sub, which is not a client ID.
func (i *Issuer) LimitClient(ctx context.Context, req *auth.TokenRequest, c *auth.Client) (auth.Decision, LimitScope, error) {
	if chargedToBound(req) {
		if c == nil {
			d, err := i.limiter.Allow(ctx, "addr:"+req.RemoteAddr, i.cfg.IPRateLimit)
			return d, LimitAddress, err
		}
		rate := i.cfg.RateLimit
		if !c.RateLimit.IsZero() {
			rate = c.RateLimit
		}
		d, err := i.limiter.Allow(ctx, "client:"+c.ID, rate)
		return d, LimitClient, err
	}
	if req.ClientID == "" {
		d, err := i.limiter.Allow(ctx, "addr:"+req.RemoteAddr, i.cfg.IPRateLimit)
		return d, LimitAddress, err
	}
	rate := i.cfg.RateLimit
	if c != nil && !c.RateLimit.IsZero() {
		rate = c.RateLimit
	}
	d, err := i.limiter.Allow(ctx, "client:"+req.ClientID, rate)
	return d, LimitClient, err
}

var errAuthFailed = auth.ErrInvalidClient.WithDescription("client authentication failed: the client_id is unknown, the secret is wrong, or the client is disabled")

// Issue runs the client credentials grant for an already rate-limited request.
// Errors are *auth.OAuthError values, except for failures of the server itself.
func (i *Issuer) Issue(ctx context.Context, req auth.TokenRequest) (*auth.Token, error) {
	return i.IssueClient(ctx, req, i.Lookup(&req))
}

// IssueClient is Issue for a request whose client Lookup returned (nil
// when unknown).
func (i *Issuer) IssueClient(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Token, error) {
	switch req.GrantType {
	case "":
		return nil, auth.ErrInvalidRequest.WithDescription("grant_type is required; this server supports grant_type=client_credentials and " + auth.GrantTokenExchange)
	case auth.GrantClientCredentials:
	case auth.GrantTokenExchange:
		return i.exchange(ctx, req, c)
	default:
		return nil, auth.ErrUnsupportedGrantType.WithDescription(fmt.Sprintf("grant_type %.64q is not supported; use client_credentials or %s", req.GrantType, auth.GrantTokenExchange))
	}
	c, federated, err := i.authenticate(ctx, req, c)
	if err != nil {
		return nil, err
	}
	return i.issueFor(ctx, c, req, federated, true)
}

// IssueAuthenticated issues client c a token for req's scope and
// audience without authenticating it: for a caller that has established
// by other means that the request comes from c (the console's sign-in
// links, whose codes the server verifies). A disabled client gets none;
// the token is checked like any other wherever it is shown.
// The token counts against the client's quotas like any other, and is
// never one given before: each sign-in gets its own.
func (i *Issuer) IssueAuthenticated(ctx context.Context, c *auth.Client, req auth.TokenRequest) (*auth.Token, error) {
	if c == nil || c.Disabled {
		return nil, errAuthFailed
	}
	return i.issueFor(ctx, c, req, nil, false)
}

// certificateMethod is how a request with a client certificate and no
// other credentials authenticates client c: tls_client_auth when c may
// use it, else self_signed_tls_client_auth when c may use that, else
// tls_client_auth, which then fails like any method c may not use.
func certificateMethod(c *auth.Client) string {
	if c != nil && !c.AllowsAuthMethod(auth.AuthTLSClientAuth) && c.AllowsAuthMethod(auth.AuthSelfSignedTLSClientAuth) {
		return auth.AuthSelfSignedTLSClientAuth
	}
	return auth.AuthTLSClientAuth
}

// errCertificateFailed is the one answer to every failed certificate
// authentication; the server's log says why (FailureReason).
var errCertificateFailed = auth.ErrInvalidClient.WithDescription("client authentication failed: the TLS client certificate is not accepted for this client")

// authenticateCertificate is tls_client_auth and
// self_signed_tls_client_auth (RFC 8705 §2).
func (i *Issuer) authenticateCertificate(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Client, error) {
	method := req.AuthMethod
	switch {
	case c == nil:
		return nil, &failure{errCertificateFailed, "unknown_client: no client " + fmt.Sprintf("%.256q", req.ClientID)}
	case c.Disabled:
		return nil, &failure{errCertificateFailed, reasonClientDisabled + ": client " + fmt.Sprintf("%q", c.ID) + " is disabled"}
	case i.cfg.ClientCertificates == nil:
		return nil, &failure{errCertificateFailed, "certificate_method: this server does not authenticate clients by certificate"}
	}
	if err := i.cfg.ClientCertificates.VerifyCertificate(ctx, c, method, req.ClientCertificate, req.ClientCertificateChain); err != nil {
		return nil, &failure{errCertificateFailed, err.Error()}
	}
	return c, nil
}

// certificateBinding is the cnf of a token issued to c for req (RFC 8705
// §3): the SHA-256 thumbprint of the client certificate the request came
// with, nil without one — and then, for a client that must have its
// tokens bound, an error.
func certificateBinding(c *auth.Client, req *auth.TokenRequest) (*auth.Confirmation, error) {
	if req.ClientCertificate == nil {
		if c.RequireCertificateBoundTokens {
			return nil, auth.ErrInvalidRequest.WithDescription("this client must present its TLS client certificate: its tokens are bound to the certificate (RFC 8705 §3); connect with the certificate over mutual TLS")
		}
		return nil, nil
	}
	sum := sha256.Sum256(req.ClientCertificate)
	return &auth.Confirmation{X5TS256: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// issueFor issues client c its own access token, as the client credentials
// grant does: the requested scope and audience if it may have them, within
// its quotas. federated are the claims of the trusted issuer's token that
// authenticated c, for its expressions; nil for none. With mayReuse, a
// client that reuses its tokens gets a live one issued before for the same
// request when there is one (TokenCache): after its condition is checked,
// without counting against its quotas.
func (i *Issuer) issueFor(ctx context.Context, c *auth.Client, req auth.TokenRequest, federated map[string]any, mayReuse bool) (*auth.Token, error) {
	now := i.clock.Now()
	scope, err := grantScope(c, req.Scope)
	if err != nil {
		return nil, err
	}
	aud, err := i.audience(c, req)
	if err != nil {
		return nil, err
	}
	cnf, err := confirmation(c, req)
	if err != nil {
		return nil, err
	}
	extra, set, err := i.applyPolicy(c, &req, scope, aud, now, federated)
	if err != nil {
		return nil, err
	}
	// kid is the key of the token to keep for reuse; "" keeps none.
	var kid string
	if mayReuse && i.reuses(c, set) {
		var tok *auth.Token
		if tok, kid, err = i.reused(c, scope, aud, cnf, now); tok != nil || err != nil {
			return tok, err
		}
	}
	if err := i.chargeQuota(ctx, c, now); err != nil {
		return nil, err
	}
	claims := auth.Claims{
		Subject:  c.ID,
		Audience: auth.Audience{aud},
		ClientID: c.ID,
		Scope:    scope,
		Expiry:   now.Add(i.tokenTTL(c)).Unix(),

		ClientIncarnation: c.Incarnation,
		Cnf:               cnf,
		Extra:             extra,
	}
	tok, err := i.sign(now, scope, &claims)
	if err == nil && kid != "" {
		i.cfg.Tokens.put(c, scope, aud, cnf, kid, claims.IssuedAt, claims.Expiry, tok)
	}
	return tok, err
}

// errDPoPRequired refuses a token request without a DPoP proof from a
// client that must send one.
var errDPoPRequired = auth.ErrInvalidRequest.WithDescription("this client must use DPoP: send a DPoP proof header (RFC 9449)")

// confirmation is the cnf claim of the token client c is issued for req
// (RFC 7800): the thumbprint of its DPoP key when the request carried a
// verified proof (RFC 9449 §6), nil for a Bearer token. A client that
// requires DPoP and sent no proof is refused. It runs after c is
// authenticated, so that what a client requires is told to that client
// alone.
func confirmation(c *auth.Client, req auth.TokenRequest) (*auth.Confirmation, error) {
	var cnf *auth.Confirmation
	switch {
	case req.DPoPJKT != "":
		cnf = &auth.Confirmation{JKT: req.DPoPJKT}
	case c.RequireDPoP:
		return nil, errDPoPRequired
	}
	bound, err := certificateBinding(c, &req)
	if err != nil || bound == nil {
		return cnf, err
	}
	if cnf == nil {
		return bound, nil
	}
	cnf.X5TS256 = bound.X5TS256 // both: the proof's key and the connection's certificate
	return cnf, nil
}

// sign completes claims (iss, iat, jti) and signs them with the current
// key; the token's expires_in runs from now to claims.Expiry. scope is
// claims.Scope, passed apart so that nothing of *claims reaches the heap
// (escape analysis does not tell fields apart: the token taking
// claims.Scope would move the claims' audience to the heap, an allocation
// per token).
func (i *Issuer) sign(now time.Time, scope string, claims *auth.Claims) (*auth.Token, error) {
	signer, err := i.keys.Signer(now)
	if err != nil {
		return nil, err
	}
	tokenType := "Bearer"
	if claims.Cnf != nil && claims.Cnf.JKT != "" {
		tokenType = auth.TokenTypeDPoP // RFC 9449 §5
	}
	tok := &auth.Token{TokenType: tokenType, ExpiresIn: claims.Expiry - now.Unix(), Scope: scope, JTI: newJTI()}
	claims.Issuer, claims.IssuedAt, claims.JWTID = i.cfg.Issuer, now.Unix(), tok.JTI
	cb := bufpool.Get()
	cb.B = appendClaims(cb.B, claims)
	tok.AccessToken, err = signer.Sign(cb.B)
	bufpool.Put(cb)
	if err != nil {
		return nil, fmt.Errorf("sign access token with key %s: %w", signer.KeyID(), err)
	}
	return tok, nil
}

// Authenticate checks the client's credentials, whichever method they use
// (RFC 6749 §2.3.1 secrets, RFC 7523 private_key_jwt), and that the client
// may use that method and is enabled. The client returned is shared and
// must not be modified. Errors are *auth.OAuthError values, except for
// failures of the server itself.
func (i *Issuer) Authenticate(ctx context.Context, req auth.TokenRequest) (*auth.Client, error) {
	return i.AuthenticateClient(ctx, req, i.Lookup(&req))
}

// AuthenticateClient is Authenticate for a request whose client Lookup
// returned (nil when unknown).
func (i *Issuer) AuthenticateClient(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Client, error) {
	c, _, err := i.authenticate(ctx, req, c)
	return c, err
}

// authenticate is AuthenticateClient, and for a client that authenticated
// with a trusted issuer's token, that token's claims (nil otherwise): what
// its expressions see as request.federated_claims.
func (i *Issuer) authenticate(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Client, map[string]any, error) {
	if req.AuthMethod == auth.AuthFederatedJWT {
		// client_id is optional; when sent it must be the bound client.
		return i.authenticateFederated(ctx, req.ClientAssertion, req.ClientID, errFederatedFailed)
	}
	c, err := i.authenticateRegistered(ctx, req, c)
	return c, nil, err
}

// authenticateRegistered authenticates a client by a credential
// registered here: a secret, keys for private_key_jwt, or a certificate.
func (i *Issuer) authenticateRegistered(ctx context.Context, req auth.TokenRequest, c *auth.Client) (*auth.Client, error) {
	if req.ClientID == "" {
		return nil, auth.ErrInvalidClient.WithDescription("client authentication is required: send client_id and client_secret in the body or with HTTP Basic, or a client_assertion (private_key_jwt)")
	}
	if req.ClientCertificate != nil && req.ClientSecret == "" {
		// A certificate and no other credentials: RFC 8705 §2. With a
		// secret or an assertion, that authenticates and the certificate
		// only binds the token.
		switch req.AuthMethod {
		case auth.AuthNone:
			req.AuthMethod = certificateMethod(c)
			fallthrough
		case auth.AuthTLSClientAuth, auth.AuthSelfSignedTLSClientAuth:
			return i.authenticateCertificate(ctx, req, c)
		}
	}
	if req.AuthMethod == auth.AuthPrivateKeyJWT {
		if c == nil || c.Disabled || !c.AllowsAuthMethod(auth.AuthPrivateKeyJWT) || i.cfg.ClientAssertions == nil {
			return nil, errAssertionFailed
		}
		if err := i.cfg.ClientAssertions.Verify(ctx, c, req.ClientAssertion); err != nil {
			return nil, err
		}
		return c, nil
	}
	if req.ClientSecret == "" {
		return nil, auth.ErrInvalidClient.WithDescription("client_secret is required")
	}
	// Verify runs the same work for an unknown client, a wrong secret and a
	// disabled client, so neither the answer nor its timing tells them apart.
	ok, err := i.verifier.Verify(c, req.ClientSecret, i.clock.Now())
	if err != nil {
		return nil, errBusy
	}
	if !ok || c.Disabled {
		return nil, errAuthFailed
	}
	method := req.AuthMethod
	if method == auth.AuthNone {
		method = auth.AuthClientSecretPost // a caller that did not say: the secret came as a parameter
	}
	if !c.AllowsAuthMethod(method) {
		return nil, auth.ErrInvalidClient.WithDescription(fmt.Sprintf("this client may not authenticate with %s", method))
	}
	return c, nil
}

// errBusy answers a request whose imported secret needs an argon2id check
// while the server runs as many as it allows: at once, so that a flood of
// wrong secrets costs neither a queue nor memory.
var errBusy = auth.ErrTemporarilyUnavailable.WithDescription("the server is checking too many imported client secrets at once; retry in a second")

var errAssertionFailed = auth.ErrInvalidClient.WithDescription("client authentication failed: the client is unknown, disabled, or has no keys registered for private_key_jwt")

// grantScope applies RFC 6749 §3.3: an absent scope gets the client's
// default (all its scopes); every requested scope must be allowed.
func grantScope(c *auth.Client, requested string) (string, error) {
	if requested == "" {
		return strings.Join(c.Scopes, " "), nil
	}
	var granted []string
	for s := range strings.SplitSeq(requested, " ") {
		if s == "" {
			continue // tolerate doubled spaces
		}
		if !ValidScopeToken(s) {
			return "", auth.ErrInvalidScope.WithDescription(fmt.Sprintf("scope %.64q is malformed: scope tokens are printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)", s))
		}
		if !contains(c.Scopes, s) {
			return "", auth.ErrInvalidScope.WithDescription(fmt.Sprintf("scope %q is not allowed for this client", s))
		}
		if !contains(granted, s) {
			granted = append(granted, s)
		}
	}
	if len(granted) == 0 {
		return "", auth.ErrInvalidScope.WithDescription("scope holds only spaces: send scope tokens separated by single spaces, or leave scope out for all of the client's scopes")
	}
	return strings.Join(granted, " "), nil
}

// ValidScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// audience picks the token's audience (RFC 8707 §2): the requested resource
// (or "audience", an alias many client libraries send) when the client may
// have it, else the client's default.
func (i *Issuer) audience(c *auth.Client, req auth.TokenRequest) (string, error) {
	return pickAudience(i.audiences(c), req, "is not allowed for this client")
}

// pickAudience is the requested resource or audience (the same one when
// both are sent) if allowed holds it, else allowed[0] when none is
// requested; refused says why another is refused.
func pickAudience(allowed []string, req auth.TokenRequest, refused string) (string, error) {
	want := req.Resource
	if req.Audience != "" {
		if want != "" && want != req.Audience {
			return "", auth.ErrInvalidRequest.WithDescription("resource and audience name different audiences; send one of them")
		}
		want = req.Audience
	}
	if want == "" {
		return allowed[0], nil
	}
	if !contains(allowed, want) {
		return "", auth.ErrInvalidTarget.WithDescription(fmt.Sprintf("the audience %.128q %s", want, refused))
	}
	return want, nil
}

// tokenTTL is the lifetime of c's tokens: its own, else the server's,
// never over MaxTokenTTL.
func (i *Issuer) tokenTTL(c *auth.Client) time.Duration {
	ttl := i.cfg.TokenTTL
	if c.TokenTTL > 0 {
		ttl = c.TokenTTL
	}
	return min(ttl, MaxTokenTTL)
}

// audiences are the audiences c may have tokens for, its default first.
func (i *Issuer) audiences(c *auth.Client) []string {
	if len(c.Audiences) == 0 {
		return []string{i.cfg.Audience}
	}
	return c.Audiences
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// newJTI returns 128 random bits, base64url: unique for every token.
func newJTI() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
