package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The flags tables of docs/configuration.md are generated from the
// commands' own flag sets, so that they cannot drift from the code: each
// lies between <!-- flags:NAME:begin --> and <!-- flags:NAME:end -->, and
// TestConfigurationDocs fails when one differs from what the flags give.
// To regenerate them after changing a flag:
//
//	go test ./cmd/gooclaim-auth -run TestConfigurationDocs -update

var updateDocs = flag.Bool("update", false, "TestConfigurationDocs: rewrite the generated flags tables of docs/configuration.md")

const configurationDoc = "../../docs/configuration.md"

const regenerate = "go test ./cmd/gooclaim-auth -run TestConfigurationDocs -update"

func TestConfigurationDocs(t *testing.T) {
	doc, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	updated, problems := fillFlagSections(string(doc), flagSections(newDocsRoot()))
	if *updateDocs && updated != string(doc) {
		if err := os.WriteFile(configurationDoc, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the flags tables of docs/configuration.md")
		for _, p := range problems {
			if p.missingMarkers {
				t.Error(p.msg)
			}
		}
		return
	}
	for _, p := range problems {
		t.Error(p.msg)
	}
}

// TestConfigurationDocsSeesANewFlag shows that the check fails when a flag
// is added without regenerating the tables.
func TestConfigurationDocsSeesANewFlag(t *testing.T) {
	doc, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	root := newDocsRoot()
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	serve.Flags().String("brand-new-setting", "x", "a setting added without regenerating the docs")
	_, problems := fillFlagSections(string(doc), flagSections(root))
	i := slices.IndexFunc(problems, func(p sectionProblem) bool { return p.section == "serve" })
	if i < 0 || !strings.Contains(problems[i].msg, "--brand-new-setting") || !strings.Contains(problems[i].msg, regenerate) {
		t.Fatalf("problems %+v, want one for serve's table naming --brand-new-setting and how to regenerate", problems)
	}
	t.Logf("with a flag added and the docs not regenerated, TestConfigurationDocs says:\n%s", problems[i].msg)
}

// newDocsRoot is the command tree gooclaim-auth runs.
func newDocsRoot() *cobra.Command {
	return newRootCmd(&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
}

// flagSection is the generated text of one marked section.
type flagSection struct {
	name string // global, serve, commands
	text string
}

// flagSections renders the tables: the global flags, serve's, and every
// other command's.
func flagSections(root *cobra.Command) []flagSection {
	serve, _, err := root.Find([]string{"serve"})
	if err != nil || serve.Name() != "serve" {
		panic("no serve command")
	}
	var global []*pflag.Flag
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { global = append(global, f) })
	globalEnv := envRead(root)

	var b strings.Builder
	b.WriteString(generatedNote)
	flagTable(&b, global, globalEnv)
	sections := []flagSection{{"global", b.String()}}

	b.Reset()
	b.WriteString(generatedNote)
	flagTable(&b, localFlags(serve), envRead(serve))
	sections = append(sections, flagSection{"serve", b.String()})

	serveFlags := map[string]bool{}
	for _, f := range localFlags(serve) {
		serveFlags[f.Name] = true
	}
	b.Reset()
	b.WriteString(generatedNote)
	var none []string
	for _, c := range runnable(root) {
		if c == serve {
			continue
		}
		flags := localFlags(c)
		if len(flags) == 0 {
			none = append(none, "`"+c.CommandPath()+"`")
			continue
		}
		fmt.Fprintf(&b, "#### `%s`\n\n%s.", c.CommandPath(), escape(c.Short))
		var own []*pflag.Flag
		for _, f := range flags {
			if !serveFlags[f.Name] {
				own = append(own, f)
			}
		}
		if len(own) < len(flags) && len(flags)-len(own) == len(serveFlags) {
			b.WriteString(" Every flag of [`serve`](#serve), read as serve reads them, and:")
			flags = own
		}
		b.WriteString("\n\n")
		flagTable(&b, flags, envRead(c))
		b.WriteString("\n")
	}
	if len(none) > 0 {
		fmt.Fprintf(&b, "No flags of their own (but `--help` and the global ones): %s.\n", strings.Join(none, ", "))
	}
	sections = append(sections, flagSection{"commands", strings.TrimSuffix(b.String(), "\n") + "\n"})
	return sections
}

const generatedNote = "<!-- Generated from the commands' flags by TestConfigurationDocs (cmd/gooclaim-auth/docs_test.go): edit the flags' usage text, then run " + regenerate + " -->\n\n"

// runnable lists the commands that run, depth first, in name order.
func runnable(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		if sub.Runnable() {
			out = append(out, sub)
		}
		out = append(out, runnable(sub)...)
	}
	return out
}

// localFlags are a command's own flags, --help left out.
func localFlags(c *cobra.Command) []*pflag.Flag {
	var out []*pflag.Flag
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			out = append(out, f)
		}
	})
	return out
}

// envRead lists the environment variables the command reads, by asking
// the code that reads them: resolveSettings looks up exactly the variables
// of the flags it takes from the environment.
func envRead(c *cobra.Command) map[string]bool {
	c.InheritedFlags() // merges the root's persistent flags into c.Flags()
	c.LocalFlags()
	read := map[string]bool{}
	resolveSettings(c, func(name string) string { read[name] = true; return "" }, &globalFlags{})
	return read
}

// flagTable writes a Markdown table of flags: the flag and its value's
// type, its default, its environment variable, and its usage text.
func flagTable(b *strings.Builder, flags []*pflag.Flag, env map[string]bool) {
	b.WriteString("| Flag | Default | Environment | What it does |\n|---|---|---|---|\n")
	for _, f := range flags {
		typ, usage := pflag.UnquoteUsage(f)
		name := "`--" + f.Name + "`"
		if f.Shorthand != "" {
			name = "`-" + f.Shorthand + "`, " + name
		}
		if typ != "" {
			name += " " + typ
		}
		def := "—"
		switch {
		case f.Value.Type() == "bool" && f.DefValue == "false":
			def = "off"
		case f.Value.Type() == "bool":
			def = "on"
		case f.DefValue != "" && f.DefValue != "[]":
			def = "`" + f.DefValue + "`"
		}
		variable := "—"
		if v := envName(f.Name); env[v] {
			variable = "`" + v + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", name, def, variable, escape(usage))
	}
}

// escape keeps usage text from being read as Markdown or HTML.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "`", "\\`").Replace(s)
}

// sectionProblem is a generated section that is missing or out of date.
type sectionProblem struct {
	section        string
	missingMarkers bool
	msg            string
}

// fillFlagSections puts each section's text between its markers in doc,
// and reports the sections that differed from it and those whose markers
// are missing.
func fillFlagSections(doc string, sections []flagSection) (string, []sectionProblem) {
	var problems []sectionProblem
	for _, s := range sections {
		begin, end := "<!-- flags:"+s.name+":begin -->\n", "<!-- flags:"+s.name+":end -->"
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			problems = append(problems, sectionProblem{s.name, true, fmt.Sprintf(
				"docs/configuration.md has no %q … %q: put the two markers where the flags table of %s goes, then run %s",
				strings.TrimSpace(begin), end, s.name, regenerate)})
			continue
		}
		start := i + len(begin)
		if old := doc[start:j]; old != s.text {
			problems = append(problems, sectionProblem{s.name, false, fmt.Sprintf(
				"docs/configuration.md: the flags table %q is not what the commands' flags give; regenerate it with:\n  %s\n%s",
				s.name, regenerate, firstDifference(old, s.text))})
			doc = doc[:start] + s.text + doc[j:]
		}
	}
	for rest := doc; ; {
		i := strings.Index(rest, "<!-- flags:")
		if i < 0 {
			break
		}
		rest = rest[i+len("<!-- flags:"):]
		name, _, _ := strings.Cut(rest, ":")
		if !slices.ContainsFunc(sections, func(s flagSection) bool { return s.name == name }) {
			problems = append(problems, sectionProblem{name, true, fmt.Sprintf("docs/configuration.md has markers for %q, which is not a generated section: remove them", name)})
		}
	}
	return doc, problems
}

// firstDifference describes the first line where the document and the
// generated text differ.
func firstDifference(doc, gen string) string {
	a, b := strings.Split(doc, "\n"), strings.Split(gen, "\n")
	for k := 0; k < max(len(a), len(b)); k++ {
		var x, y string
		if k < len(a) {
			x = a[k]
		}
		if k < len(b) {
			y = b[k]
		}
		if x != y {
			return fmt.Sprintf("first difference, line %d of the section:\n  docs: %s\n  code: %s", k+1, orNone(x), orNone(y))
		}
	}
	return "they differ"
}

func orNone(s string) string {
	if s == "" {
		return "(nothing)"
	}
	return s
}
