package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/verify"
)

// audience is the testserver's default "aud".
const audience = issuer.DefaultAudience

var algs = []string{auth.ES256, auth.EdDSA, auth.RS256}

// newServer starts the real token service with a rate limit no test reaches.
func newServer(t testing.TB, opts testserver.Options) *testserver.Server {
	t.Helper()
	opts.RateLimit = auth.Rate{Limit: 1 << 30, Window: time.Minute}
	return testserver.New(t, opts)
}

// newVerifier builds a Verifier for the testserver s.
func newVerifier(t testing.TB, s *testserver.Server, edit func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{Issuer: s.Issuer, Audience: audience}
	if edit != nil {
		edit(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fetchToken asks s for a token with HTTP Basic authentication; params are
// extra form parameters, name then value.
func fetchToken(t testing.TB, s *testserver.Server, id, secret string, params ...string) string {
	t.Helper()
	tok, err := tryFetchToken(s, id, secret, params...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tryFetchToken(s *testserver.Server, id, secret string, params ...string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(params); i += 2 {
		form.Set(params[i], params[i+1])
	}
	req, err := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.Client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", &tokenError{resp.StatusCode, body.Error, err}
	}
	return body.AccessToken, nil
}

type tokenError struct {
	status int
	code   string
	err    error
}

func (e *tokenError) Error() string {
	return "token endpoint: HTTP " + http.StatusText(e.status) + " " + e.code
}

// claims returns the claims the testserver s would put in a token issued
// at now, as a map to edit.
func claims(s *testserver.Server, now time.Time) map[string]any {
	return map[string]any{
		"iss":       s.Issuer,
		"sub":       "svc-test",
		"aud":       audience,
		"client_id": "svc-test",
		"scope":     "claims:read claims:write",
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"jti":       "jti-1",
	}
}

// signWith signs claims with the server's active key and the given typ,
// through signing.Signer: a token the server could have issued.
func signWith(t testing.TB, s *testserver.Server, now time.Time, typ string, c map[string]any) string {
	t.Helper()
	signer, err := s.Keys.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.SignWithType(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// activeKID is the kid the server signs with at now.
func activeKID(t testing.TB, s *testserver.Server, now time.Time) string {
	t.Helper()
	signer, err := s.Keys.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	return signer.KeyID()
}

var b64 = base64.RawURLEncoding

// forge builds a compact JWS by hand: header and claims are marshalled
// (unless already strings of JSON) and the signing input is signed by sign
// (nil: an empty signature).
func forge(t testing.TB, header, claims any, sign func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return b64.EncodeToString([]byte(s))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b64.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

// signer returns a signing function for alg with priv (HS*: an HMAC key).
func signer(t testing.TB, alg string, priv any) func([]byte) []byte {
	t.Helper()
	return func(input []byte) []byte {
		var (
			sig []byte
			err error
		)
		switch alg {
		case "ES256":
			d := sha256.Sum256(input)
			r, s, e := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), d[:])
			if err = e; err == nil {
				sig = make([]byte, 64)
				r.FillBytes(sig[:32])
				s.FillBytes(sig[32:])
			}
		case "EdDSA":
			sig = ed25519.Sign(priv.(ed25519.PrivateKey), input)
		case "RS256":
			d := sha256.Sum256(input)
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:])
		case "RS384":
			d := sha512.Sum384(input)
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA384, d[:])
		case "PS256":
			d := sha256.Sum256(input)
			sig, err = rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		case "HS256":
			m := hmac.New(sha256.New, priv.([]byte))
			m.Write(input)
			sig = m.Sum(nil)
		default:
			t.Errorf("signer: unknown alg %s", alg)
		}
		if err != nil {
			t.Error(err)
		}
		return sig
	}
}

// RSA key generation is slow: one key per test binary.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// newPrivateKey returns a fresh key for alg (the shared one for RSA).
func newPrivateKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	switch alg {
	case auth.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case auth.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	default:
		return rsaKey()
	}
}

// jwk returns the public JWK of priv with alg and its RFC 7638 kid, as
// Gooclaim Auth publishes it, as a map to edit.
func jwk(t testing.TB, alg string, priv crypto.Signer) (map[string]any, string) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	kid, err := signing.Thumbprint(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	set, err := signing.JWKS([]auth.Key{{ID: kid, Algorithm: alg, Public: der}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(set, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys[0], kid
}

// staticIssuer is an authorization server whose keys the test holds: it
// serves metadata and a JWK Set the test sets, counts the JWKS requests,
// and can be made unreachable.
type staticIssuer struct {
	*httptest.Server
	Issuer   string
	jwks     atomic.Pointer[[]byte]
	jwksHits atomic.Int64
	down     atomic.Bool
}

func newStaticIssuer(t testing.TB, keys ...map[string]any) *staticIssuer {
	t.Helper()
	si := &staticIssuer{}
	si.SetKeys(t, keys...)
	si.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if si.down.Load() {
			hangUp(w)
			return
		}
		switch r.URL.Path {
		case httpapi.MetadataPath:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"issuer": si.Issuer, "jwks_uri": si.Issuer + httpapi.JWKSPath})
		case httpapi.JWKSPath:
			si.jwksHits.Add(1)
			w.Header().Set("Content-Type", "application/jwk-set+json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Write(*si.jwks.Load())
		default:
			http.NotFound(w, r)
		}
	}))
	si.Issuer = si.URL
	t.Cleanup(si.Close)
	return si
}

// SetKeys replaces the published JWK Set.
func (si *staticIssuer) SetKeys(t testing.TB, keys ...map[string]any) {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	si.jwks.Store(&b)
}

// claims returns valid claims for a token of this issuer.
func (si *staticIssuer) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss": si.Issuer, "sub": "svc-test", "aud": audience, "client_id": "svc-test",
		"scope": "claims:read", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j",
	}
}

// proxy forwards to a target server, counts the JWKS requests, and can be
// switched off: then it hangs up on every request.
type proxy struct {
	*httptest.Server
	jwksHits atomic.Int64
	down     atomic.Bool
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			hangUp(w)
			return
		}
		if r.URL.Path == httpapi.JWKSPath {
			p.jwksHits.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// countingServer counts every request it gets, whatever the path.
func countingServer(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// mustFail checks that err is an *verify.Error with the code and a
// description containing want.
func mustFail(t testing.TB, err error, code, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("verified; want %s (%q)", code, want)
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *verify.Error", err, err)
	}
	if ve.Code != code || !strings.Contains(ve.Description, want) {
		t.Fatalf("error %s: %q; want %s containing %q", ve.Code, ve.Description, code, want)
	}
}
