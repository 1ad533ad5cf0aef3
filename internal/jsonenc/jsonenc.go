// Package jsonenc appends JSON values to byte slices exactly as
// encoding/json.Marshal writes them, for the few fixed shapes on the token
// path (the access token's claims, the token response), without reflection
// and without allocating.
//
// Why hand-written: encoding/json costs reflection, an interface conversion
// per value and a fresh result slice per call, several microseconds and
// allocations per token; its Encoder cannot append to a caller's buffer, and
// the code generators that can (easyjson, ffjson, go-json) escape strings
// their own way or not at all — and a byte of difference in the claims
// changes every signature a test or a client compares. The one subtle part,
// string escaping, is a copy of encoding/json's appendString with HTML
// escaping on (what json.Marshal uses), and the fuzz tests of this package
// and of its callers compare byte for byte with encoding/json.
package jsonenc

import (
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// plain[html][b] reports whether the ASCII byte b is written as itself: a
// table lookup per byte rather than five comparisons, which is most of the
// cost of a claim or an access token that needs no escape at all.
var plain = func() (t [2][utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[0][b] = b != '"' && b != '\\'
		t[1][b] = t[0][b] && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// AppendString appends s as a JSON string the way json.Marshal writes it:
// '"', '\\' and control characters escaped (\b \f \n \r \t, else \u00XX),
// '<', '>' and '&' as \u003c, \u003e, \u0026, U+2028 and U+2029 as \u2028
// and \u2029, and each byte of invalid UTF-8 as \ufffd.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s, true) }

// AppendLogString appends s as log/slog's JSON handler writes a string:
// as AppendString, but without HTML escaping and with \b and \f as \u0008
// and \u000c (slog escapes only \n \r \t by name).
func AppendLogString(dst []byte, s string) []byte { return appendString(dst, s, false) }

// appendString is encoding/json's appendString (html: json.Marshal's
// escaping) and, without html, slog's appendEscapedJSONString.
func appendString(dst []byte, s string, html bool) []byte {
	dst = append(dst, '"')
	safe := &plain[0]
	if html {
		safe = &plain[1]
	}
	start := 0
	for i := 0; i < len(s); {
		// Eight plain bytes at a time: an access token or a claim is
		// almost always all plain, and this is a third of the byte loop's
		// cost for them.
		for i+8 <= len(s) && plainWord(load64(s[i:i+8]), html) {
			i += 8
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch {
			case b == '\\' || b == '"':
				dst = append(dst, '\\', b)
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			case html && b == '\b':
				dst = append(dst, '\\', 'b')
			case html && b == '\f':
				dst = append(dst, '\\', 'f')
			default: // other control characters, and (html) <, >, &
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 is the eight bytes of s (len(s) == 8) as a little-endian word;
// the compiler makes it one load.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether each of the eight bytes of w is one plain
// table says is written as itself: ASCII, not below 0x20, not '"' or '\\',
// and with html not '<', '>' or '&'. Each test is the exact "has a zero
// byte" (v - ones) &^ v & highs of the bit-twiddling folklore: it never
// misses a byte it looks for; a word it flags wrongly only goes the byte
// loop's slower way. A byte with its high bit set is flagged by w itself,
// which also covers the tests that assume 7-bit bytes. With html, '"'
// (0x22) and '&' (0x26) differ in one bit, as '<' (0x3c) and '>' (0x3e)
// do: setting that bit tests both at once.
func plainWord(w uint64, html bool) bool {
	bad := w | (w-ones*0x20)&^w // non-ASCII, or a byte below 0x20
	bad |= zeroByte(w ^ (ones * '\\'))
	if html {
		bad |= zeroByte((w|ones*0x04)^(ones*'&')) | zeroByte((w|ones*0x02)^(ones*'>'))
	} else {
		bad |= zeroByte(w ^ (ones * '"'))
	}
	return bad&highs == 0
}

func zeroByte(v uint64) uint64 { return (v - ones) &^ v }

// AppendInt appends n as a JSON number.
func AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// AppendStrings appends l as json.Marshal writes a []string: null when nil.
func AppendStrings(dst []byte, l []string) []byte {
	if l == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, s)
	}
	return append(dst, ']')
}
