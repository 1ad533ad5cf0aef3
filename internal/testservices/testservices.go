// Package testservices gives tests the PostgreSQL and Redis servers they
// need: the shared ones named by GOOCLAIM_TEST_POSTGRES_URL and
// GOOCLAIM_TEST_REDIS_URL (PostgresURL, RedisURL; authtest's functions of
// the same names wrap them), and private ones for fault-injection tests
// (StartPostgres, StartRedis): each on a free loopback port with its data
// in a temporary directory, so that a test can stop and restart it without
// disturbing the shared servers other tests use.
//
// Every test that needs a service follows one rule, kept here (Missing):
// without the service it is skipped — unless the environment variable CI
// is set: CI must run every test, so there it fails instead.
//
// The private servers' binaries are found on PATH and in the usual
// Debian/Ubuntu PostgreSQL directories. PostgreSQL refuses to run as root;
// as root the server runs as the postgres (or nobody) OS user.
package testservices

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Postgres is a private PostgreSQL server.
type Postgres struct {
	t       testing.TB
	bin     string
	dir     string // data directory
	Port    int
	cred    *syscall.Credential // nil unless run as another user
	running bool
}

// pgBinGlob finds the Debian/Ubuntu PostgreSQL binaries, newest first,
// when pg_ctl is not on PATH.
const pgBinGlob = "/usr/lib/postgresql/*/bin"

func findPGBin() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob(pgBinGlob)
	slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// pgVersion is the major version in a /usr/lib/postgresql/N/bin path, 0 if none.
func pgVersion(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// StartPostgres initialises a cluster in a temporary directory and starts
// it on a free port; it is stopped and removed when the test ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	skipShort(t, "a PostgreSQL server of their own")
	bin := findPGBin()
	if bin == "" {
		Missing(t, fmt.Sprintf("PostgreSQL's initdb and pg_ctl are not installed (looked on PATH and in %s)", pgBinGlob))
	}
	p := &Postgres{t: t, bin: bin, Port: FreePort(t)}
	parent, err := os.MkdirTemp("", "gooclaim-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	p.dir = filepath.Join(parent, "data")
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			Missing(t, fmt.Sprintf("running as root and %v: PostgreSQL refuses to run as root", err))
		}
		p.cred = cred
		if err := os.Chown(parent, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
		os.Chmod(parent, 0o700)
	}
	out, err := p.command("initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C").CombinedOutput()
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if p.running {
			p.command("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop").Run()
		}
	})
	p.Start()
	return p
}

// unprivileged is the OS user PostgreSQL runs as when the tests run as root.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("there is neither a postgres nor a nobody user to run it as")
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		cmd.Dir = filepath.Dir(p.dir)
	}
	return cmd
}

// URL is the connection URL of the server's postgres database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.Port)
}

// Start starts the server (again) on its port and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=50", p.Port)
	cmd := p.command("pg_ctl", "-D", p.dir, "-l", filepath.Join(filepath.Dir(p.dir), "log"), "-o", opts, "-w", "-t", "30", "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(p.dir), "log"))
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	p.running = true
}

// Stop stops the server with pg_ctl stop -m fast: sessions are ended, as
// when an administrator stops the database or it fails over.
func (p *Postgres) Stop() {
	p.t.Helper()
	if out, err := p.command("pg_ctl", "-D", p.dir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
	p.running = false
}

// Redis is a private redis-server.
type Redis struct {
	t    testing.TB
	bin  string
	Port int
	cmd  *exec.Cmd
	dir  string
	out  bytes.Buffer
}

// StartRedis starts redis-server on a free port, without persistence; it
// is stopped when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	skipShort(t, "a Redis server of their own")
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server is not installed")
	}
	r := &Redis{t: t, bin: bin, Port: FreePort(t), dir: t.TempDir()}
	t.Cleanup(func() {
		if r.cmd != nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	r.Start()
	return r
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Start starts the server (again) on its port and waits until it accepts connections.
func (r *Redis) Start() {
	r.t.Helper()
	r.out.Reset()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not listen on %d within 10s: %v\n%s", r.Port, err, r.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: no goodbye to its clients), as a crash would.
func (r *Redis) Stop() {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}
