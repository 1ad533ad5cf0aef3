package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/internal/dpop"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/internal/testservices"
)

// dpopIssuer is the issuer URL the DPoP tests configure, as a server
// behind a proxy knows itself: not the loopback address requests reach.
const dpopIssuer = "https://auth.example.test"

// dpopResult is a token endpoint answer.
type dpopResult struct {
	status int
	body   map[string]any
	raw    string
	nonce  string
}

// postDPoP sends a client credentials request with the given DPoP headers.
func postDPoP(t *testing.T, ts *testserver.Server, id, secret string, proofs ...string) dpopResult {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+httpapi.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return dpopResult{resp.StatusCode, m, string(b), resp.Header.Get("DPoP-Nonce")}
}

// craftProof signs any header and claims with key (ES256), so that each
// attack can change one thing of a good proof.
func craftProof(t *testing.T, key *ecdsa.PrivateKey, mut func(h, c map[string]any)) string {
	t.Helper()
	raw, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey})
	var jwk map[string]any
	json.Unmarshal(raw, &jwk)
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
	c := map[string]any{"jti": rand.Text(), "htm": "POST", "htu": dpopIssuer + httpapi.TokenPath, "iat": time.Now().Unix()}
	if mut != nil {
		mut(h, c)
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// TestDPoPTokenEndpoint obtains a DPoP-bound token over HTTP from a real
// server and tries each attack on a proof; every refused row fails if its
// check is removed, since the proof is good but for that one thing.
func TestDPoPTokenEndpoint(t *testing.T) {
	ts := testserver.New(t, testserver.Options{Issuer: dpopIssuer})
	id, secret := ts.CreateClient(t, []string{"claims:read", auth.ScopeIntrospect})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jkt, _ := dpop.Thumbprint(&key.PublicKey)

	proof, err := dpop.NewProof(key, "", "POST", dpopIssuer+httpapi.TokenPath, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := postDPoP(t, ts, id, secret, proof)
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("DPoP token: %d %s", res.status, res.raw)
	}
	tok := res.body["access_token"].(string)
	if cnf, _ := tokenClaims(t, tok)["cnf"].(map[string]any); cnf["jkt"] != jkt {
		t.Fatalf("cnf %v, want jkt %s", cnf, jkt)
	}
	if res.nonce != "" {
		t.Errorf("a DPoP-Nonce with nonces off: %q", res.nonce)
	}
	// Introspection reports the binding.
	resp, err := ts.Client().PostForm(ts.URL+httpapi.IntrospectPath, url.Values{"client_id": {id}, "client_secret": {secret}, "token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	json.NewDecoder(resp.Body).Decode(&in)
	resp.Body.Close()
	if cnf, _ := in["cnf"].(map[string]any); in["active"] != true || in["token_type"] != "DPoP" || cnf["jkt"] != jkt {
		t.Fatalf("introspection %v", in)
	}
	// Bearer without a proof, unchanged.
	if res := postDPoP(t, ts, id, secret); res.status != http.StatusOK || res.body["token_type"] != "Bearer" || tokenClaims(t, res.body["access_token"].(string))["cnf"] != nil {
		t.Fatalf("Bearer: %d %s", res.status, res.raw)
	}
	// Discovery.
	resp, err = ts.Client().Get(ts.URL + httpapi.MetadataPath)
	if err != nil {
		t.Fatal(err)
	}
	var md httpapi.Metadata
	json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if strings.Join(md.DPoPSigningAlgValuesSupported, " ") != strings.Join(dpop.Algorithms, " ") {
		t.Errorf("dpop_signing_alg_values_supported %v", md.DPoPSigningAlgValuesSupported)
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, row := range []struct {
		name   string
		proofs func() []string
		want   string
	}{
		{"replayed jti", func() []string { return []string{proof} }, "used before"},
		{"two DPoP headers", func() []string { return []string{craftProof(t, key, nil), craftProof(t, key, nil)} }, "several DPoP headers"},
		{"another URL", func() []string {
			return []string{craftProof(t, key, func(h, c map[string]any) { c["htu"] = dpopIssuer + httpapi.IntrospectPath })}
		}, "htu"},
		{"the Host reached, not the configured issuer", func() []string {
			return []string{craftProof(t, key, func(h, c map[string]any) { c["htu"] = ts.URL + httpapi.TokenPath })}
		}, "htu"},
		{"another method", func() []string { return []string{craftProof(t, key, func(h, c map[string]any) { c["htm"] = "GET" })} }, "htm"},
		{"stale iat", func() []string {
			return []string{craftProof(t, key, func(h, c map[string]any) { c["iat"] = time.Now().Add(-2 * time.Minute).Unix() })}
		}, "ago"},
		{"future iat", func() []string {
			return []string{craftProof(t, key, func(h, c map[string]any) { c["iat"] = time.Now().Add(time.Minute).Unix() })}
		}, "future"},
		{"jwk with private parts", func() []string {
			return []string{craftProof(t, key, func(h, c map[string]any) {
				h["jwk"].(map[string]any)["d"] = base64.RawURLEncoding.EncodeToString(mustBytes(t, key))
			})}
		}, `"d"`},
		{"symmetric alg", func() []string { return []string{craftProof(t, key, func(h, c map[string]any) { h["alg"] = "HS256" })} }, "HMAC"},
		{"alg none", func() []string { return []string{craftProof(t, key, func(h, c map[string]any) { h["alg"] = "none" })} }, "none"},
		{"bad signature", func() []string {
			return []string{craftProof(t, key, func(h, c map[string]any) { h["jwk"] = craftJWK(t, &other.PublicKey) })}
		}, "signature"},
		{"missing typ", func() []string { return []string{craftProof(t, key, func(h, c map[string]any) { delete(h, "typ") })} }, "typ"},
	} {
		t.Run(row.name, func(t *testing.T) {
			res := postDPoP(t, ts, id, secret, row.proofs()...)
			if res.status != http.StatusBadRequest || res.body["error"] != "invalid_dpop_proof" || !strings.Contains(res.body["error_description"].(string), row.want) {
				t.Fatalf("%d %s; want 400 invalid_dpop_proof mentioning %q", res.status, res.raw, row.want)
			}
		})
	}
	// A good crafted proof is accepted, so that the rows fail for their change.
	if res := postDPoP(t, ts, id, secret, craftProof(t, key, nil)); res.status != http.StatusOK {
		t.Fatalf("crafted proof: %d %s", res.status, res.raw)
	}
}

func craftJWK(t *testing.T, pub *ecdsa.PublicKey) map[string]any {
	raw, _ := json.Marshal(jose.JSONWebKey{Key: pub})
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// TestDPoPNonces: with nonces required, a proof without one, or with a
// forged one, gets use_dpop_nonce and a DPoP-Nonce to retry with; a nonce
// made by another node sharing the key-encryption key is accepted (the
// NonceSource tests hold that; here the node's own).
func TestDPoPNonces(t *testing.T) {
	ts := testserver.New(t, testserver.Options{Issuer: dpopIssuer, DPoPNonceRequired: true})
	id, secret := ts.CreateClient(t, []string{"claims:read"})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	htu := dpopIssuer + httpapi.TokenPath

	p, _ := dpop.NewProof(key, "", "POST", htu, "", "", time.Now())
	res := postDPoP(t, ts, id, secret, p)
	if res.status != http.StatusBadRequest || res.body["error"] != "use_dpop_nonce" || res.nonce == "" {
		t.Fatalf("no nonce: %d %s nonce %q", res.status, res.raw, res.nonce)
	}
	p, _ = dpop.NewProof(key, "", "POST", htu, "", strings.Repeat("A", len(res.nonce)), time.Now())
	if res := postDPoP(t, ts, id, secret, p); res.status != http.StatusBadRequest || res.body["error"] != "use_dpop_nonce" || res.nonce == "" {
		t.Fatalf("forged nonce: %d %s", res.status, res.raw)
	}
	p, _ = dpop.NewProof(key, "", "POST", htu, "", res.nonce, time.Now())
	ok := postDPoP(t, ts, id, secret, p)
	if ok.status != http.StatusOK || ok.body["token_type"] != "DPoP" || ok.nonce == "" {
		t.Fatalf("with the nonce: %d %s nonce %q", ok.status, ok.raw, ok.nonce)
	}
	// A Bearer request is unaffected, and told the nonce too.
	if res := postDPoP(t, ts, id, secret); res.status != http.StatusOK || res.body["token_type"] != "Bearer" {
		t.Fatalf("Bearer: %d %s", res.status, res.raw)
	}
}

// TestDPoPReplayAcrossNodes: two nodes sharing one Redis replay cache (and
// one issuer URL, as a fleet behind a load balancer): a proof used on one
// is refused on the other.
func TestDPoPReplayAcrossNodes(t *testing.T) {
	redisURL := testservices.RedisURL(t)
	a := testserver.New(t, testserver.Options{Issuer: dpopIssuer, RedisURL: redisURL})
	b := testserver.New(t, testserver.Options{Issuer: dpopIssuer, RedisURL: redisURL})
	idA, secretA := a.CreateClient(t, []string{"claims:read"})
	idB, secretB := b.CreateClient(t, []string{"claims:read"})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p, _ := dpop.NewProof(key, "", "POST", dpopIssuer+httpapi.TokenPath, "", "", time.Now())
	if res := postDPoP(t, a, idA, secretA, p); res.status != http.StatusOK {
		t.Fatalf("node A: %d %s", res.status, res.raw)
	}
	if res := postDPoP(t, b, idB, secretB, p); res.status != http.StatusBadRequest || res.body["error"] != "invalid_dpop_proof" {
		t.Fatalf("the proof replayed on node B: %d %s", res.status, res.raw)
	}
}

// mustBytes is key's private scalar, for a jwk that leaks it.
func mustBytes(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
