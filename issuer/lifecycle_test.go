package issuer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
)

var (
	secretIntro = credential.NewSecret()
	secretBasic = credential.NewSecret()
)

// lifecycle is an Issuer whose clients can be changed during a test, with
// revocations in a real store.
type lifecycle struct {
	*fixture
	clients clientMap
	db      auth.Store
}

func newLifecycle(t *testing.T) *lifecycle {
	t.Helper()
	f := newFixture(t, testConfig())
	clients := testClients()
	secret := func(s string) []auth.Secret {
		return []auth.Secret{{ID: "s1", Hash: credential.HashGenerated(s), CreatedAt: t0}}
	}
	clients["svc-intro"] = &auth.Client{ID: "svc-intro", Scopes: []string{auth.ScopeIntrospect}, Secrets: secret(secretIntro)}
	clients["svc-basic"] = &auth.Client{ID: "svc-basic", Scopes: []string{"read"}, AuthMethods: []string{auth.AuthClientSecretBasic}, Secrets: secret(secretBasic)}
	db := newDB(t, f.clock)
	cfg := testConfig()
	cfg.Revocations = db
	limiter := inmem.NewLimiter(inmem.LimiterOptions{Clock: f.clock, SweepInterval: -1})
	t.Cleanup(limiter.Close)
	f.issuer = issuer.New(cfg, clients, f.ring, limiter, f.clock)
	return &lifecycle{fixture: f, clients: clients, db: db}
}

func (l *lifecycle) token(t *testing.T, id, secret string) string {
	t.Helper()
	tok, err := l.issuer.Issue(context.Background(), creds(id, secret))
	if err != nil {
		t.Fatalf("issue a token to %s: %v", id, err)
	}
	return tok.AccessToken
}

func (l *lifecycle) introspect(t *testing.T, token string) *issuer.Introspection {
	t.Helper()
	res, err := l.issuer.Introspect(context.Background(), l.clients["svc-intro"], token)
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	return res
}

func TestAuthenticateMethods(t *testing.T) {
	l := newLifecycle(t)
	ctx := context.Background()
	basic := with(creds("svc-basic", secretBasic), func(r *auth.TokenRequest) { r.AuthMethod = auth.AuthClientSecretBasic })
	if _, err := l.issuer.Authenticate(ctx, basic); err != nil {
		t.Errorf("Basic for a Basic-only client: %v", err)
	}
	post := with(basic, func(r *auth.TokenRequest) { r.AuthMethod = auth.AuthClientSecretPost })
	if _, err := l.issuer.Authenticate(ctx, post); !errors.Is(err, auth.ErrInvalidClient) || !strings.Contains(err.Error(), "client_secret_post") {
		t.Errorf("body secret for a Basic-only client: %v, want invalid_client naming the method", err)
	}
	wrongPost := with(post, func(r *auth.TokenRequest) { r.ClientSecret = secretA })
	if _, err := l.issuer.Authenticate(ctx, wrongPost); !errors.Is(err, auth.ErrInvalidClient) || strings.Contains(err.Error(), "client_secret_post") {
		t.Errorf("wrong secret: %v, want the generic invalid_client (the method is only named once the secret is right)", err)
	}
	jwt := auth.TokenRequest{ClientID: "svc-a", AuthMethod: auth.AuthPrivateKeyJWT, ClientAssertion: "a.b.c"}
	if _, err := l.issuer.Authenticate(ctx, jwt); !errors.Is(err, auth.ErrInvalidClient) {
		t.Errorf("private_key_jwt for a client without keys: %v, want invalid_client", err)
	}
}

func TestIntrospect(t *testing.T) {
	l := newLifecycle(t)
	tok := l.token(t, "svc-a", secretA)
	res := l.introspect(t, tok)
	if !res.Active || res.ClientID != "svc-a" || res.Subject != "svc-a" || res.Scope != "read write admin" ||
		res.TokenType != "Bearer" || res.Issuer != testIssuer || res.JWTID == "" || len(res.Audience) != 1 || res.Audience[0] != testAudience ||
		res.IssuedAt != t0.Unix() || res.Expiry != t0.Add(testTTL).Unix() {
		t.Fatalf("introspection of a fresh token: %+v", res)
	}

	parts := strings.Split(tok, ".")
	foreign := signForeign(t, parts[1])
	for name, token := range map[string]string{
		"garbage":            "not-a-token",
		"stripped signature": parts[0] + "." + parts[1] + ".",
		"tampered payload":   parts[0] + "." + parts[1] + "x." + parts[2],
		"alg none":           b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": l.key.ID}) + "." + parts[1] + ".",
		"foreign key":        foreign,
	} {
		if out, _ := json.Marshal(l.introspect(t, token)); string(out) != `{"active":false}` {
			t.Errorf("%s: %s, want exactly {\"active\":false}", name, out)
		}
	}

	l.clock.Advance(testTTL)
	if l.introspect(t, tok).Active {
		t.Error("an expired token is active")
	}
}

func TestIntrospectNeedsTheScope(t *testing.T) {
	l := newLifecycle(t)
	tok := l.token(t, "svc-a", secretA)
	_, err := l.issuer.Introspect(context.Background(), l.clients["svc-a"], tok)
	if !errors.Is(err, auth.ErrUnauthorizedClient) || !strings.Contains(err.Error(), auth.ScopeIntrospect) {
		t.Fatalf("introspection by a client without %s: %v, want unauthorized_client naming the scope", auth.ScopeIntrospect, err)
	}
}

func TestRevoke(t *testing.T) {
	l := newLifecycle(t)
	ctx := context.Background()
	tokA := l.token(t, "svc-a", secretA)
	tokB := l.token(t, "svc-b", secretB)

	// Another client's token: a silent no-op (RFC 7009 §2.1).
	if err := l.issuer.Revoke(ctx, l.clients["svc-b"], tokA); err != nil {
		t.Fatalf("revoke another client's token: %v, want nil", err)
	}
	if !l.introspect(t, tokA).Active {
		t.Fatal("a client revoked another client's token")
	}
	// Junk: a no-op too.
	if err := l.issuer.Revoke(ctx, l.clients["svc-a"], "junk"); err != nil {
		t.Fatalf("revoke junk: %v, want nil", err)
	}
	// Its own: revoked, twice without error.
	for range 2 {
		if err := l.issuer.Revoke(ctx, l.clients["svc-a"], tokA); err != nil {
			t.Fatalf("revoke own token: %v", err)
		}
	}
	if l.introspect(t, tokA).Active {
		t.Fatal("a revoked token is active")
	}
	if !l.introspect(t, tokB).Active {
		t.Fatal("revoking one token revoked another")
	}
	// Kept only until the token would have expired.
	l.clock.Advance(testTTL + time.Second)
	n, err := l.db.PruneRevocations(ctx, l.clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("PruneRevocations after expiry: %d, %v; want 1", n, err)
	}
}

func TestRevokeAllAndDisable(t *testing.T) {
	l := newLifecycle(t)
	tok := l.token(t, "svc-a", secretA)
	l.clock.Advance(2 * time.Second)

	c := l.clients["svc-a"].Clone()
	c.TokensRevokedBefore = l.clock.Now()
	l.clients["svc-a"] = c
	if l.introspect(t, tok).Active {
		t.Fatal("a token issued before revoke-all is active")
	}
	l.clock.Advance(2 * time.Second)
	if fresh := l.token(t, "svc-a", secretA); !l.introspect(t, fresh).Active {
		t.Fatal("a token issued after revoke-all is inactive")
	}

	tokB := l.token(t, "svc-b", secretB)
	off := l.clients["svc-b"].Clone()
	off.Disabled = true
	l.clients["svc-b"] = off
	if l.introspect(t, tokB).Active {
		t.Fatal("the token of a disabled client is active")
	}
	delete(l.clients, "svc-b")
	if l.introspect(t, tokB).Active {
		t.Fatal("the token of a deleted client is active")
	}
}

// TestInspectRequiresTheClientAsIssued: a token is active only while the
// client holding its client_id is the incarnation it was issued to and
// still holds every scope and the audience it carries.
func TestInspectRequiresTheClientAsIssued(t *testing.T) {
	l := newLifecycle(t)
	orig := l.clients["svc-a"].Clone()
	orig.Incarnation = "first"
	l.clients["svc-a"] = orig
	tok := l.token(t, "svc-a", secretA)
	if !l.introspect(t, tok).Active {
		t.Fatal("a fresh token is inactive")
	}
	for _, tc := range []struct {
		name   string
		change func(c *auth.Client)
	}{
		{"deleted and created again (another incarnation)", func(c *auth.Client) { c.Incarnation = "second" }},
		{"created again before incarnations existed", func(c *auth.Client) { c.Incarnation = "" }},
		{"a scope taken away", func(c *auth.Client) { c.Scopes = []string{"read", "write"} }},
		{"its audience taken away", func(c *auth.Client) { c.Audiences = []string{"https://other.example"} }},
		{"its token lifetime shortened, and the shorter one over", func(c *auth.Client) {
			c.TokenTTL = time.Minute
			l.clock.Advance(time.Minute)
		}},
	} {
		c := orig.Clone()
		tc.change(c)
		l.clients["svc-a"] = c
		if l.introspect(t, tok).Active {
			t.Errorf("%s: the token is still active", tc.name)
		}
	}
	// The same rights, listed in another order and with more beside them,
	// and a lifetime shortened to one not yet over: active.
	more := orig.Clone()
	more.TokenTTL = 2 * time.Minute
	more.Scopes = []string{"extra", "admin", "write", "read"}
	more.Audiences = []string{"https://other.example", testAudience}
	l.clients["svc-a"] = more
	if !l.introspect(t, tok).Active {
		t.Error("a client that still holds the token's scopes and audience (and more): the token is inactive")
	}
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signForeign signs the payload (base64url) with a key this server never
// had, under a typ and kid that look right.
func signForeign(t *testing.T, payloadB64 string) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "foreign"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadB64)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
