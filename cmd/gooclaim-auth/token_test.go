package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const seedBody = "{\n  \"grant_type\": \"client_credentials\",\n  \"client_id\": \"gooclaim_app_12345\",\n  \"client_secret\": \"S3cureP@ssw0rd!\"\n}"

// importSeedClient imports the seed's example client as a user would.
func importSeedClient(t *testing.T, ts *testServer, scope string) {
	t.Helper()
	_, errOut, code := ts.cli("S3cureP@ssw0rd!\n", "clients", "create", "--client-id", "gooclaim_app_12345",
		"--name", "seed example", "--scope", scope, "--secret-stdin")
	if code != 0 {
		t.Fatalf("import seed client: %s", errOut)
	}
	ts.waitForClient("gooclaim_app_12345", true)
}

func TestSeedExampleVerbatim(t *testing.T) {
	ts := startTestServer(t, nil)
	importSeedClient(t, ts, "claims:read claims:write")

	r := ts.jsonReq(seedBody)
	tok := r.token(t)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.Scope != "claims:read claims:write" || tok.AccessToken == "" {
		t.Fatalf("token response %s", r.body)
	}
	// Every token answer carries these; nosniff's value is one slice shared
	// by every response, so the second answer checks it was not changed.
	headers := map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}
	checkHeaders := func(r response) {
		t.Helper()
		for h, want := range headers {
			if got := r.Header.Values(h); len(got) != 1 || got[0] != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
	}
	checkHeaders(r)
	var m map[string]any
	json.Unmarshal(r.body, &m)
	for _, k := range []string{"access_token", "token_type", "expires_in", "scope"} {
		if _, ok := m[k]; !ok {
			t.Errorf("response lacks %s", k)
		}
	}
	// A second use is served by the remembered fast hash: same answer.
	r2 := ts.jsonReq(seedBody)
	r2.token(t)
	checkHeaders(r2)
	if strings.Contains(ts.logs.String(), "S3cureP@ssw0rd!") {
		t.Fatal("the secret appears in the logs")
	}
}

func TestTokenIsRFC9068AndVerifiesWithJWKS(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read claims:write", "--audience", "https://claims.gooclaim.com", "--audience", "https://docs.gooclaim.com", "--token-ttl", "15m")
	before := time.Now().Unix()
	tok := ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"claims:read"}}.Encode()).token(t)
	if tok.ExpiresIn != 900 || tok.Scope != "claims:read" {
		t.Fatalf("expires_in %d scope %q, want 900 and claims:read", tok.ExpiresIn, tok.Scope)
	}

	jwks := fetchJWKS(t, ts)
	parsed, err := jose.ParseSignedCompact(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	hdr := parsed.Signatures[0].Protected
	if hdr.ExtraHeaders["typ"] != "at+jwt" || hdr.Algorithm != "ES256" || hdr.KeyID == "" {
		t.Fatalf("header %+v: want typ at+jwt, alg ES256, a kid", hdr)
	}
	keys := jwks.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s is not in the JWKS", hdr.KeyID)
	}
	payload, err := parsed.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("signature does not verify with the served JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c["iss"] != ts.srv.Issuer() || c["sub"] != id || c["client_id"] != id || c["aud"] != "https://claims.gooclaim.com" || c["scope"] != "claims:read" {
		t.Fatalf("claims %v", c)
	}
	iat, exp := int64(c["iat"].(float64)), int64(c["exp"].(float64))
	if iat < before || iat > time.Now().Unix() || exp-iat != 900 {
		t.Fatalf("iat %d exp %d", iat, exp)
	}
	if jti, _ := c["jti"].(string); len(jti) < 22 {
		t.Fatalf("jti %q: want at least 128 bits", jti)
	}
	// resource (RFC 8707) and audience pick among the allowed audiences.
	for _, param := range []string{"resource", "audience"} {
		tok := ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, param: {"https://docs.gooclaim.com"}}.Encode()).token(t)
		if aud := claimsOf(t, tok.AccessToken)["aud"]; aud != "https://docs.gooclaim.com" {
			t.Errorf("%s: aud %v", param, aud)
		}
	}
}

func fetchJWKS(t *testing.T, ts *testServer) jose.JSONWebKeySet {
	t.Helper()
	r := ts.do("GET", "/.well-known/jwks.json", "", "")
	if r.StatusCode != 200 {
		t.Fatalf("JWKS status %d", r.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("JWKS %s: %v", r.body, err)
	}
	return set
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

func headerOf(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.Unmarshal(b, &h)
	return h
}

func TestJTIUnique(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.rateLimit = rateValue{Limit: 1000, Window: time.Minute} })
	id, secret := ts.createClient("--name", "svc", "--scope", "a")
	seen := map[string]bool{}
	for range 200 {
		jti := claimsOf(t, ts.form("grant_type=client_credentials&client_id="+id+"&client_secret="+secret).token(t).AccessToken)["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %s repeated", jti)
		}
		seen[jti] = true
	}
}

// TestOAuth2ClientLibrary: golang.org/x/oauth2's clientcredentials, the
// client most Go services use, with both of its authentication styles.
func TestOAuth2ClientLibrary(t *testing.T) {
	ts := startTestServer(t, nil)
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read claims:write")
	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "post": oauth2.AuthStyleInParams, "auto": oauth2.AuthStyleAutoDetect} {
		t.Run(name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: ts.url + "/v1/auth/token", Scopes: []string{"claims:read"}, AuthStyle: style}
			tok, err := cfg.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.AccessToken == "" || time.Until(tok.Expiry) < 59*time.Minute {
				t.Fatalf("token %+v", tok)
			}
			if got := tok.Extra("scope"); got != "claims:read" {
				t.Fatalf("scope %v", got)
			}
		})
	}
	// A wrong secret surfaces as the library's RetrieveError with our code.
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: "wrong", TokenURL: ts.url + "/v1/auth/token", AuthStyle: oauth2.AuthStyleInHeader}
	_, err := cfg.Token(context.Background())
	re, ok := err.(*oauth2.RetrieveError)
	if !ok || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
}

// TestBasicFormURLEncoding: RFC 6749 §2.3.1 — the id and secret are
// form-url-encoded before Basic encoding.
func TestBasicFormURLEncoding(t *testing.T) {
	ts := startTestServer(t, nil)
	_, errOut, code := ts.cli("p@ss:w+rd %/&=\n", "clients", "create", "--client-id", "legacy:app@corp", "--name", "legacy", "--scope", "x", "--secret-stdin")
	if code != 0 {
		t.Fatal(errOut)
	}
	ts.waitForClient("legacy:app@corp", true)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("legacy:app@corp") + ":" + url.QueryEscape("p@ss:w+rd %/&=")))
	tok := ts.form("grant_type=client_credentials", "Authorization", "Basic "+basic).token(t)
	if claimsOf(t, tok.AccessToken)["sub"] != "legacy:app@corp" {
		t.Fatal("wrong subject")
	}
}

func TestDiscoveryDocuments(t *testing.T) {
	ts := startTestServer(t, nil)
	ts.createClient("--name", "svc", "--scope", "claims:read claims:write")
	var first []byte
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := ts.do("GET", path, "", "")
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		iss := ts.srv.Issuer()
		want := map[string]any{"issuer": iss, "token_endpoint": iss + "/v1/auth/token", "jwks_uri": iss + "/.well-known/jwks.json"}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", path, k, m[k], v)
			}
		}
		if !containsAny(m["grant_types_supported"], "client_credentials") ||
			!containsAny(m["token_endpoint_auth_methods_supported"], "client_secret_basic") ||
			!containsAny(m["token_endpoint_auth_methods_supported"], "client_secret_post") ||
			!containsAny(m["scopes_supported"], "claims:write") {
			t.Errorf("%s: %s", path, r.body)
		}
		if _, ok := m["response_types_supported"].([]any); !ok {
			t.Errorf("%s: response_types_supported (required by RFC 8414) missing", path)
		}
		if first == nil {
			first = r.body
		} else if string(first) != string(r.body) {
			t.Error("the two discovery documents differ")
		}
	}
}

func containsAny(v any, s string) bool {
	l, _ := v.([]any)
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestJWKSDocument(t *testing.T) {
	ts := startTestServer(t, nil)
	r := ts.do("GET", "/.well-known/jwks.json", "", "")
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
		t.Errorf("Cache-Control %q", cc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal(r.body, &raw)
	if len(raw.Keys) != 1 {
		t.Fatalf("keys: %s", r.body)
	}
	for _, f := range []string{"kid", "kty", "alg", "use", "crv", "x", "y"} {
		if raw.Keys[0][f] == nil {
			t.Errorf("JWK lacks %s", f)
		}
	}
	if raw.Keys[0]["use"] != "sig" || raw.Keys[0]["d"] != nil {
		t.Errorf("JWK %v", raw.Keys[0])
	}
	// Conditional GET.
	etag := r.Header.Get("ETag")
	for inm, want := range map[string]int{
		etag:                     http.StatusNotModified,
		"W/" + etag:              http.StatusNotModified, // weak comparison (RFC 9110 §13.1.2)
		`"other", ` + etag:       http.StatusNotModified,
		"*":                      http.StatusNotModified,
		`"other"`:                http.StatusOK,
		etag[:len(etag)-2] + `"`: http.StatusOK,
	} {
		if r2 := ts.do("GET", "/.well-known/jwks.json", "", "", "If-None-Match", inm); r2.StatusCode != want {
			t.Errorf("If-None-Match %s: status %d, want %d", inm, r2.StatusCode, want)
		}
	}
}

func TestSigningAlgorithms(t *testing.T) {
	for _, alg := range []string{"EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			ts := startTestServer(t, nil, func(c *serveConfig) { c.signingAlg = alg })
			id, secret := ts.createClient("--name", "svc", "--scope", "a")
			tok := ts.form("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret).token(t)
			parsed, err := jose.ParseSignedCompact(tok.AccessToken, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			jwks := fetchJWKS(t, ts)
			keys := jwks.Key(parsed.Signatures[0].Protected.KeyID)
			if len(keys) != 1 || keys[0].Algorithm != alg {
				t.Fatalf("JWKS key for %s: %+v", alg, keys)
			}
			if _, err := parsed.Verify(keys[0].Key); err != nil {
				t.Fatal(err)
			}
		})
	}
}
