package verify_test

// An authorization server with an RFC 7662 introspection endpoint, for the
// tests of Config.Introspection (introspect_test.go). It does not use
// internal/testserver.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/verify"
)

const (
	introAudience = "https://api.gooclaim.com"
	introspectURI = "/v1/auth/introspect"
	// introClientID and introSecret have characters that RFC 6749 §2.3.1's
	// form-url-encoding changes.
	introClientID = "rs:claims/api"
	introSecret   = "s3cr+t p@ss%=é"
)

// introIssuer is an authorization server for the introspection tests:
// RFC 8414 metadata, a JWK Set with one ES256 key whose tokens it signs
// (typ at+jwt), and an RFC 7662 introspection endpoint that authenticates
// its caller with client_secret_basic and answers from a revocation set.
type introIssuer struct {
	*httptest.Server
	Issuer string

	key    *ecdsa.PrivateKey
	kid    string
	signer jose.Signer

	// metadata is the metadata document; "{{url}}" is replaced by Issuer.
	metadata      atomic.Pointer[string]
	metadataHits  atomic.Int64
	introspects   atomic.Int64                     // requests to the introspection endpoint
	override      atomic.Pointer[http.HandlerFunc] // answers introspection requests instead when set
	gate          atomic.Pointer[chan struct{}]    // introspection waits for it to close when set
	lastBasicAuth atomic.Pointer[[2]string]        // the raw user and password of the last request
	lastForm      atomic.Pointer[url.Values]       // the last request's form
	revokedMu     sync.Mutex                       // guards revoked
	revoked       map[string]bool                  // by jti
}

func newIntroIssuer(t testing.TB) *introIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ii := &introIssuer{key: key, kid: "k1", revoked: map[string]bool{}}
	ii.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", ii.kid))
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: ii.kid, Algorithm: "ES256", Use: "sig"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ii.SetMetadata(`{"issuer":"{{url}}","jwks_uri":"{{url}}/jwks","token_endpoint":"{{url}}/v1/auth/token","introspection_endpoint":"{{url}}` + introspectURI + `"}`)
	ii.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			ii.metadataHits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(strings.ReplaceAll(*ii.metadata.Load(), "{{url}}", ii.Issuer)))
		case "/jwks":
			w.Header().Set("Content-Type", "application/jwk-set+json")
			w.Write(jwks)
		case introspectURI:
			ii.introspects.Add(1)
			if g := ii.gate.Load(); g != nil {
				<-*g
			}
			if h := ii.override.Load(); h != nil {
				(*h)(w, r)
				return
			}
			ii.introspect(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	ii.Issuer = ii.URL
	t.Cleanup(ii.Close)
	return ii
}

// SetMetadata replaces the metadata document.
func (ii *introIssuer) SetMetadata(doc string) { ii.metadata.Store(&doc) }

// Override makes h answer the introspection requests.
func (ii *introIssuer) Override(h http.HandlerFunc) { ii.override.Store(&h) }

// Revoke makes the tokens with this jti inactive.
func (ii *introIssuer) Revoke(jti string) {
	ii.revokedMu.Lock()
	defer ii.revokedMu.Unlock()
	ii.revoked[jti] = true
}

// introspect is the RFC 7662 endpoint, as Gooclaim Auth's: the caller
// authenticates with client_secret_basic (form-url-encoded, RFC 6749
// §2.3.1) and must be introClientID; a token that verifies and is not
// revoked is active, with its claims.
func (ii *introIssuer) introspect(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	user, pass, ok := r.BasicAuth()
	if ok {
		ii.lastBasicAuth.Store(&[2]string{user, pass})
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if !ok || err1 != nil || err2 != nil || id != introClientID || secret != introSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="gooclaim"`)
		writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	form := r.PostForm
	ii.lastForm.Store(&form)
	jws, err := jose.ParseSignedCompact(form.Get("token"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		writeJSON(http.StatusOK, map[string]any{"active": false})
		return
	}
	payload, err := jws.Verify(&ii.key.PublicKey)
	if err != nil {
		writeJSON(http.StatusOK, map[string]any{"active": false})
		return
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	ii.revokedMu.Lock()
	revoked := ii.revoked[claims["jti"].(string)]
	ii.revokedMu.Unlock()
	if revoked {
		writeJSON(http.StatusOK, map[string]any{"active": false})
		return
	}
	claims["active"], claims["token_type"] = true, "Bearer"
	writeJSON(http.StatusOK, claims)
}

// Claims returns valid claims for a token issued at now.
func (ii *introIssuer) Claims(now time.Time, jti string) map[string]any {
	return map[string]any{
		"iss": ii.Issuer, "sub": "svc-importer", "client_id": "svc-importer", "aud": introAudience,
		"scope": "claims:read", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": jti,
	}
}

// Sign returns the claims signed as an access token.
func (ii *introIssuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := ii.signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Token returns a valid access token issued at now with this jti.
func (ii *introIssuer) Token(t testing.TB, now time.Time, jti string) string {
	t.Helper()
	return ii.Sign(t, ii.Claims(now, jti))
}

// introVerifier returns a Verifier for ii with introspection on, its clock
// clock, edited by edit.
func introVerifier(t testing.TB, ii *introIssuer, clock *authtest.Clock, edit func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{
		Issuer: ii.Issuer, Audience: introAudience, Now: clock.Now,
		Introspection: &verify.Introspection{ClientID: introClientID, ClientSecret: introSecret},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// refused checks that err is an invalid_token *verify.Error whose
// description contains want and whose full text (with the cause) contains
// each of causes.
func refused(t testing.TB, err error, want string, causes ...string) {
	t.Helper()
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v; want a *verify.Error", err, err)
	}
	if ve.Code != verify.CodeInvalidToken || !strings.Contains(ve.Description, want) {
		t.Fatalf("error %s: %q; want invalid_token saying %q", ve.Code, ve.Description, want)
	}
	for _, c := range causes {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not say %q", err, c)
		}
	}
}

const notChecked = "the token's status could not be checked with the authorization server"
