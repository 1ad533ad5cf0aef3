package main

// The secrets-in-logs check (docs/threat-model.md, "Secrets in logs"):
// every secret the package's tests create is registered where it is made,
// every log they produce is registered where it is written, and TestMain
// fails the run if any log holds any secret.
//
// Secrets: client secrets (createClient, and any "gcs_…" secret in a CLI's
// output or an HTTP answer), imported secrets and tokens read from a CLI's
// standard input, access tokens (any JWT in an HTTP answer or a CLI's
// output), the key-encryption key file of every server, and every signing
// key's private half (a line of its PKCS #8 PEM and its JWK "d").
//
// Logs: every test server's log (startTestNode), and the standard error of
// every CLI run (runCLI) — which is also where `serve` run as a command
// logs. A CLI's standard output is scanned too, except for the commands
// whose job is to print a secret once (clients create, clients
// rotate-secret, token).

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth/signing"
)

// TestMain runs the package's tests, then the secret scan over everything
// they logged.
func TestMain(m *testing.M) {
	code := m.Run()
	start := time.Now()
	if leaks := runRegistry.scan(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: secret scan: %d secret(s) found in the logs of this test run:\n", len(leaks))
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "secret scan: %s (%s)\n", runRegistry.summary(), time.Since(start).Round(time.Millisecond))
	}
	os.Exit(code)
}

// minSecretLen: shorter values are not registered (they would match by chance).
const minSecretLen = 8

// secretRegistry holds the secrets created and the logs written during a run.
type secretRegistry struct {
	mu      sync.Mutex
	secrets map[string]string // value → what it is and which test made it
	logs    []logSource
}

type logSource struct {
	name string
	read func() string
}

var runRegistry = &secretRegistry{}

// addSecret registers value as a secret: kind says what it is.
func (r *secretRegistry) addSecret(t testing.TB, kind, value string) {
	value = strings.TrimSpace(value)
	if len(value) < minSecretLen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]string{}
	}
	if _, ok := r.secrets[value]; !ok {
		r.secrets[value] = kind + " made by " + t.Name()
	}
}

// addLog registers a log to scan at the end of the run; read is called then.
func (r *secretRegistry) addLog(name string, read func() string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, logSource{name, read})
}

func (r *secretRegistry) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[string]int{}
	for _, kind := range r.secrets {
		for _, c := range []string{"secret", "token", "key-encryption key", "private key", "standard input"} {
			if strings.Contains(kind, c) {
				counts[c]++
				break
			}
		}
	}
	return fmt.Sprintf("%d secrets (%d client secrets, %d tokens, %d key-encryption keys, %d private-key forms, %d other standard inputs) checked against %d logs, none found",
		len(r.secrets), counts["secret"], counts["token"], counts["key-encryption key"], counts["private key"], counts["standard input"], len(r.logs))
}

// scan returns one line per (secret, log) pair where the log holds the secret.
func (r *secretRegistry) scan() []string {
	r.mu.Lock()
	secrets := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		secrets = append(secrets, s)
	}
	slices.Sort(secrets)
	kinds := r.secrets
	logs := slices.Clone(r.logs)
	r.mu.Unlock()
	if len(secrets) == 0 {
		return nil
	}
	// One pass per log finds whether it holds any secret at all; only
	// then is each secret looked for.
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, "")
	}
	any := strings.NewReplacer(pairs...)
	var leaks []string
	for _, l := range logs {
		text := l.read()
		if len(any.Replace(text)) == len(text) {
			continue
		}
		for _, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				leaks = append(leaks, fmt.Sprintf("%s (%s…) in %s: …%s…", kinds[s], s[:4], l.name, excerpt(text, i, len(s))))
			}
		}
	}
	return leaks
}

// excerpt is the text around a hit, the secret itself elided.
func excerpt(text string, i, n int) string {
	from, to := max(0, i-60), min(len(text), i+n+60)
	return strings.ReplaceAll(text[from:i]+"<SECRET>"+text[i+n:to], "\n", `\n`)
}

// The harness's hooks.

// registerServerLog scans a test server's log at the end of the run, and
// registers its key-encryption key and, when the test ends, the private
// halves of the signing keys it holds.
func registerServerLog(t *testing.T, ts *testServer) {
	runRegistry.addLog("the server log of "+t.Name(), ts.logs.String)
	kekPath := ts.g.kekFile
	if kekPath == "" && !strings.HasPrefix(ts.g.database, "postgres") {
		kekPath = defaultKEKPath(strings.TrimPrefix(ts.g.database, "sqlite:"))
	}
	text, err := os.ReadFile(kekPath)
	if err != nil {
		t.Logf("secret scan: cannot read the key-encryption key %s: %v", kekPath, err)
		return
	}
	runRegistry.addSecret(t, "the key-encryption key", string(text))
	kek, err := signing.ParseKEK(text)
	if err != nil {
		return
	}
	t.Cleanup(func() {
		for _, st := range ts.srv.Keys().Statuses(time.Now()) {
			registerPrivateKey(t, kek, st.Key.ID, st.Key.Sealed)
		}
	})
}

// registerPrivateKey registers a signing key's private half as it would
// appear if logged: a line of its PEM, and its JWK "d".
func registerPrivateKey(t testing.TB, kek *signing.KEK, kid string, sealed []byte) {
	der, err := kek.Open(sealed, []byte(kid))
	if err != nil {
		return
	}
	kind := "the private key of signing key " + kid
	lines := strings.Split(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "\n")
	if len(lines) > 2 {
		runRegistry.addSecret(t, kind+" (PEM)", lines[len(lines)/2])
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return
	}
	var d []byte
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		d, _ = k.Bytes()
	case ed25519.PrivateKey:
		d = k.Seed()
	case *rsa.PrivateKey:
		d = k.D.Bytes()
	}
	if len(d) > 0 {
		runRegistry.addSecret(t, kind+" (JWK d)", base64.RawURLEncoding.EncodeToString(d))
	}
}

var (
	generatedSecretRE = regexp.MustCompile(`gcs_[A-Za-z0-9_-]{40,}`)
	jwtRE             = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
)

// registerFound registers the generated secrets and JWTs in text (an HTTP
// answer or a command's output).
func registerFound(t testing.TB, where, text string) {
	for _, s := range generatedSecretRE.FindAllString(text, -1) {
		runRegistry.addSecret(t, "a client secret in "+where, s)
	}
	for _, s := range jwtRE.FindAllString(text, -1) {
		runRegistry.addSecret(t, "a token in "+where, s)
	}
}

// consoleCodeRE finds the code of a console sign-in link.
var consoleCodeRE = regexp.MustCompile(`#code=([A-Za-z0-9_.-]+)`)

// recordCLI registers a CLI run: the secrets it was given or printed, and
// its output as logs.
func recordCLI(t testing.TB, stdin string, args []string, stdout, stderr string) {
	cmd := strings.Join(args[:min(2, len(args))], " ")
	// A public JWK Set is no secret, nor a configuration document (which
	// never holds one) given to plan or apply.
	if !slices.Contains(args, "--jwks-file") && !(len(args) > 0 && (args[0] == "plan" || args[0] == "apply")) {
		runRegistry.addSecret(t, "standard input of "+cmd, stdin)
	}
	registerFound(t, "the output of "+cmd, stdout)
	for _, m := range consoleCodeRE.FindAllStringSubmatch(stdout, -1) {
		runRegistry.addSecret(t, "a console sign-in code in the output of "+cmd, m[1])
	}
	name := fmt.Sprintf("`%s` run by %s", cmd, t.Name())
	runRegistry.addLog("the standard error of "+name, func() string { return stderr })
	switch {
	case cmd == "clients create", cmd == "clients rotate-secret", len(args) > 0 && (args[0] == "token" || args[0] == "console"):
		// Printing the secret (token, sign-in link) once is these commands' job.
	default:
		runRegistry.addLog("the standard output of "+name, func() string { return stdout })
	}
}

// TestSecretScanFindsPlantedSecret: the scanner finds a registered secret
// in a registered log, names both, and passes clean logs.
func TestSecretScanFindsPlantedSecret(t *testing.T) {
	r := &secretRegistry{}
	clean := `{"level":"INFO","msg":"request","client_id":"gooclaim_app_x"}`
	r.addLog("clean", func() string { return clean })
	r.addSecret(t, "a client secret", "gcs_planted-secret-value")
	r.addSecret(t, "short", "abc") // ignored: too short to mean anything
	if leaks := r.scan(); len(leaks) != 0 {
		t.Fatalf("clean log: %q", leaks)
	}
	r.addLog("dirty", func() string { return clean + "\n" + `{"msg":"oops","secret":"gcs_planted-secret-value"}` })
	leaks := r.scan()
	if len(leaks) != 1 || !strings.Contains(leaks[0], "a client secret made by "+t.Name()) || !strings.Contains(leaks[0], "in dirty") ||
		strings.Contains(leaks[0], "planted-secret-value") {
		t.Errorf("leaks %q, want one naming the secret's kind and the log, without the secret", leaks)
	}
}

// TestSecretScanFailsTheRun runs this package's test binary again in a
// child process, with one test that writes a client secret into a real
// server's log (TestSecretScanPlantedLeak, which passes by itself): the
// child run must fail, and say why.
func TestSecretScanFailsTheRun(t *testing.T) {
	if os.Getenv("GOOCLAIM_SECRET_SCAN_PLANT") != "" {
		t.Skip("in the child run")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretScanPlantedLeak$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOOCLAIM_SECRET_SCAN_PLANT=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("the child run with a planted secret: %v, want a failure\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"--- PASS: TestSecretScanPlantedLeak", "FAIL: secret scan: 1 secret(s)",
		"client secret", "the server log of TestSecretScanPlantedLeak", "<SECRET>"} {
		if !strings.Contains(got, want) {
			t.Errorf("the child run's output lacks %q:\n%s", want, got)
		}
	}
}

// TestSecretScanPlantedLeak is the child run's test: it leaks a client
// secret into the server's log on purpose. Skipped in normal runs.
func TestSecretScanPlantedLeak(t *testing.T) {
	if os.Getenv("GOOCLAIM_SECRET_SCAN_PLANT") == "" {
		t.Skip("run by TestSecretScanFailsTheRun in a child process")
	}
	ts := startTestServer(t, nil)
	_, secret := ts.createClient("--name", "leaky", "--scope", "claims:read")
	ts.logger.Info("a careless line", "secret", secret)
}
