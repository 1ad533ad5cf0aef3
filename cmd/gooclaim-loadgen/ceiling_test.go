package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"go/parser"
	"go/token"
	"go/types"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCeilingImportsStandardLibraryOnly keeps the ceiling a measure of the
// standard library alone: no import whose first path element has a dot (a
// module, this one or another), and no name used in ceiling.go but
// declared elsewhere in this package, whose files do import the module.
func TestCeilingImportsStandardLibraryOnly(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "ceiling.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		imported[path[strings.LastIndexByte(path, '/')+1:]] = true
		if imp.Name != nil {
			imported[imp.Name.Name] = true
		}
		first, _, _ := strings.Cut(path, "/")
		if strings.Contains(first, ".") {
			t.Errorf("ceiling.go imports %s: the ceiling must use the standard library only", path)
		}
	}
	// The parser resolves names declared in the file; what is left must be
	// an imported package or the language's own (string, len, nil…).
	for _, id := range f.Unresolved {
		if !imported[id.Name] && types.Universe.Lookup(id.Name) == nil {
			t.Errorf("ceiling.go uses %s, declared in another file of the package (%s): keep the ceiling self-contained", id.Name, fset.Position(id.Pos()))
		}
	}
}

// ceilingFixture writes a key and two clients as the parent does and
// returns the ceiling's handler and the key's public half.
func ceilingFixture(t *testing.T, priv crypto.Signer) (*ceilingHandler, crypto.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, clientsFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "clients.json")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]ceilingClient{{ClientID: "client-a", ClientSecret: "secret a+b", Incarnation: "inc-a"}, {ClientID: "client-b", ClientSecret: "other"}, {ClientID: "client-r", ClientSecret: "kept", Reuse: true}})
	if err := os.WriteFile(clientsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := newCeilingHandler(keyFile, "kid-1", clientsFile)
	if err != nil {
		t.Fatal(err)
	}
	h.issuer, h.audience, h.scope, h.ttl = "https://localhost:8443", "https://api.example", testScope, time.Hour
	return h, priv.Public()
}

func TestCeilingIssuesVerifiableTokens(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	form := func(v url.Values) (string, string) { return "application/x-www-form-urlencoded", v.Encode() }
	for _, tc := range []struct {
		alg  string
		priv crypto.Signer
	}{{"ES256", ecKey}, {"EdDSA", edKey}} {
		t.Run(tc.alg, func(t *testing.T) {
			h, pub := ceilingFixture(t, tc.priv)
			if h.alg != tc.alg {
				t.Fatalf("alg %s, want %s", h.alg, tc.alg)
			}
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("client-a")+":"+url.QueryEscape("secret a+b")))
			for _, rc := range []struct {
				name, contentType, body, authz string
				status                         int
				wantErr                        string
			}{
				{"form", "", "", "", 200, ""},
				{"json", "application/json", `{"grant_type":"client_credentials","client_id":"client-a","client_secret":"secret a+b"}`, "", 200, ""},
				{"basic", "application/x-www-form-urlencoded", "grant_type=client_credentials", basic, 200, ""},
				{"wrong secret", "", "wrong", "", 401, "invalid_client"},
				{"unknown client", "", "unknown", "", 401, "invalid_client"},
				{"other grant", "application/x-www-form-urlencoded", "grant_type=password&client_id=client-a&client_secret=secret+a%2Bb", "", 400, "unsupported_grant_type"},
			} {
				ct, body := rc.contentType, rc.body
				switch {
				case rc.name == "form":
					ct, body = form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"client-a"}, "client_secret": {"secret a+b"}})
				case body == "wrong":
					ct, body = form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"client-a"}, "client_secret": {"secret a"}})
				case body == "unknown":
					ct, body = form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"client-z"}, "client_secret": {"secret a+b"}})
				}
				req := httptest.NewRequest(http.MethodPost, "/v1/auth/token", strings.NewReader(body))
				req.Header.Set("Content-Type", ct)
				if rc.authz != "" {
					req.Header.Set("Authorization", rc.authz)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != rc.status || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
					t.Errorf("%s: status %d, headers %v; want %d, no-store JSON; body %s", rc.name, rec.Code, rec.Header(), rc.status, rec.Body)
					continue
				}
				if rc.status != 200 {
					var e struct{ Error string }
					if json.Unmarshal(rec.Body.Bytes(), &e); e.Error != rc.wantErr {
						t.Errorf("%s: error %q, want %q", rc.name, e.Error, rc.wantErr)
					}
					continue
				}
				checkCeilingToken(t, rc.name, tc.alg, pub, rec.Body.Bytes())
			}
		})
	}
}

// checkCeilingToken verifies a token response's signature with pub and
// checks its header and claims.
func checkCeilingToken(t *testing.T, name, alg string, pub crypto.PublicKey, body []byte) {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.Scope != testScope {
		t.Fatalf("%s: response %s (%v)", name, body, err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("%s: not a JWS: %s", name, tok.AccessToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	input := []byte(parts[0] + "." + parts[1])
	var ok bool
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(input)
		ok = len(sig) == 64 && ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, input, sig)
	}
	if !ok {
		t.Errorf("%s: the %s signature does not verify", name, alg)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if want := `{"alg":"` + alg + `","typ":"at+jwt","kid":"kid-1"}`; string(header) != want {
		t.Errorf("%s: header %s, want %s", name, header, want)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	jti, _ := c["jti"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(raw) != 16 {
		t.Errorf("%s: jti %q: want 16 random bytes, base64url", name, jti)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if c["iss"] != "https://localhost:8443" || c["sub"] != "client-a" || c["aud"] != "https://api.example" || c["client_id"] != "client-a" ||
		c["scope"] != testScope || c["client_incarnation"] != "inc-a" || exp-iat != 3600 || len(c) != 9 {
		t.Errorf("%s: claims %s", name, payload)
	}
}

// TestCeilingReuse: a client marked reuse gets its kept token again while
// more than half its lifetime is left, with the remaining expires_in, and a
// new one after; any other client a new token every time.
func TestCeilingReuse(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, pub := ceilingFixture(t, edKey)
	ask := func(id, secret string) (token string, expiresIn int64) {
		t.Helper()
		body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/v1/auth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: status %d: %s", id, rec.Code, rec.Body)
		}
		if id == "client-a" { // the claims it checks are client-a's
			checkCeilingToken(t, id, "EdDSA", pub, rec.Body.Bytes())
		}
		var tr ceilingToken
		if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		return tr.AccessToken, tr.ExpiresIn
	}
	a1, _ := ask("client-a", "secret a+b")
	if a2, _ := ask("client-a", "secret a+b"); a1 == a2 {
		t.Error("a client without reuse got the same token twice")
	}
	r1, _ := ask("client-r", "kept")
	r2, exp := ask("client-r", "kept")
	if r1 != r2 || exp > int64(h.ttl/time.Second) || exp < int64(h.ttl/time.Second)-5 {
		t.Errorf("reusing client: same token %v, expires_in %d of %v", r1 == r2, exp, h.ttl)
	}
	// The kept token past half its lifetime: a new one.
	k := h.kept["client-r"]
	k.iat, k.exp = k.iat-int64(h.ttl/time.Second)/2-1, k.exp-int64(h.ttl/time.Second)/2-1
	h.kept["client-r"] = k
	if r3, exp := ask("client-r", "kept"); r3 == r1 || exp != int64(h.ttl/time.Second) {
		t.Errorf("past half its lifetime: same token %v, expires_in %d", r3 == r1, exp)
	}
}
