package sqlite

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"runtime"
)

// FileMode is what a new database file is created with: readable and
// writable by its owner alone. The file holds the argon2id hashes of
// imported client secrets and the audit trail; the key-encryption key
// beside it is created so too.
const FileMode fs.FileMode = 0o600

// createFile creates the database file at path, empty, with FileMode, if it
// does not exist and the URI parameters let SQLite create it (no mode=ro or
// mode=rw). Left to SQLite, it would get 0644 less the umask: readable by
// everyone under the usual 022. SQLite's unix VFS then gives the -wal, -shm
// and journal files it creates the database file's own mode
// (findCreateFileMode and robust_open in os_unix.c, of which
// modernc.org/sqlite is a translation), so they are 0600 too.
//
// An existing file is left as it is (ExposedFiles finds one that is not
// private). Any other failure — a missing directory, no permission — is
// left for SQLite to meet and report in its own words.
func createFile(path string, query url.Values) {
	switch query.Get("mode") {
	case "ro", "rw":
		return
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if err == nil {
		f.Close()
	}
}

// File is one of a database's files on disk.
type File struct {
	Path string
	Mode fs.FileMode // its permission bits
}

// ExposedFiles returns the files of the SQLite database at dsn — the
// database file and, those that exist, its -wal, -shm and -journal — that
// group or others may access. Open creates them readable and writable by
// their owner alone, but a file made otherwise (by an earlier version, a
// restore, cp) keeps the mode it has. A file that cannot be examined is
// left for Open to report; on Windows, which has no such permission bits,
// there are none.
func ExposedFiles(dsn string) ([]File, error) {
	path, _, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS == "windows" {
		return nil, nil
	}
	var exposed []File
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p == path {
			return nil, nil // Open will create it, private
		}
		if err != nil {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			exposed = append(exposed, File{Path: p, Mode: perm})
		}
	}
	return exposed, nil
}
