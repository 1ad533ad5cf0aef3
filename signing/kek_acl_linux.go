package signing

import (
	"encoding/binary"
	"io/fs"
	"os"
	"syscall"
)

// POSIX access ACL, as the system.posix_acl_access extended attribute holds
// it (linux/posix_acl_xattr.h): a little-endian version, then 8-byte
// entries of tag, permissions and user or group ID.
const (
	aclXattr       = "system.posix_acl_access"
	aclVersion     = 2
	aclUserObj     = 0x01
	aclUser        = 0x02
	aclGroupObj    = 0x04
	aclGroup       = 0x08
	aclMask        = 0x10
	aclOther       = 0x20
	aclHeaderSize  = 4
	aclEntrySize   = 8
	maxACLXattrLen = 4096
)

// aclGrantsOnlyOwnerAndUs reports whether a file whose mode shows group bits
// (perm) is in fact readable only by its owner and by this process's user:
// the group bits are the mask of a POSIX ACL whose owning group, named
// groups and others get nothing, and whose only named user is us.
//
// That is how systemd hands a service a credential (LoadCredential=, read
// from $CREDENTIALS_DIRECTORY): mode 0400, owned by root, plus an ACL entry
// that lets the service's user read it. stat shows the ACL's mask as the
// group bits: 0440.
func aclGrantsOnlyOwnerAndUs(path string, perm fs.FileMode) bool {
	if perm&0o007 != 0 {
		return false
	}
	buf := make([]byte, maxACLXattrLen)
	n, err := syscall.Getxattr(path, aclXattr, buf)
	if err != nil || n < aclHeaderSize || (n-aclHeaderSize)%aclEntrySize != 0 {
		return false
	}
	buf = buf[:n]
	if binary.LittleEndian.Uint32(buf) != aclVersion {
		return false
	}
	uid := uint32(os.Geteuid())
	var us bool
	for e := buf[aclHeaderSize:]; len(e) > 0; e = e[aclEntrySize:] {
		tag := binary.LittleEndian.Uint16(e)
		perms := binary.LittleEndian.Uint16(e[2:])
		id := binary.LittleEndian.Uint32(e[4:])
		switch tag {
		case aclUserObj, aclMask:
		case aclUser:
			if perms != 0 && id != uid {
				return false
			}
			us = us || perms != 0
		case aclGroupObj, aclGroup, aclOther:
			if perms != 0 {
				return false
			}
		default:
			return false
		}
	}
	return us
}
