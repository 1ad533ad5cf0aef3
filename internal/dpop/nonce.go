package dpop

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// NonceLabel is the HKDF info under which a NonceSource's key is derived
// from the fleet's shared secret (the key-encryption key): distinct from
// every other use of that secret.
const NonceLabel = "gooclaim-auth dpop nonce v1"

// DefaultNonceWindow is how long one nonce is handed out; it stays valid
// for up to twice as long (the current and the previous window).
const DefaultNonceWindow = 5 * time.Minute

// nonceMACSize is how much of the HMAC a nonce keeps: 144 bits, which no
// one guesses, in 24 base64url characters.
const nonceMACSize = 18

// NonceSource makes and checks server nonces (RFC 9449 §8) valid on every
// node of a fleet without shared state: a nonce is the HMAC-SHA256 of the
// number of the current time window, under a key every node derives from
// the same secret. A nonce is accepted in its window and the next one, so
// that one handed out at the end of a window still works. It is safe for
// concurrent use.
type NonceSource struct {
	key    []byte
	window time.Duration
	// cur caches the current window's nonce: every successful token
	// response carries it, and one HMAC per window is enough.
	cur atomic.Pointer[cachedNonce]
}

type cachedNonce struct {
	counter int64
	nonce   string
}

// NewNonceSource returns a NonceSource whose key is derived with HKDF-SHA256
// from secret (at least 32 bytes, the same on every node) under
// NonceLabel; window 0 means DefaultNonceWindow.
func NewNonceSource(secret []byte, window time.Duration) (*NonceSource, error) {
	if len(secret) < 32 {
		return nil, errors.New("DPoP nonces: the secret is shorter than 32 bytes")
	}
	if window < 0 {
		return nil, errors.New("DPoP nonces: the window is negative")
	}
	if window == 0 {
		window = DefaultNonceWindow
	}
	key, err := hkdf.Key(sha256.New, secret, nil, NonceLabel, sha256.Size)
	if err != nil {
		return nil, err
	}
	return &NonceSource{key: key, window: window}, nil
}

// Nonce returns the nonce to hand out at now.
func (s *NonceSource) Nonce(now time.Time) string {
	n := s.counter(now)
	if c := s.cur.Load(); c != nil && c.counter == n {
		return c.nonce
	}
	c := &cachedNonce{counter: n, nonce: s.mac(n)}
	s.cur.Store(c)
	return c.nonce
}

// Valid reports whether nonce was handed out by a NonceSource with the
// same secret in the current window or the previous one.
func (s *NonceSource) Valid(nonce string, now time.Time) bool {
	if len(nonce) != base64.RawURLEncoding.EncodedLen(nonceMACSize) {
		return false
	}
	n := s.counter(now)
	// Both compared, whatever the first gives, so that the time taken says
	// nothing of which window matched.
	cur := hmac.Equal([]byte(nonce), []byte(s.Nonce(now)))
	prev := hmac.Equal([]byte(nonce), []byte(s.mac(n-1)))
	return cur || prev
}

func (s *NonceSource) counter(now time.Time) int64 {
	return now.UnixNano() / int64(s.window)
}

func (s *NonceSource) mac(counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha256.New, s.key)
	m.Write(msg[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:nonceMACSize])
}
