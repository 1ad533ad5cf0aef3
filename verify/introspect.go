package verify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth/internal/jwkset"
	"golang.org/x/sync/singleflight"
)

// DefaultIntrospectionCacheTTL is how long an introspection answer is
// reused by default (Introspection.CacheTTL).
const DefaultIntrospectionCacheTTL = 10 * time.Second

const (
	// maxCachedAnswers bounds the introspection cache.
	maxCachedAnswers = 10000
	// maxErrorBody bounds how much of an introspection error answer is read.
	maxErrorBody = 4 << 10
	// statusUnknown is the description of a token whose status could not
	// be had; the cause (addresses, network errors, the server's words)
	// stays in Unwrap and Error for the logs.
	statusUnknown = "the token's status could not be checked with the authorization server"
)

// Introspection configures the online check of Config.Introspection: token
// introspection, RFC 7662.
type Introspection struct {
	// ClientID and ClientSecret are the credentials of a client of the
	// authorization server that holds the scope auth:introspect (both
	// required). They are sent with HTTP Basic authentication
	// (client_secret_basic), each application/x-www-form-urlencoded first
	// as RFC 6749 §2.3.1 says.
	ClientID, ClientSecret string

	// Endpoint is the introspection endpoint's URL, such as
	// "https://auth.gooclaim.com/v1/auth/introspect". Default the
	// "introspection_endpoint" of the authorization server metadata
	// (RFC 8414 §2), found by discovery under the rules of jwks_uri (https
	// when the issuer is); required when Config.JWKSURL is set, since
	// discovery is then skipped. It must be https, or http on a loopback
	// host, unless Config.AllowInsecureHTTP is set: the client secret and
	// the tokens are sent there.
	Endpoint string

	// CacheTTL is how long an answer is reused for the same token, and so
	// the longest a revoked token keeps being accepted. Default
	// DefaultIntrospectionCacheTTL (10s); an answer is never reused past
	// the token's exp. Negative disables the cache: every Verify asks.
	CacheTTL time.Duration

	// HTTPClient sends the introspection requests. Default
	// Config.HTTPClient (or its default). Redirects are never followed,
	// since the request carries the client secret and the token, and every
	// request is bounded by 10 seconds whatever the client.
	HTTPClient *http.Client
}

// introspectionSettings are a validated Introspection with defaults applied.
type introspectionSettings struct {
	clientID, clientSecret, endpoint string
	cacheTTL                         time.Duration // negative: no cache
	client                           *http.Client  // follows no redirect
}

// check validates in as part of cfg, reporting problems with bad. client is
// Config.HTTPClient with its default applied.
func (in *Introspection) check(cfg Config, client *http.Client, bad func(format string, args ...any)) *introspectionSettings {
	s := &introspectionSettings{clientID: in.ClientID, clientSecret: in.ClientSecret, endpoint: in.Endpoint, cacheTTL: in.CacheTTL}
	if in.ClientID == "" || in.ClientSecret == "" {
		bad("Introspection: ClientID and ClientSecret are required: the credentials of a client holding the scope auth:introspect")
	}
	switch {
	case in.Endpoint != "":
		if err := checkURL(in.Endpoint, cfg.AllowInsecureHTTP); err != nil {
			bad("Introspection.Endpoint: %v", err)
		}
	case cfg.JWKSURL != "":
		bad("Introspection.Endpoint is required when JWKSURL is set: discovery, which would find introspection_endpoint, is skipped")
	}
	if in.CacheTTL == 0 {
		s.cacheTTL = DefaultIntrospectionCacheTTL
	}
	if in.HTTPClient != nil {
		client = in.HTTPClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = &noRedirect
	return s
}

// cachedAnswer is what an introspection answer decided about a token.
type cachedAnswer struct {
	refusal *Error // nil: the token is active
	expires time.Time
}

// introspector asks the authorization server whether locally valid tokens
// are still active, caching the answers by the tokens' SHA-256 (never the
// tokens), and sharing one request among concurrent checks of one token.
type introspector struct {
	cfg    *settings
	in     *introspectionSettings
	flight singleflight.Group // keyed by the token's hash, or discoveryKey

	mu           sync.Mutex
	endpoint     string // configured, or found by discovery
	discoveryErr error  // the last failed discovery's error
	discoveredAt time.Time
	cache        map[[sha256.Size]byte]cachedAnswer

	requests, hits, failures atomic.Int64
}

// discoveryKey is the flight of the endpoint's discovery; token hashes are
// sha256.Size bytes long, so it cannot be one.
const discoveryKey = "discovery"

func newIntrospector(cfg *settings) *introspector {
	return &introspector{
		cfg:      cfg,
		in:       cfg.introspection,
		endpoint: cfg.introspection.endpoint,
		cache:    map[[sha256.Size]byte]cachedAnswer{},
	}
}

// check returns nil if the authorization server says the token, which c
// are the verified claims of, is active; an invalid_token error if it says
// otherwise or cannot be asked. ctx bounds only this caller's wait.
func (i *introspector) check(ctx context.Context, token string, c *Claims) *Error {
	key := sha256.Sum256([]byte(token))
	if a, ok := i.cached(key); ok {
		i.hits.Add(1)
		return a.refusal.clone()
	}
	endpoint, err := i.endpointURL(ctx)
	if err != nil {
		i.failures.Add(1)
		return invalidTokenCause(statusUnknown, fmt.Errorf("find the introspection endpoint: %w", err))
	}
	// The request is detached from ctx so that one caller giving up does
	// not fail the others sharing it; it keeps ctx's values.
	detached := context.WithoutCancel(ctx)
	ch := i.flight.DoChan(string(key[:]), func() (any, error) {
		if a, ok := i.cached(key); ok {
			return a, nil // stored just before this flight began
		}
		reqCtx, cancel := context.WithTimeout(detached, fetchTimeout)
		defer cancel()
		started := i.cfg.now()
		refusal, err := i.ask(reqCtx, endpoint, token, c)
		if err != nil {
			return nil, err
		}
		a := cachedAnswer{refusal: refusal, expires: started.Add(i.in.cacheTTL)}
		if c.Expiry.Before(a.expires) {
			a.expires = c.Expiry
		}
		if i.in.cacheTTL > 0 && started.Before(a.expires) {
			i.store(key, a, started)
		}
		return a, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			i.failures.Add(1)
			return invalidTokenCause(statusUnknown, r.Err)
		}
		return r.Val.(cachedAnswer).refusal.clone()
	case <-ctx.Done():
		i.failures.Add(1)
		return invalidTokenCause(statusUnknown, fmt.Errorf("gave up waiting for the introspection answer: %w", ctx.Err()))
	}
}

// clone returns a copy of a shared refusal, so that no caller can change
// what the others get; nil stays nil.
func (e *Error) clone() *Error {
	if e == nil {
		return nil
	}
	c := *e
	return &c
}

// cached returns the unexpired answer cached for the token hash key.
func (i *introspector) cached(key [sha256.Size]byte) (cachedAnswer, bool) {
	if i.in.cacheTTL < 0 {
		return cachedAnswer{}, false
	}
	now := i.cfg.now()
	i.mu.Lock()
	defer i.mu.Unlock()
	a, ok := i.cache[key]
	if !ok {
		return cachedAnswer{}, false
	}
	if !now.Before(a.expires) {
		delete(i.cache, key)
		return cachedAnswer{}, false
	}
	return a, true
}

// store caches an answer. When the cache is full, it drops the expired
// answers, then arbitrary ones down to 90% of the bound, so that a full
// cache is swept once per many stores rather than at each.
func (i *introspector) store(key [sha256.Size]byte, a cachedAnswer, now time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.cache) >= maxCachedAnswers {
		for k, old := range i.cache {
			if !now.Before(old.expires) {
				delete(i.cache, k)
			}
		}
		for k := range i.cache {
			if len(i.cache) < maxCachedAnswers*9/10 {
				break
			}
			delete(i.cache, k)
		}
	}
	i.cache[key] = a
}

// endpointURL returns the introspection endpoint, discovering it the first
// time if it is not configured. Concurrent callers share one discovery, and
// after a failed one the next waits MinRefreshInterval.
func (i *introspector) endpointURL(ctx context.Context) (string, error) {
	i.mu.Lock()
	endpoint, lastErr, lastAt := i.endpoint, i.discoveryErr, i.discoveredAt
	i.mu.Unlock()
	switch {
	case endpoint != "":
		return endpoint, nil
	case lastErr != nil && i.cfg.now().Sub(lastAt) < i.cfg.minRefresh:
		return "", lastErr
	}
	detached := context.WithoutCancel(ctx)
	ch := i.flight.DoChan(discoveryKey, func() (any, error) {
		reqCtx, cancel := context.WithTimeout(detached, fetchTimeout)
		defer cancel()
		u, err := discoverIntrospection(reqCtx, i.cfg)
		i.mu.Lock()
		defer i.mu.Unlock()
		if err != nil {
			i.discoveryErr, i.discoveredAt = err, i.cfg.now()
			return nil, err
		}
		i.endpoint, i.discoveryErr = u, nil
		return u, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("gave up waiting for discovery: %w", ctx.Err())
	}
}

// ask sends the token to the introspection endpoint (RFC 7662 §2.1) and
// reads the answer (§2.2). It returns a refusal for an inactive token, nil
// for an active one, or an error if there is no usable answer. A request
// that gets no answer at all is sent once more (introspection changes
// nothing, and a stale keep-alive connection is the usual cause); any
// answer, even an error, is final.
func (i *introspector) ask(ctx context.Context, endpoint, token string, c *Claims) (*Error, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
	var (
		resp *http.Response
		err  error
	)
	for attempt := 0; attempt < 2; attempt++ {
		req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
		if rerr != nil {
			return nil, fmt.Errorf("introspect: %w", rerr)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.SetBasicAuth(url.QueryEscape(i.in.clientID), url.QueryEscape(i.in.clientSecret))
		i.requests.Add(1)
		if resp, err = i.in.client.Do(req); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("introspect at %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspect at %s: %w", endpoint, answerError(resp))
	}
	body, err := readDocument(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("introspect at %s: %w", endpoint, err)
	}
	refusal, err := readAnswer(body, c)
	if err != nil {
		return nil, fmt.Errorf("introspect at %s: %w", endpoint, err)
	}
	return refusal, nil
}

// answerError describes an error answer of the introspection endpoint,
// with the RFC 6749 §5.2 error and error_description it may carry.
func answerError(resp *http.Response) error {
	what := fmt.Sprintf("HTTP %d", resp.StatusCode)
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		what += " (are Introspection.ClientID and ClientSecret right, and does the client hold the scope auth:introspect?)"
	case http.StatusTooManyRequests:
		what += " (rate-limited)"
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		what += ": " + quote(e.Error)
		if e.Description != "" {
			what += " " + quote(e.Description)
		}
	}
	return errors.New(what)
}

// readAnswer reads an introspection answer (RFC 7662 §2.2): a JSON object
// without duplicate members whose "active" is a boolean. An active answer's
// iss, client_id, sub and jti, when present, must be those of the verified
// claims c: an answer about another token is no answer.
func readAnswer(body []byte, c *Claims) (*Error, error) {
	m, err := jwkset.DecodeObject[json.RawMessage](body)
	if err != nil {
		return nil, fmt.Errorf("the answer is not a valid JSON object: %w", err)
	}
	var active bool
	if raw, ok := m["active"]; !ok || json.Unmarshal(raw, &active) != nil {
		return nil, errors.New(`the answer has no boolean "active" (RFC 7662 §2.2)`)
	}
	if !active {
		return invalidToken("the token is no longer active (revoked, or its client disabled)"), nil
	}
	for _, claim := range []struct{ name, want string }{
		{"iss", c.Issuer}, {"client_id", c.ClientID}, {"sub", c.Subject}, {"jti", c.JWTID},
	} {
		raw, ok := m[claim.name]
		if !ok {
			continue
		}
		var got string
		if json.Unmarshal(raw, &got) != nil {
			return nil, fmt.Errorf("the answer's %s is not a string", claim.name)
		}
		if got != claim.want {
			return nil, fmt.Errorf("the answer's %s %s is not the token's %s: it is about another token", claim.name, quote(got), quote(claim.want))
		}
	}
	return nil, nil
}

// stats adds the introspection counters to st.
func (i *introspector) stats(st *Stats) {
	i.mu.Lock()
	st.IntrospectionEndpoint, st.IntrospectionCached = i.endpoint, len(i.cache)
	i.mu.Unlock()
	st.Introspections = int(i.requests.Load())
	st.IntrospectionCacheHits = int(i.hits.Load())
	st.IntrospectionFailures = int(i.failures.Load())
}
