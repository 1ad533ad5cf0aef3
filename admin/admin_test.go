package admin_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/sqlite"
)

func newService(t *testing.T) *admin.Service {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &admin.Service{Store: db}
}

func TestCreateClientCredentials(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	c, secret, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "gen", Scopes: []string{"a", "b", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, credential.ClientIDPrefix) || !strings.HasPrefix(secret, credential.SecretPrefix) {
		t.Fatalf("id %q secret %q", c.ID, secret)
	}
	stored, _ := svc.Client(ctx, c.ID)
	if len(stored.Scopes) != 2 || len(stored.Secrets) != 1 || credential.KindOf(stored.Secrets[0].Hash) != credential.KindSHA256 {
		t.Fatalf("stored %+v", stored)
	}
	if strings.Contains(stored.Secrets[0].Hash, secret) {
		t.Fatal("secret stored in clear")
	}
	imp, s2, err := svc.CreateClient(ctx, admin.ClientSpec{ID: "gooclaim_app_12345", Name: "seed", Secret: "S3cureP@ssw0rd!"})
	if err != nil || s2 != "S3cureP@ssw0rd!" {
		t.Fatal(err)
	}
	if credential.KindOf(imp.Secrets[0].Hash) != credential.KindArgon2id {
		t.Fatal("an imported secret must be hashed with argon2id")
	}
	if ok, err := credential.NewVerifier(0).Verify(imp, "S3cureP@ssw0rd!", time.Now()); !ok || err != nil {
		t.Fatal("imported secret does not verify")
	}
	if _, _, err := svc.CreateClient(ctx, admin.ClientSpec{ID: "gooclaim_app_12345", Name: "again"}); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("duplicate ID: %v", err)
	}
}

func TestCreateClientValidationListsEveryProblem(t *testing.T) {
	svc := newService(t)
	_, _, err := svc.CreateClient(context.Background(), admin.ClientSpec{
		ID: "bad id!", Name: "", Scopes: []string{`q"uote`}, Audiences: []string{"has space"},
		TokenTTL: time.Second, RateLimit: auth.Rate{Limit: 0, Window: time.Minute}, Secret: "line\n",
	})
	if auth.ErrorCode(err) != auth.EINVALID {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"client ID", "name: required", "scope", "audience", "token TTL", "rate limit", "client secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

func TestUpdateClientValidatesAndKeepsOldOnError(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	c, _, _ := svc.CreateClient(ctx, admin.ClientSpec{Name: "x", Scopes: []string{"a"}})
	bad := []string{"ok", "not ok"}
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{Scopes: &bad}); auth.ErrorCode(err) != auth.EINVALID {
		t.Fatalf("err %v", err)
	}
	got, _ := svc.Client(ctx, c.ID)
	if len(got.Scopes) != 1 || got.Scopes[0] != "a" {
		t.Fatalf("a refused update changed the client: %v", got.Scopes)
	}
	ttl := 15 * time.Minute
	name := "renamed"
	got, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{TokenTTL: &ttl, Name: &name})
	if err != nil || got.TokenTTL != ttl || got.Name != "renamed" || len(got.Scopes) != 1 {
		t.Fatalf("update: %v %+v", err, got)
	}
	if got, _ := svc.SetDisabled(ctx, c.ID, true); !got.Disabled {
		t.Fatal("not disabled")
	}
	if _, err := svc.SetDisabled(ctx, "nobody", true); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

// TestJWKSURIAddressPolicy: a jwks_uri on a special-purpose address is
// refused at creation and at update, with the range and the development
// allowance named; AllowPrivateAddresses accepts it; the http rule is
// separate.
func TestJWKSURIAddressPolicy(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	for _, tc := range []struct{ uri, want string }{
		{"https://100.64.0.1/jwks.json", "100.64.0.0/10"},
		{"https://[::ffff:169.254.169.254]/jwks.json", "169.254.0.0/16"},
		{"https://localhost:8443/jwks.json", "loopback"},
	} {
		_, _, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "keys", JWKSURI: tc.uri})
		if auth.ErrorCode(err) != auth.EINVALID || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--allow-private-addresses") {
			t.Errorf("create with jwks_uri %s: %v, want EINVALID naming %s and --allow-private-addresses", tc.uri, err, tc.want)
		}
	}
	c, _, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "keys", JWKSURI: "https://keys.example.com/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	uri := "https://10.0.0.7/jwks.json"
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{JWKSURI: &uri}); auth.ErrorCode(err) != auth.EINVALID || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("update to jwks_uri %s: %v, want EINVALID naming 10.0.0.0/8", uri, err)
	}

	svc.AllowPrivateAddresses = true
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{JWKSURI: &uri}); err != nil {
		t.Errorf("update to jwks_uri %s with AllowPrivateAddresses: %v", uri, err)
	}
	plain := "http://127.0.0.1:8080/jwks.json"
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{JWKSURI: &plain}); auth.ErrorCode(err) != auth.EINVALID || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("http jwks_uri with private addresses allowed but not http: %v", err)
	}
	svc.AllowHTTPJWKSURI = true
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{JWKSURI: &plain}); err != nil {
		t.Errorf("http loopback jwks_uri with both allowed: %v", err)
	}
}

// TestFindClientsBoundedScan: a search reads a bounded number of clients
// per page, however many there are; its cursor goes on where it stopped,
// and following it finds every match.
func TestFindClientsBoundedScan(t *testing.T) {
	svc := newService(t)
	defer func(n int) { admin.MaxFindScan = n }(admin.MaxFindScan)
	admin.MaxFindScan = 500
	var cs []*auth.Client
	for i := range 1200 {
		name := "filler"
		if i == 1100 || i == 3 {
			name = "needle"
		}
		cs = append(cs, &auth.Client{ID: fmt.Sprintf("c%05d", i), Name: name, Secrets: []auth.Secret{{ID: "s", Hash: "sha256:x"}}})
	}
	if err := svc.Store.(interface {
		CreateClients(context.Context, []*auth.Client) error
	}).CreateClients(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	var found []string
	pages := 0
	for after := ""; ; pages++ {
		page, next, err := svc.FindClients(t.Context(), admin.ClientFilter{Name: "needle", After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			found = append(found, c.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if strings.Join(found, ",") != "c00003,c01100" || pages != 2 {
		t.Errorf("found %v in %d pages; want c00003 and c01100, over 3 pages of at most 500 clients read", found, pages+1)
	}
	// Without a filter a page is a page: nothing is read in vain.
	if page, next, _ := svc.FindClients(t.Context(), admin.ClientFilter{Limit: 10}); len(page) != 10 || next != "c00009" {
		t.Errorf("unfiltered page: %d clients, next %q", len(page), next)
	}
}
