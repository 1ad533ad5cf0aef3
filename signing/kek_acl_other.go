//go:build !linux

package signing

import "io/fs"

// aclGrantsOnlyOwnerAndUs: POSIX ACLs are read on Linux only; elsewhere the
// mode bits decide.
func aclGrantsOnlyOwnerAndUs(path string, perm fs.FileMode) bool { return false }
