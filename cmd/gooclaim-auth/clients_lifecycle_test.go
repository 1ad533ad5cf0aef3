package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
)

// lifecycleServer is a test server whose rate limit does not get in the way
// of polling the token endpoint.
func lifecycleServer(t *testing.T) *testServer {
	t.Helper()
	return startTestServer(t, nil, func(c *serveConfig) { c.rateLimit = rateValue{Limit: 100000, Window: time.Minute} })
}

// mustCLI runs the CLI and fails the test unless it succeeds.
func (ts *testServer) mustCLI(stdin string, args ...string) string {
	ts.t.Helper()
	out, errOut, code := ts.cli(stdin, args...)
	if code != 0 {
		ts.t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// showJSON is `clients show ID -o json`, decoded.
func (ts *testServer) showJSON(id string) map[string]any {
	ts.t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(ts.mustCLI("", "clients", "show", id, "-o", "json")), &v); err != nil {
		ts.t.Fatal(err)
	}
	return v
}

// tokenStatus asks for a token with client_secret_post and returns the status.
func (ts *testServer) tokenStatus(id, secret string) response {
	ts.t.Helper()
	return ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode())
}

// writeJWKS writes a JWK Set of a new EC P-256 key to a file: its public
// half, or the private key itself when private.
func writeJWKS(t *testing.T, kid string, private bool) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
	if private {
		k.Key = priv
	}
	b, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), kid+".jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// TestCreateWithKeys: a client registered with a public JWK Set gets no
// secret, and show displays its keys, auth methods and metadata.
func TestCreateWithKeys(t *testing.T) {
	ts := lifecycleServer(t)
	jwks := writeJWKS(t, "signer-1", false)

	out := ts.mustCLI("", "clients", "create", "--name", "signer", "--scope", "claims:read", "--jwks-file", jwks,
		"--metadata", "owner=claims-team", "--metadata", "contact=claims@gooclaim.example", "--metadata", "description=signs its assertions")
	if strings.Contains(out, "client_secret") || strings.Contains(out, "gcs_") {
		t.Fatalf("a client with keys only was shown a secret:\n%s", out)
	}
	for _, want := range []string{"Client created.", "client_id:", "no secret", "private_key_jwt", "signer-1", "owner=claims-team"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}

	// JSON: client_secret is absent, not empty; the JWK Set is public.
	raw, _ := os.ReadFile(jwks)
	out = ts.mustCLI(string(raw), "clients", "create", "--name", "signer-3", "--scope", "claims:read", "--jwks-file", "-", "-o", "json")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if _, ok := created["client_secret"]; ok {
		t.Fatalf("json has client_secret for a client without a secret: %s", out)
	}
	if secrets := created["secrets"].([]any); len(secrets) != 0 {
		t.Fatalf("secrets %v, want none", secrets)
	}
	// Its keys also allow a self-signed certificate of one of them (RFC 8705 §2.2).
	if got := strs(created["allowed_auth_methods"]); !slices.Equal(got, []string{auth.AuthPrivateKeyJWT, auth.AuthSelfSignedTLSClientAuth}) {
		t.Fatalf("allowed_auth_methods %v", got)
	}
	if strings.Contains(out, `"d"`) {
		t.Fatalf("a private key part shows: %s", out)
	}
	id := created["client_id"].(string)
	ts.waitForClient(id, true)

	show := ts.mustCLI("", "clients", "show", id)
	for _, want := range []string{"Auth methods:", "private_key_jwt", "Public keys:", "JWK Set, 1 key(s)", "kid signer-1", "Secret:", "none"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	v := ts.showJSON(id)
	if v["jwks"] == nil {
		t.Fatalf("show -o json has no jwks: %v", v)
	}

	// A client with both a secret and keys: it gets a secret when a secret
	// method is named.
	out = ts.mustCLI("", "clients", "create", "--name", "both", "--scope", "a", "--jwks-file", jwks,
		"--auth-method", "client_secret_basic", "--auth-method", "private_key_jwt", "-o", "json")
	json.Unmarshal([]byte(out), &created)
	if s, _ := created["client_secret"].(string); !strings.HasPrefix(s, "gcs_") {
		t.Fatalf("a client with a secret method got no secret: %s", out)
	}
	bothID := created["client_id"].(string)
	ts.waitForClient(bothID, true)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(bothID) + ":" + url.QueryEscape(created["client_secret"].(string))))
	if r := ts.form("grant_type=client_credentials", "Authorization", "Basic "+basic); r.StatusCode != http.StatusOK {
		t.Fatalf("client_secret_basic: %d %s", r.StatusCode, r.body)
	}
	if got := strs(created["auth_methods"]); !slices.Equal(got, []string{auth.AuthClientSecretBasic, auth.AuthPrivateKeyJWT}) {
		t.Fatalf("auth_methods %v", got)
	}
}

func TestCreateRefusesBadKeys(t *testing.T) {
	ts := lifecycleServer(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"private key", []string{"--jwks-file", writeJWKS(t, "oops", true)}, "private or symmetric"},
		{"not a JWK Set", []string{"--jwks-file", writeFile(t, `{"kty":"EC"}`)}, "not a JWK Set"},
		{"missing file", []string{"--jwks-file", filepath.Join(t.TempDir(), "none.json")}, "--jwks-file"},
		{"http jwks_uri", []string{"--jwks-uri", "http://keys.example/jwks.json"}, "plain http"},
		{"both kinds of keys", []string{"--jwks-uri", "https://keys.example/jwks.json", "--jwks-file", writeJWKS(t, "k", false)}, "not both"},
		{"unknown auth method", []string{"--auth-method", "client_secret_jwt"}, `auth method "client_secret_jwt"`},
		{"private_key_jwt without keys", []string{"--auth-method", "private_key_jwt"}, "needs public keys"},
		{"metadata without =", []string{"--metadata", "owner"}, "KEY=VALUE"},
		{"metadata key with a space", []string{"--metadata", "the owner=x"}, "metadata key"},
	} {
		_, errOut, code := ts.cli("", append([]string{"clients", "create", "--name", "x", "--scope", "a"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want it to contain %q", tc.name, code, errOut, tc.want)
		}
	}
	// The private key itself is not echoed in the error.
	_, errOut, _ := ts.cli("", "clients", "create", "--name", "x", "--jwks-file", writeJWKS(t, "oops", true))
	if strings.Contains(errOut, `"d"`) {
		t.Fatalf("error shows key material: %s", errOut)
	}
	// Development only: http is accepted when asked for.
	out := ts.mustCLI("", "clients", "create", "--name", "dev", "--scope", "a", "--jwks-uri", "http://keys.example:9999/jwks.json", "--allow-http-jwks-uri")
	if !strings.Contains(out, "jwks_uri http://keys.example:9999/jwks.json") || strings.Contains(out, "client_secret:") {
		t.Fatalf("create with http jwks_uri:\n%s", out)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAdminBootstrap: --admin makes a client whose tokens are for the admin
// API: scope auth:admin, aud the admin audience by default.
func TestAdminBootstrap(t *testing.T) {
	ts := lifecycleServer(t)
	id, secret := ts.createClient("--name", "ops-admin", "--admin", "--scope", "claims:read", "--audience", "https://api.example")
	v := ts.showJSON(id)
	if scopes := strs(v["scopes"]); !slices.Contains(scopes, auth.ScopeAdmin) || !slices.Contains(scopes, "claims:read") {
		t.Fatalf("scopes %v", scopes)
	}
	if auds := strs(v["audiences"]); !slices.Equal(auds, []string{auth.AdminAudience, "https://api.example"}) {
		t.Fatalf("audiences %v, want the admin audience first", auds)
	}
	tok := ts.do("POST", "/v1/auth/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {auth.ScopeAdmin}}.Encode()).token(t)
	c := claimsOf(t, tok.AccessToken)
	if c["aud"] != auth.AdminAudience || c["scope"] != auth.ScopeAdmin || c["client_id"] != id {
		t.Fatalf("admin token claims %v", c)
	}
	// The table output says what the client is for.
	out := ts.mustCLI("", "clients", "create", "--name", "ops-admin-2", "--admin")
	if !strings.Contains(out, "admin API") || !strings.Contains(out, auth.AdminAudience) {
		t.Fatalf("create --admin:\n%s", out)
	}
}

// TestRotateAndRevokeSecret: during the grace both secrets work over HTTP;
// revoke-secret --old ends it; at most two secrets are live; --grace 0
// stops the old secret at once.
func TestRotateAndRevokeSecret(t *testing.T) {
	ts := lifecycleServer(t)
	id, s1 := ts.createClient("--name", "rotating", "--scope", "a")
	ts.tokenStatus(id, s1).token(t)

	rotate := func(grace string) (secret string, oldUntil *time.Time) {
		t.Helper()
		var v struct {
			ClientID           string     `json:"client_id"`
			ClientSecret       string     `json:"client_secret"`
			OldSecretExpiresAt *time.Time `json:"old_secret_expires_at"`
		}
		out := ts.mustCLI("", "clients", "rotate-secret", id, "--grace", grace, "-o", "json")
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("rotate-secret -o json %q: %v", out, err)
		}
		if v.ClientID != id || !strings.HasPrefix(v.ClientSecret, "gcs_") {
			t.Fatalf("rotate-secret printed %s", out)
		}
		if !strings.Contains(out, `"old_secret_expires_at"`) {
			t.Fatalf("old_secret_expires_at missing: %s", out)
		}
		// The server sees the change when the new secret works.
		waitUntil(t, func() bool { return ts.tokenStatus(id, v.ClientSecret).StatusCode == http.StatusOK })
		return v.ClientSecret, v.OldSecretExpiresAt
	}
	works := func(name, secret string, want bool) {
		t.Helper()
		r := ts.tokenStatus(id, secret)
		if want && r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d %s, want 200", name, r.StatusCode, r.body)
		}
		if !want {
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: status %d, want 401", name, r.StatusCode)
			}
			if code, _ := r.errorBody(t); code != "invalid_client" {
				t.Fatalf("%s: error %q, want invalid_client", name, code)
			}
		}
	}

	before := time.Now()
	s2, until := rotate("1h")
	if until == nil || until.Before(before.Add(59*time.Minute)) || until.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("old_secret_expires_at %v, want about an hour from now", until)
	}
	works("old secret during the grace", s1, true)
	works("new secret", s2, true)

	// revoke-secret needs --old.
	if _, errOut, code := ts.cli("", "clients", "revoke-secret", id); code == 0 || !strings.Contains(errOut, "--old is required") || !strings.Contains(errOut, "lock") {
		t.Fatalf("revoke-secret without --old: exit %d, %q", code, errOut)
	}
	out := ts.mustCLI("", "clients", "revoke-secret", id, "--old")
	if !strings.Contains(out, "revoked") {
		t.Fatalf("revoke-secret: %s", out)
	}
	waitUntil(t, func() bool { return ts.tokenStatus(id, s1).StatusCode == http.StatusUnauthorized })
	works("old secret after revoke-secret --old", s1, false)
	works("new secret after revoke-secret --old", s2, true)
	// Nothing old is left to revoke.
	if _, errOut, code := ts.cli("", "clients", "revoke-secret", id, "--old"); code == 0 || !strings.Contains(errOut, "no old secret") {
		t.Fatalf("second revoke-secret: exit %d, %q", code, errOut)
	}

	// Two rotations in a row: the oldest stops at once, two stay live.
	s3, _ := rotate("1h")
	s4, _ := rotate("1h")
	waitUntil(t, func() bool { return ts.tokenStatus(id, s2).StatusCode == http.StatusUnauthorized })
	works("oldest after two rotations", s2, false)
	works("previous after two rotations", s3, true)
	works("newest after two rotations", s4, true)
	if secrets := ts.showJSON(id)["secrets"].([]any); len(secrets) != 2 {
		t.Fatalf("%d secrets after two rotations, want 2", len(secrets))
	}

	// --grace 0: the old secret stops at once.
	s5, until := rotate("0")
	if until != nil {
		t.Fatalf("old_secret_expires_at %v with --grace 0, want null", until)
	}
	works("--grace 0 previous", s4, false)
	works("--grace 0 older", s3, false)
	works("--grace 0 new", s5, true)

	// The table output shows the secret once and how to end the grace.
	out = ts.mustCLI("", "clients", "rotate-secret", id, "--grace", "2h")
	if !strings.Contains(out, "client_secret: gcs_") || !strings.Contains(out, "revoke-secret "+id+" --old") {
		t.Fatalf("rotate-secret table:\n%s", out)
	}
	if _, errOut, code := ts.cli("", "clients", "rotate-secret", id, "--grace", "90d"); code == 0 || !strings.Contains(errOut, "grace") {
		t.Fatalf("a 90-day grace: exit %d, %q", code, errOut)
	}
	if strings.Contains(ts.logs.String(), s1) || strings.Contains(ts.logs.String(), s5) {
		t.Fatal("a secret was logged")
	}
}

// TestRotateSecretGivesKeyClientASecret: a private_key_jwt-only client
// gets its first secret from rotate-secret.
func TestRotateSecretGivesKeyClientASecret(t *testing.T) {
	ts := lifecycleServer(t)
	id, secret := ts.createClient("--name", "signer", "--scope", "a", "--jwks-file", writeJWKS(t, "k", false))
	if secret != "" {
		t.Fatalf("secret %q for a keys-only client", secret)
	}
	var v map[string]any
	json.Unmarshal([]byte(ts.mustCLI("", "clients", "rotate-secret", id, "-o", "json")), &v)
	if v["old_secret_expires_at"] != nil {
		t.Fatalf("old_secret_expires_at %v for a first secret", v["old_secret_expires_at"])
	}
	s := v["client_secret"].(string)
	waitUntil(t, func() bool { return ts.tokenStatus(id, s).StatusCode == http.StatusOK })
}

func TestRevokeTokens(t *testing.T) {
	ts := lifecycleServer(t)
	id, _ := ts.createClient("--name", "leaky", "--scope", "a")
	before := time.Now().Add(-time.Second)
	out := ts.mustCLI("", "clients", "revoke-tokens", id)
	if !strings.Contains(out, "revoked") || !strings.Contains(out, id) {
		t.Fatalf("revoke-tokens: %s", out)
	}
	out = ts.mustCLI("", "clients", "revoke-tokens", id, "-o", "json")
	var v struct {
		ClientID string    `json:"client_id"`
		Cutoff   time.Time `json:"tokens_revoked_before"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ClientID != id || v.Cutoff.Before(before) || v.Cutoff.After(time.Now()) {
		t.Fatalf("revoke-tokens -o json %s: %v", out, err)
	}
	if show := ts.mustCLI("", "clients", "show", id); !strings.Contains(show, "Tokens revoked:") || !strings.Contains(show, v.Cutoff.Format(time.RFC3339)) {
		t.Fatalf("show after revoke-tokens:\n%s", show)
	}
	events := auditJSON(t, ts, "--client", id, "--action", auth.ActionClientRevokeTokens)
	if len(events) != 2 || events[0].Actor != cliActorForTest() {
		t.Fatalf("audit of revoke-tokens: %+v", events)
	}
	var after struct {
		TokensRevokedBefore time.Time `json:"tokens_revoked_before"`
	}
	json.Unmarshal(events[1].After, &after)
	if !after.TokensRevokedBefore.Equal(v.Cutoff) {
		t.Fatalf("audit after %s, want tokens_revoked_before %s", events[1].After, v.Cutoff)
	}
	if _, errOut, code := ts.cli("", "clients", "revoke-tokens", "nobody"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("revoke-tokens nobody: %d %q", code, errOut)
	}
}

// TestUpdatePolicy: update changes keys, auth methods and metadata, and
// leaves the rest alone.
func TestUpdatePolicy(t *testing.T) {
	ts := lifecycleServer(t)
	id, secret := ts.createClient("--name", "svc", "--scope", "a", "--metadata", "owner=team-a", "--metadata", "contact=a@example.com")

	ts.mustCLI("", "clients", "update", id, "--metadata", "owner=team-b", "--metadata", "description=moved", "--unset-metadata", "contact")
	v := ts.showJSON(id)
	md := v["metadata"].(map[string]any)
	if len(md) != 2 || md["owner"] != "team-b" || md["description"] != "moved" || strs(v["scopes"])[0] != "a" {
		t.Fatalf("after metadata update: %v", v)
	}

	jwks := writeJWKS(t, "k1", false)
	ts.mustCLI("", "clients", "update", id, "--jwks-file", jwks, "--auth-method", "private_key_jwt,client_secret_basic")
	v = ts.showJSON(id)
	if v["jwks"] == nil || !slices.Equal(strs(v["auth_methods"]), []string{"private_key_jwt", "client_secret_basic"}) {
		t.Fatalf("after keys update: %v", v)
	}
	if show := ts.mustCLI("", "clients", "show", id); !strings.Contains(show, "private_key_jwt client_secret_basic") || !strings.Contains(show, "kid k1") {
		t.Fatalf("show after keys update:\n%s", show)
	}

	// A jwks_uri replaces the JWK Set; "" removes the keys; --auth-method "" clears.
	ts.mustCLI("", "clients", "update", id, "--jwks-uri", "https://keys.example/jwks.json")
	v = ts.showJSON(id)
	if v["jwks"] != nil || v["jwks_uri"] != "https://keys.example/jwks.json" {
		t.Fatalf("after --jwks-uri: %v", v)
	}
	if _, errOut, code := ts.cli("", "clients", "update", id, "--jwks-uri", ""); code == 0 || !strings.Contains(errOut, "private_key_jwt needs public keys") {
		t.Fatalf("removing keys a listed method needs: %d %q", code, errOut)
	}
	ts.mustCLI("", "clients", "update", id, "--jwks-uri", "", "--auth-method", "")
	v = ts.showJSON(id)
	if v["jwks_uri"] != nil || len(strs(v["auth_methods"])) != 0 ||
		!slices.Equal(strs(v["allowed_auth_methods"]), []string{auth.AuthClientSecretBasic, auth.AuthClientSecretPost}) {
		t.Fatalf("after clearing keys and methods: %v", v)
	}
	waitUntil(t, func() bool { return ts.tokenStatus(id, secret).StatusCode == http.StatusOK })

	if _, errOut, code := ts.cli("", "clients", "update", id, "--jwks-uri", "http://keys.example/jwks.json"); code == 0 || !strings.Contains(errOut, "plain http") {
		t.Fatalf("update to http jwks_uri: %d %q", code, errOut)
	}
	ts.mustCLI("", "clients", "update", id, "--jwks-uri", "http://keys.example:1/jwks.json", "--allow-http-jwks-uri")
	if _, errOut, code := ts.cli("", "clients", "update", id, "-o", "json"); code == 0 || !strings.Contains(errOut, "nothing to change") || !strings.Contains(errOut, "--unset-metadata") {
		t.Fatalf("update without changes: %d %q", code, errOut)
	}
}

// TestNewCommandsHaveExamples: the help of every client-management command
// says what it does and shows an example.
func TestNewCommandsHaveExamples(t *testing.T) {
	for _, path := range [][]string{
		{"clients"}, {"clients", "create"}, {"clients", "list"}, {"clients", "show"}, {"clients", "update"},
		{"clients", "disable"}, {"clients", "enable"}, {"clients", "delete"},
		{"clients", "rotate-secret"}, {"clients", "revoke-secret"}, {"clients", "revoke-tokens"}, {"audit"},
	} {
		out, _, code := runCLI(t, "", append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "gooclaim-auth "+strings.Join(path, " ")) {
			t.Errorf("%v --help has no example:\n%s", path, out)
		}
	}
}
