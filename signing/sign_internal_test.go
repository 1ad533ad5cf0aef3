package signing

import (
	"bytes"
	"testing"
)

func TestDERToRS(t *testing.T) {
	full := bytes.Repeat([]byte{0x11}, 32)
	high := append([]byte{0x00}, bytes.Repeat([]byte{0x80}, 32)...) // leading zero for the sign
	short := []byte{0x01, 0x02}
	seq := func(parts ...[]byte) []byte {
		var body []byte
		for _, p := range parts {
			body = append(body, p...)
		}
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	integer := func(v []byte) []byte { return append([]byte{0x02, byte(len(v))}, v...) }
	pad := func(v []byte) []byte { return append(make([]byte, 32-len(v)), v...) }

	good := []struct {
		name string
		der  []byte
		want []byte
	}{
		{"full", seq(integer(full), integer(full)), append(bytes.Clone(full), full...)},
		{"high bit", seq(integer(high), integer(full)), append(bytes.Clone(high[1:]), full...)},
		{"short r", seq(integer(short), integer(high)), append(pad(short), high[1:]...)},
		{"short s", seq(integer(full), integer(short)), append(bytes.Clone(full), pad(short)...)},
		{"zero", seq(integer([]byte{0}), integer([]byte{0})), make([]byte, 64)},
	}
	for _, tc := range good {
		var out [64]byte
		if err := derToRS(out[:], tc.der); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else if !bytes.Equal(out[:], tc.want) {
			t.Errorf("%s: %x, want %x", tc.name, out, tc.want)
		}
	}

	bad := map[string][]byte{
		"empty":          nil,
		"not a sequence": append([]byte{0x31}, seq(integer(full), integer(full))[1:]...),
		"one integer":    seq(integer(full)),
		"three integers": seq(integer(full), integer(full), integer(short)),
		"trailing bytes": append(seq(integer(full), integer(full)), 0),
		"too long":       seq(integer(append([]byte{1}, full...)), integer(full)),
		"negative":       seq(integer([]byte{0x80}), integer(full)),
		"empty integer":  seq(integer(nil), integer(full)),
		"truncated":      seq(integer(full), integer(full))[:40],
		"long form":      {0x30, 0x81, 0x44},
	}
	for name, der := range bad {
		var out [64]byte
		if err := derToRS(out[:], der); err == nil {
			t.Errorf("%s: no error, got %x", name, out)
		}
	}
}
