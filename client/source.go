package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// tokenSource is the caching source of Config.TokenSource.
type tokenSource struct {
	ctx  context.Context
	conf *Config
	// fetch requests a new token: Config.Token, or an exchange.
	fetch  func(ctx context.Context) (*oauth2.Token, error)
	flight singleflight.Group

	mu        sync.Mutex
	tok       *oauth2.Token // nil when none is cached
	refreshAt time.Time     // when tok is to be replaced; zero: never
}

// Token returns the cached token, or waits for a new one.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	return s.token(s.ctx)
}

// token is Token for a caller with its own context, such as a request sent
// through Transport: ctx bounds only this caller's wait. The request itself
// runs under the source's context, so that one caller giving up does not
// fail the others sharing it.
func (s *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	if tok := s.cached(); tok != nil {
		return tok, nil
	}
	ch := s.flight.DoChan("token", s.refresh)
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for an access token: %w", ctx.Err())
	}
}

// cached returns the cached token if it is not due for replacement.
func (s *tokenSource) cached() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && (s.refreshAt.IsZero() || time.Now().Before(s.refreshAt)) {
		return s.tok
	}
	return nil
}

// refresh requests a token; one runs at a time.
func (s *tokenSource) refresh() (any, error) {
	// A caller that found the cache stale just before the previous
	// refresh stored its token starts a new flight: it gets that token.
	if tok := s.cached(); tok != nil {
		return tok, nil
	}
	tok, err := s.fetch(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.tok != nil && (s.tok.Expiry.IsZero() || time.Now().Before(s.tok.Expiry)) {
			return s.tok, nil // inside the skew: still good
		}
		return nil, err
	}
	s.tok = tok
	s.refreshAt = refreshTime(tok, s.skew())
	return tok, nil
}

func (s *tokenSource) skew() time.Duration {
	skew := orDefault(s.conf.ExpirySkew, DefaultExpirySkew)
	return max(skew, 0)
}

// refreshTime is when tok is to be replaced: skew before its expiry, but
// never more than half its lifetime before (so that a token living less
// than twice the skew is still used for half its life). Zero when tok has
// no expiry.
func refreshTime(tok *oauth2.Token, skew time.Duration) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	return tok.Expiry.Add(-min(skew, lifetime/2))
}

// drop forgets tok if it is the cached token, so that the next call
// requests a new one; a resource server refused it.
func (s *tokenSource) drop(tok *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == tok.AccessToken {
		s.tok, s.refreshAt = nil, time.Time{}
	}
}
