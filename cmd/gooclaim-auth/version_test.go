package main

import (
	"encoding/json"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolveBuildVersion(t *testing.T) {
	vcs := func(main string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/gooclaim/auth", Version: main}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	const rev = "1b44e85c0ffee0123456789abcdef0123456789a"
	tests := []struct {
		name                  string
		version, commit, date string
		read                  func() (*debug.BuildInfo, bool)
		want                  versionInfo
	}{
		{
			name:    "stamped by the linker wins",
			version: "v1.2.3", commit: "abc", date: "2026-11-27T03:56:00Z",
			read: vcs("v9.9.9", "vcs.revision", rev, "vcs.time", "2020-01-01T00:00:00Z"),
			want: versionInfo{Version: "v1.2.3", Commit: "abc", Date: "2026-11-27T03:56:00Z"},
		},
		{
			name: "no build information at all",
			read: none,
			want: versionInfo{Version: "dev", Commit: "unknown", Date: "unknown"},
		},
		{
			name: "go build without VCS stamping",
			read: vcs("(devel)", "-trimpath", "true"),
			want: versionInfo{Version: "dev", Commit: "unknown", Date: "unknown"},
		},
		{
			name: "go build in a clean checkout",
			read: vcs("v0.0.0-20261127035600-1b44e85c0ffe", "vcs.revision", rev, "vcs.time", "2026-11-27T03:56:00Z", "vcs.modified", "false"),
			want: versionInfo{Version: "v0.0.0-20261127035600-1b44e85c0ffe", Commit: rev, Date: "2026-11-27T03:56:00Z"},
		},
		{
			name: "go build in a modified checkout",
			read: vcs("v0.0.0-20261127035600-1b44e85c0ffe+dirty", "vcs.revision", rev, "vcs.time", "2026-11-27T03:56:00Z", "vcs.modified", "true"),
			want: versionInfo{Version: "v0.0.0-20261127035600-1b44e85c0ffe+dirty", Commit: rev + "+dirty", Date: "2026-11-27T03:56:00Z"},
		},
		{
			name: "go install of a release",
			read: vcs("v1.4.0"),
			want: versionInfo{Version: "v1.4.0", Commit: "unknown", Date: "unknown"},
		},
		{
			name:    "only the version stamped",
			version: "v1.2.3",
			read:    vcs("(devel)", "vcs.revision", rev, "vcs.time", "2026-11-27T03:56:00Z"),
			want:    versionInfo{Version: "v1.2.3", Commit: rev, Date: "2026-11-27T03:56:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveBuild(tt.version, tt.commit, tt.date, tt.read)
			if got != tt.want {
				t.Errorf("resolveBuild = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	out, errOut, code := runCLI(t, "", "version")
	if code != 0 {
		t.Fatalf("version: exit %d: %s", code, errOut)
	}
	want := regexp.MustCompile(`^gooclaim-auth \S+ \(commit \S+, built \S+, ` +
		regexp.QuoteMeta(runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) + `\)\n$`)
	if !want.MatchString(out) {
		t.Errorf("version printed %q, want it to match %s", out, want)
	}
	if !strings.HasPrefix(out, "gooclaim-auth "+version+" (commit "+commit+", built "+date+",") {
		t.Errorf("version printed %q, not the stamped %q %q %q", out, version, commit, date)
	}
}

func TestVersionCommandJSON(t *testing.T) {
	out, errOut, code := runCLI(t, "", "version", "-o", "json")
	if code != 0 {
		t.Fatalf("version -o json: exit %d: %s", code, errOut)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version -o json printed %q: %v", out, err)
	}
	want := map[string]string{
		"version": version, "commit": commit, "date": date,
		"go_version": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH,
	}
	if len(got) != len(want) {
		t.Errorf("version -o json printed %v, want the keys of %v", got, want)
	}
	for k, v := range want {
		if got[k] != v || v == "" {
			t.Errorf("version -o json: %s = %q, want %q (non-empty)", k, got[k], v)
		}
	}
}

func TestVersionCommandBadOutput(t *testing.T) {
	_, errOut, code := runCLI(t, "", "version", "-o", "yaml")
	if code != 1 || !strings.Contains(errOut, "use text or json") {
		t.Errorf("version -o yaml: exit %d, stderr %q; want 1 and the accepted values", code, errOut)
	}
}
