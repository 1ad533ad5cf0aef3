package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
)

// clientMap is an in-memory issuer.ClientLookup.
type clientMap map[string]*auth.Client

func (m clientMap) Lookup(id string) *auth.Client { return m[id] }

var _ issuer.ClientLookup = clientMap(nil)

const (
	testIssuer   = "https://auth.test"
	testAudience = "https://api.test"
	testTTL      = 30 * time.Minute
)

// The test clients' secrets.
var (
	secretA       = credential.NewSecret()
	secretB       = credential.NewSecret()
	secretOff     = credential.NewSecret()
	secretExpired = credential.NewSecret()
)

func testClients() clientMap {
	secret := func(s string) []auth.Secret {
		return []auth.Secret{{ID: "s1", Hash: credential.HashGenerated(s), CreatedAt: t0}}
	}
	return clientMap{
		"svc-a": {ID: "svc-a", Scopes: []string{"read", "write", "admin"}, Secrets: secret(secretA)},
		"svc-b": {ID: "svc-b", Scopes: []string{"Read", "orders:write"}, Audiences: []string{"https://a.example", "https://b.example"},
			TokenTTL: 5 * time.Minute, RateLimit: auth.Rate{Limit: 5, Window: time.Minute}, Secrets: secret(secretB)},
		"svc-long": {ID: "svc-long", TokenTTL: 48 * time.Hour, Secrets: secret(secretA)},
		"svc-off":  {ID: "svc-off", Scopes: []string{"read"}, Disabled: true, Secrets: secret(secretOff)},
		"svc-expired": {ID: "svc-expired", Scopes: []string{"read"}, Secrets: []auth.Secret{
			{ID: "s1", Hash: credential.HashGenerated(secretExpired), CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0}}},
	}
}

type fixture struct {
	issuer *issuer.Issuer
	ring   *issuer.KeyRing
	clock  *authtest.Clock
	key    auth.Key // the signing key
}

// newFixture returns an Issuer over the test clients, a key ring over a real
// store with its first key, and an in-memory limiter, all on one clock.
func newFixture(t *testing.T, cfg issuer.Config) *fixture {
	t.Helper()
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(issuer.KeyPolicy{}, testKEK(), db, clock)
	if !maintain(t, ring) {
		t.Fatal("Maintain created no key")
	}
	keys := reload(t, ring, db)
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: clock, SweepInterval: -1})
	t.Cleanup(limiter.Close)
	return &fixture{issuer: issuer.New(cfg, testClients(), ring, limiter, clock), ring: ring, clock: clock, key: keys[0]}
}

func testConfig() issuer.Config {
	return issuer.Config{Issuer: testIssuer, Audience: testAudience, TokenTTL: testTTL, IPRateLimit: auth.Rate{Limit: 3, Window: time.Minute}}
}

func creds(id, secret string) auth.TokenRequest {
	return auth.TokenRequest{GrantType: auth.GrantClientCredentials, ClientID: id, ClientSecret: secret}
}

// with returns r changed by fn.
func with(r auth.TokenRequest, fn func(*auth.TokenRequest)) auth.TokenRequest {
	fn(&r)
	return r
}

func TestIssue(t *testing.T) {
	a := creds("svc-a", secretA)
	b := creds("svc-b", secretB)
	const authFailed = "client authentication failed"
	for _, tc := range []struct {
		name string
		req  auth.TokenRequest
		// On success:
		scope string
		aud   string
		ttl   time.Duration
		// On error:
		code string
		desc string
	}{
		{name: "grant_type missing", req: with(a, func(r *auth.TokenRequest) { r.GrantType = "" }),
			code: "invalid_request", desc: "grant_type is required"},
		{name: "grant_type password", req: with(a, func(r *auth.TokenRequest) { r.GrantType = "password" }),
			code: "unsupported_grant_type", desc: `grant_type "password" is not supported`},
		{name: "grant_type in another case", req: with(a, func(r *auth.TokenRequest) { r.GrantType = "Client_Credentials" }),
			code: "unsupported_grant_type", desc: `"Client_Credentials"`},
		{name: "grant_type checked before the client", req: auth.TokenRequest{GrantType: "authorization_code"},
			code: "unsupported_grant_type", desc: "use client_credentials"},
		{name: "no client_id", req: auth.TokenRequest{GrantType: auth.GrantClientCredentials},
			code: "invalid_client", desc: "client authentication is required"},
		{name: "no client_id, a secret", req: creds("", secretA),
			code: "invalid_client", desc: "client authentication is required"},
		{name: "no secret", req: creds("svc-a", ""),
			code: "invalid_client", desc: "client_secret is required"},
		{name: "unknown client", req: creds("svc-ghost", secretA), code: "invalid_client", desc: authFailed},
		{name: "wrong secret", req: creds("svc-a", secretB), code: "invalid_client", desc: authFailed},
		{name: "secret differing in case", req: creds("svc-a", strings.ToUpper(secretA)), code: "invalid_client", desc: authFailed},
		{name: "client_id differing in case", req: creds("SVC-A", secretA), code: "invalid_client", desc: authFailed},
		{name: "disabled client", req: creds("svc-off", secretOff), code: "invalid_client", desc: authFailed},
		{name: "expired secret", req: creds("svc-expired", secretExpired), code: "invalid_client", desc: authFailed},
		{name: "auth is checked before scope", req: with(creds("svc-a", "wrong"), func(r *auth.TokenRequest) { r.Scope = "nope" }),
			code: "invalid_client", desc: authFailed},

		{name: "scope absent: all the client's scopes", req: a, scope: "read write admin", aud: testAudience, ttl: testTTL},
		{name: "one scope", req: with(a, func(r *auth.TokenRequest) { r.Scope = "write" }), scope: "write", aud: testAudience, ttl: testTTL},
		{name: "subset in request order", req: with(a, func(r *auth.TokenRequest) { r.Scope = "admin read" }),
			scope: "admin read", aud: testAudience, ttl: testTTL},
		{name: "duplicates removed", req: with(a, func(r *auth.TokenRequest) { r.Scope = "write read write read" }),
			scope: "write read", aud: testAudience, ttl: testTTL},
		{name: "doubled and outer spaces tolerated", req: with(a, func(r *auth.TokenRequest) { r.Scope = " read  write " }),
			scope: "read write", aud: testAudience, ttl: testTTL},
		{name: "scope with a colon", req: with(b, func(r *auth.TokenRequest) { r.Scope = "orders:write" }),
			scope: "orders:write", aud: "https://a.example", ttl: 5 * time.Minute},
		{name: "unknown scope", req: with(a, func(r *auth.TokenRequest) { r.Scope = "read delete" }),
			code: "invalid_scope", desc: `scope "delete" is not allowed`},
		{name: "scope is case-sensitive", req: with(a, func(r *auth.TokenRequest) { r.Scope = "READ" }),
			code: "invalid_scope", desc: `scope "READ" is not allowed`},
		{name: "scope is case-sensitive the other way", req: with(b, func(r *auth.TokenRequest) { r.Scope = "read" }),
			code: "invalid_scope", desc: `scope "read" is not allowed`},
		{name: "scope prefix is not the scope", req: with(a, func(r *auth.TokenRequest) { r.Scope = "rea" }),
			code: "invalid_scope", desc: `scope "rea" is not allowed`},
		{name: "malformed scope with a quote", req: with(a, func(r *auth.TokenRequest) { r.Scope = `read wr"ite` }),
			code: "invalid_scope", desc: `scope "wr\"ite" is malformed`},
		{name: "malformed scope with a backslash", req: with(a, func(r *auth.TokenRequest) { r.Scope = `re\ad` }),
			code: "invalid_scope", desc: "is malformed"},
		{name: "malformed scope with a tab", req: with(a, func(r *auth.TokenRequest) { r.Scope = "read\twrite" }),
			code: "invalid_scope", desc: "is malformed"},
		{name: "malformed scope with non-ASCII", req: with(a, func(r *auth.TokenRequest) { r.Scope = "réad" }),
			code: "invalid_scope", desc: "is malformed"},

		{name: "no audience: the config default", req: a, scope: "read write admin", aud: testAudience, ttl: testTTL},
		{name: "the config default asked for", req: with(a, func(r *auth.TokenRequest) { r.Resource = testAudience }),
			scope: "read write admin", aud: testAudience, ttl: testTTL},
		{name: "another audience without a list", req: with(a, func(r *auth.TokenRequest) { r.Resource = "https://a.example" }),
			code: "invalid_target", desc: `"https://a.example" is not allowed`},
		{name: "no audience: the client's first", req: b, scope: "Read orders:write", aud: "https://a.example", ttl: 5 * time.Minute},
		{name: "resource allowed", req: with(b, func(r *auth.TokenRequest) { r.Resource = "https://b.example" }),
			scope: "Read orders:write", aud: "https://b.example", ttl: 5 * time.Minute},
		{name: "audience allowed", req: with(b, func(r *auth.TokenRequest) { r.Audience = "https://b.example" }),
			scope: "Read orders:write", aud: "https://b.example", ttl: 5 * time.Minute},
		{name: "resource and audience the same", req: with(b, func(r *auth.TokenRequest) { r.Resource, r.Audience = "https://b.example", "https://b.example" }),
			scope: "Read orders:write", aud: "https://b.example", ttl: 5 * time.Minute},
		{name: "resource not allowed", req: with(b, func(r *auth.TokenRequest) { r.Resource = "https://evil.example" }),
			code: "invalid_target", desc: `"https://evil.example" is not allowed`},
		{name: "the config default is not the client's", req: with(b, func(r *auth.TokenRequest) { r.Audience = testAudience }),
			code: "invalid_target", desc: `"` + testAudience + `" is not allowed`},
		{name: "audience differing by a slash", req: with(b, func(r *auth.TokenRequest) { r.Audience = "https://b.example/" }),
			code: "invalid_target", desc: "is not allowed"},
		{name: "resource and audience differ", req: with(b, func(r *auth.TokenRequest) { r.Resource, r.Audience = "https://a.example", "https://b.example" }),
			code: "invalid_request", desc: "resource and audience name different audiences"},

		{name: "TTL: the client's override", req: with(b, func(r *auth.TokenRequest) { r.Scope = "Read" }),
			scope: "Read", aud: "https://a.example", ttl: 5 * time.Minute},
		{name: "TTL: capped at the maximum", req: creds("svc-long", secretA), scope: "", aud: testAudience, ttl: issuer.MaxTokenTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testConfig())
			f.clock.Advance(1234567 * time.Microsecond) // not on a whole second
			tok, err := f.issuer.Issue(t.Context(), tc.req)
			if tc.code != "" {
				var oe *auth.OAuthError
				if !errors.As(err, &oe) {
					t.Fatalf("error %v (%T), want an OAuth error %s", err, err, tc.code)
				}
				if oe.Code != tc.code || !strings.Contains(oe.Description, tc.desc) {
					t.Errorf("error %q, want %s with a description containing %q", oe, tc.code, tc.desc)
				}
				if tok != nil {
					t.Errorf("a token %+v came with the error", tok)
				}
				return
			}
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Scope != tc.scope || tok.ExpiresIn != int64(tc.ttl/time.Second) {
				t.Errorf("token type %q, scope %q, expires_in %d; want Bearer, %q, %d", tok.TokenType, tok.Scope, tok.ExpiresIn, tc.scope, int64(tc.ttl/time.Second))
			}
			claims := verifyToken(t, tok.AccessToken, f.key)
			now := f.clock.Now()
			want := auth.Claims{
				Issuer: testIssuer, Subject: tc.req.ClientID, Audience: auth.Audience{tc.aud}, ClientID: tc.req.ClientID,
				Scope: tc.scope, IssuedAt: now.Unix(), Expiry: now.Unix() + int64(tc.ttl/time.Second), JWTID: claims.JWTID,
			}
			if got, _ := json.Marshal(claims); string(got) != string(mustJSON(t, want)) {
				t.Errorf("claims\n %s\nwant\n %s", got, mustJSON(t, want))
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyToken verifies a token with go-jose and key's public key, as a
// resource server would, checks its header and the form of its claims, and
// returns them.
func verifyToken(t *testing.T, token string, key auth.Key) auth.Claims {
	t.Helper()
	pub, err := signing.PublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(key.Algorithm)})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.Algorithm != key.Algorithm || h.KeyID != key.ID || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Errorf("header alg=%q kid=%q typ=%v; want %s, %s, at+jwt", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType], key.Algorithm, key.ID)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		t.Fatalf("go-jose does not verify the token with key %s: %v", key.ID, err)
	}
	// The exact members and their JSON types: aud is one string, times are integers.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	for _, name := range []string{"iss", "sub", "aud", "client_id", "jti"} {
		if v := raw[name]; len(v) == 0 || v[0] != '"' {
			t.Errorf("claim %s is %s, want a JSON string", name, v)
		}
	}
	for _, name := range []string{"iat", "exp"} {
		var n int64
		if err := json.Unmarshal(raw[name], &n); err != nil {
			t.Errorf("claim %s is %s, want an integer", name, raw[name])
		}
	}
	var claims auth.Claims
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	jti, err := base64.RawURLEncoding.Strict().DecodeString(claims.JWTID)
	if len(claims.JWTID) != 22 || err != nil || len(jti) != 16 {
		t.Errorf("jti %q is not 22 base64url characters of 128 bits", claims.JWTID)
	}
	return claims
}

// TestIssueAuthFailuresLookAlike: an unknown client, a wrong secret and a
// disabled client get the very same answer, so it does not tell them apart.
func TestIssueAuthFailuresLookAlike(t *testing.T) {
	f := newFixture(t, testConfig())
	var first *auth.OAuthError
	for _, req := range []auth.TokenRequest{
		creds("svc-ghost", secretA),
		creds("svc-a", secretB),
		creds("svc-off", secretOff),
		creds("svc-expired", secretExpired),
	} {
		_, err := f.issuer.Issue(t.Context(), req)
		var oe *auth.OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_client" {
			t.Fatalf("%s: error %v, want invalid_client", req.ClientID, err)
		}
		if first == nil {
			first = oe
			continue
		}
		if *oe != *first {
			t.Errorf("%s: error %q differs from %q", req.ClientID, oe, first)
		}
	}
}

func TestIssueTokens(t *testing.T) {
	f := newFixture(t, testConfig())
	seen := make(map[string]bool)
	for i := range 1000 {
		tok, err := f.issuer.Issue(t.Context(), creds("svc-a", secretA))
		if err != nil {
			t.Fatal(err)
		}
		// Check every token's jti; verify a few signatures.
		var jti string
		if i%100 == 0 {
			jti = verifyToken(t, tok.AccessToken, f.key).JWTID
		} else {
			var c auth.Claims
			parts := strings.Split(tok.AccessToken, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil || json.Unmarshal(payload, &c) != nil {
				t.Fatalf("token %d: bad payload %q", i, parts[1])
			}
			jti = c.JWTID
		}
		if len(jti) != 22 {
			t.Fatalf("token %d: jti %q is not 22 characters", i, jti)
		}
		if seen[jti] {
			t.Fatalf("token %d: jti %q repeats", i, jti)
		}
		seen[jti] = true
	}
}

// TestIssueDefaults: a zero Config issues hour-long tokens for the default audience.
func TestIssueDefaults(t *testing.T) {
	f := newFixture(t, issuer.Config{Issuer: testIssuer})
	cfg := f.issuer.Config()
	if cfg.Audience != issuer.DefaultAudience || cfg.TokenTTL != issuer.DefaultTokenTTL ||
		cfg.RateLimit != issuer.DefaultRate || cfg.IPRateLimit != issuer.DefaultRate {
		t.Errorf("effective config %+v, want the defaults", cfg)
	}
	tok, err := f.issuer.Issue(t.Context(), creds("svc-a", secretA))
	if err != nil {
		t.Fatal(err)
	}
	c := verifyToken(t, tok.AccessToken, f.key)
	if len(c.Audience) != 1 || c.Audience[0] != issuer.DefaultAudience || c.Expiry-c.IssuedAt != 3600 || tok.ExpiresIn != 3600 {
		t.Errorf("aud %q, lifetime %ds, expires_in %d; want %s, 3600, 3600", c.Audience, c.Expiry-c.IssuedAt, tok.ExpiresIn, issuer.DefaultAudience)
	}
}

// TestIssueFollowsTheSigningKey: after a rotation, tokens carry the new kid
// once it signs, and not before.
func TestIssueFollowsTheSigningKey(t *testing.T) {
	clock := authtest.NewClock(t0)
	db := newDB(t, clock)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), db, clock)
	maintain(t, ring)
	first := reload(t, ring, db)[0]
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: clock, SweepInterval: -1})
	defer limiter.Close()
	iss := issuer.New(testConfig(), testClients(), ring, limiter, clock)

	clock.Set(t0.Add(rotationPeriod - publishAhead))
	maintain(t, ring)
	keys := reload(t, ring, db)
	second := newKeys(keys, []auth.Key{first})[0]
	for _, step := range []struct {
		at   time.Time
		want auth.Key
	}{
		{clock.Now(), first},
		{second.SigningFrom.Add(-time.Second), first},
		{second.SigningFrom, second},
	} {
		clock.Set(step.at)
		tok, err := iss.Issue(t.Context(), creds("svc-a", secretA))
		if err != nil {
			t.Fatal(err)
		}
		verifyToken(t, tok.AccessToken, step.want)
	}
}

// TestIssueWithoutSigningKey: no active key is an unavailable error, not an OAuth one.
func TestIssueWithoutSigningKey(t *testing.T) {
	clock := authtest.NewClock(t0)
	ring := issuer.NewKeyRing(testPolicy, testKEK(), newDB(t, clock), clock)
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: clock, SweepInterval: -1})
	defer limiter.Close()
	iss := issuer.New(testConfig(), testClients(), ring, limiter, clock)
	_, err := iss.Issue(t.Context(), creds("svc-a", secretA))
	var oe *auth.OAuthError
	if errors.As(err, &oe) || auth.ErrorCode(err) != auth.EUNAVAILABLE {
		t.Errorf("error %v, want an unavailable domain error", err)
	}
}

func TestLimit(t *testing.T) {
	ip := testConfig().IPRateLimit
	for _, tc := range []struct {
		name       string
		req        auth.TokenRequest
		scope      issuer.LimitScope
		rate       auth.Rate
		otherAddrs bool // the same request from other addresses shares the bucket
	}{
		{name: "known client", req: auth.TokenRequest{ClientID: "svc-a", RemoteAddr: "10.0.0.1"},
			scope: issuer.LimitClient, rate: issuer.DefaultRate, otherAddrs: true},
		{name: "client with its own rate", req: auth.TokenRequest{ClientID: "svc-b", RemoteAddr: "10.0.0.1"},
			scope: issuer.LimitClient, rate: auth.Rate{Limit: 5, Window: time.Minute}, otherAddrs: true},
		{name: "unknown client", req: auth.TokenRequest{ClientID: "svc-ghost", RemoteAddr: "10.0.0.1"},
			scope: issuer.LimitClient, rate: issuer.DefaultRate, otherAddrs: true},
		{name: "disabled client", req: auth.TokenRequest{ClientID: "svc-off", RemoteAddr: "10.0.0.1"},
			scope: issuer.LimitClient, rate: issuer.DefaultRate, otherAddrs: true},
		{name: "client_id that looks like an address", req: auth.TokenRequest{ClientID: "10.0.0.1", RemoteAddr: "10.0.0.1"},
			scope: issuer.LimitClient, rate: issuer.DefaultRate, otherAddrs: true},
		{name: "no client_id", req: auth.TokenRequest{RemoteAddr: "10.0.0.1"},
			scope: issuer.LimitAddress, rate: ip, otherAddrs: false},
		{name: "no client_id, IPv6", req: auth.TokenRequest{RemoteAddr: "2001:db8::1"},
			scope: issuer.LimitAddress, rate: ip, otherAddrs: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testConfig())
			ctx := t.Context()
			calls := 0
			allow := func(req auth.TokenRequest) auth.Decision {
				t.Helper()
				// Limit and LimitClient (after Lookup, as httpapi calls
				// them) in turn: they must charge the same bucket at the
				// same rate.
				limit := f.issuer.Limit
				if calls++; calls%2 == 0 {
					limit = func(ctx context.Context, req *auth.TokenRequest) (auth.Decision, issuer.LimitScope, error) {
						return f.issuer.LimitClient(ctx, req, f.issuer.Lookup(req))
					}
				}
				d, scope, err := limit(ctx, &req)
				if err != nil {
					t.Fatalf("Limit: %v", err)
				}
				if scope != tc.scope {
					t.Errorf("scope %v, want %v", scope, tc.scope)
				}
				return d
			}
			for i := range tc.rate.Limit {
				req := tc.req
				if tc.otherAddrs {
					req.RemoteAddr = fmt.Sprintf("192.0.2.%d", i)
				}
				d := allow(req)
				if !d.Allowed || d.Limit != tc.rate.Limit || d.Window != tc.rate.Window || d.Remaining != tc.rate.Limit-1-i {
					t.Fatalf("request %d: %+v, want allowed with limit %v and %d remaining", i+1, d, tc.rate, tc.rate.Limit-1-i)
				}
			}
			if d := allow(tc.req); d.Allowed || d.RetryAfter <= 0 {
				t.Fatalf("request %d: %+v, want refused with a RetryAfter", tc.rate.Limit+1, d)
			}
			// Other buckets are untouched: another client, and requests without a client_id.
			other := auth.TokenRequest{ClientID: "svc-other", RemoteAddr: tc.req.RemoteAddr}
			if tc.req.ClientID == "" {
				other = auth.TokenRequest{RemoteAddr: "198.51.100.7"}
			}
			if d, _, _ := f.issuer.Limit(ctx, &other); !d.Allowed {
				t.Errorf("%+v was refused once %+v was exhausted", other, tc.req)
			}
			if tc.req.ClientID != "" {
				anon := auth.TokenRequest{RemoteAddr: tc.req.RemoteAddr}
				if d, scope, _ := f.issuer.Limit(ctx, &anon); !d.Allowed || scope != issuer.LimitAddress {
					t.Errorf("a request without client_id from %s: %+v (%v), want allowed by address", anon.RemoteAddr, d, scope)
				}
			}
			// The window slides.
			f.clock.Advance(tc.rate.Window)
			if d := allow(tc.req); !d.Allowed {
				t.Errorf("after the window: %+v, want allowed", d)
			}
		})
	}
}

// TestLimitSeedRate: the seed's 60 requests a minute per client_id; the 61st is refused.
func TestLimitSeedRate(t *testing.T) {
	f := newFixture(t, issuer.Config{Issuer: testIssuer})
	ctx := t.Context()
	for i := 1; i <= 61; i++ {
		req := creds("svc-a", secretA)
		d, _, err := f.issuer.Limit(ctx, &req)
		if err != nil {
			t.Fatal(err)
		}
		if want := i <= 60; d.Allowed != want {
			t.Fatalf("request %d: allowed = %v, want %v (%+v)", i, d.Allowed, want, d)
		}
		f.clock.Advance(500 * time.Millisecond) // 61 requests in 30 seconds
	}
}

func TestScopeOfOnlySpacesIsInvalid(t *testing.T) {
	c := &auth.Client{ID: "c", Scopes: []string{"a"}}
	if _, err := issuer.GrantScopeForTest(c, "   "); !errors.Is(err, auth.ErrInvalidScope) {
		t.Fatalf("err %v, want invalid_scope", err)
	}
}
