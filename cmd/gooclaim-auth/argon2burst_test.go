package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The seed's documented example client: imported, so its secret is checked
// with argon2id (19 MiB, tens of milliseconds) until one success per node.
const (
	seedClientID     = "gooclaim_app_12345"
	seedClientSecret = "S3cureP@ssw0rd!"
)

// burstResult counts the answers of a burst of wrong-secret requests.
type burstResult struct {
	status map[int]int
	bad    []string // answers that break the rules, described
}

// wrongSecretBurst sends perEndpoint concurrent requests with a wrong
// secret (HTTP Basic) for the seed client to each of the token,
// introspection and revocation endpoints, all released at once.
func wrongSecretBurst(t *testing.T, base string, perEndpoint int) burstResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 3 * perEndpoint, MaxConnsPerHost: 3 * perEndpoint}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	paths := map[string]url.Values{
		"/v1/auth/token":      {"grant_type": {"client_credentials"}},
		"/v1/auth/introspect": {"token": {"x.y.z"}},
		"/v1/auth/revoke":     {"token": {"x.y.z"}},
	}
	res := burstResult{status: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for path, form := range paths {
		for i := range perEndpoint {
			wg.Go(func() {
				req, err := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
				if err != nil {
					panic(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(seedClientID, fmt.Sprintf("wrong guess %d", i))
				<-start
				resp, err := client.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.bad = append(res.bad, path+": "+err.Error())
					return
				}
				defer resp.Body.Close()
				var e struct {
					Error string `json:"error"`
				}
				json.NewDecoder(resp.Body).Decode(&e)
				res.status[resp.StatusCode]++
				if resp.StatusCode == http.StatusServiceUnavailable &&
					(e.Error != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "") {
					res.bad = append(res.bad, fmt.Sprintf("%s: 503 %q with Retry-After %q", path, e.Error, resp.Header.Get("Retry-After")))
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return res
}

// TestImportedSecretBurst reproduces issue 12's second attack: 61
// concurrent wrong-secret requests for one imported client to each of the
// token, introspection and revocation endpoints got 180 answers of 401,
// each an argon2id computation of 19 MiB, all at once (resident memory
// 64 MB → 3.4 GB). Now the three endpoints share the client's one budget
// (60 a minute: at most 60 guesses, not 180), and at most one argon2id
// check per CPU runs at once; the rest of the budget's requests are
// answered at once with 503 and Retry-After, not queued.
func TestImportedSecretBurst(t *testing.T) {
	ts := startTestServer(t, nil)
	if _, errOut, code := ts.cli(seedClientSecret, "clients", "create", "--client-id", seedClientID,
		"--name", "seed example", "--scope", "claims:read", "--secret-stdin"); code != 0 {
		t.Fatal(errOut)
	}
	ts.waitForClient(seedClientID, true)

	res := wrongSecretBurst(t, ts.url, 61)
	if n := len(res.bad); n > 0 {
		t.Fatalf("%d answers break the rules, the first: %q (the others: %v)", n, res.bad[:min(n, 3)], res.status)
	}
	guesses := res.status[401] + res.status[503]
	if guesses != 60 || res.status[429] != 123 || len(res.status) > 3 {
		t.Fatalf("answers %v: want 60 of 401 or 503 (one budget of 60 for the three endpoints) and 123 of 429", res.status)
	}
	// Each 401 cost one argon2id computation; a 503 cost none.
	t.Logf("answers %v: %d guesses checked, %d refused for want of a free argon2id slot (%d slots)",
		res.status, res.status[401], res.status[503], runtime.GOMAXPROCS(0))
	if strings.Contains(ts.logs.String(), `"msg":"token request failed"`) {
		t.Error("a deliberate 503 was logged as a failure of the server, a line per guess")
	}
}

// TestImportedSecretBurstMemory measures what such a burst costs in
// resident memory: it runs TestImportedSecretBurstChild in a process of
// its own (whose peak resident size is its own) and checks the bound the
// documentation states: peak − base ≤ 2 × slots × 19 MiB + 32 MiB.
func TestImportedSecretBurstMemory(t *testing.T) {
	if os.Getenv("GOOCLAIM_BURST_CHILD") != "" {
		t.Skip("in the child run")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/status")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory multiplies resident sizes: the bound is for a normal build")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestImportedSecretBurstChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOOCLAIM_BURST_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the burst in a child process: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`burst memory: .*`).FindString(out.String())
	if m == "" {
		t.Fatalf("the child did not report its memory:\n%s", out.String())
	}
	t.Log(m)
}

// TestImportedSecretBurstChild is the child process's test (skipped in
// normal runs): a server in this process, its resident size settled, then
// the burst, then the peak.
func TestImportedSecretBurstChild(t *testing.T) {
	if os.Getenv("GOOCLAIM_BURST_CHILD") == "" {
		t.Skip("run by TestImportedSecretBurstMemory in a child process")
	}
	ts := startTestServer(t, nil)
	if _, errOut, code := ts.cli(seedClientSecret, "clients", "create", "--client-id", seedClientID,
		"--name", "seed example", "--scope", "claims:read", "--secret-stdin"); code != 0 {
		t.Fatal(errOut)
	}
	ts.waitForClient(seedClientID, true)
	ts.tokenFor(mustCreate(ts))                           // warm: connections, keys, pools
	runtime.GC()                                          // the CLI's own argon2id (hashing the import) is garbage
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset the peak (VmHWM) to the current size
	base := procStatusKiB(t, "VmRSS")

	res := wrongSecretBurst(t, ts.url, 61)
	peak := procStatusKiB(t, "VmHWM")
	slots := runtime.GOMAXPROCS(0) // the server's default: one argon2id check per CPU
	const mib = 1024
	bound := 2*slots*19*mib + 32*mib
	fmt.Printf("burst memory: base %d MiB, peak %d MiB (+%d MiB; bound +%d MiB with %d argon2id slots); answers %v\n",
		base/mib, peak/mib, (peak-base)/mib, bound/mib, slots, res.status)
	if peak-base > bound {
		t.Fatalf("a burst of 183 wrong secrets raised the resident size by %d MiB, over the bound of %d MiB", (peak-base)/mib, bound/mib)
	}
}

// mustCreate makes a client with a generated secret on ts.
func mustCreate(ts *testServer) (id, secret string) {
	return ts.createClient("--name", "warm-up", "--scope", "claims:read")
}

// procStatusKiB reads a "kB" field of /proc/self/status.
func procStatusKiB(t *testing.T, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
