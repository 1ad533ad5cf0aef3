package client_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/client"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/inmem"
)

// assertionServer is a token endpoint that authenticates clients with
// clientauth.Verifier, so that the kit's assertions are checked by the
// server side's code, and records what it received.
type assertionServer struct {
	*httptest.Server
	verifier *clientauth.Verifier
	clients  map[string]*auth.Client
	// before answers request n (from 1) before authentication when it
	// returns a status other than 0.
	before func(n int) int

	n        atomic.Int32
	mu       sync.Mutex
	received []receivedRequest
}

type receivedRequest struct {
	contentType, authorization string
	params                     map[string]string
	err                        error // the verifier's
}

const assertionTokenPath = "/v1/auth/token"

// newAssertionServer starts a token endpoint knowing the given clients'
// public keys, inline. Its issuer is its URL.
func newAssertionServer(t *testing.T, clients ...*auth.Client) *assertionServer {
	t.Helper()
	s := &assertionServer{clients: map[string]*auth.Client{}}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	v, err := clientauth.NewVerifier(clientauth.Config{
		Issuer: s.URL, TokenEndpoint: s.URL + assertionTokenPath,
		Replay: inmem.NewReplayCache(inmem.ReplayCacheOptions{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.verifier = v
	return s
}

func (s *assertionServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.n.Add(1))
	rec := receivedRequest{contentType: r.Header.Get("Content-Type"), authorization: r.Header.Get("Authorization"), params: map[string]string{}}
	body, _ := io.ReadAll(r.Body)
	if rec.contentType == "application/json" {
		json.Unmarshal(body, &rec.params)
	} else {
		v, _ := url.ParseQuery(string(body))
		for k := range v {
			rec.params[k] = v.Get(k)
		}
	}
	defer func() {
		s.mu.Lock()
		s.received = append(s.received, rec)
		s.mu.Unlock()
	}()
	if s.before != nil {
		if status := s.before(n); status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"temporarily_unavailable"}`)
			return
		}
	}
	p := rec.params
	if p["grant_type"] != "client_credentials" || p["client_assertion_type"] != auth.ClientAssertionTypeJWT {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_request"}`)
		return
	}
	id := p["client_id"]
	if id == "" {
		id, _ = clientauth.Subject(p["client_assertion"])
	}
	rec.err = s.verifier.Verify(r.Context(), s.clients[id], p["client_assertion"])
	w.Header().Set("Content-Type", "application/json")
	if rec.err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(rec.err)
		return
	}
	fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, n)
}

func (s *assertionServer) requests() []receivedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedRequest(nil), s.received...)
}

// registered returns a client registering the public key of priv under kid
// with alg (empty: the JWK declares none).
func registered(t *testing.T, id string, priv crypto.Signer, kid, alg string) *auth.Client {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := clientauth.CheckJWKS(b); err != nil {
		t.Fatal(err)
	}
	return &auth.Client{ID: id, JWKS: b}
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

func testKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "RSA":
		rsaOnce.Do(func() { rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048) })
		k = rsaPriv
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hsm hides the type of a private key behind crypto.Signer, as a key in
// an HSM or a cloud KMS would be.
type hsm struct{ crypto.Signer }

// assertionOf decodes the header and claims of an assertion.
func assertionOf(t *testing.T, a string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion %q is not a compact JWS", a)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// TestPrivateKeyJWTVerifies: the assertions the kit sends verify with
// clientauth.Verifier, for every kind of key, signing algorithm and
// encoding.
func TestPrivateKeyJWTVerifies(t *testing.T) {
	for _, tc := range []struct {
		key, alg, jwkAlg string // alg: Config.SigningAlgorithm
		opaque           bool
	}{
		{key: "P-256"}, {key: "P-384"}, {key: "P-521"}, {key: "Ed25519"}, {key: "RSA"},
		{key: "RSA", alg: "PS256", jwkAlg: "PS256"},
		{key: "RSA", alg: "RS512", jwkAlg: "RS512"},
		{key: "P-256", alg: "ES256", jwkAlg: "ES256"},
		{key: "P-256", opaque: true}, {key: "P-521", opaque: true}, {key: "Ed25519", opaque: true},
		{key: "RSA", opaque: true}, {key: "RSA", alg: "PS384", jwkAlg: "PS384", opaque: true},
	} {
		for _, enc := range []client.Encoding{client.EncodingForm, client.EncodingJSON} {
			name := fmt.Sprintf("%s/%s/opaque=%v/%v", tc.key, tc.alg, tc.opaque, enc)
			t.Run(name, func(t *testing.T) {
				priv := testKey(t, tc.key)
				srv := newAssertionServer(t, registered(t, "app", priv, "k1", tc.jwkAlg))
				var signer crypto.Signer = priv
				if tc.opaque {
					signer = hsm{priv}
				}
				conf := &client.Config{TokenURL: srv.URL + assertionTokenPath, ClientID: "app", AuthStyle: client.AuthPrivateKeyJWT,
					PrivateKey: signer, KeyID: "k1", SigningAlgorithm: tc.alg, Encoding: enc}
				tok, err := conf.Token(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if tok.AccessToken != "token-1" {
					t.Errorf("token %q", tok.AccessToken)
				}
				req := srv.requests()[0]
				if req.contentType != enc.String() {
					t.Errorf("Content-Type %q, want %q", req.contentType, enc)
				}
			})
		}
	}
}

// TestPrivateKeyJWTRequest: what goes on the wire: client_id,
// client_assertion_type and client_assertion in the body, no Authorization
// header, no secret, and an assertion with the claims of RFC 7523 §3.
func TestPrivateKeyJWTRequest(t *testing.T) {
	priv := testKey(t, "P-256")
	srv := newAssertionServer(t, registered(t, "app", priv, "k1", ""))
	conf := &client.Config{TokenURL: srv.URL + assertionTokenPath, ClientID: "app", ClientSecret: "not sent",
		AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: priv, KeyID: "k1", Scopes: []string{"claims:read"}}
	before := time.Now().Unix()
	for range 3 {
		if _, err := conf.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now().Unix()
	reqs := srv.requests()
	jtis := map[string]bool{}
	for i, r := range reqs {
		if r.authorization != "" {
			t.Errorf("request %d has an Authorization header %q", i, r.authorization)
		}
		want := map[string]string{"grant_type": "client_credentials", "scope": "claims:read", "client_id": "app", "client_assertion_type": auth.ClientAssertionTypeJWT}
		for k, v := range want {
			if r.params[k] != v {
				t.Errorf("request %d: %s = %q, want %q", i, k, r.params[k], v)
			}
		}
		if _, ok := r.params["client_secret"]; ok {
			t.Errorf("request %d sends client_secret", i)
		}
		if len(r.params) != len(want)+1 {
			t.Errorf("request %d has parameters %v", i, r.params)
		}
		h, c := assertionOf(t, r.params["client_assertion"])
		if len(h) != 3 || h["alg"] != "ES256" || h["kid"] != "k1" || h["typ"] != "JWT" {
			t.Errorf("header %v, want alg, kid and typ JWT only", h)
		}
		iat, exp := int64(c["iat"].(float64)), int64(c["exp"].(float64))
		if c["iss"] != "app" || c["sub"] != "app" || c["aud"] != srv.URL+assertionTokenPath ||
			iat < before || iat > after || exp-iat != 60 || len(c) != 6 {
			t.Errorf("claims %v: want iss = sub = app, aud the token endpoint, iat now, exp 60s later", c)
		}
		jti, _ := c["jti"].(string)
		if b, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(b) != 16 {
			t.Errorf("jti %q is not 128 bits in base64url", jti)
		}
		if jtis[jti] {
			t.Errorf("request %d reuses jti %q", i, jti)
		}
		jtis[jti] = true
	}
}

// TestPrivateKeyJWTAudience: with Issuer set, the assertion's aud is the
// issuer, and the server accepts it as such.
func TestPrivateKeyJWTAudience(t *testing.T) {
	priv := testKey(t, "Ed25519")
	srv := newAssertionServer(t, registered(t, "app", priv, "", ""))
	conf := &client.Config{TokenURL: srv.URL + assertionTokenPath, Issuer: srv.URL, ClientID: "app",
		AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: priv, AssertionLifetime: 2 * time.Minute}
	if _, err := conf.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, c := assertionOf(t, srv.requests()[0].params["client_assertion"])
	if _, ok := h["kid"]; ok {
		t.Errorf("header %v has a kid though KeyID is empty", h)
	}
	if c["aud"] != srv.URL {
		t.Errorf("aud %v, want the issuer %s", c["aud"], srv.URL)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 120 {
		t.Errorf("lifetime %vs, want 120s", exp-iat)
	}
}

// TestPrivateKeyJWTRetry: a retried request carries a new assertion, which
// the server accepts; resending the first would be refused as a replay.
func TestPrivateKeyJWTRetry(t *testing.T) {
	priv := testKey(t, "P-256")
	srv := newAssertionServer(t, registered(t, "app", priv, "k1", ""))
	srv.before = func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	conf := &client.Config{TokenURL: srv.URL + assertionTokenPath, ClientID: "app", AuthStyle: client.AuthPrivateKeyJWT,
		PrivateKey: priv, KeyID: "k1", MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	tok, err := conf.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 3 || tok.AccessToken != "token-3" {
		t.Fatalf("%d requests, token %q; want 3 and token-3", len(reqs), tok.AccessToken)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		a := r.params["client_assertion"]
		if seen[a] {
			t.Fatal("a retry resent an assertion")
		}
		seen[a] = true
	}
	// The server's replay check is what makes this matter.
	err = srv.verifier.Verify(context.Background(), srv.clients["app"], reqs[2].params["client_assertion"])
	if err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("resending an accepted assertion: %v, want a replay refusal", err)
	}
}

// TestPrivateKeyJWTRefused: a key the server does not know gets the
// server's invalid_client, not retried.
func TestPrivateKeyJWTRefused(t *testing.T) {
	srv := newAssertionServer(t, registered(t, "app", testKey(t, "P-256"), "k1", ""))
	conf := &client.Config{TokenURL: srv.URL + assertionTokenPath, ClientID: "app", AuthStyle: client.AuthPrivateKeyJWT,
		PrivateKey: testKey(t, "P-256"), KeyID: "k1"}
	_, err := conf.Token(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Code != "invalid_client" {
		t.Fatalf("Token = %v, want a 401 invalid_client", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestPrivateKeyJWTTokenSource: the caching source works with assertions.
func TestPrivateKeyJWTTokenSource(t *testing.T) {
	priv := testKey(t, "P-384")
	srv := newAssertionServer(t, registered(t, "app", priv, "k1", ""))
	conf := &client.Config{TokenURL: srv.URL + assertionTokenPath, ClientID: "app", AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: priv, KeyID: "k1"}
	src := conf.TokenSource(context.Background())
	for range 3 {
		if tok, err := src.Token(); err != nil || tok.AccessToken != "token-1" {
			t.Fatalf("Token = %v, %v", tok, err)
		}
	}
}

// TestPrivateKeyJWTConfigProblems: a missing or unusable key is reported by
// Token before any request.
func TestPrivateKeyJWTConfigProblems(t *testing.T) {
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, tc := range []struct {
		name string
		conf client.Config
		want string
	}{
		{"no key", client.Config{AuthStyle: client.AuthPrivateKeyJWT}, "AuthPrivateKeyJWT needs PrivateKey"},
		{"P-224", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: p224}, "ECDSA key on P-224"},
		{"RSA 1024", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: small}, "RSA key of 1024 bits"},
		{"unknown key type", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: strangeSigner{}}, "PrivateKey is a client_test.strangeSigner"},
		{"alg of another key type", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: testKey(t, "P-256"), SigningAlgorithm: "RS256"}, `SigningAlgorithm "RS256" does not fit the PrivateKey (a ECDSA P-256 key): use ES256`},
		{"HMAC", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: testKey(t, "RSA"), SigningAlgorithm: "HS256"}, `SigningAlgorithm "HS256" does not fit`},
		{"none", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: testKey(t, "Ed25519"), SigningAlgorithm: "none"}, `SigningAlgorithm "none" does not fit`},
		{"negative lifetime", client.Config{AuthStyle: client.AuthPrivateKeyJWT, PrivateKey: testKey(t, "Ed25519"), AssertionLifetime: -time.Second}, "AssertionLifetime -1s is negative"},
		{"key without the style", client.Config{PrivateKey: testKey(t, "Ed25519")}, "PrivateKey is set but AuthStyle is client_secret_basic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
			defer srv.Close()
			conf := tc.conf
			conf.TokenURL, conf.ClientID = srv.URL, "app"
			_, err := conf.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Token = %v, want %q", err, tc.want)
			}
			if requests.Load() != 0 {
				t.Error("a request was sent")
			}
		})
	}
	if s := client.AuthPrivateKeyJWT.String(); s != auth.AuthPrivateKeyJWT {
		t.Errorf("String() = %q, want %q", s, auth.AuthPrivateKeyJWT)
	}
}

// strangeSigner is a crypto.Signer of a key type the kit cannot use.
type strangeSigner struct{}

func (strangeSigner) Public() crypto.PublicKey { return "a public key" }
func (strangeSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, fmt.Errorf("no")
}
