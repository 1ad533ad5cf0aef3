package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// stopGrace is how long a child has to exit after SIGTERM before it is killed.
const stopGrace = 5 * time.Second

// child is a server process started by the load generator.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	cancel  context.CancelFunc
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, set before done is closed
}

// startChildOn runs bin with args, its stdout and stderr going to logPath,
// on cpus with GOMAXPROCS=1 (nil cpus: anywhere, the environment as it is).
// The process is sent SIGTERM when ctx ends or stop is called, and killed if
// it has not exited stopGrace later; on Linux it is also killed should the
// load generator die without stopping it.
func startChildOn(ctx context.Context, name, bin string, args []string, logPath string, cpus []int) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logFile.Close() // the child has its own descriptor
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	cmd.Cancel = func() error { return terminate(cmd.Process) }
	cmd.WaitDelay = stopGrace
	start := cmd.Start
	if cpus != nil {
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		start = func() error { return startPinned(cmd, cpus) }
	}
	if err := start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, cancel: cancel, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop terminates the process and waits for it (at most stopGrace plus a little).
func (c *child) stop() {
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(stopGrace + 2*time.Second):
		c.cmd.Process.Kill()
	}
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// logTail returns the end of the child's log, for error messages.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// waitReady polls GET url until it answers 200, the process exits, or timeout.
func (c *child) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	last := "no answer"
	for {
		if c.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); its log %s ends with:\n%s", c.name, c.err, c.logPath, c.logTail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s (last: %s); its log %s ends with:\n%s", c.name, timeout, last, c.logPath, c.logTail())
			}
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
// freeLoopbackPair returns two free loopback addresses: a server's public
// listener and its ops listener.
func freeLoopbackPair() (addr, ops string, err error) {
	if addr, err = freeLoopbackAddr(); err == nil {
		ops, err = freeLoopbackAddr()
	}
	return addr, ops, err
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

// serverBinary returns the gooclaim-auth binary to run: --server-bin, else
// gooclaim-auth beside this program, else one built into dir from the module
// this program's working directory is in. built says whether it was built.
func serverBinary(ctx context.Context, flagValue, dir string, timeout time.Duration) (bin string, built bool, err error) {
	name := "gooclaim-auth"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", false, fmt.Errorf("--server-bin: %w", err)
		}
		return flagValue, false, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, false, nil
		}
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", false, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin = filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gooclaim-auth")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", false, fmt.Errorf("go build ./cmd/gooclaim-auth in %s: %w\n%s(or pass --server-bin)", root, err, out.String())
	}
	return bin, true, nil
}

// moduleRoot finds the gooclaim-auth module's directory from the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("no gooclaim-auth binary beside this program and `go env GOMOD` failed (%v): pass --server-bin", err)
	}
	gomod := strings.TrimSpace(string(out))
	root := filepath.Dir(gomod)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("no gooclaim-auth binary beside this program and the working directory is not in a Go module: run from the gooclaim-auth module or pass --server-bin")
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "gooclaim-auth")); err != nil {
		return "", fmt.Errorf("no gooclaim-auth binary beside this program and %s has no cmd/gooclaim-auth: run from the gooclaim-auth module or pass --server-bin", root)
	}
	return root, nil
}
