package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CodeLabel is the HKDF info under which the key of sign-in codes is
// derived from the key-encryption key (signing.KEK.Derive): the same on
// every node that shares the KEK, so a code made by the CLI against the
// database is accepted by any node, and distinct from every other use of it.
const CodeLabel = "gooclaim-auth console sign-in code v1"

// ClientID is the console's built-in client: the admin tokens of console
// sessions are issued to it. Disabling or deleting it ends every session
// and makes every sign-in link useless.
const ClientID = "gooclaim-console"

// CodeTTL is how long a sign-in code is valid: long enough to paste a link
// into a browser, short enough that one left in a terminal's scrollback
// or a chat is useless.
const CodeTTL = time.Minute

// MaxCodeLength bounds what VerifyCode reads: a real code is about 170
// characters, so anything much longer is refused before any decoding.
const MaxCodeLength = 512

// Code is what a verified sign-in code holds.
type Code struct {
	// JTI is 128 random bits, base64url: the code's identity, remembered
	// once redeemed so that a code is used at most once.
	JTI string `json:"jti"`
	// Expiry is when the code stops being valid, in Unix seconds.
	Expiry int64 `json:"exp"`
	// CreatedBy says who made the code, "cli:<OS user>", for the log.
	CreatedBy string `json:"created_by"`
	// Page is the console page to open once signed in, one of Pages.
	Page string `json:"page,omitempty"`
}

// Pages are the console pages a sign-in link may open, the default first.
var Pages = []string{"overview", "clients", "keys", "audit", "issuers", "plans", "policies"}

// ValidPage reports whether page is one of Pages.
func ValidPage(page string) bool { return slices.Contains(Pages, page) }

// ExpiresAt is Expiry as a time.
func (c Code) ExpiresAt() time.Time { return time.Unix(c.Expiry, 0) }

// ErrInvalidCode is every refusal of VerifyCode: a code that is malformed,
// forged, made under another key or expired. Callers show one answer for
// all of them, so that trying codes teaches nothing.
var ErrInvalidCode = errors.New("the sign-in code is invalid or expired")

// NewCode returns a sign-in code made by createdBy that opens page (one
// of Pages; "" for the first), valid for CodeTTL from now:
// base64url(payload) "." base64url(HMAC-SHA256(key, payload)), the
// payload the JSON of a Code. The page is in the code, under its MAC, so
// that the server tells the console where to go without trusting the URL.
func NewCode(key []byte, createdBy, page string, now time.Time) (string, error) {
	if len(key) < 32 {
		return "", errors.New("console sign-in code: the key is shorter than 32 bytes")
	}
	if page == "" {
		page = Pages[0]
	}
	if !ValidPage(page) {
		return "", fmt.Errorf("console sign-in code: no page %q; the pages are %s", page, strings.Join(Pages, ", "))
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("console sign-in code: random jti: %w", err)
	}
	payload, err := json.Marshal(Code{
		JTI:       base64.RawURLEncoding.EncodeToString(jti[:]),
		Expiry:    now.Add(CodeTTL).Unix(),
		CreatedBy: createdBy,
		Page:      page,
	})
	if err != nil {
		return "", fmt.Errorf("console sign-in code: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	if len(p)+1+base64.RawURLEncoding.EncodedLen(sha256.Size) > MaxCodeLength {
		return "", fmt.Errorf("console sign-in code: created_by %.32q… is too long", createdBy)
	}
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(key, p)), nil
}

// VerifyCode checks code's MAC under key (in constant time) and that it
// has not expired at now, and returns what it holds. Every failure is
// ErrInvalidCode. It does not know whether the code was used before: the
// caller remembers redeemed JTIs until ExpiresAt.
func VerifyCode(key []byte, code string, now time.Time) (Code, error) {
	if len(code) > MaxCodeLength || len(key) < 32 {
		return Code{}, ErrInvalidCode
	}
	p, sig, ok := strings.Cut(code, ".")
	if !ok {
		return Code{}, ErrInvalidCode
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, p)) {
		return Code{}, ErrInvalidCode
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Code{}, ErrInvalidCode
	}
	var c Code
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" || !ValidPage(c.Page) {
		return Code{}, ErrInvalidCode
	}
	if now.Unix() >= c.Expiry {
		return Code{}, ErrInvalidCode
	}
	return c, nil
}

// mac is HMAC-SHA256 of the encoded payload: the MAC covers the exact
// bytes sent, so no two encodings of one payload verify.
func mac(key []byte, encodedPayload string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(encodedPayload))
	return h.Sum(nil)
}
