package credential

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
)

// maxRemembered bounds the verifier's memory of imported secrets.
const maxRemembered = 100_000

// Verifier checks presented secrets against a client's stored hashes. It is
// safe for concurrent use. The zero value is not usable; call NewVerifier.
type Verifier struct {
	pepper [32]byte // random per process: the remembered MACs are useless outside it
	dummy  string   // a hash no secret matches, checked for unknown clients

	mu         sync.RWMutex
	remembered map[string][32]byte // argon2id hash string → HMAC(pepper, secret)
}

// NewVerifier returns a Verifier with a fresh random pepper.
func NewVerifier() *Verifier {
	v := &Verifier{remembered: make(map[string][32]byte)}
	mustRandom(v.pepper[:])
	var junk [32]byte
	mustRandom(junk[:])
	v.dummy = HashGenerated(string(junk[:]))
	return v
}

// Verify reports whether secret matches one of the live secrets at time now.
// c may be nil (unknown client): the same work is done against a dummy hash,
// so that an unknown client and a wrong secret take the same time. Every
// live secret is checked, without stopping at the first match.
//
// A generated secret costs one SHA-256. An imported (argon2id) secret costs
// one argon2id computation until it has matched once; from then on the
// verifier compares an HMAC remembered in memory.
func (v *Verifier) Verify(c *auth.Client, secret string, now time.Time) bool {
	sum := sha256.Sum256([]byte(secret))
	if c == nil || len(c.Secrets) == 0 {
		sha256Equal(&sum, v.dummy)
		return false
	}
	ok := false
	for i := range c.Secrets {
		s := &c.Secrets[i]
		var match bool
		switch KindOf(s.Hash) {
		case KindSHA256:
			match = sha256Equal(&sum, s.Hash)
		case KindArgon2id:
			match = v.verifyImported(secret, s.Hash)
		}
		if match && s.Live(now) {
			ok = true
		}
	}
	return ok
}

func (v *Verifier) mac(secret string) [32]byte {
	m := hmac.New(sha256.New, v.pepper[:])
	m.Write([]byte(secret))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

func (v *Verifier) verifyImported(secret, hash string) bool {
	v.mu.RLock()
	known, ok := v.remembered[hash]
	v.mu.RUnlock()
	if ok {
		got := v.mac(secret)
		return subtle.ConstantTimeCompare(got[:], known[:]) == 1
	}
	if !argon2Equal(secret, hash) {
		return false
	}
	mac := v.mac(secret)
	v.mu.Lock()
	if len(v.remembered) >= maxRemembered {
		clear(v.remembered) // rare: more imported secrets than the bound; relearn on use
	}
	// A copy: the hash may point into a replica's memory (inmem.Replica), which
	// a long-lived key would keep alive after the replica has moved on.
	v.remembered[strings.Clone(hash)] = mac
	v.mu.Unlock()
	return true
}
