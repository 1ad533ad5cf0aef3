package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped by the linker in release builds (scripts/build, used by the
// Makefile and the Dockerfile):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<git SHA> -X main.date=<commit time, RFC 3339>"
//
// Any left empty is filled in at start from the build information the Go
// toolchain records (see resolveBuild), so `go build` and `go install` give a
// useful answer too.
var (
	version = ""
	commit  = ""
	date    = ""
)

func init() {
	b := resolveBuild(version, commit, date, debug.ReadBuildInfo)
	version, commit, date = b.Version, b.Commit, b.Date
}

// versionInfo says which build of gooclaim-auth is running: printed by
// `gooclaim-auth version`, logged by `serve`, and the labels of the
// gooclaim_build_info metric.
type versionInfo struct {
	Version   string `json:"version"`    // v1.2.3, a Go pseudo-version, or dev
	Commit    string `json:"commit"`     // the git commit, +dirty if built from a modified tree; unknown if not recorded
	Date      string `json:"date"`       // the commit's time, RFC 3339 UTC (never the build machine's clock); unknown if not recorded
	GoVersion string `json:"go_version"` // the toolchain that built the binary, e.g. go1.26.8
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// buildInfo returns the running binary's version, commit, build date and Go
// toolchain.
func buildInfo() versionInfo {
	return versionInfo{
		Version:   version,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
}

// String is the line `gooclaim-auth version` prints.
func (v versionInfo) String() string {
	return fmt.Sprintf("gooclaim-auth %s (commit %s, built %s, %s %s/%s)",
		v.Version, v.Commit, v.Date, v.GoVersion, v.OS, v.Arch)
}

// resolveBuild fills in what the linker did not stamp from the build
// information the Go toolchain embeds: the main module's version (set by `go
// install …@v1.2.3`, or a pseudo-version derived from git), and with VCS
// stamping on (-buildvcs, the default in a git checkout) vcs.revision,
// vcs.time and vcs.modified. What neither gives is "dev" for the version and
// "unknown" for the commit and date.
func resolveBuild(stampedVersion, stampedCommit, stampedDate string, read func() (*debug.BuildInfo, bool)) versionInfo {
	b := versionInfo{Version: stampedVersion, Commit: stampedCommit, Date: stampedDate}
	var revision, vcsTime string
	var modified bool
	if bi, ok := read(); ok && bi != nil {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if b.Commit == "" && revision != "" {
		b.Commit = revision
		if modified {
			b.Commit += "+dirty"
		}
	}
	if b.Date == "" {
		b.Date = vcsTime
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

func newVersionCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go toolchain",
		Long: `Print the version, the git commit and its time, and the Go toolchain and
platform of this binary. Release builds (make build, the Docker image) stamp
the version, commit and commit time; other builds report what the Go
toolchain recorded, or dev and unknown.`,
		Example: "  gooclaim-auth version\n  gooclaim-auth version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "text":
				_, err := fmt.Fprintln(e.stdout, buildInfo())
				return err
			case "json":
				return writeJSON(e.stdout, buildInfo())
			}
			return fmt.Errorf("--output %q: use text or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
