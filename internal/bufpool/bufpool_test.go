package bufpool

import "testing"

func TestGetIsEmpty(t *testing.T) {
	b := Get()
	b.B = append(b.B, "left over"...)
	Put(b)
	for range 10 {
		if b := Get(); len(b.B) != 0 {
			t.Fatalf("Get returned %q, want an empty buffer", b.B)
		}
	}
}

func TestPutDropsHugeBuffers(t *testing.T) {
	huge := &Buf{B: make([]byte, 0, maxKept+1)}
	Put(huge)
	for range 100 {
		if Get() == huge {
			t.Fatal("a buffer over maxKept was kept")
		}
	}
}
