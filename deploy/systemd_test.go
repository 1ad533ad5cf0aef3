package deploy

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const unitPath = "systemd/gooclaim-auth.service"

// unit is a systemd unit file: section → key → every value assigned, in order
// (a key may be assigned several times; an empty assignment resets a list).
type unit map[string]map[string][]string

// parseUnit reads the unit file syntax: [Section] headers, Key=Value lines,
// comments (# or ;), and lines continued with a trailing backslash.
func parseUnit(r io.Reader) (unit, error) {
	u := unit{}
	var section string
	sc := bufio.NewScanner(r)
	var n int
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		for strings.HasSuffix(line, `\`) && sc.Scan() {
			n++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(sc.Text())
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q: want Key=Value in a section", n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

// last is the value in effect for a single-valued key, and whether it is set.
func (u unit) last(section, key string) (string, bool) {
	l := u[section][key]
	if len(l) == 0 {
		return "", false
	}
	return l[len(l)-1], true
}

func readUnit(t *testing.T) unit {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := parseUnit(f)
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	u := readUnit(t)
	want := map[string]string{
		// Its own user, and nowhere to write but its state directory.
		"DynamicUser":    "yes",
		"StateDirectory": "gooclaim-auth",
		"ProtectSystem":  "strict",
		"ProtectHome":    "yes",
		"PrivateTmp":     "yes",
		"PrivateDevices": "yes",
		"UMask":          "0077",
		// No privileges, no way to gain any.
		"NoNewPrivileges":       "yes",
		"CapabilityBoundingSet": "",
		"AmbientCapabilities":   "",
		// The kernel and the host are out of reach.
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallArchitectures": "native",
		// Running it.
		"Restart":         "on-failure",
		"EnvironmentFile": "-/etc/gooclaim-auth/env",
		"LoadCredential":  "kek:/etc/gooclaim-auth/kek",
	}
	for k, v := range want {
		got, ok := u.last("Service", k)
		if !ok || got != v {
			t.Errorf("[Service] %s=%q (set: %v), want %q", k, got, ok, v)
		}
	}
	// An empty CapabilityBoundingSet= is a reset; nothing may follow it.
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		if l := u["Service"][k]; len(l) != 1 {
			t.Errorf("[Service] %s assigned %d times (%q), want once, empty", k, len(l), l)
		}
	}
	if l := u["Service"]["SystemCallFilter"]; len(l) == 0 || l[0] != "@system-service" {
		t.Errorf("[Service] SystemCallFilter=%q, want @system-service first", l)
	}
	exec, _ := u.last("Service", "ExecStart")
	args := strings.Fields(exec)
	if len(args) < 2 || args[0] != "/usr/local/bin/gooclaim-auth" || args[1] != "serve" {
		t.Errorf("ExecStart=%s, want /usr/local/bin/gooclaim-auth serve ...", exec)
	}
	for _, pair := range [][2]string{
		{"--config", "/etc/gooclaim-auth/gooclaim-auth.yaml"},
		{"--key-encryption-key-file", "${CREDENTIALS_DIRECTORY}/kek"},
	} {
		i := slices.Index(args, pair[0])
		if i < 0 || i+1 >= len(args) || args[i+1] != pair[1] {
			t.Errorf("ExecStart=%s, want %s %s", exec, pair[0], pair[1])
		}
	}
	// The database in the state directory, unless the env file says otherwise.
	var db bool
	for _, e := range u["Service"]["Environment"] {
		db = db || e == "GOOCLAIM_DATABASE=%S/gooclaim-auth/gooclaim-auth.db"
	}
	if !db {
		t.Errorf("[Service] Environment=%q, want GOOCLAIM_DATABASE in the state directory", u["Service"]["Environment"])
	}
	if v, _ := u.last("Install", "WantedBy"); v != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q, want multi-user.target", v)
	}
}

// TestSystemdAnalyze runs systemd's own checks, where systemd-analyze is
// installed: `verify` (syntax, known settings) and the offline `security`
// score. ExecStart must name an executable for verify, so a copy of the unit
// points at this test's binary.
func TestSystemdAnalyze(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	src, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "gooclaim-auth.service")
	text := strings.ReplaceAll(string(src), "ExecStart=/usr/local/bin/gooclaim-auth ", "ExecStart="+self+" ")
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command(analyze, "security", "--offline=yes", "--no-pager", copyPath).CombinedOutput()
	if err != nil {
		t.Skipf("systemd-analyze security --offline (systemd 250 or newer): %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for gooclaim-auth\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	// 0 is fully confined, 10 not at all; up to 2 is what systemd calls OK.
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	if level > 2 {
		t.Errorf("exposure level %.1f, want at most 2 (OK):\n%s", level, out)
	}
	t.Logf("systemd-analyze security: exposure level %.1f", level)
}
