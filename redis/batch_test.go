package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/redis"
)

// TestLimiterBatchExact: many concurrent requests for one key, sent in
// batches, get exactly limit allowed decisions, each with its own
// Remaining, and fewer round trips than requests.
func TestLimiterBatchExact(t *testing.T) {
	c := testClient(t)
	trips := new(atomic.Int64)
	c.AddHook(tripHook{trips})
	prefix := testPrefix(t, c)
	l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix})
	const requests = 400
	rate := auth.Rate{Limit: 150, Window: time.Minute}
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		remaining = make(map[int]int)
		nAllowed  int
		nRefused  int
		errs      []error
	)
	for range requests {
		wg.Go(func() {
			<-start
			d, err := l.Allow(context.Background(), "client:shared", rate)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case d.Allowed:
				nAllowed++
				remaining[d.Remaining]++
			default:
				nRefused++
				if d.RetryAfter <= 0 || d.RetryAfter > rate.Window {
					errs = append(errs, errors.New("refused with RetryAfter out of (0, window]"))
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	if nAllowed != rate.Limit || nRefused != requests-rate.Limit {
		t.Errorf("%d allowed and %d refused of %d requests, want exactly %d allowed", nAllowed, nRefused, requests, rate.Limit)
	}
	for r, n := range remaining {
		if n != 1 || r < 0 || r >= rate.Limit {
			t.Errorf("Remaining %d seen %d times", r, n)
		}
	}
	if n := c.ZCard(context.Background(), prefix+"client:shared").Val(); n != int64(rate.Limit) {
		t.Errorf("%d requests recorded, want %d", n, rate.Limit)
	}
	if n := trips.Load(); n > requests/2 {
		t.Errorf("%d round trips for %d concurrent requests: they were not batched", n, requests)
	}
	t.Logf("%d requests in %d round trips", requests, trips.Load())
}

// gateHook holds the limiter's commands (EVALSHA) and pipelines, once
// armed, until released: each one held sends its number of commands to
// entered, then waits for a value on releaseOne (a command) or releasePipe
// (a pipeline); open lets them all go.
type gateHook struct {
	armed       atomic.Bool
	entered     chan int
	releaseOne  chan struct{}
	releasePipe chan struct{}
	once        sync.Once
}

// newGateHook returns a gate, opened for good when the test ends.
func newGateHook(t *testing.T) *gateHook {
	h := &gateHook{entered: make(chan int, 16), releaseOne: make(chan struct{}), releasePipe: make(chan struct{})}
	t.Cleanup(h.open)
	return h
}

// open lets every command go, now and later.
func (h *gateHook) open() {
	h.once.Do(func() {
		close(h.releaseOne)
		close(h.releasePipe)
	})
}

func (h *gateHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *gateHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() == "evalsha" && h.armed.Load() {
			h.entered <- 1
			<-h.releaseOne
		}
		return next(ctx, cmd)
	}
}
func (h *gateHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		// Not the handshake of a new connection (HELLO, CLIENT…).
		if len(cmds) > 0 && cmds[0].Name() == "evalsha" && h.armed.Load() {
			h.entered <- len(cmds)
			<-h.releasePipe
		}
		return next(ctx, cmds)
	}
}

// holdFirst arms the gate and sends redis.MaxInFlight requests, which go
// out alone and are held, so that the next ones queue.
func (h *gateHook) holdFirst(t *testing.T, l *redis.Limiter, key string, rate auth.Rate) []<-chan result {
	t.Helper()
	h.armed.Store(true)
	var firsts []<-chan result
	for range redis.MaxInFlight {
		firsts = append(firsts, allowAsync(context.Background(), l, key, rate))
		h.waitEntered(t, 1)
	}
	return firsts
}

// releaseFirst lets the requests of holdFirst go, and wants them allowed.
func (h *gateHook) releaseFirst(t *testing.T, firsts []<-chan result) {
	t.Helper()
	for range firsts {
		h.releaseOne <- struct{}{}
	}
	for i, ch := range firsts {
		if r := wait(t, ch, "a first request"); r.err != nil || !r.d.Allowed {
			t.Fatalf("first request %d: %+v, %v", i, r.d, r.err)
		}
	}
}

// waitEntered waits for a held command or pipeline of want commands.
func (h *gateHook) waitEntered(t *testing.T, want int) {
	t.Helper()
	select {
	case n := <-h.entered:
		if n != want {
			t.Fatalf("a round trip of %d commands, want %d", n, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no round trip of %d commands", want)
	}
}

// waitQueued waits until n requests of l wait for the next round trip.
func waitQueued(t *testing.T, l *redis.Limiter, n int) {
	t.Helper()
	for start := time.Now(); redis.Queued(l) != n; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d requests queued, want %d", redis.Queued(l), n)
		}
	}
}

type result struct {
	d   auth.Decision
	err error
}

// allowAsync runs l.Allow in a goroutine and returns where its result
// will be.
func allowAsync(ctx context.Context, l *redis.Limiter, key string, rate auth.Rate) <-chan result {
	ch := make(chan result, 1)
	go func() {
		d, err := l.Allow(ctx, key, rate)
		ch <- result{d, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no answer", what)
		return result{}
	}
}

// TestLimiterBatchCanceled: a request whose context is canceled while it is
// queued, or while its batch is in flight, returns at once with the
// context's error; the other requests of its batch get their decisions.
func TestLimiterBatchCanceled(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		name := "queued"
		if inFlight {
			name = "in flight"
		}
		t.Run(name, func(t *testing.T) {
			c := testClient(t)
			gate := newGateHook(t)
			c.AddHook(gate)
			prefix := testPrefix(t, c)
			l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix})
			rate := auth.Rate{Limit: 100, Window: time.Minute}
			ctx := context.Background()
			const queued = 10

			firsts := gate.holdFirst(t, l, "k", rate)
			cancelCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			canceled := allowAsync(cancelCtx, l, "k", rate)
			waitQueued(t, l, 1)
			var others []<-chan result
			for range queued - 1 {
				others = append(others, allowAsync(ctx, l, "k", rate))
			}
			waitQueued(t, l, queued)

			inBatch := queued - 1
			if inFlight {
				gate.releaseFirst(t, firsts)
				gate.waitEntered(t, queued) // the batch, held in flight
				inBatch = queued
			}
			cancel()
			r := wait(t, canceled, "the canceled request")
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("the canceled request: %+v, %v; want context.Canceled", r.d, r.err)
			}
			if !inFlight {
				gate.releaseFirst(t, firsts)
				gate.waitEntered(t, inBatch) // the batch, without the canceled one
			}
			gate.open()
			for i, ch := range others {
				if r := wait(t, ch, "a queued request"); r.err != nil || !r.d.Allowed {
					t.Errorf("queued request %d: %+v, %v", i, r.d, r.err)
				}
			}
			// A request canceled in flight may have been recorded, as
			// before batching: that errs on the side of refusing.
			if n, want := c.ZCard(ctx, prefix+"k").Val(), int64(redis.MaxInFlight+inBatch); n != want {
				t.Errorf("%d requests recorded, want %d", n, want)
			}
			if s := l.State(); s.Backend != redis.BackendRedis || s.LastError != "" {
				t.Errorf("state %+v; want redis, no error", s)
			}
		})
	}
}

// TestLimiterBatchOutage: Redis goes away while a batch is in flight; every
// request of the batch gets the outage behaviour (the fallback, or an
// unavailable error without one), logged once.
func TestLimiterBatchOutage(t *testing.T) {
	for _, withFallback := range []bool{true, false} {
		name := "fallback"
		if !withFallback {
			name = "fail closed"
		}
		t.Run(name, func(t *testing.T) {
			direct := testClient(t)
			prefix := testPrefix(t, direct)
			u, err := url.Parse(authtest.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			opts, err := goredis.ParseURL(u.String())
			if err != nil {
				t.Fatal(err)
			}
			p := startProxy(t, opts.Addr)
			u.Host = p.Addr()
			c, err := redis.ParseURL(u.String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			gate := newGateHook(t)
			c.AddHook(gate)
			logger, logs := newLogger()
			lopts := redis.LimiterOptions{Prefix: prefix, Logger: logger, RetryInterval: time.Hour}
			if withFallback {
				lopts.Fallback = inmem.NewLimiter(inmem.LimiterOptions{SweepInterval: -1})
			}
			l := redis.NewLimiter(c, lopts)
			rate := auth.Rate{Limit: 100, Window: time.Minute}
			ctx := context.Background()
			const queued = 10

			firsts := gate.holdFirst(t, l, "k", rate)
			var others []<-chan result
			for range queued {
				others = append(others, allowAsync(ctx, l, "k", rate))
			}
			waitQueued(t, l, queued)
			gate.releaseFirst(t, firsts) // with Redis
			gate.waitEntered(t, queued)  // the batch, held in flight
			p.Stop()
			gate.open()

			for i, ch := range others {
				r := wait(t, ch, "a request of the batch")
				switch {
				case withFallback && (r.err != nil || !r.d.Allowed || r.d.Remaining < rate.Limit-queued):
					t.Errorf("request %d: %+v, %v; want allowed by the fallback", i, r.d, r.err)
				case !withFallback && !errors.Is(r.err, auth.ErrUnavailable):
					t.Errorf("request %d: %+v, %v; want an unavailable error", i, r.d, r.err)
				}
			}
			s := l.State()
			wantBackend, wantFallbacks := redis.BackendUnavailable, uint64(0)
			if withFallback {
				wantBackend, wantFallbacks = redis.BackendFallback, queued
			}
			if s.Backend != wantBackend || s.Fallbacks != wantFallbacks || s.LastError == "" {
				t.Errorf("state %+v; want %s, %d fallbacks, the error", s, wantBackend, wantFallbacks)
			}
			if logs.count(slog.LevelError, msgDown) != 1 || logs.count(slog.LevelError, "") != 1 {
				t.Errorf("want one error logged, got:\n%s", logs)
			}
			if n := direct.ZCard(ctx, prefix+"k").Val(); n != redis.MaxInFlight {
				t.Errorf("%d requests recorded in Redis, want %d", n, redis.MaxInFlight)
			}
			t.Logf("state %+v", s)
		})
	}
}

// TestLimiterBatchNoScript: when Redis has lost the script (SCRIPT FLUSH, a
// restart), a lone request and a batch both send it again whole (EVAL) and
// get their decisions.
func TestLimiterBatchNoScript(t *testing.T) {
	c := testClient(t)
	gate := newGateHook(t)
	c.AddHook(gate)
	prefix := testPrefix(t, c)
	l := redis.NewLimiter(c, redis.LimiterOptions{Prefix: prefix})
	rate := auth.Rate{Limit: 100, Window: time.Minute}
	ctx := context.Background()
	const queued = 10
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	firsts := gate.holdFirst(t, l, "k", rate)
	var others []<-chan result
	for range queued {
		others = append(others, allowAsync(ctx, l, "k", rate))
	}
	waitQueued(t, l, queued)
	// The first requests' EVALSHAs fail, and their EVALs run at once (the
	// gate holds EVALSHA only); flush the script again so that the batch's
	// fail too.
	gate.releaseFirst(t, firsts)
	gate.waitEntered(t, queued)
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	gate.open()
	for i, ch := range others {
		if r := wait(t, ch, "a queued request"); r.err != nil || !r.d.Allowed {
			t.Errorf("queued request %d: %+v, %v", i, r.d, r.err)
		}
	}
	if n := c.ZCard(ctx, prefix+"k").Val(); n != redis.MaxInFlight+queued {
		t.Errorf("%d requests recorded, want %d", n, redis.MaxInFlight+queued)
	}
}
