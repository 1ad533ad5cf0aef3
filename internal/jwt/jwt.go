// Package jwt reads JSON Web Tokens (RFC 7519) in the JWS compact
// serialization (RFC 7515 §7.1) for the two places that check them: the
// client assertions of private_key_jwt (clientauth, RFC 7523) and the
// access tokens of resource servers (verify, RFC 9068).
//
// It holds the rules every JWT read here follows (RFC 8725): three
// non-empty parts of canonical unpadded base64url, so that one token has
// one encoding; a protected header and claims that are JSON objects
// without duplicate members (RFC 8725 §3.7); never alg none nor an HMAC alg
// (RFC 8725 §3.1, §3.2); NumericDates between 1970 and 9999 (RFC 7519 §2);
// aud a string or a non-empty array of strings (RFC 7519 §4.1.3). Which
// algorithms, typ and claims a token must have is its reader's policy, and
// signatures are go-jose's.
//
// Errors are descriptions for an error_description, naming the token as
// Reader.Name does: "the token's header is empty".
package jwt

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gooclaim/auth/internal/jwkset"
)

// MaxNumericDate is 9999-12-31T23:59:59Z: later dates are nonsense and
// would overflow time arithmetic.
const MaxNumericDate = 253402300799

// Reader reads one kind of JWT.
type Reader struct {
	// Name is how errors name the token: "the token", "the client assertion".
	Name string
	// MaxSize is the longest token read, in bytes.
	MaxSize int
}

// Parts are the three base64url parts of a compact JWS.
type Parts struct {
	Header, Payload, Signature string
}

// Split checks a token's shape before anything is decoded: at most MaxSize
// bytes in the compact serialization, three non-empty parts, each canonical
// unpadded base64url.
func (r Reader) Split(token string) (Parts, error) {
	switch {
	case token == "":
		return Parts{}, fmt.Errorf("%s is empty", r.Name)
	case len(token) > r.MaxSize:
		return Parts{}, fmt.Errorf("%s is %d bytes, more than the %d accepted", r.Name, len(token), r.MaxSize)
	case token[0] == '{':
		return Parts{}, fmt.Errorf("%s is in the JWS JSON serialization: send the compact form", r.Name)
	}
	switch n := strings.Count(token, ".") + 1; n {
	case 3:
	case 5:
		return Parts{}, fmt.Errorf("%s has 5 parts, a JWE (an encrypted JWT): send a signed JWT, a JWS of 3 parts", r.Name)
	case 1:
		return Parts{}, fmt.Errorf("%s has 1 part, not the 3 of a signed JWT", r.Name)
	default:
		return Parts{}, fmt.Errorf("%s has %d parts, not the 3 of a signed JWT", r.Name, n)
	}
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ := strings.Cut(rest, ".")
	for _, part := range []struct{ name, b64 string }{{"header", h}, {"payload", p}, {"signature", s}} {
		switch {
		case part.b64 == "" && part.name == "signature":
			return Parts{}, fmt.Errorf("%s is unsigned: its signature is empty", r.Name)
		case part.b64 == "":
			return Parts{}, fmt.Errorf("%s's %s is empty", r.Name, part.name)
		case !CanonicalBase64URL(part.b64):
			return Parts{}, fmt.Errorf("%s's %s is not unpadded base64url", r.Name, part.name)
		}
	}
	return Parts{Header: h, Payload: p, Signature: s}, nil
}

// CanonicalBase64URL reports whether s is unpadded base64url whose unused
// trailing bits are zero, so that one signature has one encoding.
func CanonicalBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	var mask byte
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	default:
		return true
	}
	return base64URLValue(s[len(s)-1])&mask == 0
}

func base64URLValue(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	default:
		return 63
	}
}

// Header is a protected header's members, as JSON.
type Header map[string]json.RawMessage

// String returns the member name when it is a JSON string.
func (h Header) String(name string) (string, bool) {
	return jwkset.StringMember(h, name)
}

// Header decodes the protected header of p, a JSON object without
// duplicate members. Its error wraps jwkset.ErrNotObject when the header is
// JSON but no object.
func (r Reader) Header(p Parts) (Header, error) {
	m, err := decode[json.RawMessage](r, "header is", p.Header)
	return Header(m), err
}

// Alg returns the header's alg: a string, neither none nor an HMAC
// algorithm, which a public key must never be taken for the secret of
// (RFC 8725 §2.1, §3.1, §3.2). Whether it is one the reader accepts is the
// reader's to check.
func (r Reader) Alg(h Header) (string, error) {
	alg, ok := h.String("alg")
	switch {
	case !ok:
		return "", fmt.Errorf("%s's header has no alg string", r.Name)
	case strings.EqualFold(alg, "none"):
		return "", fmt.Errorf("%s is unsigned (alg none): never accepted", r.Name)
	case len(alg) >= 2 && strings.EqualFold(alg[:2], "HS"):
		return "", fmt.Errorf("%s's alg %s is an HMAC algorithm: never accepted", r.Name, jwkset.Quote(alg))
	}
	return alg, nil
}

// Claims are a token's claims as decoded JSON, numbers as json.Number.
type Claims = map[string]any

// Claims decodes a payload, such as the one a verified signature returns:
// UTF-8, one JSON object without duplicate members. Its error wraps
// jwkset.ErrNotObject when the payload is JSON but no object.
func (r Reader) Claims(payload []byte) (Claims, error) {
	return decodeJSON[any](r, "claims are", payload)
}

// UnverifiedClaims decodes the payload of p before any signature is
// checked, as Claims does.
func (r Reader) UnverifiedClaims(p Parts) (Claims, error) {
	return decode[any](r, "claims are", p.Payload)
}

// decode decodes the base64url JSON object b64; what names the part and its
// verb in errors ("header is").
func decode[T any](r Reader, what, b64 string) (map[string]T, error) {
	data, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%s's %s not unpadded base64url", r.Name, what)
	}
	return decodeJSON[T](r, what, data)
}

func decodeJSON[T any](r Reader, what string, data []byte) (map[string]T, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s's %s not UTF-8", r.Name, what)
	}
	m, err := jwkset.DecodeObject[T](data)
	if err != nil {
		return nil, fmt.Errorf("%s's %s not a valid JSON object: %w", r.Name, what, err)
	}
	return m, nil
}

// Audience reads aud: a string or a non-empty array of strings (RFC 7519
// §4.1.3); nil without error when the claim is absent.
func (r Reader) Audience(c Claims) ([]string, error) {
	v, ok := c["aud"]
	if !ok {
		return nil, nil
	}
	bad := fmt.Errorf("%s's aud claim is not a string or an array of strings", r.Name)
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, bad
		}
		out := make([]string, len(v))
		for i, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, bad
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, bad
}

// Date reads the NumericDate claim name (RFC 7519 §2: seconds since the
// epoch, possibly fractional), from 1970 to MaxNumericDate; the zero time
// without error when the claim is absent.
func (r Reader) Date(c Claims, name string) (time.Time, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, nil
	}
	bad := fmt.Errorf("%s's %s claim is not a NumericDate", r.Name, name)
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, bad
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < 0 || i > MaxNumericDate {
			return time.Time{}, bad
		}
		return time.Unix(i, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > MaxNumericDate {
		return time.Time{}, bad
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
