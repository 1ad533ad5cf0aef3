package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// FuzzConfigFile: a configuration file is read whole whatever it holds:
// no panic, every value it sets comes from a line of the file, and every
// problem names the file and the line (or the key) it is about.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte(`# gooclaim-auth.yaml: the keys are serve's flag names
env: production
listen: ":8443"
issuer: https://auth.gooclaim.com
tls-cert: /etc/gooclaim-auth/tls/fullchain.pem
tls-key: /etc/gooclaim-auth/tls/privkey.pem
key-encryption-key-file: /etc/gooclaim-auth/kek
redis-url: redis://redis:6379/0
token-ttl: 15m
rate-limit: 120/1m
max-header-bytes: 16KiB
trusted-proxies:
  - 10.0.0.0/8
`))
	f.Add([]byte("lisen: \":8080\"\nrate_limit: 5/1m\nconfig: other.yaml\nlisten: [\n"))
	f.Add([]byte("listen: :1\nlisten: :2\nredis-url:\ntoken-ttl: \ntrusted-proxies: [[a]]\nrate-limit: {a: b}\n"))
	f.Add([]byte("a: &x [1, *x]\nb: &y {k: *y}\ntrusted-proxies: *x\n"))
	f.Add([]byte("? [a, b]\n: c\n!!binary aGk=: 1\n\"\\x00\": \"\\u2028\"\n"))
	f.Add([]byte("--- \n- a\n- b\n...\n---\nlisten: x\n"))
	f.Add([]byte("token-ttl: 99999999999999999999h\nrate-limit: -1/0s\nmax-header-bytes: 1e999KiB\n\t"))
	f.Add([]byte("listen: \":8080\"\nissuer: \"https://a\x01\"\n"))
	f.Add([]byte("listen: \":8080\"\n\xff\xfe: x\n"))
	lineRef := regexp.MustCompile(`^:\d+: |^: yaml: line \d+: |^: yaml: unmarshal errors:\n  line \d+: `)
	// One file, rewritten for each input: a worker runs its inputs one at a time.
	path := filepath.Join(f.TempDir(), "gooclaim-auth.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(data), "\n") + 1
		entries, _ := readConfigFile(path)
		for _, e := range entries {
			if e.line < 1 || e.line > lines {
				t.Fatalf("setting %q at line %d of a file of %d lines", e.key, e.line, lines)
			}
		}
		flags := newServeFlagSet()
		flags.AddFlagSet(newGlobalFlagSet(&globalFlags{}))
		st := &settings{from: map[string]source{}}
		applyFile(flags, path, func(string) bool { return true }, st)
		flags.VisitAll(func(fl *pflag.Flag) {
			src, set := st.from[fl.Name]
			if fl.Changed != set || (set && (src.kind != "file" || src.file != path || src.line < 1 || src.line > lines)) {
				t.Fatalf("flag %s: changed %v, source %+v", fl.Name, fl.Changed, src)
			}
		})
		for _, p := range st.problems {
			rest, ok := strings.CutPrefix(p, path)
			if !ok || !lineRef.MatchString(rest) {
				t.Fatalf("problem %q does not name the file and a line", p)
			}
		}
	})
}
