// Package testoidc is an OpenID Connect issuer for tests: an httptest
// server on loopback that serves a discovery document
// (/.well-known/openid-configuration) and a JWK Set, and mints tokens
// shaped like those of the workloads federation serves — Kubernetes
// service accounts, GitHub Actions jobs, SPIFFE JWT-SVIDs — well formed or
// with a chosen defect (expired, future iat, no exp, alg none, HMAC signed
// with the public key, a key it does not publish, …). It rotates its
// signing key on demand, so that key rotation can be tested end to end.
//
// Tokens are signed by hand (crypto/*), not with a JOSE library, so that
// the defects no library would produce can be.
package testoidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Paths it serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/keys"
)

// Issuer is a running test OIDC issuer. Its fields may be changed between
// requests; its methods are safe for concurrent use.
type Issuer struct {
	// URL is its issuer identifier, http://127.0.0.1:PORT: the iss of its tokens.
	URL string
	// Now tells the time of iat, nbf and exp; default time.Now.
	Now func() time.Time

	// DiscoveryRequests and JWKSRequests count the requests served.
	DiscoveryRequests atomic.Int64
	JWKSRequests      atomic.Int64

	srv *httptest.Server
	alg string

	mu           sync.Mutex
	keys         []*Key // published, the current one last
	omitAlg      bool
	discoveryIss string
	cacheControl string
	down         bool
}

// Key is one signing key of the issuer.
type Key struct {
	KID  string
	Alg  string
	Priv crypto.Signer
}

// New starts an issuer whose keys are of alg, "ES256" or "RS256"; it stops
// when the test ends.
func New(t testing.TB, alg string) *Issuer {
	t.Helper()
	if alg != "ES256" && alg != "RS256" {
		t.Fatalf("testoidc: alg %q: use ES256 or RS256", alg)
	}
	i := &Issuer{alg: alg, Now: time.Now}
	i.keys = []*Key{i.newKey(t)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, i.serveDiscovery)
	mux.HandleFunc("GET "+JWKSPath, i.serveJWKS)
	i.srv = httptest.NewServer(mux)
	t.Cleanup(i.srv.Close)
	i.URL = i.srv.URL
	return i
}

// JWKSURI is the URL of its JWK Set.
func (i *Issuer) JWKSURI() string { return i.URL + JWKSPath }

// newKey makes a fresh key of the issuer's alg (RSA 2048 takes some tens
// of milliseconds).
func (i *Issuer) newKey(t testing.TB) *Key {
	var priv crypto.Signer
	if i.alg == "ES256" {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	} else {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	}
	var b [6]byte
	rand.Read(b[:])
	return &Key{KID: base64.RawURLEncoding.EncodeToString(b[:]), Alg: i.alg, Priv: priv}
}

// Current is the key that signs its tokens.
func (i *Issuer) Current() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1]
}

// Rotate makes a new signing key and publishes it; the old keys stay
// published when keepOld, else they are withdrawn.
func (i *Issuer) Rotate(t testing.TB, keepOld bool) *Key {
	t.Helper()
	k := i.newKey(t)
	i.mu.Lock()
	defer i.mu.Unlock()
	if keepOld {
		i.keys = append(i.keys, k)
	} else {
		i.keys = []*Key{k}
	}
	return k
}

// SetOmitJWKAlg publishes the keys without "alg", leaving it to be
// derived from the key type.
func (i *Issuer) SetOmitJWKAlg(omit bool) { i.mu.Lock(); i.omitAlg = omit; i.mu.Unlock() }

// SetDiscoveryIssuer makes the discovery document name another issuer ("" restores its own).
func (i *Issuer) SetDiscoveryIssuer(iss string) { i.mu.Lock(); i.discoveryIss = iss; i.mu.Unlock() }

// SetCacheControl sets the Cache-Control of its JWK Set.
func (i *Issuer) SetCacheControl(v string) { i.mu.Lock(); i.cacheControl = v; i.mu.Unlock() }

// SetDown makes it answer 503 to everything (true) or serve again.
func (i *Issuer) SetDown(down bool) { i.mu.Lock(); i.down = down; i.mu.Unlock() }

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.DiscoveryRequests.Add(1)
	i.mu.Lock()
	iss, down := i.discoveryIss, i.down
	i.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if iss == "" {
		iss = i.URL
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss, "jwks_uri": i.JWKSURI(),
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{i.alg},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.JWKSRequests.Add(1)
	w.Header().Set("Content-Type", "application/jwk-set+json")
	i.mu.Lock()
	down, cc := i.down, i.cacheControl
	body := i.jwksLocked()
	i.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Write(body)
}

// JWKS is its JWK Set as JSON, for a trusted issuer registered with inline keys.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksLocked()
}

func (i *Issuer) jwksLocked() []byte {
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		jwk := jose.JSONWebKey{Key: k.Priv.Public(), KeyID: k.KID, Use: "sig"}
		if !i.omitAlg {
			jwk.Algorithm = k.Alg
		}
		set.Keys = append(set.Keys, jwk)
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// Option changes how a token is minted.
type Option func(*mint)

type mint struct {
	header map[string]any
	claims map[string]any
	key    *Key
	mode   string // "", "none", "hmac"
}

// Expired mints a token whose exp is past (and iat an hour before it).
func Expired() Option {
	return func(m *mint) {
		now := m.claims["iat"].(int64)
		m.claims["iat"], m.claims["exp"] = now-2*3600, now-3600
	}
}

// IssuedAt sets iat (and nbf) to t, and exp an hour later.
func IssuedAt(t time.Time) Option {
	return func(m *mint) {
		m.claims["iat"], m.claims["nbf"], m.claims["exp"] = t.Unix(), t.Unix(), t.Add(time.Hour).Unix()
	}
}

// FutureIAT mints a token issued an hour from now.
func FutureIAT() Option {
	return func(m *mint) { m.claims["iat"] = m.claims["iat"].(int64) + 3600 }
}

// Without removes claims, such as "exp" or "iat".
func Without(names ...string) Option {
	return func(m *mint) {
		for _, n := range names {
			delete(m.claims, n)
		}
	}
}

// Claim sets a claim.
func Claim(name string, v any) Option { return func(m *mint) { m.claims[name] = v } }

// Header sets a header member; nil removes it (such as "kid").
func Header(name string, v any) Option { return func(m *mint) { m.header[name] = v } }

// AlgNone mints an unsigned token (alg none, empty signature).
func AlgNone() Option { return func(m *mint) { m.mode = "none" } }

// HMACWithPublicKey signs with HS256, the key being the PEM of the
// current key's public key: the classic algorithm-confusion attack.
func HMACWithPublicKey() Option { return func(m *mint) { m.mode = "hmac" } }

// SignedWith signs with k (such as a key the issuer does not publish,
// from NewKey), naming its kid.
func SignedWith(k *Key) Option { return func(m *mint) { m.key = k } }

// NewKey is a key of the issuer's alg that it does not publish.
func (i *Issuer) NewKey(t testing.TB) *Key { return i.newKey(t) }

// Mint signs a token with the given claims over the defaults: iss its URL,
// iat and nbf now, exp an hour from now, and a jti.
func (i *Issuer) Mint(sub string, aud any, opts ...Option) string {
	now := i.Now().Unix()
	var jti [12]byte
	rand.Read(jti[:])
	k := i.Current()
	m := &mint{
		header: map[string]any{"typ": "JWT"},
		claims: map[string]any{"iss": i.URL, "sub": sub, "iat": now, "nbf": now, "exp": now + 3600, "jti": base64.RawURLEncoding.EncodeToString(jti[:])},
		key:    k,
	}
	if aud != nil {
		m.claims["aud"] = aud
	}
	for _, o := range opts {
		o(m)
	}
	if _, ok := m.header["kid"]; !ok {
		m.header["kid"] = m.key.KID
	}
	switch m.mode {
	case "none":
		m.header["alg"] = "none"
	case "hmac":
		m.header["alg"] = "HS256"
	default:
		if _, ok := m.header["alg"]; !ok {
			m.header["alg"] = m.key.Alg
		}
	}
	for name, v := range m.header {
		if v == nil {
			delete(m.header, name)
		}
	}
	signingInput := encode(m.header) + "." + encode(m.claims)
	var sig []byte
	switch m.mode {
	case "none":
	case "hmac":
		der, _ := x509.MarshalPKIXPublicKey(k.Priv.Public())
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(signingInput))
		sig = mac.Sum(nil)
	default:
		sig = sign(m.key, signingInput)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// NoKID is Header("kid", nil): a token without kid.
func NoKID() Option { return Header("kid", nil) }

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sign(k *Key, input string) []byte {
	sum := sha256.Sum256([]byte(input))
	switch p := k.Priv.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, sum[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
	panic(fmt.Sprintf("testoidc: key type %T", k.Priv))
}

// Kubernetes mints a projected service account token of namespace ns and
// service account sa, as a cluster's issuer does: sub
// system:serviceaccount:NS:SA, aud the given audiences, and the
// kubernetes.io claim object.
func (i *Issuer) Kubernetes(ns, sa string, aud []string, opts ...Option) string {
	sub := "system:serviceaccount:" + ns + ":" + sa
	k8s := map[string]any{
		"namespace":      ns,
		"serviceaccount": map[string]any{"name": sa, "uid": uid()},
		"pod":            map[string]any{"name": sa + "-7c9f8d-x2x4k", "uid": uid()},
	}
	return i.Mint(sub, aud, append([]Option{Claim("kubernetes.io", k8s)}, opts...)...)
}

// GitHubActions mints a GitHub Actions OIDC token of a job of repo
// ("org/repo") on ref ("refs/heads/main"): sub repo:ORG/REPO:ref:REF and
// the repository, ref, workflow and job_workflow_ref claims.
func (i *Issuer) GitHubActions(repo, ref, aud string, opts ...Option) string {
	sub := "repo:" + repo + ":ref:" + ref
	gh := []Option{
		Claim("repository", repo), Claim("ref", ref), Claim("ref_type", "branch"),
		Claim("repository_owner", repo[:max(0, indexByte(repo, '/'))]),
		Claim("workflow", "deploy"), Claim("event_name", "push"), Claim("actor", "octocat"),
		Claim("job_workflow_ref", repo+"/.github/workflows/deploy.yml@"+ref),
		Claim("run_id", "1234567890"),
	}
	return i.Mint(sub, aud, append(gh, opts...)...)
}

// SPIFFE mints a JWT-SVID of the SPIFFE ID id ("spiffe://domain/path").
func (i *Issuer) SPIFFE(id string, aud []string, opts ...Option) string {
	return i.Mint(id, aud, opts...)
}

func indexByte(s string, b byte) int {
	for j := 0; j < len(s); j++ {
		if s[j] == b {
			return j
		}
	}
	return -1
}

func uid() string {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	return fmt.Sprintf("%016x-0000-4000-8000-%012x", n.Uint64(), n.Uint64()&0xffffffffffff)
}
