package httpapi_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gooclaim/auth/sqlite"
)

// migratedDB opens a fresh SQLite database with the schema in a temporary
// directory, closed when the test ends, and returns it with the directory
// (for the test's key-encryption key and other files).
func migratedDB(t testing.TB) (*sqlite.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, dir
}
