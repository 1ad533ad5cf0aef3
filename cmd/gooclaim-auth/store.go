package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/postgres"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// database is a store that can bring its own schema up to date.
type database interface {
	auth.Store
	Migrate(ctx context.Context) error
}

// isPostgres reports whether --database names a PostgreSQL server.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openStore opens the database named by --database — a postgres:// URL, or
// else a SQLite file — and brings its schema up to date (under a lock, so
// that nodes starting together do not race).
func openStore(ctx context.Context, g *globalFlags, clock auth.Clock) (database, error) {
	var db database
	dsn := g.database
	if isPostgres(dsn) {
		pg, err := postgres.Open(ctx, dsn, postgres.Options{Clock: clock, Schema: g.postgresSchema})
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w (check --database)", redactURL(dsn), err)
		}
		db = pg
	} else {
		lite, err := sqlite.Open(ctx, dsn, sqlite.Options{Clock: clock})
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w (check --database)", dsn, err)
		}
		db = lite
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", redactURL(dsn), err)
	}
	return db, nil
}

// openCLIStore is openStore for the management commands, which warn on
// standard error (through g.warnings) of a SQLite database that group or
// others can read, but do not refuse it: refusing is serve's --env
// production, and the commands have no --env (a shell's GOOCLAIM_ENV may be
// meant for another machine, and a development database may stay as it
// is). serve refuses or logs it itself (productionRefusals).
func openCLIStore(ctx context.Context, g *globalFlags) (database, error) {
	if files, fix, ok := exposedDatabase(g.database); ok && g.warnings != nil {
		fmt.Fprintf(g.warnings, "Warning: the SQLite database is readable by group or others (%s): %s\n", files, fix)
	}
	return openStore(ctx, g, nil)
}

// exposedDatabase says, for a SQLite database whose files group or others
// may access, which they are with their modes, and how to fix it; ok is
// false when nothing is wrong (PostgreSQL; a file not created yet, which
// sqlite.Open creates private; a bad --database, which opening reports).
func exposedDatabase(dsn string) (files, fix string, ok bool) {
	if isPostgres(dsn) {
		return "", "", false
	}
	exposed, err := sqlite.ExposedFiles(dsn)
	if err != nil || len(exposed) == 0 {
		return "", "", false
	}
	var modes, paths []string
	for _, f := range exposed {
		modes = append(modes, fmt.Sprintf("%s mode %#o", f.Path, f.Mode))
		paths = append(paths, f.Path)
	}
	fix = "it holds the hashes of client secrets and the audit trail; run: chmod 600 " + strings.Join(paths, " ") +
		" (SQLite gives the -wal and -shm files it creates the database file's mode)"
	return strings.Join(modes, ", "), fix, true
}

// defaultKEKPath is where the key-encryption key lives when none is given:
// beside the SQLite database, gooclaim-auth.db → gooclaim-auth.kek.
func defaultKEKPath(dbPath string) string {
	return strings.TrimSuffix(dbPath, filepath.Ext(dbPath)) + ".kek"
}

// loadKEK returns the key-encryption key: from --key-encryption-key-file
// when given, else from the default file beside the database, which is
// created when missing — but only while the database holds no keys, since a
// new KEK could not open them.
func loadKEK(ctx context.Context, g *globalFlags, db database, logger *slog.Logger) (*signing.KEK, error) {
	if g.kekFile != "" {
		kek, err := signing.LoadKEKFile(g.kekFile)
		if err != nil {
			return nil, fmt.Errorf("--key-encryption-key-file: %w", err)
		}
		return kek, nil
	}
	lite, ok := db.(*sqlite.DB)
	if !ok {
		return nil, errors.New("--key-encryption-key-file is required with PostgreSQL: every node must be given the same key (make one with: openssl rand -base64 32 > kek; chmod 600 kek)")
	}
	path := defaultKEKPath(lite.Path())
	kek, err := signing.LoadKEKFile(path)
	if err == nil {
		return kek, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key-encryption key %s: %w", path, err)
	}
	keys, err := db.Keys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("the database holds signing keys but their key-encryption key %s is missing: pass the right one with --key-encryption-key-file", path)
	}
	kek, err = signing.CreateKEKFile(path)
	if err != nil {
		return nil, fmt.Errorf("create key-encryption key %s: %w", path, err)
	}
	if logger != nil {
		logger.Warn("generated a key-encryption key for the signing keys; production needs an explicit one kept apart from the database (--key-encryption-key-file, made with: openssl rand -base64 32)",
			"path", path, "fingerprint", kek.Fingerprint())
	}
	return kek, nil
}

// redactURL hides the passwords in a connection URL: in the user info
// (postgres://user:pw@host, redis://:pw@host) and in the query parameters
// PostgreSQL accepts one in (password=, sslpassword=).
func redactURL(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		return s
	}
	if q := strings.IndexByte(s, '?'); q >= 0 {
		params := strings.Split(s[q+1:], "&")
		for i, p := range params {
			name, _, ok := strings.Cut(p, "=")
			if ok && (strings.EqualFold(name, "password") || strings.EqualFold(name, "sslpassword")) {
				params[i] = name + "=REDACTED"
			}
		}
		s = s[:q+1] + strings.Join(params, "&")
	}
	end := len(s)
	if i := strings.IndexAny(s[scheme+3:], "?#"); i >= 0 {
		end = scheme + 3 + i
	}
	at := strings.LastIndexByte(s[:end], '@')
	if at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return s[:scheme+3] + user + ":REDACTED" + s[at:]
	}
	return s
}
