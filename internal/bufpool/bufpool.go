// Package bufpool lends the token path's encoders a byte buffer each (the
// claims, the signing input, the token response, the request log line), so
// that building a token allocates only what it returns.
package bufpool

import "sync"

// Buf is a lent buffer: append to B, store the result back in B, Put it
// when done with the bytes.
type Buf struct{ B []byte }

// maxKept bounds the buffers kept for reuse: a token and its response are
// under 2 KiB, and a rare huge one (a client with hundreds of scopes)
// should not stay pinned in the pool.
const maxKept = 16 << 10

var pool = sync.Pool{New: func() any { return &Buf{B: make([]byte, 0, 1024)} }}

// Get returns an empty buffer.
func Get() *Buf {
	b := pool.Get().(*Buf)
	b.B = b.B[:0]
	return b
}

// Put returns b for reuse; its bytes must no longer be used.
func Put(b *Buf) {
	if cap(b.B) <= maxKept {
		pool.Put(b)
	}
}
