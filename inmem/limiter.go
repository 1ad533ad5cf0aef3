package inmem

import (
	"context"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/gooclaim/auth"
)

// Defaults of LimiterOptions.
const (
	DefaultMaxKeys       = 1_000_000
	DefaultSweepInterval = 10 * time.Second
)

const (
	// maxShards is the number of shards for a large MaxKeys. It is a power of
	// two so that a shard is picked with a mask.
	maxShards = 64
	// minKeysPerShard keeps shards from becoming so small that hashing
	// skew fills one long before MaxKeys is reached: a small MaxKeys gets
	// fewer shards (MaxKeys below 32 gets one).
	minKeysPerShard = 16
	// sampleSize is how many entries a full shard looks at to pick a victim
	// when it holds no idle entry. Each costs a likely cache miss; eight give
	// a fair approximation of least-recently-active (Redis samples five).
	sampleSize = 8
	// scanEvery amortizes the idle scan a full shard runs before sampling:
	// a scan visits every entry, so it runs only once max/scanEvery keys
	// were added since the last, and a flood of new keys costs
	// O(scanEvery+sampleSize) visits per key rather than O(max).
	scanEvery = 8
)

// LimiterOptions configures a Limiter. The zero value works.
type LimiterOptions struct {
	// Clock tells the time. Nil means auth.SystemClock{}, whose monotonic
	// reading makes the windows immune to wall-clock steps.
	Clock auth.Clock

	// MaxKeys bounds how many keys are tracked at once, and so the memory
	// the limiter uses whatever keys it is asked about. Zero or less means
	// DefaultMaxKeys. See Limiter for what happens when it is reached.
	MaxKeys int

	// SweepInterval is how often, in real time, a background goroutine
	// forgets the keys whose requests have all left their window. Zero means
	// DefaultSweepInterval; a negative value starts no goroutine (call Sweep).
	SweepInterval time.Duration
}

// Limiter is an auth.Limiter that keeps its counts in this process's memory.
// It is exact: for each key it keeps the times of the requests it allowed
// that are still inside the window (a sliding log), and allows a request iff
// fewer than rate.Limit of them are, so no window of length rate.Window ever
// holds more than rate.Limit allowed requests. A timestamp t counts at now iff
// now-t < rate.Window. Refused requests are not recorded.
//
// A key's log starts with room for two timestamps and doubles up to
// rate.Limit as needed, so a client that calls once an hour costs one small
// entry, not rate.Limit slots. When the rate for a key changes between calls
// the new one applies to the timestamps already kept; timestamps are dropped
// as soon as they leave the window of the call that sees them, so a later,
// longer window cannot count requests an earlier, shorter one had already
// dropped. Should the clock step backwards, a request is recorded at the
// newest timestamp already in the log, which errs on the side of refusing.
//
// Keys are spread over up to 64 shards, each with its own mutex and map, so
// concurrent calls on different keys rarely contend and a call for a key
// already tracked does not allocate.
//
// # Bounded memory
//
// At most MaxKeys keys are tracked. Each shard holds its share, so a shard
// may start evicting before the whole limiter holds MaxKeys. A key whose
// requests have all left the window is idle: forgetting it changes no future
// decision. A background sweeper forgets idle keys every SweepInterval, and a
// full shard forgets all its idle keys before it takes a new one (unless it
// scanned for them less than an eighth of its size in new keys ago: this
// bounds the work a flood of new keys causes). If the shard is still full,
// it evicts from a sample of 8 of its keys an idle one, or else the one whose
// newest request is oldest, and that key starts afresh on its next request:
// it may then be allowed up to rate.Limit more requests within one window
// than the rate permits.
//
// That is deliberate. The alternatives are to grow without bound or to refuse
// keys the limiter has no room for, and a caller who can name keys freely
// (random client_ids sent to the token endpoint) could then exhaust memory or
// lock every legitimate client out. Evicting the least recently active key
// instead bounds memory and keeps the service available: the flood only makes
// the limiter forget the clients that were quietest, which are the ones least
// likely to be near their limit, and only while the flood lasts. Keys that
// cannot be named freely (authenticated client IDs) keep the limit exact as
// long as MaxKeys comfortably exceeds the number of keys active within a
// window.
type Limiter struct {
	clock  auth.Clock
	base   time.Time // timestamps are nanoseconds since base
	seed   maphash.Seed
	mask   uint64
	shards []shard

	closeOnce sync.Once
	stop      chan struct{} // nil when there is no sweeper
	done      chan struct{}
}

var _ auth.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter and, unless opts.SweepInterval is negative,
// starts its sweeper; Close stops it.
func NewLimiter(opts LimiterOptions) *Limiter {
	if opts.Clock == nil {
		opts.Clock = auth.SystemClock{}
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	n := maxShards
	for n > 1 && opts.MaxKeys/n < minKeysPerShard {
		n /= 2
	}
	l := &Limiter{
		clock:  opts.Clock,
		base:   opts.Clock.Now(),
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.entries = make(map[string]*entry)
		s.max = opts.MaxKeys / n
		if i < opts.MaxKeys%n {
			s.max++
		}
		s.idleAt = math.MaxInt64
		s.scanCredit = s.max // the first full shard may scan at once
	}
	if opts.SweepInterval > 0 {
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.sweepEvery(opts.SweepInterval)
	}
	return l
}

// Allow decides a request for key under rate, and records it if allowed.
// Its only error is one matching auth.ErrInvalid (errors.Is), when
// rate.Limit < 1 or rate.Window <= 0. The context is not used: nothing here
// blocks but a shard's mutex.
func (l *Limiter) Allow(_ context.Context, key string, rate auth.Rate) (auth.Decision, error) {
	if rate.Limit < 1 || rate.Window <= 0 {
		return auth.Decision{}, invalidRate(rate)
	}
	now := l.now()
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	e := s.entries[key]
	if e == nil {
		e = s.add(key, now)
	}
	d := e.allow(now, rate.Limit, int64(rate.Window))
	if exp := e.expiry(); exp < s.idleAt {
		s.idleAt = exp
	}
	s.mu.Unlock()
	return d, nil
}

func invalidRate(rate auth.Rate) error {
	return auth.Errorf(auth.EINVALID, "invalid rate limit %d/%v: the limit must be at least 1 and the window positive", rate.Limit, rate.Window)
}

// Len returns how many keys are tracked.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// Sweep forgets the idle keys now, one shard at a time, and trims the other
// keys' logs of expired timestamps (shrinking logs that became mostly empty).
// The sweeper calls it every SweepInterval; tests call it directly.
func (l *Limiter) Sweep() {
	now := l.now()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.removeIdle(now, true)
		if s.peak >= shrinkMinPeak && len(s.entries) < s.peak/shrinkBelow {
			s.remake()
		}
		s.mu.Unlock()
	}
}

// Close stops the sweeper and waits for it to return. The limiter keeps
// working without it (full shards still evict). Close may be called more
// than once.
func (l *Limiter) Close() {
	l.closeOnce.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
		}
	})
}

func (l *Limiter) sweepEvery(d time.Duration) {
	defer close(l.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.Sweep()
		}
	}
}

// now returns the clock's time in nanoseconds since l.base. With the system
// clock both readings carry a monotonic reading, which Sub uses.
func (l *Limiter) now() int64 { return int64(l.clock.Now().Sub(l.base)) }

// shard is one lock's worth of keys. The padding keeps two shards' hot fields
// off the same cache line.
type shard struct {
	mu      sync.Mutex
	entries map[string]*entry
	max     int // keys this shard may hold
	// idleAt is a lower bound on the earliest time an entry can become idle
	// (exact after a scan, lowered by Allow): before it a scan is pointless.
	idleAt int64
	// scanCredit counts the keys added since the last scan; a full shard
	// scans for idle entries only once it reaches max/scanEvery.
	scanCredit int
	// peak is the most entries held since the map was last made: a Go map
	// never gives back the room it grew to, so Sweep remakes it once it
	// holds far fewer (see shrinkBelow).
	peak int
	_    [64]byte
}

// A shard's map is remade when a sweep leaves it holding fewer than
// 1/shrinkBelow of its peak, if that peak was at least shrinkMinPeak: after
// a burst of distinct keys (a flood of made-up client_ids, or every client
// once) the map would otherwise keep the burst's size for good, tens of
// bytes per key ever seen at once. Copying the survivors costs what the
// sweep's own walk over the map costs, and happens once per burst.
const (
	shrinkBelow   = 4
	shrinkMinPeak = 1024
)

// add starts an entry for key, making room first when the shard is full.
func (s *shard) add(key string, now int64) *entry {
	var e *entry
	if len(s.entries) >= s.max {
		e = s.makeRoom(now)
	}
	if e == nil {
		e = new(entry)
	}
	e.reset()
	s.scanCredit++
	// Clone so that the map does not keep alive a large buffer the caller's
	// key may be a slice of (a request body).
	s.entries[strings.Clone(key)] = e
	s.peak = max(s.peak, len(s.entries))
	return e
}

// remake copies the entries into a map sized for them (maps.Clone would
// keep the old map's size), so that the room the old one grew to is freed.
func (s *shard) remake() {
	m := make(map[string]*entry, len(s.entries))
	for k, e := range s.entries {
		m[k] = e
	}
	s.entries, s.peak = m, len(m)
}

// makeRoom evicts one entry or more from a full shard and returns one of the
// evicted entries for reuse: the idle entries if a scan is worthwhile and
// finds any, else an idle entry from a sample, else the sampled entry whose
// newest timestamp is oldest.
func (s *shard) makeRoom(now int64) *entry {
	if now >= s.idleAt && s.scanCredit >= s.max/scanEvery {
		if e := s.removeIdle(now, false); e != nil {
			return e
		}
	}
	var (
		victimKey string
		victim    *entry
		oldest    int64
		seen      int
	)
	for k, e := range s.entries { // map order is random: a fresh sample each time
		if e.idle(now) {
			victimKey, victim = k, e
			break
		}
		if t := e.newest(); victim == nil || t < oldest {
			victimKey, victim, oldest = k, e, t
		}
		if seen++; seen == sampleSize {
			break
		}
	}
	delete(s.entries, victimKey)
	return victim
}

// removeIdle deletes the idle entries, sets idleAt exactly and returns one of
// the deleted entries (nil if none). With compact it also trims the others.
func (s *shard) removeIdle(now int64, compact bool) (freed *entry) {
	next := int64(math.MaxInt64)
	for k, e := range s.entries {
		if e.idle(now) {
			delete(s.entries, k)
			freed = e
			continue
		}
		if compact {
			e.compact(now)
		}
		if exp := e.expiry(); exp < next {
			next = exp
		}
	}
	s.idleAt = next
	s.scanCredit = 0
	return freed
}

// entry is one key's log: a ring of the allowed requests' timestamps, oldest
// first, nondecreasing.
type entry struct {
	buf    []int64 // the ring; starts as small[:]
	head   int     // index of the oldest timestamp
	n      int     // timestamps in the ring
	window int64   // the window of the latest call, which decides idleness
	small  [2]int64
}

func (e *entry) reset() {
	e.small = [2]int64{}
	e.buf = e.small[:]
	e.head, e.n, e.window = 0, 0, 0
}

// at returns the i-th oldest timestamp, 0 <= i < e.n.
func (e *entry) at(i int) int64 {
	j := e.head + i
	if j >= len(e.buf) {
		j -= len(e.buf)
	}
	return e.buf[j]
}

func (e *entry) newest() int64 { return e.at(e.n - 1) }

// expiry is when the newest timestamp leaves the window: from then on the
// entry is idle.
func (e *entry) expiry() int64 {
	if e.n == 0 {
		return math.MinInt64
	}
	t := e.newest()
	if t > math.MaxInt64-e.window {
		return math.MaxInt64
	}
	return t + e.window
}

func (e *entry) idle(now int64) bool { return now >= e.expiry() }

// trim drops the timestamps that have left the window at now.
func (e *entry) trim(now, window int64) {
	for e.n > 0 && now-e.buf[e.head] >= window {
		e.head++
		if e.head == len(e.buf) {
			e.head = 0
		}
		e.n--
	}
}

// allow decides a request at now; see Limiter for the rules.
func (e *entry) allow(now int64, limit int, window int64) auth.Decision {
	e.window = window
	e.trim(now, window)
	d := auth.Decision{Limit: limit, Window: time.Duration(window)}
	if e.n >= limit {
		// One more is accepted once all but limit-1 of the counted
		// timestamps have left, that is when the (n-limit)-th oldest has.
		// n exceeds limit only after the limit was lowered.
		d.Reset = time.Duration(e.buf[e.head] + window - now)
		d.RetryAfter = time.Duration(e.at(e.n-limit) + window - now)
		return d
	}
	t := now
	if e.n > 0 {
		t = max(t, e.newest()) // keep the ring sorted if the clock went back
	}
	if e.n == len(e.buf) {
		e.resize(min(2*len(e.buf), limit)) // > e.n, as e.n < limit
	}
	j := e.head + e.n
	if j >= len(e.buf) {
		j -= len(e.buf)
	}
	e.buf[j] = t
	e.n++
	d.Allowed = true
	d.Remaining = limit - e.n
	d.Reset = time.Duration(e.buf[e.head] + window - now)
	return d
}

// compact trims expired timestamps with the latest window and gives back
// memory when the ring is at most a quarter full.
func (e *entry) compact(now int64) {
	e.trim(now, e.window)
	if len(e.buf) > len(e.small) && e.n <= len(e.buf)/4 {
		e.resize(max(2*e.n, len(e.small)))
	}
}

// resize moves the timestamps, oldest first, into a ring of the given size
// (at least e.n); a size that fits in small uses it.
func (e *entry) resize(size int) {
	if size <= len(e.small) {
		var tmp [len(e.small)]int64
		for i := range e.n {
			tmp[i] = e.at(i)
		}
		e.small = tmp
		e.buf = e.small[:]
	} else {
		buf := make([]int64, size)
		for i := range e.n {
			buf[i] = e.at(i)
		}
		e.buf = buf
	}
	e.head = 0
}
