//go:build unix

package sqlite

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/gooclaim/auth"
)

// setUmask sets the process's umask until the test ends. The umask belongs
// to the process, not to the test: no test of this package calls
// t.Parallel, so none creates files meanwhile.
func setUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// modes stats the database file and its -wal and -shm.
func modes(t *testing.T, path string) map[string]os.FileMode {
	t.Helper()
	m := map[string]os.FileMode{}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("after a write in WAL mode: %v", err)
		}
		m[filepath.Base(p)] = fi.Mode().Perm()
	}
	return m
}

// TestFilesPrivate: under the usual umask 022 (with which SQLite alone
// makes 0644 files), a new database and the -wal and -shm that a write in
// WAL mode creates are readable and writable by their owner only.
func TestFilesPrivate(t *testing.T) {
	setUmask(t, 0o022)
	path := filepath.Join(t.TempDir(), "auth.db")
	db := openTest(t, path)
	if err := db.CreateClient(t.Context(), &auth.Client{ID: "c", Name: "c"}); err != nil {
		t.Fatal(err)
	}
	var journal string
	if err := db.db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&journal); err != nil || journal != "wal" {
		t.Fatalf("journal_mode %q, %v; want wal", journal, err)
	}
	for name, mode := range modes(t, path) {
		if mode != 0o600 {
			t.Errorf("%s: mode %#o, want 0600", name, mode)
		}
	}
	if exposed, err := ExposedFiles(path); err != nil || len(exposed) != 0 {
		t.Errorf("ExposedFiles of a new database = %v, %v; want none", exposed, err)
	}
}

// TestExposedFiles: a database file made readable by others (as by an
// earlier version, or cp) is found, and so are the -wal and -shm that
// SQLite then creates with its mode; Open leaves an existing file's mode
// alone; mode=ro creates nothing.
func TestExposedFiles(t *testing.T) {
	setUmask(t, 0o022)
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.db")
	openTest(t, path).Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, "sqlite:"+path)
	if err := db.CreateClient(t.Context(), &auth.Client{ID: "c", Name: "c"}); err != nil {
		t.Fatal(err)
	}
	exposed, err := ExposedFiles("sqlite:" + path)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{path, 0o644}, {path + "-wal", 0o644}, {path + "-shm", 0o644}}
	if !slices.Equal(exposed, want) {
		t.Errorf("ExposedFiles = %v; want %v", exposed, want)
	}

	missing := filepath.Join(dir, "missing.db")
	if _, err := Open(t.Context(), "file:"+missing+"?mode=ro", Options{}); err == nil {
		t.Error("Open of a missing file with mode=ro succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Open with mode=ro created the file: %v", err)
	}
	if exposed, err := ExposedFiles(missing); err != nil || exposed != nil {
		t.Errorf("ExposedFiles of a missing database = %v, %v; want none", exposed, err)
	}
}
