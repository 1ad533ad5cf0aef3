package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gooclaim/auth/internal/dpop"
)

// Sender-constrained tokens: DPoP (RFC 9449) and mutual TLS (RFC 8705).
// The state they need lives as long as the Config: the DPoP key the tokens
// are bound to, the last nonce each server handed out, and the transport
// that presents the client certificate (one, so that its connections are
// reused).
type bindingState struct {
	keyOnce sync.Once
	key     crypto.Signer
	keyErr  error

	nonces sync.Map // origin (scheme://host) → the last DPoP-Nonce it sent

	tlsOnce sync.Once
	tlsHC   *http.Client
	tlsErr  error
}

// bindingState returns the Config's state, made on first use.
func (c *Config) bindingState() *bindingState {
	if b, ok := c.binding.Load().(*bindingState); ok {
		return b
	}
	c.binding.CompareAndSwap(nil, &bindingState{})
	return c.binding.Load().(*bindingState)
}

// dpopKey returns the key proofs are signed with: Config.DPoPKey, or one
// generated once for the Config's life (ES256) when only Config.DPoP is
// set. A generated key never leaves the process: a token bound to it is
// useless anywhere else.
func (c *Config) dpopKey() (crypto.Signer, error) {
	if c.DPoPKey != nil {
		return c.DPoPKey, nil
	}
	if !c.DPoP {
		return nil, nil
	}
	b := c.bindingState()
	b.keyOnce.Do(func() {
		b.key, b.keyErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	return b.key, b.keyErr
}

// DPoPThumbprint returns the JWK SHA-256 thumbprint (RFC 7638) of the
// Config's DPoP key: the cnf.jkt of the tokens bound to it. It generates
// the key if Config.DPoP asks for one. Empty without DPoP.
func (c *Config) DPoPThumbprint() (string, error) {
	k, err := c.dpopKey()
	if err != nil || k == nil {
		return "", err
	}
	return dpop.Thumbprint(k.Public())
}

// newProof signs a DPoP proof for a request of method to u, with the
// nonce the server at u last sent, and ath when accessToken is set.
func (b *bindingState) newProof(key crypto.Signer, method, u, accessToken string) (string, error) {
	p, err := dpop.NewProof(key, "", method, u, accessToken, b.nonce(u), time.Now())
	if err != nil {
		return "", fmt.Errorf("make a DPoP proof: %w", err)
	}
	return p, nil
}

func (b *bindingState) nonce(u string) string {
	if n, ok := b.nonces.Load(origin(u)); ok {
		return n.(string)
	}
	return ""
}

// keepNonce remembers the DPoP-Nonce of an answer from u (RFC 9449 §8.2:
// a server may send a new one with any answer). It reports whether it is
// a new one.
func (b *bindingState) keepNonce(u string, h http.Header) bool {
	n := h.Get("DPoP-Nonce")
	if n == "" || !isNonce(n) {
		return false
	}
	old, loaded := b.nonces.Swap(origin(u), n)
	return !loaded || old.(string) != n
}

// isNonce reports whether n is a nonce as RFC 9449 §8.1 defines it:
// 1*NQCHAR.
func isNonce(n string) bool { return isScopeToken(n) }

// origin is the scheme and authority of a URL: nonces are per server.
func origin(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	return strings.ToLower(scheme) + "://" + strings.ToLower(host)
}

// tlsClient returns the HTTP client with Config.TLSCertificate: a copy of
// HTTPClient whose transport, a clone of its *http.Transport (or of
// http.DefaultTransport), presents the certificate. Built once, so that
// its connections are reused.
func (c *Config) tlsClient() (*http.Client, error) {
	b := c.bindingState()
	b.tlsOnce.Do(func() {
		hc := c.httpClient()
		var base *http.Transport
		switch t := hc.Transport.(type) {
		case nil:
			base = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			base = t.Clone()
		default:
			b.tlsErr = fmt.Errorf("TLSCertificate is set but HTTPClient.Transport is a %T, not an *http.Transport: put the certificate in your transport's TLS configuration instead", t)
			return
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if base.TLSClientConfig != nil {
			tc = base.TLSClientConfig.Clone()
		}
		cert := *c.TLSCertificate
		tc.Certificates = []tls.Certificate{cert}
		base.TLSClientConfig = tc
		copied := *hc
		copied.Transport = base
		b.tlsHC = &copied
	})
	return b.tlsHC, b.tlsErr
}
