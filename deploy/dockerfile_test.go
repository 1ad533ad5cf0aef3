// Package deploy holds no code: its tests check the packaging files that no
// Docker engine or systemd runs here (the Dockerfile, its build context, the
// systemd unit) and export the Dockerfile's build step for
// scripts/dockerfile-check to run.
package deploy

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = ".."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line  int
	cmd   string   // upper case: FROM, RUN, COPY, ...
	flags []string // leading --name=value options, e.g. --from=build
	args  string   // the rest
}

// flag returns the value of --name=value, and whether it is set.
func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// execForm decodes the JSON (exec) form of args, e.g. ["/gooclaim-auth", "serve"].
func (in instruction) execForm() ([]string, bool) {
	var l []string
	if !strings.HasPrefix(in.args, "[") || json.Unmarshal([]byte(in.args), &l) != nil {
		return nil, false
	}
	return l, true
}

func (in instruction) String() string { return fmt.Sprintf("line %d: %s", in.line, in.cmd) }

// stage is a FROM and the instructions after it.
type stage struct {
	base, name string
	instrs     []instruction
}

func (s stage) all(cmd string) []instruction {
	var l []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			l = append(l, in)
		}
	}
	return l
}

// parseDockerfile reads the Dockerfile syntax this repository uses: comments
// and parser directives (# at the start of a line, also between
// continuation lines), backslash continuations, --flag options; no heredocs,
// no other escape character.
func parseDockerfile(src string) ([]stage, error) {
	var stages []stage
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		for strings.HasSuffix(text, `\`) {
			text = strings.TrimSpace(strings.TrimSuffix(text, `\`))
			i++
			for i < len(lines) && (strings.TrimSpace(lines[i]) == "" || strings.HasPrefix(strings.TrimSpace(lines[i]), "#")) {
				i++
			}
			if i == len(lines) {
				return nil, fmt.Errorf("line %d: continuation at the end of the file", start)
			}
			text += " " + strings.TrimSpace(lines[i])
		}
		cmd, rest, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd)}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.flags = append(in.flags, f)
			rest = strings.TrimSpace(r)
		}
		in.args = rest
		if in.cmd == "FROM" {
			f := strings.Fields(rest)
			st := stage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				return nil, fmt.Errorf("line %d: FROM %s", start, rest)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // global ARG before the first FROM
			}
			return nil, fmt.Errorf("line %d: %s before FROM", start, in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	return stages, nil
}

func readDockerfile(t *testing.T) []stage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(b))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return stages
}

// goModVersion is the go line of go.mod, e.g. 1.26.8.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// buildStep is the build stage's RUN that runs scripts/build: the shell
// command, and the binary it writes relative to the stage's WORKDIR.
type buildStep struct {
	workdir string
	run     instruction
	output  string
}

func findBuildStep(t *testing.T, build stage) buildStep {
	t.Helper()
	var step buildStep
	for _, in := range build.instrs {
		switch {
		case in.cmd == "WORKDIR" && step.run.cmd == "":
			step.workdir = in.args
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			t.Errorf("%v: go build in the Dockerfile; the one build command is scripts/build", in)
		case in.cmd == "RUN" && strings.Contains(in.args, "scripts/build"):
			if step.run.cmd != "" {
				t.Errorf("%v: a second RUN of scripts/build", in)
			}
			step.run = in
		}
	}
	if step.run.cmd == "" {
		t.Fatal("the build stage has no RUN of scripts/build")
	}
	m := regexp.MustCompile(`(?:^|\s)scripts/build\s+-o\s+(\S+)\s*$`).FindStringSubmatch(step.run.args)
	if m == nil || path.IsAbs(m[1]) {
		t.Fatalf("%v: %q: want the command to end in scripts/build -o RELATIVE-PATH", step.run, step.run.args)
	}
	step.output = m[1]
	if !path.IsAbs(step.workdir) {
		t.Fatalf("build stage WORKDIR %q, want an absolute path before the build", step.workdir)
	}
	return step
}

func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The Go of go.mod, so that the image's binary is the one `make build`
	// makes with that toolchain.
	if want := "golang:" + goModVersion(t); build.base != want || build.name != "build" {
		t.Errorf("first stage FROM %s AS %s, want FROM %s AS build", build.base, build.name, want)
	}
	if final.base != "scratch" && !strings.HasPrefix(final.base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", final.base)
	}

	step := findBuildStep(t, build)
	args := map[string]bool{}
	for _, in := range build.instrs {
		if in.cmd == "ARG" && in.line < step.run.line {
			name, _, _ := strings.Cut(in.args, "=")
			args[name] = true
		}
	}
	for _, a := range []string{"VERSION", "COMMIT", "DATE", "TARGETOS", "TARGETARCH"} {
		if !args[a] {
			t.Errorf("the build stage declares no ARG %s before its build step", a)
		}
	}
	for _, v := range []string{"GOOS=$TARGETOS", "GOARCH=$TARGETARCH"} {
		if !strings.Contains(step.run.args, v) {
			t.Errorf("%v: %q lacks %s", step.run, step.run.args, v)
		}
	}

	// The final stage: the built binary, non-root, the entry point, data, probes.
	binary := path.Join(step.workdir, step.output)
	var copied bool
	for _, in := range final.all("COPY") {
		from, _ := in.flag("from")
		if f := strings.Fields(in.args); from == "build" && len(f) == 2 && f[0] == binary && f[1] == "/gooclaim-auth" {
			copied = true
		}
	}
	if !copied {
		t.Errorf("no COPY --from=build %s /gooclaim-auth in the final stage", binary)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER: it would run as root")
	}
	uid, gid, _ := strings.Cut(users[len(users)-1].args, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root user (Kubernetes' runAsNonRoot checks numbers)", users[len(users)-1].args)
	}
	if n, err := strconv.Atoi(gid); gid != "" && (err != nil || n == 0) {
		t.Errorf("USER %s: want a numeric non-root group", users[len(users)-1].args)
	}
	wantExec := map[string][]string{"ENTRYPOINT": {"/gooclaim-auth"}, "CMD": {"serve"}}
	for cmd, want := range wantExec {
		l := final.all(cmd)
		if len(l) != 1 {
			t.Errorf("%d %s in the final stage, want 1", len(l), cmd)
			continue
		}
		if got, ok := l[0].execForm(); !ok || !slices.Equal(got, want) {
			t.Errorf("%v %s, want exec form %q", l[0], l[0].args, want)
		}
	}
	var volume bool
	for _, in := range final.all("VOLUME") {
		l, ok := in.execForm()
		if !ok {
			l = strings.Fields(in.args)
		}
		volume = volume || slices.Contains(l, "/data")
	}
	if !volume {
		t.Error("no VOLUME /data in the final stage")
	}
	env := map[string]string{}
	for _, in := range final.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Errorf("%v: %q: want ENV KEY=VALUE ...", in, in.args)
			}
			env[k] = v
		}
	}
	if db := env["GOOCLAIM_DATABASE"]; !strings.HasPrefix(db, "/data/") {
		t.Errorf("ENV GOOCLAIM_DATABASE=%q, want the SQLite file in /data (the KEK is created beside it)", db)
	}
	var exposed []string
	for _, in := range final.all("EXPOSE") {
		exposed = append(exposed, strings.Fields(in.args)...)
	}
	for _, p := range []string{"8080", "9090"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE %v: want %s", exposed, p)
		}
	}
	hc := final.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("%d HEALTHCHECK in the final stage, want 1", len(hc))
	}
	cmd, execArgs, _ := strings.Cut(hc[0].args, " ")
	probe, ok := instruction{args: strings.TrimSpace(execArgs)}.execForm()
	if cmd != "CMD" || !ok || len(probe) < 2 || probe[0] != "/gooclaim-auth" || probe[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK %s, want CMD [\"/gooclaim-auth\", \"healthcheck\", ...] (no shell in the image)", hc[0].args)
	}
	// Longer than the probe's own 3 s, so that its error is what Docker records.
	if v, ok := hc[0].flag("timeout"); !ok {
		t.Error("HEALTHCHECK without --timeout")
	} else if d, err := time.ParseDuration(v); err != nil || d <= 3*time.Second {
		t.Errorf("HEALTHCHECK --timeout=%s, want more than the probe's 3s", v)
	}

	for _, st := range stages {
		for _, in := range st.all("ADD") {
			t.Errorf("%v: ADD %s; use COPY (ADD fetches URLs and unpacks archives)", in, in.args)
		}
	}
}

// TestMakefileBuildsWithTheDockerfilesScript: `make build` and the image run
// the same build command.
func TestMakefileBuildsWithTheDockerfilesScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^build:.*\n((?:\t.*\n)+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Makefile has no build target")
	}
	if !regexp.MustCompile(`(?m)^\tscripts/build -o `).Match(m[1]) || strings.Contains(string(m[1]), "go build") {
		t.Errorf("make build runs\n%s\nwant scripts/build -o ..., as the Dockerfile does", m[1])
	}
}

func TestParseDockerfile(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\nARG GO=1\nFROM golang:1 AS build\n" +
		"RUN --mount=type=cache,target=/x \\\n    # a comment inside\n\n    echo a \\\n    b\n" +
		"FROM scratch\nCOPY --from=build --chown=1:1 /a /b\nCMD [\"serve\"]\n"
	stages, err := parseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].name != "build" || stages[1].base != "scratch" {
		t.Fatalf("stages %+v", stages)
	}
	run := stages[0].instrs[0]
	if run.cmd != "RUN" || run.args != "echo a b" || len(run.flags) != 1 || run.line != 4 {
		t.Errorf("RUN parsed as %#v", run)
	}
	cp := stages[1].instrs[0]
	if from, _ := cp.flag("from"); from != "build" || cp.args != "/a /b" {
		t.Errorf("COPY parsed as %#v", cp)
	}
	if l, ok := stages[1].instrs[1].execForm(); !ok || !slices.Equal(l, []string{"serve"}) {
		t.Errorf("CMD parsed as %#v", stages[1].instrs[1])
	}
	if _, err := parseDockerfile("RUN x\n"); err == nil {
		t.Error("RUN before FROM accepted")
	}
}

var (
	exportContext = flag.String("export-docker-context", "", "TestDockerfileExport: copy the Docker build context (the repository less .dockerignore) into this new directory")
	exportBuild   = flag.String("export-docker-build", "", "TestDockerfileExport: write the Dockerfile's build step, as a shell script to run in the exported context, to this file")
)

// TestDockerfileExport is scripts/dockerfile-check's way to run the
// Dockerfile's build step without Docker: it copies what `docker build`
// would send and writes the step's command. Skipped unless asked.
func TestDockerfileExport(t *testing.T) {
	if *exportContext == "" || *exportBuild == "" {
		t.Skip("run by scripts/dockerfile-check with -export-docker-context and -export-docker-build")
	}
	stages := readDockerfile(t)
	step := findBuildStep(t, stages[0])
	files, err := dockerContext(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFiles(repoRoot, *exportContext, files); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("# The build step of the Dockerfile (line %d), to run with /bin/sh in a copy\n"+
		"# of the build context, which is WORKDIR %s in the image.\n# output: %s\n%s\n",
		step.run.line, step.workdir, step.output, step.run.args)
	if err := os.WriteFile(*exportBuild, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files in the context; build step: %s; output %s", len(files), step.run.args, step.output)
}
