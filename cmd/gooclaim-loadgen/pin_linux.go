package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// cpuSet is the kernel's CPU mask, the size of glibc's cpu_set_t (1024 CPUs).
type cpuSet [16]uint64

func (s *cpuSet) cpus() []int {
	var out []int
	for i := range len(s) * 64 {
		if s[i/64]&(1<<(i%64)) != 0 {
			out = append(out, i)
		}
	}
	return out
}

func setOf(cpus []int) cpuSet {
	var s cpuSet
	for _, c := range cpus {
		s[c/64] |= 1 << (c % 64)
	}
	return s
}

// getAffinity and setAffinity are sched_getaffinity(2) and
// sched_setaffinity(2) of one thread (0: the calling one). The raw system
// calls keep golang.org/x/sys out of the module's direct dependencies.
func getAffinity(tid int) (cpuSet, error) {
	var s cpuSet
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(s), uintptr(unsafe.Pointer(&s)))
	if e != 0 {
		return s, e
	}
	return s, nil
}

func setAffinity(tid int, s cpuSet) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(s), uintptr(unsafe.Pointer(&s)))
	if e != 0 {
		return e
	}
	return nil
}

// pinSupported says whether this platform can pin at all.
const pinSupported = true

// allowedCPUs are the CPUs this process may run on.
func allowedCPUs() ([]int, error) {
	s, err := getAffinity(0)
	if err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	return s.cpus(), nil
}

// pinProcess moves every thread of this process onto cpus and returns a
// function that moves them back. Affinity belongs to threads, and a new
// thread inherits its creator's: once every existing thread is moved, the
// ones the Go runtime starts later are pinned too. The listing is repeated
// until no thread appeared meanwhile.
func pinProcess(cpus []int) (undo func(), err error) {
	old, err := getAffinity(0)
	if err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	if err := setAllThreads(setOf(cpus)); err != nil {
		setAllThreads(old)
		return nil, err
	}
	return func() { setAllThreads(old) }, nil
}

func setAllThreads(s cpuSet) error {
	done := map[int]bool{}
	for range 10 {
		tids, err := threads("self")
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh++
			// A thread may have exited since it was listed.
			if err := setAffinity(tid, s); err != nil && err != syscall.ESRCH {
				return fmt.Errorf("sched_setaffinity thread %d: %w", tid, err)
			}
			done[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("threads kept appearing while pinning this process")
}

// threads lists the threads of a process: proc is "self" or a PID.
func threads(proc string) ([]int, error) {
	ents, err := os.ReadDir("/proc/" + proc + "/task")
	if err != nil {
		return nil, fmt.Errorf("list the threads of process %s: %w", proc, err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	slices.Sort(tids)
	return tids, nil
}

// startPinned starts cmd with every thread of the new process on cpus, from
// its first instruction: the fork happens on a thread of this process locked
// to its goroutine and moved onto cpus first, whose mask the child
// inherits. The thread is then moved back and unlocked, not ended: the
// child's Pdeathsig (childProcAttr) fires when the thread that forked it
// ends, not the process. Should moving it back fail, the goroutine keeps
// the thread forever rather than let other goroutines run on the servers' CPUs.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		old, err := getAffinity(0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("sched_getaffinity: %w", err)
			return
		}
		if err := setAffinity(0, setOf(cpus)); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("sched_setaffinity: %w", err)
			return
		}
		errc <- cmd.Start()
		if setAffinity(0, old) != nil {
			select {}
		}
		runtime.UnlockOSThread()
	}()
	return <-errc
}

// pinOther moves every thread of another process onto cpus and returns a
// function that gives each thread its old affinity back.
func pinOther(pid int, cpus []int) (undo func(), err error) {
	tids, err := threads(strconv.Itoa(pid))
	if err != nil {
		return nil, err
	}
	old := map[int]cpuSet{}
	undo = func() {
		for tid, s := range old {
			setAffinity(tid, s) // a thread that has exited since is gone anyway
		}
	}
	want := setOf(cpus)
	for _, tid := range tids {
		s, err := getAffinity(tid)
		if err == syscall.ESRCH {
			continue
		}
		if err == nil {
			err = setAffinity(tid, want)
		}
		if err != nil && err != syscall.ESRCH {
			undo()
			return nil, fmt.Errorf("sched_setaffinity thread %d of process %d: %w", tid, pid, err)
		}
		old[tid] = s
	}
	return undo, nil
}

// processName is the command name of a process (/proc/<pid>/comm).
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
