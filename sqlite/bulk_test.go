package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/gooclaim/auth"
)

// TestCreateClients: a batch is stored whole, with a change-feed entry per
// client, and a batch with a taken ID stores nothing.
func TestCreateClients(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, filepath.Join(t.TempDir(), "auth.db"), Options{})
	mk := func(id string) *auth.Client {
		return &auth.Client{ID: id, Name: id, Scopes: []string{"s"}, Secrets: []auth.Secret{{ID: "k", Hash: "h-" + id}}}
	}
	seq0, _ := db.LatestChange(ctx)
	batch := []*auth.Client{mk("a"), mk("b"), mk("c")}
	if err := db.CreateClients(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].CreatedAt.IsZero() || batch[2].Secrets[0].CreatedAt.IsZero() {
		t.Error("timestamps not written back")
	}
	cs, err := db.ListClients(ctx, "", 10)
	if err != nil || len(cs) != 3 || cs[1].ID != "b" || len(cs[1].Secrets) != 1 || cs[1].Secrets[0].Hash != "h-b" {
		t.Fatalf("ListClients: %v, %+v", err, cs)
	}
	if seq, _ := db.LatestChange(ctx); seq != seq0+3 {
		t.Errorf("change feed at %d, want %d", seq, seq0+3)
	}
	err = db.CreateClients(ctx, []*auth.Client{mk("d"), mk("a")})
	if auth.ErrorCode(err) != auth.ECONFLICT {
		t.Fatalf("taken ID: %v, want ECONFLICT", err)
	}
	if _, err := db.Client(ctx, "d"); auth.ErrorCode(err) != auth.ENOTFOUND {
		t.Fatalf("d after the failed batch: %v, want ENOTFOUND", err)
	}
}
