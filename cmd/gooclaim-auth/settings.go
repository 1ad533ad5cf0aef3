package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth/internal/textdist"
)

// Settings come from, in order of precedence: the command line, the
// environment (GOOCLAIM_<FLAG>), the configuration file (--config or
// GOOCLAIM_CONFIG; its keys are the flag names), and the flags' defaults.
// The file holds serve's settings; the other commands take only the global
// ones (database, key-encryption-key-file, …) from it, since some of their
// own flags share a name with serve's and mean something else
// (clients create --rate-limit is a client's own limit).

// source says where a setting's value came from.
type source struct {
	kind string // "flag", "env", "file" or "" for the default
	env  string // the variable, for "env"
	file string // the file, for "file"
	line int
}

func (s source) String() string {
	switch s.kind {
	case "flag":
		return "flag"
	case "env":
		return "env " + s.env
	case "file":
		return fmt.Sprintf("file %s:%d", s.file, s.line)
	}
	return "default"
}

// settings is what resolving the command's flags found: where each set
// value came from, and what was wrong.
type settings struct {
	file     string            // the configuration file, "" for none
	from     map[string]source // by flag name; absent means the default
	problems []string
}

// name is how a message refers to a setting: the way it was given, so that
// the reader knows what to change — --token-ttl, GOOCLAIM_TOKEN_TTL, or
// gooclaim-auth.yaml:3: token-ttl. A nil *settings names flags.
func (st *settings) name(flag string) string {
	if st != nil {
		switch s := st.from[flag]; s.kind {
		case "env":
			return s.env
		case "file":
			return fmt.Sprintf("%s:%d: %s", s.file, s.line, flag)
		}
	}
	return "--" + flag
}

func (st *settings) source(flag string) source {
	if st == nil {
		return source{}
	}
	return st.from[flag]
}

func (st *settings) err() error {
	if len(st.problems) == 0 {
		return nil
	}
	return errors.New("invalid settings:\n  " + strings.Join(st.problems, "\n  "))
}

// serveScoped marks the commands that take serve's settings from the
// configuration file (serve and config print).
const serveScoped = "serve-settings"

// resolveSettings completes the command's flags from the environment, then
// from the configuration file, recording where each value came from.
func resolveSettings(cmd *cobra.Command, getenv func(string) string, g *globalFlags) *settings {
	st := &settings{from: map[string]source{}}
	flags := cmd.Flags()
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			st.from[f.Name] = source{kind: "flag"}
		}
	})
	_, all := cmd.Annotations[serveScoped]
	_, env := cmd.Annotations[envScoped]
	global := cmd.Root().PersistentFlags()
	isGlobal := func(name string) bool { return global.Lookup(name) != nil }
	applyEnv(flags, getenv, func(name string) bool { return all || env || isGlobal(name) || name == "output" }, st)
	if g.config != "" {
		st.file = g.config
		applyFile(flags, g.config, func(name string) bool { return all || isGlobal(name) }, st)
	}
	return st
}

// envName is the environment variable of a flag: --key-encryption-key-file → GOOCLAIM_KEY_ENCRYPTION_KEY_FILE.
func envName(flag string) string {
	return "GOOCLAIM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// notFromEnv are flags an environment variable must not set: a
// GOOCLAIM_ADMIN=true left in a shell would make every client an admin.
var notFromEnv = map[string]bool{"admin": true}

// envScoped marks the commands whose own flags are read from the
// environment too (token, verify). The management commands' own flags are
// not: GOOCLAIM_RATE_LIMIT or GOOCLAIM_AUDIENCE set for serve must not
// become the settings of every client created in the same shell.
const envScoped = "env-settings"

// applyEnv sets every flag in scope not given on the command line from its
// environment variable, if set.
func applyEnv(flags *pflag.FlagSet, getenv func(string) string, inScope func(string) bool, st *settings) {
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || notFromEnv[f.Name] || !inScope(f.Name) {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			st.problems = append(st.problems, fmt.Sprintf("%s=%q: %v", name, v, valueError(f, err)))
			return
		}
		f.Changed = true
		st.from[f.Name] = source{kind: "env", env: name}
	})
}

// valueError says what a flag wants when a value does not parse.
func valueError(f *pflag.Flag, err error) error {
	if f.Value.Type() == "bool" {
		return errors.New("want true or false")
	}
	return err
}

// fileSetting is one key of the configuration file.
type fileSetting struct {
	key, value string
	line       int
}

// applyFile sets, from the configuration file at path, every flag that is
// neither on the command line nor in the environment and that applies says
// the command takes from a file. Every key must be a setting of serve's (an
// unknown key is an error, with the closest known key), and every value
// must parse, even one overridden or not used by this command: the file is
// checked whole.
func applyFile(flags *pflag.FlagSet, path string, applies func(string) bool, st *settings) {
	entries, problems := readConfigFile(path)
	st.problems = append(st.problems, problems...)
	known := settingNames()
	scratch := newServeFlagSet()
	scratch.AddFlagSet(newGlobalFlagSet(&globalFlags{}))
	for _, e := range entries {
		at := fmt.Sprintf("%s:%d: ", path, e.line)
		if !slices.Contains(known, e.key) {
			msg := fmt.Sprintf("%sunknown setting %q", at, e.key)
			if e.key == "config" {
				msg += ": a configuration file cannot name another"
			} else if near := closest(e.key, known); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			st.problems = append(st.problems, msg+"; the keys are the names of serve's flags (gooclaim-auth serve --help)")
			continue
		}
		check := scratch.Lookup(e.key)
		if e.value == "" && check.Value.Type() != "string" {
			st.problems = append(st.problems, fmt.Sprintf("%s%s: no value; remove the line or give one (default %s)", at, e.key, check.DefValue))
			continue
		}
		if err := check.Value.Set(e.value); err != nil {
			st.problems = append(st.problems, fmt.Sprintf("%s%s: %v", at, e.key, valueError(check, err)))
			continue
		}
		f := flags.Lookup(e.key)
		if f == nil || f.Changed || !applies(e.key) {
			continue
		}
		if err := f.Value.Set(e.value); err != nil {
			st.problems = append(st.problems, fmt.Sprintf("%s%s: %v", at, e.key, valueError(f, err)))
			continue
		}
		f.Changed = true
		st.from[f.Name] = source{kind: "file", file: path, line: e.line}
	}
}

// readConfigFile reads a YAML mapping of setting names to values: a
// scalar, or a list for a setting that takes several (trusted-proxies).
// A key without a value (null) is left out.
func readConfigFile(path string) ([]fileSetting, []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{fmt.Sprintf("configuration file: %v (check --config or GOOCLAIM_CONFIG)", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		if !yamlLineRef.MatchString(err.Error()) {
			return nil, []string{fmt.Sprintf("%s:%d: %v", path, yamlErrorLine(b), err)}
		}
		return nil, []string{fmt.Sprintf("%s: %v", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil // empty
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, []string{fmt.Sprintf("%s:%d: want a mapping of setting names to values, such as  listen: \":8080\"", path, m.Line)}
	}
	var out []fileSetting
	var problems []string
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		at := fmt.Sprintf("%s:%d: ", path, k.Line)
		if k.Kind != yaml.ScalarNode {
			problems = append(problems, at+"a setting's name must be a plain word such as listen")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			problems = append(problems, fmt.Sprintf("%s%s is given twice (first on line %d); keep one", at, k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			continue
		case v.Kind == yaml.ScalarNode:
			out = append(out, fileSetting{key: k.Value, value: v.Value, line: k.Line})
		case v.Kind == yaml.SequenceNode && k.Value == "trusted-proxies":
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					problems = append(problems, fmt.Sprintf("%s%s: each item of the list must be a single value", at, k.Value))
					items = nil
					break
				}
				items = append(items, it.Value)
			}
			if items != nil {
				out = append(out, fileSetting{key: k.Value, value: strings.Join(items, ","), line: k.Line})
			}
		default:
			problems = append(problems, fmt.Sprintf("%s%s: want a single value, for example  %s: %s", at, k.Value, k.Value, exampleValue(k.Value)))
		}
	}
	return out, problems
}

// yamlLineRef matches the line go-yaml names in most of its errors.
var yamlLineRef = regexp.MustCompile(`^yaml: (unmarshal errors:\n\s*)?line \d+: `)

// yamlErrorLine is the line of a YAML error that names none: go-yaml leaves
// the line out when the problem is on the first one, or when its reader
// refuses a character (invalid UTF-8, a control character), which this
// finds.
func yamlErrorLine(b []byte) int {
	line := 1
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if (r == utf8.RuneError && n == 1) || !yamlPrintable(r) {
			return line
		}
		if r == '\n' {
			line++
		}
		b = b[n:]
	}
	return 1
}

// yamlPrintable reports whether YAML allows r in a stream (YAML 1.2 §5.1).
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
		(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
}

func exampleValue(key string) string {
	f := newServeFlagSet().Lookup(key)
	if f == nil || f.DefValue == "" {
		return "…"
	}
	return f.DefValue
}

// settingNames are the keys a configuration file may hold: serve's flags
// and the global ones, but --config itself.
func settingNames() []string {
	var names []string
	add := func(f *pflag.Flag) {
		if f.Name != "help" && f.Name != "config" {
			names = append(names, f.Name)
		}
	}
	newServeFlagSet().VisitAll(add)
	newGlobalFlagSet(&globalFlags{}).VisitAll(add)
	slices.Sort(names)
	return names
}

func newServeFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addServeFlags(fs, defaultServeConfig())
	return fs
}

func newGlobalFlagSet(g *globalFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("global", pflag.ContinueOnError)
	addGlobalFlags(fs, g)
	return fs
}

// closest is the known name nearest to s, if it is near enough to be a
// typo (rate_limit, ratelimit, lisen); else "".
func closest(s string, known []string) string {
	best, bestD := "", 0
	norm := strings.ReplaceAll(strings.ToLower(s), "_", "-")
	for _, k := range known {
		d := textdist.Levenshtein(norm, k)
		if best == "" || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len(s)/4) {
		return best
	}
	return ""
}
