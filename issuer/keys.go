package issuer

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/signing"
)

// KeyPolicy is the signing-key lifecycle.
type KeyPolicy struct {
	// Algorithm of new keys: ES256 (default), EdDSA or RS256.
	Algorithm string
	// PublishAhead is how long a new key is in the JWKS before it signs, so that
	// verifiers' caches hold it first. Default 10m.
	PublishAhead time.Duration
	// RotationPeriod is how long a key signs before the next one takes over. Default 90 days.
	RotationPeriod time.Duration
	// Retention is how long a retired key stays published: the longest token
	// lifetime. Default MaxTokenTTL.
	Retention time.Duration
}

// Key policy defaults.
const (
	DefaultPublishAhead   = 10 * time.Minute
	DefaultRotationPeriod = 90 * 24 * time.Hour
)

func (p KeyPolicy) withDefaults() KeyPolicy {
	if p.Algorithm == "" {
		p.Algorithm = auth.ES256
	}
	if p.PublishAhead == 0 {
		p.PublishAhead = DefaultPublishAhead
	}
	if p.RotationPeriod == 0 {
		p.RotationPeriod = DefaultRotationPeriod
	}
	if p.Retention == 0 {
		p.Retention = MaxTokenTTL
	}
	return p
}

// KeyRing holds the signing keys in memory, picks the one that signs now,
// serves the JWKS, and runs rotation through the KeyStore. Safe for
// concurrent use; Signer and JWKS are lock-free on the hot path.
type KeyRing struct {
	policy KeyPolicy
	kek    *signing.KEK
	store  auth.KeyStore
	clock  auth.Clock

	state atomic.Pointer[keyState]
	mu    sync.Mutex // serializes Load and JWKS rebuilds
}

type keyState struct {
	keys    []auth.Key // ordered by SigningFrom, then CreatedAt, then ID
	signers map[string]*signing.Signer
	jwks    atomic.Pointer[jwksDoc]
}

type jwksDoc struct {
	body       []byte
	etag       string
	validUntil time.Time // when the published set changes by the passing of time
}

// NewKeyRing returns an empty key ring; Load fills it.
func NewKeyRing(policy KeyPolicy, kek *signing.KEK, store auth.KeyStore, clock auth.Clock) *KeyRing {
	if clock == nil {
		clock = auth.SystemClock{}
	}
	r := &KeyRing{policy: policy.withDefaults(), kek: kek, store: store, clock: clock}
	r.state.Store(&keyState{})
	return r
}

// Policy returns the effective key policy.
func (r *KeyRing) Policy() KeyPolicy { return r.policy }

// Load replaces the ring's keys with keys (from the store) and decrypts the
// private halves of those that sign now or will: retired keys are only
// published, so a retired key sealed under an old KEK cannot stop a node.
// Keys already loaded are not decrypted again.
func (r *KeyRing) Load(keys []auth.Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.state.Load()
	sorted := slices.Clone(keys)
	sortKeys(sorted)
	st := &keyState{keys: sorted, signers: make(map[string]*signing.Signer, len(sorted))}
	for _, ks := range Statuses(sorted, r.clock.Now(), r.policy.Retention) {
		k := ks.Key
		if s, ok := old.signers[k.ID]; ok {
			st.signers[k.ID] = s
			continue
		}
		if ks.State != KeyActive && ks.State != KeyNext {
			continue
		}
		s, err := signing.NewSigner(k, r.kek)
		if err != nil {
			return fmt.Errorf("load signing key %s: %w", k.ID, err)
		}
		st.signers[k.ID] = s
	}
	r.state.Store(st)
	return nil
}

func sortKeys(keys []auth.Key) {
	slices.SortFunc(keys, func(a, b auth.Key) int {
		if c := a.SigningFrom.Compare(b.SigningFrom); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// activeIndex returns the index of the key that signs at now: the last one
// whose SigningFrom has come; -1 when none has.
func activeIndex(keys []auth.Key, now time.Time) int {
	for i := len(keys) - 1; i >= 0; i-- {
		if !keys[i].SigningFrom.After(now) {
			return i
		}
	}
	return -1
}

// Signer returns the signer of the key that signs at now.
func (r *KeyRing) Signer(now time.Time) (*signing.Signer, error) {
	st := r.state.Load()
	i := activeIndex(st.keys, now)
	if i < 0 {
		return nil, auth.Errorf(auth.EUNAVAILABLE, "no signing key is active yet")
	}
	s := st.signers[st.keys[i].ID]
	if s == nil {
		return nil, auth.Errorf(auth.EUNAVAILABLE, "signing key %s is not loaded", st.keys[i].ID)
	}
	return s, nil
}

// KeyState is where a key is in its lifecycle.
type KeyState string

const (
	KeyNext    KeyState = "next"    // published, not signing yet
	KeyActive  KeyState = "active"  // signing
	KeyRetired KeyState = "retired" // published until its last token expires
	KeyExpired KeyState = "expired" // no longer published, to be deleted
)

// KeyStatus describes one key at a moment.
type KeyStatus struct {
	Key          auth.Key
	State        KeyState
	RetiredAt    time.Time // zero unless retired or expired
	PublishedTil time.Time // zero unless retired or expired: when it leaves the JWKS
}

// Statuses describes keys (in any order) at now, in signing order.
func Statuses(keys []auth.Key, now time.Time, retention time.Duration) []KeyStatus {
	sorted := slices.Clone(keys)
	sortKeys(sorted)
	active := activeIndex(sorted, now)
	out := make([]KeyStatus, len(sorted))
	for i, k := range sorted {
		st := KeyStatus{Key: k}
		switch {
		case i > active:
			st.State = KeyNext
		case i == active:
			st.State = KeyActive
		default:
			st.RetiredAt = sorted[i+1].SigningFrom
			st.PublishedTil = st.RetiredAt.Add(retention)
			st.State = KeyRetired
			if !now.Before(st.PublishedTil) {
				st.State = KeyExpired
			}
		}
		out[i] = st
	}
	return out
}

// Statuses describes the loaded keys at now.
func (r *KeyRing) Statuses(now time.Time) []KeyStatus {
	return Statuses(r.state.Load().keys, now, r.policy.Retention)
}

// JWKS returns the JSON Web Key Set (RFC 7517 §5) of every key that may
// verify a token not yet expired — next, active and retired keys — and its
// ETag. The document is built once per change of that set.
func (r *KeyRing) JWKS(now time.Time) (body []byte, etag string, err error) {
	st := r.state.Load()
	if d := st.jwks.Load(); d != nil && now.Before(d.validUntil) {
		return d.body, d.etag, nil
	}
	var published []auth.Key
	validUntil := now.Add(time.Hour)
	for _, s := range Statuses(st.keys, now, r.policy.Retention) {
		switch s.State {
		case KeyExpired:
			continue
		case KeyRetired:
			validUntil = minTime(validUntil, s.PublishedTil)
		case KeyNext:
			// When it starts signing, the active key retires: its drop time appears.
			validUntil = minTime(validUntil, s.Key.SigningFrom)
		}
		published = append(published, s.Key)
	}
	b, err := signing.JWKS(published)
	if err != nil {
		return nil, "", fmt.Errorf("encode JWKS: %w", err)
	}
	sum := sha256.Sum256(b)
	d := &jwksDoc{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, validUntil: validUntil}
	st.jwks.Store(d)
	return d.body, d.etag, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Maintain brings the stored key set up to the policy, inside the store's
// transaction so that any number of nodes may call it at once and exactly
// one change results: it creates the first key (signing at once: no token
// exists yet), adds the next key PublishAhead before the active one's
// rotation is due (or when the configured algorithm changed), and deletes
// keys whose last token has expired. It returns whether it changed anything.
func (r *KeyRing) Maintain(ctx context.Context) (bool, error) {
	changed := false
	err := r.store.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
		now := r.clock.Now()
		next, c, err := r.plan(current, now)
		changed = c
		return next, err
	})
	if err != nil {
		return false, fmt.Errorf("maintain signing keys: %w", err)
	}
	return changed, nil
}

func (r *KeyRing) plan(current []auth.Key, now time.Time) ([]auth.Key, bool, error) {
	var keep []auth.Key
	var active, newest *auth.Key
	for _, s := range Statuses(current, now, r.policy.Retention) {
		if s.State == KeyExpired {
			continue
		}
		keep = append(keep, s.Key)
	}
	for i := range keep {
		if !keep[i].SigningFrom.After(now) {
			active = &keep[i]
		}
		newest = &keep[i]
	}
	changed := len(keep) != len(current)
	var signingFrom time.Time
	switch {
	case newest == nil:
		signingFrom = now // first key: nobody holds a token to verify yet
	case newest != active:
		// A next key is already published; nothing to add.
	case !now.Before(active.SigningFrom.Add(r.policy.RotationPeriod - r.policy.PublishAhead)):
		signingFrom = now.Add(r.policy.PublishAhead)
	case active.Algorithm != r.policy.Algorithm && !recentKeyOf(keep, r.policy.Algorithm, now.Add(-r.policy.RotationPeriod)):
		// The configured algorithm changed: move to it with the usual
		// publish-ahead delay — unless a key of it was made within the
		// rotation period. Then nodes with different settings share the store
		// (a rolling deploy), and rotating back and forth would only grow the
		// JWKS; `keys rotate --signing-alg` still forces a change.
		signingFrom = now.Add(r.policy.PublishAhead)
	}
	if !signingFrom.IsZero() {
		k, err := signing.NewKey(r.policy.Algorithm, r.kek, now, signingFrom)
		if err != nil {
			return nil, false, err
		}
		keep = append(keep, k)
		changed = true
	}
	if !changed {
		return current, false, nil
	}
	return keep, true, nil
}

// recentKeyOf reports whether keys hold one of the algorithm created after since.
func recentKeyOf(keys []auth.Key, alg string, since time.Time) bool {
	for _, k := range keys {
		if k.Algorithm == alg && k.CreatedAt.After(since) {
			return true
		}
	}
	return false
}

// Rotate adds a new key that is published at once and signs after
// publishAhead (the policy's when negative), and drops expired keys.
func (r *KeyRing) Rotate(ctx context.Context, publishAhead time.Duration) (auth.Key, error) {
	if publishAhead < 0 {
		publishAhead = r.policy.PublishAhead
	}
	var added auth.Key
	err := r.store.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
		now := r.clock.Now()
		var keep []auth.Key
		for _, s := range Statuses(current, now, r.policy.Retention) {
			if s.State != KeyExpired {
				keep = append(keep, s.Key)
			}
		}
		k, err := signing.NewKey(r.policy.Algorithm, r.kek, now, now.Add(publishAhead))
		if err != nil {
			return nil, err
		}
		added = k
		return append(keep, k), nil
	})
	if err != nil {
		return auth.Key{}, fmt.Errorf("rotate signing keys: %w", err)
	}
	return added, nil
}

// NextRotation returns when the next key will be created by Maintain
// (zero when one is already published and waiting).
func (r *KeyRing) NextRotation(now time.Time) time.Time {
	keys := r.state.Load().keys
	i := activeIndex(keys, now)
	if i < 0 || i != len(keys)-1 {
		return time.Time{}
	}
	return keys[i].SigningFrom.Add(r.policy.RotationPeriod - r.policy.PublishAhead)
}

// VerificationKey returns the public key with this kid if it is published
// now (next, active or retired: any key a live token may carry), and its
// algorithm.
func (r *KeyRing) VerificationKey(kid string, now time.Time) (alg string, pub crypto.PublicKey, ok bool) {
	for _, s := range Statuses(r.state.Load().keys, now, r.policy.Retention) {
		if s.Key.ID != kid || s.State == KeyExpired {
			continue
		}
		pub, err := signing.PublicKey(s.Key)
		if err != nil {
			return "", nil, false
		}
		return s.Key.Algorithm, pub, true
	}
	return "", nil, false
}

// RevokedKey is the outcome of Revoke.
type RevokedKey struct {
	Key   auth.Key // the key removed
	State KeyState // its state when it was removed
	// Replacement is the key created to sign in its place when the revoked
	// key was the active one (it signs at once); nil otherwise.
	Replacement *auth.Key
}

// Revoke removes the key kid from the set at once, for a key that is or may
// be compromised: it is no longer published in the JWKS, so tokens it signed
// stop verifying, and it never signs again. When it was the active key, a
// new key of the same algorithm is created in the same transaction and
// signs at once (an emergency rotation, publish-ahead 0), so that issuance
// never falls back to an older key. Expired keys are dropped on the way.
// ENOTFOUND when no stored key has that ID.
//
// Nodes load the change within their poll interval; until then a node may
// still sign with the revoked key, and the tokens it signs are refused
// wherever the key is no longer published.
func (r *KeyRing) Revoke(ctx context.Context, kid string) (RevokedKey, error) {
	var out RevokedKey
	err := r.store.UpdateKeys(ctx, func(current []auth.Key) ([]auth.Key, error) {
		now := r.clock.Now()
		out = RevokedKey{}
		found := false
		var keep []auth.Key
		for _, s := range Statuses(current, now, r.policy.Retention) {
			switch {
			case s.Key.ID == kid:
				found = true
				out.Key, out.State = s.Key, s.State
			case s.State != KeyExpired:
				keep = append(keep, s.Key)
			}
		}
		if !found {
			return nil, auth.Errorf(auth.ENOTFOUND, "no signing key %q: `keys list` shows the key IDs", kid)
		}
		if out.State == KeyActive {
			// The revoked key's algorithm: every verifier accepts it already.
			k, err := signing.NewKey(out.Key.Algorithm, r.kek, now, now)
			if err != nil {
				return nil, err
			}
			out.Replacement = &k
			keep = append(keep, k)
		}
		return keep, nil
	})
	if err != nil {
		return RevokedKey{}, fmt.Errorf("revoke signing key %s: %w", kid, err)
	}
	return out, nil
}
