package clientauth_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/inmem"
)

const (
	issuer   = "https://auth.gooclaim.test"
	endpoint = "https://auth.gooclaim.test/v1/auth/token"
)

// testKey is a client's key pair.
type testKey struct {
	kid, alg string
	priv     crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey
)

// rsaKey returns one of a few 2048-bit RSA keys, generated once: RSA key
// generation is slow.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

// newKey returns a fresh key for alg (RSA keys come from a small pool:
// pass n to pick another one).
func newKey(t testing.TB, kid, alg string, n ...int) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		i := 0
		if len(n) > 0 {
			i = n[0]
		}
		priv = rsaKey(t, i)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, alg: alg, priv: priv}
}

// jwk returns the public JWK of k, with its alg unless noAlg.
func (k testKey) jwk(noAlg bool) jose.JSONWebKey {
	j := jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
	if noAlg {
		j.Algorithm = ""
	}
	return j
}

// jwks returns the public JWK Set of keys.
func jwks(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk(false))
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// claims are an assertion's claims, as JSON values.
type claims map[string]any

// goodClaims are valid claims of client id at now.
func goodClaims(id string, now time.Time) claims {
	return claims{
		"iss": id, "sub": id, "aud": issuer,
		"jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
}

// with returns a copy of c with the given members set (nil deletes).
func (c claims) with(kv ...any) claims {
	d := make(claims, len(c))
	for k, v := range c {
		d[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(d, kv[i].(string))
		} else {
			d[kv[i].(string)] = kv[i+1]
		}
	}
	return d
}

// sign makes a compact JWS of c with k, its kid (unless k.kid is empty),
// typ JWT and the extra headers.
func sign(t testing.TB, k testKey, c claims, extra ...string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for i := 0; i < len(extra); i += 2 {
		opts.WithHeader(jose.HeaderKey(extra[i]), extra[i+1])
	}
	var key any = k.priv
	if k.kid != "" {
		key = jose.JSONWebKey{Key: k.priv, KeyID: k.kid}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// raw assembles a compact JWS from a header, claims and a signature.
func raw(t testing.TB, header map[string]any, c claims, sig []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(c)
	return b64(h) + "." + b64(p) + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// testServerPrefix is the address httptest servers listen on.
var testServerPrefix = netip.MustParsePrefix("127.0.0.1/32")

// env is a verifier with a controlled clock and an in-memory replay cache.
type env struct {
	v     *clientauth.Verifier
	clock *authtest.Clock
}

func newEnv(t testing.TB, cfg clientauth.Config) *env {
	t.Helper()
	clock := authtest.NewClock(time.Now().Truncate(time.Second))
	if cfg.Issuer == "" && cfg.TokenEndpoint == "" {
		cfg.Issuer, cfg.TokenEndpoint = issuer, endpoint
	}
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.Replay == nil {
		cfg.Replay = inmem.NewReplayCache(inmem.ReplayCacheOptions{Clock: cfg.Clock})
	}
	if cfg.HTTPClient != nil && !cfg.AllowPrivateAddresses {
		// The tests' key servers listen on 127.0.0.1: that one address is
		// let through, and the address check stays installed in the
		// client, so that every test fetches through it.
		cfg = clientauth.WithEgressAllow(cfg, testServerPrefix)
	}
	v, err := clientauth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{v: v, clock: clock}
}

// wantInvalid fails unless err is an invalid_client *auth.OAuthError whose
// description contains want.
func wantInvalid(t testing.TB, err error, want string) {
	t.Helper()
	var oe *auth.OAuthError
	switch {
	case err == nil:
		t.Fatalf("accepted; want invalid_client %q", want)
	case !errors.As(err, &oe) || oe != err:
		t.Fatalf("error %v (%T) is not an *auth.OAuthError", err, err)
	case !errors.Is(err, auth.ErrInvalidClient):
		t.Fatalf("error %v, want invalid_client", err)
	case !strings.Contains(oe.Description, want):
		t.Fatalf("description %q, want it to contain %q", oe.Description, want)
	}
	for _, r := range oe.Description {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Fatalf("description %q has %q, not allowed in error_description (RFC 6749 section 5.2)", oe.Description, r)
		}
	}
}

// jwksServer serves a JWK Set over TLS and counts its requests.
type jwksServer struct {
	*httptest.Server
	body     atomic.Pointer[[]byte]
	status   atomic.Int32
	header   atomic.Pointer[http.Header]
	requests atomic.Int32
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(body)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if h := s.header.Load(); h != nil {
			for k, v := range *h {
				w.Header()[k] = v
			}
		}
		if st := s.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) { s.body.Store(&body) }

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
