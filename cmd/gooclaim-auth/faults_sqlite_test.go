//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/testservices"
)

// setFileSizeLimit sets RLIMIT_FSIZE of the process pid (prlimit(2)): a
// write past n bytes into any file then fails with EFBIG, as writes fail on
// a full disk. n = RLIM_INFINITY lifts it: the space is freed.
func setFileSizeLimit(t *testing.T, pid int, n uint64) {
	t.Helper()
	lim := syscall.Rlimit{Cur: n, Max: ^uint64(0)}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_FSIZE), uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Fatalf("prlimit(%d, RLIMIT_FSIZE, %d): %v", pid, n, errno)
	}
}

// request sends a request to base+path and reads the answer.
func request(t *testing.T, method, target, contentType, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, b}
}

func tokenForAt(t *testing.T, base, id, secret string, extra ...string) string {
	t.Helper()
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return request(t, "POST", base+"/v1/auth/token", "application/x-www-form-urlencoded", v.Encode()).token(t).AccessToken
}

// cliCreate creates a client with the CLI in this process.
func cliCreate(t *testing.T, g *globalFlags, name string) createdClient {
	t.Helper()
	out, errOut, code := runCLI(t, "", append([]string{"clients", "create", "--name", name, "--scope", "x", "-o", "json"}, globalArgs(g)...)...)
	if code != 0 {
		t.Fatalf("clients create: %s", errOut)
	}
	var c createdClient
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFaultSQLiteDiskFull: the serving node's writes start failing as on a
// full disk (its RLIMIT_FSIZE lowered to one byte with prlimit(2)), in the
// middle of a load, then the space comes back. Tokens keep being issued
// (no failure); admin API writes and revocation get 503
// temporarily_unavailable in the Error shape; a CLI write on the full disk
// exits non-zero with a message; once space is back, writes work again
// without a restart; the database passes its integrity check and holds
// every client with its audit event, none half-written.
func TestFaultSQLiteDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: fault injection runs in the full tier")
	}
	t.Parallel()
	g := &globalFlags{database: filepath.Join(t.TempDir(), "auth.db")}
	port := testservices.FreePort(t)
	node := startServeProcess(t, g, port)
	adminC := createdClient{}
	out, errOut, code := runCLI(t, "", append([]string{"clients", "create", "--name", "ops", "--scope", auth.ScopeAdmin, "--audience", auth.AdminAudience, "-o", "json"}, globalArgs(g)...)...)
	if code != 0 || json.Unmarshal([]byte(out), &adminC) != nil {
		t.Fatalf("create the admin client: %s", errOut)
	}
	svc := cliCreate(t, g, "svc")
	var adminTok, svcTok string
	waitFor(t, 2*time.Second, "the node to see the new clients", func() bool {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {svc.ID}, "client_secret": {svc.Secret}}
		return request(t, "POST", node.url+"/v1/auth/token", "application/x-www-form-urlencoded", v.Encode()).StatusCode == 200
	})
	adminTok = tokenForAt(t, node.url, adminC.ID, adminC.Secret)
	svcTok = tokenForAt(t, node.url, svc.ID, svc.Secret)
	load := startLoadOn(node.url, "grant_type=client_credentials&client_id="+svc.ID+"&client_secret="+svc.Secret, 4)
	time.Sleep(100 * time.Millisecond)

	setFileSizeLimit(t, node.cmd.Process.Pid, 1) // the disk is full
	r := request(t, "POST", node.url+"/v1/admin/clients", "application/json", `{"name":"during","scopes":["x"]}`, "Authorization", "Bearer "+adminTok)
	wantUnavailable(t, "admin create on a full disk", r)
	if _, desc := r.errorBody(t); !strings.Contains(desc, "disk") {
		t.Errorf("admin create on a full disk: description %q does not name the disk", desc)
	}
	rev := request(t, "POST", node.url+"/v1/auth/revoke", "application/x-www-form-urlencoded", url.Values{"token": {svcTok}}.Encode(), "Authorization", basicAuth(svc.ID, svc.Secret))
	wantUnavailable(t, "revocation on a full disk", rev)
	// The CLI on the same full disk.
	cmd := helperCommand(append([]string{"clients", "create", "--name", "cli-during", "--scope", "x"}, globalArgs(g)...)...)
	cmd.Env = append(cmd.Env, "FAULT_HELPER_FSIZE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "disk") {
		t.Fatalf("clients create on a full disk: %v, stderr %q; want a non-zero exit and a message naming the disk", err, stderr.String())
	}
	t.Logf("CLI on a full disk: %s", strings.TrimSpace(stderr.String()))
	// Reads still work: the node is ready and introspects from the database.
	if resp := request(t, "GET", node.url+"/readyz", "", ""); resp.StatusCode != 200 {
		t.Fatalf("/readyz on a full disk: %d %s", resp.StatusCode, resp.body)
	}
	if resp := request(t, "GET", node.url+"/v1/admin/clients", "", "", "Authorization", "Bearer "+adminTok); resp.StatusCode != 200 {
		t.Fatalf("admin list on a full disk: %d %s", resp.StatusCode, resp.body)
	}
	time.Sleep(200 * time.Millisecond)

	setFileSizeLimit(t, node.cmd.Process.Pid, ^uint64(0)) // space is freed
	r = request(t, "POST", node.url+"/v1/admin/clients", "application/json", `{"name":"after","scopes":["x"]}`, "Authorization", "Bearer "+adminTok)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("admin create once space is back: %d %s", r.StatusCode, r.body)
	}
	var made struct {
		Client struct {
			ID string `json:"client_id"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(r.body, &made)
	after := createdClient{ID: made.Client.ID, Secret: made.Secret}
	// The admin API writes to the database; the node's replica picks the
	// client up at its next poll.
	waitFor(t, 2*time.Second, "a token for the client created once space is back", func() bool {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {after.ID}, "client_secret": {after.Secret}}
		return request(t, "POST", node.url+"/v1/auth/token", "application/x-www-form-urlencoded", v.Encode()).StatusCode == 200
	})
	ok, fail, failures := load.end()
	if fail != 0 || ok == 0 {
		t.Fatalf("tokens for a known client on a full disk: %d ok, %d failed (%q)", ok, fail, failures)
	}
	t.Logf("%d tokens issued while the disk was full and after, none refused", ok)

	node.kill()
	checkAfterKills(t, g, []createdClient{adminC, svc, after}, 0)
	clientsOut, _, _ := runCLI(t, "", append([]string{"clients", "list", "-o", "json"}, globalArgs(g)...)...)
	for _, name := range []string{"during", "cli-during"} {
		if strings.Contains(clientsOut, `"`+name+`"`) {
			t.Errorf("client %q, refused on the full disk, exists", name)
		}
	}
}

// TestFaultSQLiteReadOnly: the database file and its directory made
// read-only under a running node. The node keeps its open, writable file
// handle (the kernel checks permissions only when a file is opened), so it
// keeps working; a new process — the CLI here — can read but its write
// fails, and it exits non-zero with a message saying the database is
// read-only; nothing is changed; once the permissions are restored the CLI
// works again.
func TestFaultSQLiteReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: fault injection runs in the full tier")
	}
	t.Parallel()
	dir, err := os.MkdirTemp("", "gooclaim-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	g := &globalFlags{database: filepath.Join(dir, "auth.db")}
	ts := startTestNode(t, g, nil, func(c *serveConfig) { c.rateLimit = rateValue{Limit: 1_000_000, Window: time.Minute} })
	id, secret := ts.createClient("--name", "svc", "--scope", "x")
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	load := startLoad(ts, body, 2)

	// Read-only for everyone but root; as root, the CLI runs as nobody.
	files, _ := filepath.Glob(filepath.Join(dir, "auth.*"))
	for _, f := range files {
		os.Chmod(f, 0o444)
	}
	os.Chmod(dir, 0o555)
	copied := ""
	if os.Geteuid() == 0 {
		copied = copyExecutable(t, os.Args[0])
	}
	var stderr bytes.Buffer
	err = nil
	// A process another test forks while the copy is being written
	// inherits its write descriptor until it execs, and exec of a file
	// open for writing fails with ETXTBSY (golang.org/issue/22315): retry.
	for range 50 {
		cmd := helperCommand(append([]string{"clients", "create", "--name", "during", "--scope", "x"}, globalArgs(g)...)...)
		if copied != "" {
			// Permissions do not stop root: run the CLI as nobody, from a
			// copy of this binary that nobody may execute.
			cmd.Path = copied
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			cmd.Dir = "/"
		}
		stderr.Reset()
		cmd.Stderr = &stderr
		if err = cmd.Run(); !errors.Is(err, syscall.ETXTBSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err == nil || !strings.Contains(stderr.String(), "read-only") {
		t.Fatalf("clients create on a read-only database: %v, stderr %q; want a non-zero exit saying read-only", err, stderr.String())
	}
	t.Logf("CLI on a read-only database: %s", strings.TrimSpace(stderr.String()))
	time.Sleep(200 * time.Millisecond)

	os.Chmod(dir, 0o755)
	for _, f := range files {
		os.Chmod(f, 0o644)
	}
	newID, newSecret := ts.createClient("--name", "after", "--scope", "x")
	ts.tokenFor(newID, newSecret)
	if ok, fail, failures := load.end(); fail != 0 || ok == 0 {
		t.Fatalf("tokens with a read-only database: %d ok, %d failed (%q)", ok, fail, failures)
	}
	out, _, _ := ts.cli("", "clients", "list", "-o", "json")
	if strings.Contains(out, `"during"`) {
		t.Error("the client refused on the read-only database exists")
	}
}

// copyExecutable copies the executable at path into a new directory that
// every user may enter, and returns the copy's path.
func copyExecutable(t *testing.T, path string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gooclaim-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "gooclaim-auth.test")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
