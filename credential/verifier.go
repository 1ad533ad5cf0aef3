package credential

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gooclaim/auth"
)

// maxRemembered bounds the verifier's memory of imported secrets.
const maxRemembered = 100_000

// ErrBusy is returned by Verify when a secret needs an argon2id check and
// as many are running as the Verifier allows: the caller should answer
// "temporarily unavailable, retry shortly" at once rather than wait.
var ErrBusy = errors.New("too many imported-secret checks are running at once")

// Verifier checks presented secrets against a client's stored hashes. It is
// safe for concurrent use. The zero value is not usable; call NewVerifier.
//
// argon2id checks are bounded: each one takes 19 MiB and tens of
// milliseconds of a CPU, and anyone who knows the ID of a client with an
// imported secret can ask for one by sending a wrong secret. At most
// MaxSlowChecks run at once; past that Verify returns ErrBusy at once
// (never a queue, which would hold requests and their memory without
// bound). Concurrent checks of the same secret against the same hash — a
// fleet of replicas of one service starting together — share one
// computation and do not count twice.
type Verifier struct {
	pepper [32]byte // random per process: the remembered MACs are useless outside it
	dummy  string   // a hash no secret matches, checked for unknown clients
	slow   chan struct{}

	mu         sync.RWMutex
	remembered map[string][32]byte  // argon2id hash string → HMAC(pepper, secret)
	inflight   map[string]*slowCall // hash and HMAC of the secret → the check running
}

// slowCall is one argon2id check that concurrent identical checks wait for.
type slowCall struct {
	done chan struct{}
	ok   bool
}

// NewVerifier returns a Verifier with a fresh random pepper that runs at
// most maxSlowChecks argon2id checks at once; zero or less means
// runtime.GOMAXPROCS(0), one per CPU the process may use.
func NewVerifier(maxSlowChecks int) *Verifier {
	if maxSlowChecks <= 0 {
		maxSlowChecks = runtime.GOMAXPROCS(0)
	}
	v := &Verifier{remembered: make(map[string][32]byte), inflight: make(map[string]*slowCall), slow: make(chan struct{}, maxSlowChecks)}
	mustRandom(v.pepper[:])
	var junk [32]byte
	mustRandom(junk[:])
	v.dummy = HashGenerated(string(junk[:]))
	return v
}

// MaxSlowChecks returns how many argon2id checks may run at once.
func (v *Verifier) MaxSlowChecks() int { return cap(v.slow) }

// Verify reports whether secret matches one of the live secrets at time now.
// c may be nil (unknown client): the same work is done against a dummy hash,
// so that an unknown client and a wrong secret take the same time. Every
// live secret is checked, without stopping at the first match.
//
// A generated secret costs one SHA-256. An imported (argon2id) secret costs
// one argon2id computation until it has matched once; from then on the
// verifier compares an HMAC remembered in memory. The error is ErrBusy
// when an argon2id check was needed and none could start.
func (v *Verifier) Verify(c *auth.Client, secret string, now time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(secret))
	if c == nil || len(c.Secrets) == 0 {
		sha256Equal(&sum, v.dummy)
		return false, nil
	}
	ok := false
	for i := range c.Secrets {
		s := &c.Secrets[i]
		var match bool
		switch KindOf(s.Hash) {
		case KindSHA256:
			match = sha256Equal(&sum, s.Hash)
		case KindArgon2id:
			var err error
			if match, err = v.verifyImported(secret, s.Hash); err != nil {
				return false, err
			}
		}
		if match && s.Live(now) {
			ok = true
		}
	}
	return ok, nil
}

func (v *Verifier) mac(secret string) [32]byte {
	m := hmac.New(sha256.New, v.pepper[:])
	m.Write([]byte(secret))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

func (v *Verifier) verifyImported(secret, hash string) (bool, error) {
	mac := v.mac(secret)
	v.mu.RLock()
	known, ok := v.remembered[hash]
	v.mu.RUnlock()
	if ok {
		return subtle.ConstantTimeCompare(mac[:], known[:]) == 1, nil
	}
	// The key is made of the hash and the secret's HMAC, never the secret.
	key := hash + string(mac[:])
	v.mu.Lock()
	if call := v.inflight[key]; call != nil {
		v.mu.Unlock()
		<-call.done
		return call.ok, nil
	}
	select {
	case v.slow <- struct{}{}:
	default:
		v.mu.Unlock()
		return false, ErrBusy
	}
	call := &slowCall{done: make(chan struct{})}
	v.inflight[key] = call
	v.mu.Unlock()

	call.ok = argon2Equal(secret, hash)
	<-v.slow

	v.mu.Lock()
	delete(v.inflight, key)
	if call.ok {
		if len(v.remembered) >= maxRemembered {
			clear(v.remembered) // rare: more imported secrets than the bound; relearn on use
		}
		// A copy: the hash may point into a replica's memory (inmem.Replica), which
		// a long-lived key would keep alive after the replica has moved on.
		v.remembered[strings.Clone(hash)] = mac
	}
	v.mu.Unlock()
	close(call.done)
	return call.ok, nil
}
