//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/internal/testservices"
	"github.com/gooclaim/auth/signing"
)

// helperEnv marks a re-execution of this test binary as gooclaim-auth
// itself (TestFaultHelperProcess).
const helperEnv = "FAULT_HELPER_PROCESS"

// TestFaultHelperProcess is not a test: run by the fault tests as a
// subprocess (os.Args[0] -test.run=^TestFaultHelperProcess$ -- ARGS), it is
// the gooclaim-auth command — the same run() main calls, with the same
// signal handling — so that it can be killed with SIGKILL or given a file
// size limit without building the binary first. FAULT_HELPER_FSIZE sets
// RLIMIT_FSIZE (bytes) first, as a full disk would stop writes.
func TestFaultHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the gooclaim-auth subprocess of the fault tests")
	}
	if s := os.Getenv("FAULT_HELPER_FSIZE"); s != "" {
		n, _ := strconv.ParseUint(s, 10, 64)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	// Settings come from the command line only, not the test's environment.
	code := run(ctx, flag.Args(), os.Stdin, os.Stdout, os.Stderr, func(string) string { return "" })
	stop()
	os.Exit(code)
}

// helperCommand returns gooclaim-auth args as a subprocess.
func helperCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestFaultHelperProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	return cmd
}

// globalArgs are the database flags of g.
func globalArgs(g *globalFlags) []string {
	a := []string{"--database", g.database}
	if g.postgresSchema != "" {
		a = append(a, "--postgres-schema", g.postgresSchema)
	}
	if g.kekFile != "" {
		a = append(a, "--key-encryption-key-file", g.kekFile)
	}
	return a
}

// serveProcess is `gooclaim-auth serve` as a subprocess.
type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr bytes.Buffer
}

func startServeProcess(t *testing.T, g *globalFlags, port int) *serveProcess {
	t.Helper()
	p := &serveProcess{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	p.cmd = helperCommand(append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--ops-listen", "",
		"--poll-interval", "100ms", "--rate-limit", "100000/1m"}, globalArgs(g)...)...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready within 15s:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and reaps the process.
func (p *serveProcess) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// TestFaultKill: gooclaim-auth processes killed with SIGKILL at random
// moments — `clients create` and `keys rotate` in the middle of their
// writes, and the serving node itself — on SQLite and on PostgreSQL.
// Afterwards the database opens and passes its integrity check, every
// client the CLI reported as created exists with its secret hash and its
// audit event, no client lacks its audit event nor an event its client,
// every signing key has its audit event and opens under the KEK, exactly
// one key is active, and a restarted node serves tokens.
func TestFaultKill(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		killLoop(t, &globalFlags{database: filepath.Join(t.TempDir(), "auth.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pgURL := authtest.PostgresURL(t)
		schema := "gooclaim_kill_" + randomName()
		kek := filepath.Join(t.TempDir(), "kek")
		if _, err := signing.CreateKEKFile(kek); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			if conn, err := pgx.Connect(ctx, pgURL); err == nil {
				conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
				conn.Close(ctx)
			}
		})
		killLoop(t, &globalFlags{database: pgURL, postgresSchema: schema, kekFile: kek})
	})
}

type createdClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func killLoop(t *testing.T, g *globalFlags) {
	port := testservices.FreePort(t)
	node := startServeProcess(t, g, port)

	var (
		reported                 []createdClient
		rotations, killed, tries int
		durations                []time.Duration
		typical                  = 100 * time.Millisecond
		nodeKilled               bool
		budget                   = time.Now().Add(4 * time.Second)
	)
	for i := 0; time.Now().Before(budget) || i < 12; i++ {
		if i == 20 && !nodeKilled {
			// The node dies too, in the middle of it all, and comes back.
			node.kill()
			node = startServeProcess(t, g, port)
			nodeKilled = true
		}
		args := []string{"clients", "create", "--name", fmt.Sprintf("k%d", i), "--scope", "x", "-o", "json"}
		rotate := i%3 == 2
		if rotate {
			args = []string{"keys", "rotate", "--key-publish-ahead", "0", "-o", "json"}
		}
		cmd := helperCommand(append(args, globalArgs(g)...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tries++
		// The first few calibrate; after that a kill lands anywhere from
		// process start to a little after the typical end.
		var timer *time.Timer
		if i >= 3 {
			delay := time.Duration(rand.Int64N(int64(typical) * 3 / 2))
			timer = time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		}
		err := cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", args[:2], err, errb.String())
		}
		if i < 3 {
			durations = append(durations, time.Since(start))
			typical = durations[len(durations)/2]
		}
		if rotate {
			rotations++
			continue
		}
		var c createdClient
		if err := json.Unmarshal(out.Bytes(), &c); err != nil || c.ID == "" || c.Secret == "" {
			t.Fatalf("clients create exited 0 but printed %q: %v", out.String(), err)
		}
		reported = append(reported, c)
	}
	node.kill()
	t.Logf("%d processes started, %d killed with SIGKILL (typical run %v); %d clients and %d rotations reported done; the node killed once mid-run",
		tries, killed, typical.Round(time.Millisecond), len(reported), rotations)
	if killed == 0 {
		t.Fatal("no process was killed: the test proves nothing")
	}

	checkAfterKills(t, g, reported, rotations)

	// A restarted node (maintenance runs as it starts) has exactly one
	// active key and serves tokens to the clients that were reported.
	node = startServeProcess(t, g, port)
	out, errOut, code := runCLI(t, "", append([]string{"keys", "list", "-o", "json"}, globalArgs(g)...)...)
	if code != 0 {
		t.Fatalf("keys list: %s", errOut)
	}
	var keys []struct {
		KID   string `json:"kid"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, k := range keys {
		if k.State == "active" {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d active keys after the kills, want exactly 1: %s", active, out)
	}
	for _, c := range reported {
		resp, err := http.PostForm(node.url+"/v1/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("restarted node: status %d for client %s reported as created", resp.StatusCode, c.ID)
		}
	}
}

// checkAfterKills opens the database and checks that nothing is lost or
// half-written.
func checkAfterKills(t *testing.T, g *globalFlags, reported []createdClient, rotations int) {
	t.Helper()
	ctx := context.Background()
	if !isPostgres(g.database) {
		db, err := sql.Open("sqlite", g.database)
		if err != nil {
			t.Fatal(err)
		}
		for _, pragma := range []string{"integrity_check", "foreign_key_check"} {
			rows, err := db.Query("PRAGMA " + pragma)
			if err != nil {
				t.Fatal(err)
			}
			var results []string
			for rows.Next() {
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rows.Scan(ptrs...)
				results = append(results, fmt.Sprint(vals...))
			}
			rows.Close()
			if want := map[string]string{"integrity_check": "ok", "foreign_key_check": ""}[pragma]; strings.Join(results, ";") != want {
				t.Fatalf("PRAGMA %s: %q", pragma, results)
			}
		}
		db.Close()
	}
	store, err := openStore(ctx, g, nil)
	if err != nil {
		t.Fatalf("the database does not open after the kills: %v", err)
	}
	defer store.Close()

	clients := map[string]*auth.Client{}
	for after := ""; ; {
		page, err := store.ListClients(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			clients[c.ID] = c
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	var events []auth.AuditEvent
	for after := int64(0); ; {
		page, err := store.AuditEvents(ctx, auth.AuditQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Seq
	}
	created := map[string]int{}
	keyEvents := map[string]bool{}
	rotateEvents := 0
	for _, e := range events {
		switch e.Action {
		case auth.ActionClientCreate:
			created[e.TargetID]++
		case auth.ActionKeysRotate:
			rotateEvents++
			keyEvents[e.TargetID] = true
		case auth.ActionKeysUpdate:
			keyEvents[e.TargetID] = true
		}
	}
	for _, c := range reported {
		got := clients[c.ID]
		if got == nil {
			t.Fatalf("client %s was reported as created but is missing", c.ID)
		}
		if len(got.Secrets) == 0 {
			t.Fatalf("client %s has no secret hash", c.ID)
		}
	}
	for id, c := range clients {
		if created[id] != 1 {
			t.Errorf("client %s (%s) has %d client.create audit events, want 1", id, c.Name, created[id])
		}
		if len(c.Secrets) == 0 {
			t.Errorf("client %s exists without a secret hash", id)
		}
	}
	for id := range created {
		if clients[id] == nil {
			t.Errorf("a client.create audit event for %s, which does not exist", id)
		}
	}
	keys, err := store.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rotateEvents < rotations {
		t.Errorf("%d keys.rotate audit events, but %d rotations were reported done", rotateEvents, rotations)
	}
	for _, k := range keys {
		if !keyEvents[k.ID] {
			t.Errorf("key %s has no audit event", k.ID)
		}
	}
	if len(keys) != 1+rotateEvents {
		t.Errorf("%d keys for the first key and %d rotations recorded in the audit trail", len(keys), rotateEvents)
	}
	t.Logf("database consistent: %d clients (%d reported), %d keys, %d audit events", len(clients), len(reported), len(keys), len(events))
}
