//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gooclaim/auth/signing"
)

// setUmask sets the process's umask until the test ends. The umask belongs
// to the process: a test that sets it must not call t.Parallel, and then
// runs alone — the package's parallel tests start only once every
// sequential one has finished.
func setUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// wantPrivate checks that each file exists (or, unless required, is
// absent) with mode 0600.
func wantPrivate(t *testing.T, what string, required bool, files ...string) {
	t.Helper()
	for _, f := range files {
		fi, err := os.Stat(f)
		if os.IsNotExist(err) && !required {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: %s has mode %#o, want 0600", what, filepath.Base(f), m)
		}
	}
}

// TestDatabaseFilesPrivate: under the usual umask 022, every command that
// opens a SQLite database it has to create makes it readable and writable
// by its owner only — serve, and the database's -wal and -shm while serve
// runs and the CLI writes beside it; migrate, clients, keys and audit —
// like the key-encryption key created beside it.
func TestDatabaseFilesPrivate(t *testing.T) {
	setUmask(t, 0o022)

	ts := startTestServer(t, nil)
	ts.createClient("--name", "svc", "--scope", "a") // the CLI writes while serve has the file open
	db := ts.g.database
	wantPrivate(t, "serve", true, db, db+"-wal", db+"-shm", defaultKEKPath(db))

	for _, args := range [][]string{
		{"migrate"},
		{"clients", "create", "--name", "svc", "--scope", "a"},
		{"clients", "list"},
		{"keys", "list"},
		{"keys", "rotate"},
		{"audit"},
	} {
		db := filepath.Join(t.TempDir(), "auth.db")
		what := strings.Join(args, " ")
		if _, errOut, code := runCLI(t, "", append(args, "--database", db)...); code != 0 {
			t.Fatalf("%s: exit %d: %s", what, code, errOut)
		}
		wantPrivate(t, what, true, db)
		wantPrivate(t, what, false, db+"-wal", db+"-shm", db+"-journal", defaultKEKPath(db))
	}
}

// exposedDatabaseFile makes a migrated SQLite database in dir readable by
// group and others, as one made by an earlier version or copied with cp.
func exposedDatabaseFile(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "auth.db")
	if _, errOut, code := runCLI(t, "", "migrate", "--database", db); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestProductionRefusesExposedDatabase: serve --env production refuses a
// database file readable by group or others, naming the file, its mode
// and the chmod that fixes it, and starts once it is fixed.
func TestProductionRefusesExposedDatabase(t *testing.T) {
	dir := t.TempDir()
	db := exposedDatabaseFile(t, dir)
	kek := filepath.Join(dir, "kek")
	if _, err := signing.CreateKEKFile(kek); err != nil {
		t.Fatal(err)
	}
	cert, key := writeCert(t, dir, "server", 1)
	args := []string{"serve", "--env", "production", "--database", db, "--key-encryption-key-file", kek,
		"--tls-cert", cert, "--tls-key", key, "--listen", "127.0.0.1:0", "--ops-listen", ""}
	errOut, code := runStopped(t, nil, args...)
	want := "--env production refuses the SQLite database readable by group or others (" + db + " mode 0644): " +
		"it holds the hashes of client secrets and the audit trail; run: chmod 600 " + db
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("serve --env production with a 0644 database: exit %d, stderr %q; want a refusal containing %q", code, errOut, want)
	}
	if n := strings.Count(errOut, "production refuses"); n != 1 {
		t.Fatalf("%d refusals, want 1:\n%s", n, errOut)
	}

	if err := os.Chmod(db, 0o600); err != nil {
		t.Fatal(err)
	}
	g := &globalFlags{database: db, kekFile: kek}
	ts := startTestNode(t, g, nil, func(c *serveConfig) {
		c.env = production
		c.tlsCert, c.tlsKey = cert, key
	})
	if strings.Contains(ts.logs.String(), "readable by group or others") {
		t.Fatalf("a private database reported exposed:\n%s", ts.logs)
	}
}

// TestDevelopmentWarnsOfExposedDatabase: in development a database file
// readable by group or others is served, with one warning in the log that
// names it and the fix; the CLI, which has no --env, warns on standard
// error and goes on.
func TestDevelopmentWarnsOfExposedDatabase(t *testing.T) {
	db := exposedDatabaseFile(t, t.TempDir())
	ts := startTestNode(t, &globalFlags{database: db}, nil)
	var lines []string
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		if strings.Contains(l, "readable by group or others") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) ||
		!strings.Contains(lines[0], db+" mode 0644") || !strings.Contains(lines[0], "chmod 600 "+db) {
		t.Fatalf("want one warning naming %s and chmod 600; got %q", db, lines)
	}

	_, errOut, code := ts.cli("", "clients", "list")
	if code != 0 {
		t.Fatalf("clients list: exit %d: %s", code, errOut)
	}
	if n := strings.Count(errOut, "Warning: the SQLite database is readable by group or others ("+db+" mode 0644"); n != 1 || !strings.Contains(errOut, "chmod 600 "+db) {
		t.Fatalf("clients list stderr %q: want one warning naming the file and chmod 600", errOut)
	}
}
