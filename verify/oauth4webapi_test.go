package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/verify"
)

// interopDir holds the pinned oauth4webapi (package.json and
// package-lock.json) and the script; npm ci installs into its
// node_modules, which git ignores.
const interopDir = "testdata/oauth4webapi"

// TestOAuth4WebAPIDPoP is the proof with a third-party client: oauth4webapi
// (Node) obtains a DPoP-bound token from a real Gooclaim server with the
// client credentials grant, then calls a resource server built on this
// kit with its protectedResourceRequest, which must be accepted.
func TestOAuth4WebAPIDPoP(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: installs oauth4webapi with npm and runs Node; run without -short")
	}
	node := needTool(t, "node")
	npm := needTool(t, "npm")
	installOAuth4WebAPI(t, npm)

	s := newServer(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"claims:read"})
	rs := httptest.NewUnstartedServer(nil)
	rs.Start()
	defer rs.Close()
	v := newVerifier(t, s, func(c *verify.Config) { c.DPoP = &verify.DPoP{ExternalURL: rs.URL} })
	rs.Config.Handler = v.Middleware("claims:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s, bound to %s", c.Subject, c.Confirmation.JKT)
	}))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "dpop.mjs")
	cmd.Dir = interopDir
	cmd.Env = append(os.Environ(), "ISSUER="+s.Issuer, "CLIENT_ID="+id, "CLIENT_SECRET="+secret, "API_URL="+rs.URL+"/claims")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("oauth4webapi: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var got struct {
		TokenType string `json:"token_type"`
		Status    int    `json:"status"`
		Body      string `json:"body"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("the script printed %q: %v", stdout.String(), err)
	}
	if !strings.EqualFold(got.TokenType, "DPoP") || got.Status != 200 || !strings.HasPrefix(got.Body, "hello "+id+", bound to ") {
		t.Errorf("oauth4webapi got %+v; want a DPoP token the resource server accepts", got)
	}
}

// needTool finds a program the test needs: missing, the test skips,
// saying so, except in CI (CI set), where it fails, since .ci/run installs
// it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed, and CI is set: .ci/run installs Node.js and npm (apt-get install nodejs npm)", name)
	}
	t.Skipf("%s is not installed: install Node.js and npm to run the oauth4webapi interop test", name)
	return ""
}

// installOAuth4WebAPI runs npm ci in interopDir unless node_modules already
// holds what package-lock.json pins, so that a second run costs nothing.
func installOAuth4WebAPI(t *testing.T, npm string) {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(interopDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.ReadFile(filepath.Join(interopDir, "node_modules", ".package-lock.json"))
	if err == nil && sameLockedPackages(lock, installed) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = interopDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", interopDir, err, out)
	}
}

// sameLockedPackages compares the packages of package-lock.json with those
// npm recorded as installed (node_modules/.package-lock.json).
func sameLockedPackages(lock, installed []byte) bool {
	var a, b struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if json.Unmarshal(lock, &a) != nil || json.Unmarshal(installed, &b) != nil {
		return false
	}
	for name, p := range a.Packages {
		if name == "" {
			continue
		}
		if q, ok := b.Packages[name]; !ok || q.Version != p.Version || q.Integrity != p.Integrity {
			return false
		}
	}
	return true
}
