package signing_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gooclaim/auth/signing"
)

// aclEntry is one entry of a POSIX access ACL: tag, permissions, ID.
type aclEntry struct {
	tag, perm uint16
	id        uint32
}

const noID = 0xffffffff

// setACL sets the file's access ACL through its extended attribute, as
// setfacl does; it skips the test where the file system has no ACLs.
func setACL(t *testing.T, path string, entries ...aclEntry) {
	t.Helper()
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	if err := syscall.Setxattr(path, "system.posix_acl_access", b, 0); err != nil {
		if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
			t.Skipf("no POSIX ACLs on the temporary directory's file system: %v", err)
		}
		t.Fatal(err)
	}
}

// A systemd credential (LoadCredential=): mode 0400 owned by root, and an
// ACL entry letting the service's user read it; stat shows 0440.
func TestLoadKEKFileSystemdCredential(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	good := base64.StdEncoding.EncodeToString(key) + "\n"
	us := uint32(os.Geteuid())
	const r = 4
	tests := []struct {
		name string
		acl  []aclEntry
		ok   bool
	}{
		{"readable by us", []aclEntry{{0x01, r, noID}, {0x02, r, us}, {0x04, 0, noID}, {0x10, r, noID}, {0x20, 0, noID}}, true},
		{"readable by another user", []aclEntry{{0x01, r, noID}, {0x02, r, us + 1}, {0x04, 0, noID}, {0x10, r, noID}, {0x20, 0, noID}}, false},
		{"readable by the owning group", []aclEntry{{0x01, r, noID}, {0x02, r, us}, {0x04, r, noID}, {0x10, r, noID}, {0x20, 0, noID}}, false},
		{"readable by a named group", []aclEntry{{0x01, r, noID}, {0x02, r, us}, {0x04, 0, noID}, {0x08, r, 4242}, {0x10, r, noID}, {0x20, 0, noID}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kek")
			if err := os.WriteFile(path, []byte(good), 0o400); err != nil {
				t.Fatal(err)
			}
			setACL(t, path, tt.acl...)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o040 == 0 {
				t.Fatalf("mode %#o after setting the ACL, want the mask in the group bits", fi.Mode().Perm())
			}
			kek, err := signing.LoadKEKFile(path)
			if tt.ok && (err != nil || kek == nil) {
				t.Errorf("LoadKEKFile: %v, want the key", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "accessible by group or others")) {
				t.Errorf("LoadKEKFile: %v, want it refused as accessible by group or others", err)
			}
		})
	}
}
