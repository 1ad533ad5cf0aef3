package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gooclaim/auth/signing"
)

// runEnv runs gooclaim-auth with args and the environment vars.
func runEnv(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return vars[k] })
	return out.String(), errb.String(), code
}

// writeConfig writes a file in dir and returns its path.
func writeConfig(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// configPrint runs config print -o json and returns its settings by name.
func configPrint(t *testing.T, vars map[string]string, args ...string) map[string]configSetting {
	t.Helper()
	out, errOut, code := runEnv(t, vars, append([]string{"config", "print", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("config print %v: exit %d: %s", args, code, errOut)
	}
	var rows []configSetting
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("config print -o json printed %q: %v", out, err)
	}
	m := map[string]configSetting{}
	for _, r := range rows {
		m[r.Setting] = r
	}
	return m
}

// TestPrecedence: for several settings (a serve string, a rate, a duration,
// a size, a boolean, a global flag), every combination of file,
// environment and flag gives flags > env > file > defaults, with the source.
func TestPrecedence(t *testing.T) {
	type levels struct{ def, file, env, flag string }
	settings := map[string]levels{
		"listen":           {":8080", ":9001", ":9002", ":9003"},
		"rate-limit":       {"60/1m", "10/1m", "20/1m", "30/1m"},
		"token-ttl":        {"1h", "15m", "30m", "45m"},
		"max-header-bytes": {"16KiB", "32KiB", "48KiB", "64KiB"},
		"no-request-log":   {"false", "true", "false", "true"},
		"database":         {"./gooclaim-auth.db", "file.db", "env.db", "flag.db"},
		"log-level":        {"info", "debug", "warn", "error"},
	}
	// The file writes some values as plain numbers: seconds, bytes.
	fileValue := map[string]string{"token-ttl": "900", "max-header-bytes": "32768"}
	dir := t.TempDir()
	var yaml strings.Builder
	for name, l := range settings {
		v := l.file
		if fv, ok := fileValue[name]; ok {
			v = fv
		}
		fmt.Fprintf(&yaml, "%s: %q\n", name, v)
	}
	path := writeConfig(t, dir, "gooclaim-auth.yaml", yaml.String())
	lineOf := func(name string) int {
		for i, l := range strings.Split(yaml.String(), "\n") {
			if strings.HasPrefix(l, name+":") {
				return i + 1
			}
		}
		t.Fatalf("%s not in the file", name)
		return 0
	}

	for combo := range 8 {
		useFile, useEnv, useFlag := combo&1 != 0, combo&2 != 0, combo&4 != 0
		t.Run(fmt.Sprintf("file=%v,env=%v,flag=%v", useFile, useEnv, useFlag), func(t *testing.T) {
			vars := map[string]string{}
			var args []string
			if useFile {
				args = append(args, "--config", path)
			}
			for name, l := range settings {
				if useEnv {
					vars[envName(name)] = l.env
				}
				if useFlag {
					args = append(args, "--"+name+"="+l.flag)
				}
			}
			got := configPrint(t, vars, args...)
			for name, l := range settings {
				want, src := l.def, "default"
				switch {
				case useFlag:
					want, src = l.flag, "flag"
				case useEnv:
					want, src = l.env, "env "+envName(name)
				case useFile:
					want, src = l.file, fmt.Sprintf("file %s:%d", path, lineOf(name))
				}
				if got[name].Value != want || got[name].Source != src {
					t.Errorf("%s = %q from %q; want %q from %q", name, got[name].Value, got[name].Source, want, src)
				}
			}
		})
	}

	// GOOCLAIM_CONFIG names the file too, and says so.
	got := configPrint(t, map[string]string{"GOOCLAIM_CONFIG": path})
	if got["config"].Value != path || got["config"].Source != "env GOOCLAIM_CONFIG" || got["listen"].Value != ":9001" {
		t.Fatalf("GOOCLAIM_CONFIG: config %+v, listen %+v", got["config"], got["listen"])
	}
	// And a flag wins over it.
	other := writeConfig(t, dir, "other.yaml", "listen: \":7000\"\n")
	got = configPrint(t, map[string]string{"GOOCLAIM_CONFIG": path}, "--config", other)
	if got["listen"].Value != ":7000" || got["config"].Source != "flag" {
		t.Fatalf("--config over GOOCLAIM_CONFIG: %+v", got["listen"])
	}
}

// TestConfigPrint: the table shows each setting's value and source, the
// passwords of the database and Redis URLs are redacted, the key-encryption
// key is a path, the derived issuer is shown.
func TestConfigPrint(t *testing.T) {
	dir := t.TempDir()
	kekPath := filepath.Join(dir, "kek")
	if _, err := signing.CreateKEKFile(kekPath); err != nil {
		t.Fatal(err)
	}
	kekText, _ := os.ReadFile(kekPath)
	cfg := writeConfig(t, dir, "gooclaim-auth.yaml", `# a fleet node
database: postgres://gooclaim:pg-Secret-1@db:5432/gooclaim?sslmode=verify-full
key-encryption-key-file: `+kekPath+`
rate-limit: 100/1m
trusted-proxies:
  - 10.0.0.0/8
  - 192.0.2.10
`)
	vars := map[string]string{"GOOCLAIM_REDIS_URL": "redis://default:redis-Secret-2@redis:6379/0"}
	out, errOut, code := runEnv(t, vars, "config", "print", "--config", cfg, "--listen", ":9443")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, secret := range []string{"pg-Secret-1", "redis-Secret-2", strings.TrimSpace(string(kekText))} {
		if strings.Contains(out, secret) {
			t.Errorf("config print shows a secret %q:\n%s", secret, out)
		}
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		rows[f[0]] = f[1:]
	}
	for name, want := range map[string][]string{
		"SETTING":                 {"VALUE", "SOURCE"},
		"config":                  {cfg, "flag"},
		"database":                {"postgres://gooclaim:REDACTED@db:5432/gooclaim?sslmode=verify-full", "file", cfg + ":2"},
		"key-encryption-key-file": {kekPath, "file", cfg + ":3"},
		"redis-url":               {"redis://default:REDACTED@redis:6379/0", "env", "GOOCLAIM_REDIS_URL"},
		"rate-limit":              {"100/1m", "file", cfg + ":4"},
		"trusted-proxies":         {"10.0.0.0/8,192.0.2.10/32", "file", cfg + ":5"},
		"listen":                  {":9443", "flag"},
		"issuer":                  {"http://localhost:9443", "default"},
		"token-ttl":               {"1h", "default"},
		"max-header-bytes":        {"16KiB", "default"},
		"env":                     {"development", "default"},
		"tls-cert":                {"-", "default"},
	} {
		if strings.Join(rows[name], " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", name, rows[name], want)
		}
	}

	// The derived default issuer follows TLS.
	cert, key := writeCert(t, dir, "a", 1)
	got := configPrint(t, nil, "--tls-cert", cert, "--tls-key", key, "--listen", ":8443")
	if got["issuer"].Value != "https://localhost:8443" {
		t.Fatalf("issuer with TLS: %+v", got["issuer"])
	}
}

// TestConfigFileProblems: unknown keys (with the closest known one), bad
// values, out-of-range values and problems from the environment and the
// command line are all listed at once, each named as it was given.
func TestConfigFileProblems(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "bad.yaml", `lisen: ":8080"
rate-limit: fast
token-ttl: 48h
max-header-bytes: 16KB
rate-limit-fail: maybe
rate_limit: 5/1m
no-request-log: yes
env: staging
color: blue
listen:
  - ":1"
issuer: ftp://x
redis-url:
`)
	db := filepath.Join(dir, "auth.db")
	_, errOut, code := runEnv(t, map[string]string{"GOOCLAIM_IP_RATE_LIMIT": "lots"},
		"serve", "--config", cfg, "--database", db, "--signing-alg", "HS256")
	if code == 0 {
		t.Fatal("serve started with a broken configuration file")
	}
	for _, want := range []string{
		cfg + `:1: unknown setting "lisen" (did you mean "listen"?)`,
		cfg + `:2: rate-limit: rate "fast": want LIMIT/WINDOW, for example 60/1m`,
		cfg + `:3: token-ttl 2d: between 10s and 24h`,
		cfg + `:4: max-header-bytes: invalid size "16KB": use bytes (16384) or KiB, MiB, GiB (16KiB)`,
		cfg + `:5: rate-limit-fail "maybe": use open or closed`,
		cfg + `:6: unknown setting "rate_limit" (did you mean "rate-limit"?)`,
		cfg + `:7: no-request-log: want true or false`,
		cfg + `:8: env "staging": use production or development`,
		cfg + `:9: unknown setting "color"`,
		cfg + `:10: listen: want a single value, for example  listen: :8080`,
		cfg + `:12: issuer: "ftp://x" is not an absolute http(s) URL`,
		`GOOCLAIM_IP_RATE_LIMIT="lots": rate "lots": want LIMIT/WINDOW`,
		`--signing-alg "HS256": use ES256, EdDSA or RS256`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not say %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `"color" (did you mean`) {
		t.Errorf("a far-off key got a suggestion:\n%s", errOut)
	}
	if strings.Contains(errOut, "redis-url") {
		t.Errorf("an empty key (null) is not an error:\n%s", errOut)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("serve opened the database before refusing its configuration")
	}

	// A file that is not there, or not a mapping, or not YAML.
	for content, want := range map[string]string{
		"":                   "no such file",
		"- listen\n":         "want a mapping of setting names to values",
		"listen: [\n":        "yaml:",
		"a: 1\na: 2\n":       "a is given twice (first on line 1)",
		"config: other.yaml": "a configuration file cannot name another",
	} {
		path := filepath.Join(dir, "missing.yaml")
		if content != "" {
			path = writeConfig(t, dir, "c.yaml", content)
		}
		_, errOut, code := runEnv(t, nil, "serve", "--config", path, "--database", db)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("file %q: exit %d, %q; want %q", content, code, errOut, want)
		}
	}
}

// TestConfigFileForOtherCommands: the management commands take the global
// settings from the file, but never serve's: clients create --rate-limit is
// a client's own limit, not the server's default.
func TestConfigFileForOtherCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "from-file.db")
	cfg := writeConfig(t, dir, "gooclaim-auth.yaml", "database: "+db+"\nrate-limit: 5/1m\ntoken-ttl: 5m\n")
	out, errOut, code := runEnv(t, nil, "clients", "create", "--config", cfg, "--name", "svc", "--scope", "a", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var created map[string]any
	json.Unmarshal([]byte(out), &created)
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the database of the file was not used: %v", err)
	}
	out, _, _ = runEnv(t, map[string]string{"GOOCLAIM_CONFIG": cfg}, "clients", "show", created["client_id"].(string), "-o", "json")
	var shown map[string]any
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("show: %q", out)
	}
	if shown["rate_limit"] != nil || shown["token_ttl"] != nil {
		t.Fatalf("serve's settings in the file leaked into clients create: %v", shown)
	}
	// An unknown key is an error for every command.
	bad := writeConfig(t, dir, "bad.yaml", "databse: x.db\n")
	if _, errOut, code := runEnv(t, nil, "clients", "list", "--config", bad); code == 0 || !strings.Contains(errOut, `did you mean "database"`) {
		t.Fatalf("clients list with an unknown key: exit %d, %q", code, errOut)
	}
}
