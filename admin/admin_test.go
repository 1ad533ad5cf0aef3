package admin_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
	"github.com/gooclaim/gooclaim-auth/admin"
	"github.com/gooclaim/gooclaim-auth/credential"
	"github.com/gooclaim/gooclaim-auth/sqlite"
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
