//go:build !linux

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// childProcAttr returns nil: only Linux can tie a child's life to its parent.
func childProcAttr() *syscall.SysProcAttr { return nil }

// terminate asks a child server to shut down gracefully (Windows has no
// SIGTERM: it is killed).
func terminate(p *os.Process) error {
	if runtime.GOOS == "windows" {
		return p.Kill()
	}
	return p.Signal(syscall.SIGTERM)
}

// processCPU is not implemented outside Linux.
func processCPU(pid int) (time.Duration, bool) { return 0, false }
