package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Automatic batching of the limiter's scripts.
//
// A decision is one EVALSHA, and with one round trip per decision the
// node's syscalls (a write and a read each) and Redis's per-command I/O are
// most of its cost. So a Limiter sends at most maxInFlight (2) round trips
// at a time: a request that finds one of them free sends its script at
// once, on its own goroutine, as before (no timer, no added latency when
// idle); requests that arrive while both are in flight queue up, and all of
// them go in the next round trip, one pipeline of EVALSHAs, sent by a
// goroutine started for the purpose that runs as long as requests keep
// queueing. Each request still
// runs its own script on its own key (Redis runs them one after the other,
// atomically), so decisions are exactly those of one script per request,
// and the pipeline works unchanged on Redis Cluster, which splits it by
// slot.
//
// The batching is written here because go-redis's Pipeline batches only
// the commands of the goroutine that fills it. go-redis 9.23 does have an
// automatic pipeliner (Client.AutoPipeline), but it is experimental, owns
// goroutines that only closing it (or the client) stops, and is one per
// client, its options set by whoever asks first: the Limiter does not own
// its client (the replay cache shares it), and its outage and fallback
// behaviour must not depend on an engine it does not control.
//
// A queued request whose context ends stops waiting at once and is left
// out of the batch if that is not sent yet; the batch itself runs with a
// context no single caller can cancel, whose deadline is the latest of its
// callers' (none if one of them has none: then the client's timeouts bound
// it). Errors reach each caller as one script's would: a connection error
// fails every command of the pipeline, and each caller handles it in Allow
// (outage, fallback) exactly as it handles its own.

// maxInFlight is how many round trips a Limiter sends at a time. One
// would make requests take turns whenever two arrive together; more make
// smaller batches, each costing its syscalls and Redis's. maxBatch bounds
// the scripts of one round trip; the rest wait for the next.
const (
	maxInFlight = 2
	maxBatch    = 256
)

// The states of a call, from the time it is queued.
const (
	callWaiting   int32 = iota // queued or in flight, its caller waiting
	callDone                   // answered: its caller reads the result
	callAbandoned              // its caller's context ended: the batch recycles it
)

// call is one request of the batcher, with the arguments of its script, and
// its result; calls are pooled.
type call struct {
	key    string
	limit  int64
	window int64
	now    bytesArg // empty: the server's clock
	suffix bytesArg

	// args is the command: pointers to the fields above (go-redis writes
	// them without boxing, so without allocating).
	args [8]any

	deadline time.Time // the caller's, if it has one
	state    atomic.Int32
	done     chan struct{} // receives once the call is callDone
	cmd      *goredis.Cmd
	reply    [3]int64
	err      error
}

// bytesArg is an argument go-redis writes as its bytes; passed as a
// pointer, through encoding.BinaryMarshaler, it costs no allocation.
type bytesArg []byte

func (a *bytesArg) MarshalBinary() ([]byte, error) { return *a, nil }

// allowSHA and allowSource are the script's EVALSHA and EVAL arguments,
// boxed once.
var (
	allowSHA    any = allowScript.Hash()
	allowSource any = allowScriptSource
)

var callPool = sync.Pool{New: func() any {
	c := &call{done: make(chan struct{}, 1)}
	c.args = [8]any{"evalsha", allowSHA, 1, &c.key, &c.limit, &c.window, &c.now, &c.suffix}
	return c
}}

func getCall() *call { return callPool.Get().(*call) }

func putCall(c *call) {
	c.key = ""
	c.cmd = nil
	c.err = nil
	c.deadline = time.Time{}
	c.state.Store(callWaiting)
	callPool.Put(c)
}

// batchBuf holds the calls of one round trip and their commands; pooled.
type batchBuf struct {
	calls []*call
	cmds  []goredis.Cmder
}

var bufPool = sync.Pool{New: func() any { return new(batchBuf) }}

// batcher sends the calls of one Limiter, at most maxInFlight round trips
// at a time.
type batcher struct {
	client goredis.UniversalClient

	mu       sync.Mutex
	inFlight int     // round trips being sent
	queue    []*call // the calls for the next round trip; empty unless inFlight == maxInFlight
}

// do runs c's script, in a round trip of its own or with the other calls
// queued meanwhile, and returns its reply (or the context's error if it
// ends first). c is recycled: the caller must not use it afterwards.
func (b *batcher) do(ctx context.Context, c *call) ([3]int64, error) {
	b.mu.Lock()
	if b.inFlight < maxInFlight {
		b.inFlight++
		b.mu.Unlock()
		// Send at once, with the caller's context, as one command.
		buf := bufPool.Get().(*batchBuf)
		buf.calls = append(buf.calls[:0], c)
		b.exec(ctx, buf, true)
		clear(buf.calls)
		bufPool.Put(buf)
		reply, err := c.reply, c.err
		putCall(c)
		b.mu.Lock()
		next := b.take()
		b.mu.Unlock()
		if next != nil {
			go b.flush(next)
		}
		return reply, err
	}
	c.deadline, _ = ctx.Deadline()
	b.queue = append(b.queue, c)
	b.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callWaiting, callAbandoned) {
			return [3]int64{}, ctx.Err()
		}
		<-c.done // answered meanwhile
	}
	reply, err := c.reply, c.err
	putCall(c)
	return reply, err
}

// take is called when a round trip ends: it returns the calls queued
// meanwhile (at most maxBatch) for the next, or nil, freeing the round
// trip's place, if there are none. b.mu is held.
func (b *batcher) take() *batchBuf {
	if len(b.queue) == 0 {
		b.inFlight--
		return nil
	}
	buf := bufPool.Get().(*batchBuf)
	n := min(len(b.queue), maxBatch)
	buf.calls = append(buf.calls[:0], b.queue[:n]...)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return buf
}

// flush sends batches until none is queued.
func (b *batcher) flush(buf *batchBuf) {
	for buf != nil {
		ctx, cancel := batchContext(buf.calls)
		b.exec(ctx, buf, false)
		cancel()
		clear(buf.calls)
		bufPool.Put(buf)
		b.mu.Lock()
		buf = b.take()
		b.mu.Unlock()
	}
}

// batchContext is the context of a batch: no caller can cancel it, and its
// deadline is the latest of theirs, none if one of them has none.
func batchContext(batch []*call) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range batch {
		if c.deadline.IsZero() {
			return context.Background(), func() {}
		}
		if c.deadline.After(latest) {
			latest = c.deadline
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// exec sends the scripts of calls whose callers still wait, as one command
// or one pipeline, sends those the server did not have cached again whole
// (EVAL), and answers every call: own says that calls is the sending
// caller's own call, which it reads itself; the others' callers are woken.
func (b *batcher) exec(ctx context.Context, buf *batchBuf, own bool) {
	calls, cmds := buf.calls, buf.cmds[:0]
	for _, c := range calls {
		if c.state.Load() == callAbandoned {
			continue
		}
		c.cmd = goredis.NewCmd(ctx, c.args[:]...)
		cmds = append(cmds, c.cmd)
	}
	b.send(ctx, cmds)

	// NOSCRIPT: the server's script cache was flushed (or never had it).
	// The script did not run; EVAL runs it and caches it again.
	retry := cmds[:0]
	for _, c := range calls {
		if c.cmd == nil {
			continue
		}
		// (HasErrorPrefix allocates, even for no error.)
		if err := c.cmd.Err(); err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			c.args[0], c.args[1] = "eval", allowSource // the command's args, until sent
			c.cmd = goredis.NewCmd(ctx, c.args[:]...)
			retry = append(retry, c.cmd)
		}
	}
	if len(retry) > 0 {
		b.send(ctx, retry)
		for _, c := range calls {
			c.args[0], c.args[1] = "evalsha", allowSHA
		}
	}

	for _, c := range calls {
		if c.cmd != nil {
			if err := c.cmd.Err(); err != nil {
				c.err = err
			} else {
				c.reply, c.err = parseReply(c.cmd.Val())
			}
			c.cmd = nil
		}
		if own {
			continue
		}
		if c.state.CompareAndSwap(callWaiting, callDone) {
			c.done <- struct{}{} // c is its caller's from here on
		} else {
			putCall(c) // abandoned
		}
	}
	clear(cmds[:cap(cmds)])
	buf.cmds = cmds[:0]
}

// send sends cmds in one round trip; each command gets its own result.
func (b *batcher) send(ctx context.Context, cmds []goredis.Cmder) {
	switch len(cmds) {
	case 0:
	case 1:
		_ = b.client.Process(ctx, cmds[0]) // the error is the command's
	default:
		pipe := b.client.Pipeline()
		_ = pipe.BatchProcess(ctx, cmds...)
		_, _ = pipe.Exec(ctx) // each command has its own error
	}
}

// parseReply reads the script's reply: two integers if allowed (the first
// then at least 1); if refused, the first 0, three, or two if the third
// would be the second.
func parseReply(val any) ([3]int64, error) {
	var reply [3]int64
	vals, ok := val.([]any)
	if !ok || len(vals) < 2 || len(vals) > 3 {
		return reply, badReplyError{fmt.Errorf("unexpected reply from the script %v: %w", val, errReplyShape)}
	}
	for i, v := range vals {
		n, ok := v.(int64)
		if !ok {
			return reply, badReplyError{fmt.Errorf("unexpected reply from the script %v: %w", val, errReplyShape)}
		}
		reply[i] = n
	}
	switch {
	case reply[0] > 0 && len(vals) == 3:
		return reply, badReplyError{fmt.Errorf("unexpected reply from the script %v: %w", val, errReplyShape)}
	case reply[0] == 0 && len(vals) == 2:
		reply[2] = reply[1] // retry is reset
	}
	return reply, nil
}

var errReplyShape = errors.New("want an array of 2 integers, the first positive, or of 2 or 3, the first 0")
