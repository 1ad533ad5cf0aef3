//go:build !linux

package main

import (
	"errors"
	"os/exec"
)

// pinSupported says whether this platform can pin at all: only Linux's
// sched_setaffinity is used.
const pinSupported = false

var errNoPinning = errors.New("CPU pinning is implemented on Linux only")

func allowedCPUs() ([]int, error)                 { return nil, errNoPinning }
func pinProcess([]int) (func(), error)            { return nil, errNoPinning }
func startPinned(cmd *exec.Cmd, cpus []int) error { return errNoPinning }
func pinOther(int, []int) (func(), error)         { return nil, errNoPinning }
func processName(int) string                      { return "" }
