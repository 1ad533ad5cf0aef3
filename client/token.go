package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxResponseBytes bounds a token response read; real ones are a few hundred bytes.
const maxResponseBytes = 1 << 20

// tokenRequest is the token request of RFC 6749 §4.4.2, ready to send.
type tokenRequest struct {
	body          []byte
	contentType   string
	authorization string // the Basic header, or empty
	dpop          string // the DPoP proof, or empty
}

// grant is what a token request asks for: its parameters other than the
// client authentication, and how to read the answer.
type grant struct {
	params [][2]string
	// scope is the scope requested, which the token has when the response
	// leaves "scope" out (RFC 6749 §5.1).
	scope string
	// exchange marks a token exchange, whose response must say what it
	// issued (RFC 8693 §2.2.1).
	exchange bool
}

// clientCredentials is the client credentials grant of the Config.
func (s *settings) clientCredentials() *grant {
	g := &grant{params: [][2]string{{"grant_type", "client_credentials"}}, scope: s.scope}
	if s.scope != "" {
		g.params = append(g.params, [2]string{"scope", s.scope})
	}
	if s.resource != "" {
		g.params = append(g.params, [2]string{"resource", s.resource})
	}
	return g
}

// newTokenRequest encodes the grant's parameters and the client
// authentication for the token endpoint at endpoint. It is called for
// every attempt: with AuthPrivateKeyJWT it signs a new client assertion,
// since an assertion is used once (RFC 7523 §3, item 7), and with
// AuthFederatedJWT it reads the workload's token again, since the
// platform may have replaced it.
func (s *settings) newTokenRequest(ctx context.Context, endpoint string, g *grant) (*tokenRequest, error) {
	params := slices.Clone(g.params)
	r := &tokenRequest{}
	switch s.authStyle {
	case AuthBasic:
		// RFC 6749 §2.3.1: the client identifier and password are each
		// form-url-encoded before being used as the Basic user-id and password.
		creds := url.QueryEscape(s.clientID) + ":" + url.QueryEscape(s.clientSecret)
		r.authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
	case AuthPost:
		params = append(params, [2]string{"client_id", s.clientID}, [2]string{"client_secret", s.clientSecret})
	case AuthPrivateKeyJWT:
		// RFC 7523 §3, item 3: the audience identifies the authorization
		// server, by its issuer identifier or its token endpoint URL.
		aud := s.issuer
		if aud == "" {
			aud = endpoint
		}
		assertion, err := s.assertion.sign(s.clientID, aud, time.Now())
		if err != nil {
			return nil, err
		}
		params = append(params, [2]string{"client_id", s.clientID},
			[2]string{"client_assertion_type", clientAssertionTypeJWT}, [2]string{"client_assertion", assertion})
	case AuthFederatedJWT:
		assertion, err := s.federated(ctx)
		if err != nil {
			return nil, err
		}
		// The server finds the client from the token's issuer and subject;
		// a client_id, when configured, only has to agree with them.
		if s.clientID != "" {
			params = append(params, [2]string{"client_id", s.clientID})
		}
		params = append(params, [2]string{"client_assertion_type", clientAssertionTypeJWT}, [2]string{"client_assertion", assertion})
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		// The certificate of the connection authenticates (RFC 8705 §2):
		// client_id says which client it is for.
		params = append(params, [2]string{"client_id", s.clientID})
	}
	if s.dpopKey != nil {
		// A new proof for every attempt: the server remembers each jti
		// (RFC 9449 §11.1) and refuses a proof older than its window.
		p, err := s.binding.newProof(s.dpopKey, http.MethodPost, endpoint, "")
		if err != nil {
			return nil, err
		}
		r.dpop = p
	}
	switch s.encoding {
	case EncodingJSON:
		m := make(map[string]string, len(params))
		for _, p := range params {
			m[p[0]] = p[1]
		}
		r.body, _ = json.Marshal(m) // a map of strings: cannot fail
		r.contentType = "application/json"
	default:
		v := make(url.Values, len(params))
		for _, p := range params {
			v.Set(p[0], p[1])
		}
		r.body = []byte(v.Encode())
		r.contentType = "application/x-www-form-urlencoded"
	}
	return r, nil
}

// fetch requests a token from endpoint, retrying transient failures.
func (s *settings) fetch(ctx context.Context, endpoint string, g *grant) (*oauth2.Token, error) {
	nonceRetried := false
	for attempt := 0; ; attempt++ {
		tr, err := s.newTokenRequest(ctx, endpoint, g)
		if err != nil {
			return nil, err
		}
		tok, retry, err := s.try(ctx, endpoint, tr, g)
		if err == nil {
			return tok, nil
		}
		if retry.nonce && !nonceRetried {
			// RFC 9449 §8: the server wants its nonce in the proof; once,
			// at once, and not counted as a retry.
			nonceRetried = true
			attempt--
			continue
		}
		if !retry.ok || retry.nonce {
			return nil, err
		}
		if attempt >= s.maxRetries {
			if attempt == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("token request failed %d times: %w", attempt+1, err)
		}
		wait := retry.after
		if retry.backoff {
			wait = backoff(attempt, s.minBackoff, s.maxBackoff)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would only end in the context's deadline: say what failed now.
			return nil, fmt.Errorf("%w (not retried: the context's deadline is sooner than the %v wait)", err, wait.Round(time.Millisecond))
		}
		if werr := sleep(ctx, wait); werr != nil {
			return nil, fmt.Errorf("token request: %w while waiting %v to retry after: %v", werr, wait.Round(time.Millisecond), err)
		}
	}
}

// retryAdvice says whether a failed attempt may be retried, and after how
// long: a fixed delay (Retry-After) or a backoff.
type retryAdvice struct {
	ok      bool
	after   time.Duration
	backoff bool
	// nonce: the server answered use_dpop_nonce with a new nonce; retry
	// at once with it.
	nonce bool
}

// retryWithBackoff is the advice for a transient failure.
var retryWithBackoff = retryAdvice{ok: true, backoff: true}

// try makes one token request.
func (s *settings) try(ctx context.Context, endpoint string, tr *tokenRequest, g *grant) (*oauth2.Token, retryAdvice, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(tr.body))
	if err != nil {
		return nil, retryAdvice{}, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", tr.contentType)
	req.Header.Set("Accept", "application/json")
	if tr.authorization != "" {
		req.Header.Set("Authorization", tr.authorization)
	}
	if tr.dpop != "" {
		req.Header.Set("DPoP", tr.dpop)
	}
	sent := time.Now()
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, transient(ctx, err), fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, transient(ctx, err), fmt.Errorf("token request: reading the response: %w", err)
	}
	fresh := s.dpopKey != nil && s.binding.keepNonce(endpoint, resp.Header)
	if resp.StatusCode != http.StatusOK {
		e, hasRetryAfter := newError(resp, body)
		if e.Code == "use_dpop_nonce" && s.dpopKey != nil {
			return nil, retryAdvice{nonce: fresh}, e
		}
		return nil, s.advise(e, hasRetryAfter), e
	}
	tok, err := parseToken(body, sent, g.scope, s.dpopKey != nil)
	if err == nil && g.exchange {
		err = checkIssuedTokenType(tok)
	}
	if err != nil {
		return nil, retryAdvice{}, fmt.Errorf("token response from %s: %w", endpoint, err)
	}
	return tok, retryAdvice{}, nil
}

// transient advises a backoff for a transient network failure, unless the
// context is done.
func transient(ctx context.Context, err error) retryAdvice {
	if ctx.Err() == nil && isTransient(err) {
		return retryWithBackoff
	}
	return retryAdvice{}
}

// advise decides whether an error answer is retried: 429, 500, 502, 503 and
// 504 are, after their Retry-After if they send one short enough (a longer
// one is not waited for), else after a backoff; nothing else is.
func (s *settings) advise(e *Error, hasRetryAfter bool) retryAdvice {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return retryAdvice{}
	}
	switch {
	case !hasRetryAfter:
		return retryWithBackoff
	case e.RetryAfter > s.maxRetryAfter:
		return retryAdvice{}
	}
	return retryAdvice{ok: true, after: e.RetryAfter}
}

// tokenResponse is the successful response of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// parseToken reads a token response. Expiry counts from sent, when the
// request left, so that it is never later than the server's. When the
// response has no "scope", it is the requested one (RFC 6749 §5.1). With
// DPoP, token_type DPoP is kept (the token is sent with that scheme and a
// proof); a Bearer answer means the server ignored the proof (RFC 9449
// §5), and the token is a plain Bearer one.
func parseToken(body []byte, sent time.Time, requestedScope string, withDPoP bool) (*oauth2.Token, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("not a JSON token response: %w", err)
	}
	var extra map[string]any
	if err := json.Unmarshal(body, &extra); err != nil {
		return nil, fmt.Errorf("not a JSON token response: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("no access_token")
	}
	tokenType := "Bearer"
	switch {
	case tr.TokenType == "" || strings.EqualFold(tr.TokenType, "Bearer"):
	case withDPoP && strings.EqualFold(tr.TokenType, "DPoP"):
		tokenType = "DPoP"
	case strings.EqualFold(tr.TokenType, "DPoP"):
		return nil, fmt.Errorf("token_type %q: the token is DPoP-bound, but this client has no DPoP key (set Config.DPoP or Config.DPoPKey)", tr.TokenType)
	default:
		return nil, fmt.Errorf("token_type %q is not Bearer or DPoP, the types this client can send", tr.TokenType)
	}
	expiresIn, err := parseExpiresIn(tr.ExpiresIn)
	if err != nil {
		return nil, err
	}
	if _, ok := extra["scope"]; !ok && requestedScope != "" {
		extra["scope"] = requestedScope
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tokenType, ExpiresIn: expiresIn}
	if expiresIn > 0 {
		tok.Expiry = sent.Add(time.Duration(expiresIn) * time.Second)
	}
	return tok.WithExtra(extra), nil
}

// parseExpiresIn reads "expires_in", a number of seconds; some servers send
// it as a string. Absent means unknown (0).
func parseExpiresIn(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 0 || n > 10*365*24*3600 {
		return 0, fmt.Errorf("expires_in %s is not a number of seconds", raw)
	}
	return n, nil
}
