package jsonenc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var stringSeeds = []string{
	"", "plain", `quote " backslash \`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"\u2028\u2029", "é ü 漢字 🎉", "\xff\xfe bad \xc3 utf8 \xed\xa0\x80", "https://api.gooclaim.com",
}

// FuzzAppendString compares AppendString with json.Marshal byte for byte.
func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("AppendString(%q) = %s, json.Marshal = %s", s, got, want)
		}
	})
}

// FuzzAppendStrings compares AppendStrings with json.Marshal of a []string.
func FuzzAppendStrings(f *testing.F) {
	f.Add("a", "b", 2)
	f.Add("", "\u2028<", 1)
	f.Add("x", "y", 0)
	f.Add("x", "y", -1)
	f.Fuzz(func(t *testing.T, a, b string, n int) {
		var l []string
		switch {
		case n < 0:
		case n == 0:
			l = []string{}
		case n == 1:
			l = []string{a}
		default:
			l = []string{a, b, a}
		}
		want, _ := json.Marshal(l)
		if got := AppendStrings(nil, l); !bytes.Equal(got, want) {
			t.Fatalf("AppendStrings(%q) = %s, json.Marshal = %s", l, got, want)
		}
	})
}

func TestAppendIntAndNoAllocs(t *testing.T) {
	for _, n := range []int64{0, -1, 1 << 62, 1700000000} {
		want, _ := json.Marshal(n)
		if got := AppendInt(nil, n); !bytes.Equal(got, want) {
			t.Errorf("AppendInt(%d) = %s, want %s", n, got, want)
		}
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { AppendString(buf[:0], "<é\u2028\xff>") }); n != 0 {
		t.Errorf("AppendString allocates %.0f times into a buffer with room", n)
	}
}

func BenchmarkAppendStringToken(b *testing.B) {
	s := strings.Repeat("eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.", 14)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}

// TestAppendStringEveryByteEveryPlace puts each byte value at each place of
// a plain string that spans three words, so that the word-at-a-time scan
// meets it in every lane, and compares with json.Marshal and slog's form.
func TestAppendStringEveryByteEveryPlace(t *testing.T) {
	base := []byte("abcdefghijklmnopqrstuvwxyz0123")
	for b := range 256 {
		for i := range base {
			s := make([]byte, len(base))
			copy(s, base)
			s[i] = byte(b)
			want, _ := json.Marshal(string(s))
			if got := AppendString(nil, string(s)); !bytes.Equal(got, want) {
				t.Fatalf("byte %#x at %d: AppendString = %s, json.Marshal = %s", b, i, got, want)
			}
			// Without HTML escaping, only '"', '\\' and control bytes and
			// invalid UTF-8 are escaped: the rest is as is.
			got := string(AppendLogString(nil, string(s)))
			if plainLog := b >= 0x20 && b < 0x80 && b != '"' && b != '\\'; plainLog != (got == `"`+string(s)+`"`) {
				t.Fatalf("byte %#x at %d: AppendLogString = %s", b, i, got)
			}
		}
	}
}
