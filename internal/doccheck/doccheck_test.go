package doccheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRepositoryLinks checks every relative link of every Markdown file in
// the repository. A failure names the file, the line and what is missing.
func TestRepositoryLinks(t *testing.T) {
	root := moduleRoot(t)
	rep, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.Files, "README.md") || rep.Links == 0 {
		t.Fatalf("read %d files (%v) and %d links: the walk missed the repository", len(rep.Files), rep.Files, rep.Links)
	}
	for _, p := range rep.Problems {
		t.Errorf("dead link: %s", p)
	}
	t.Logf("%d relative links in %d Markdown files", rep.Links, len(rep.Files))
}

// TestCheckFindsPlantedDeadLinks shows that the check fails: testdata/planted
// holds good links, dead ones, and dead-looking text that is not a link.
func TestCheckFindsPlantedDeadLinks(t *testing.T) {
	rep, err := Check(filepath.Join("testdata", "planted"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a.md:20: missing.md: no such file or directory: missing.md",
		"a.md:21: b.md#no-such-heading: no heading of b.md has the anchor #no-such-heading",
		"a.md:22: #bad-links: no heading of a.md has the anchor #bad-links",
		"a.md:23: b.md#the-target: no heading of b.md has the anchor #the-target (did you mean #the-target-heading?)",
		"a.md:24: ../../../../../../../../etc/passwd: points outside the repository",
		"a.md:26: gone.md: no such file or directory: gone.md",
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if rep.Links != 19 {
		t.Errorf("%d links checked, want 19 (13 good, 6 dead)", rep.Links)
	}
}

func TestAnchor(t *testing.T) {
	for _, tt := range []struct{ heading, want string }{
		{"Rate limit", "rate-limit"},
		{"Introspection (RFC 7662)", "introspection-rfc-7662"},
		{"`private_key_jwt`: no shared secret at all (RFC 7523)", "private_key_jwt-no-shared-secret-at-all-rfc-7523"},
		{"Scale-out: many nodes, PostgreSQL and Redis", "scale-out-many-nodes-postgresql-and-redis"},
		{"Builds, the image and systemd", "builds-the-image-and-systemd"},
		{"What was and was not verified", "what-was-and-was-not-verified"},
		{"The [admin API](api.md)", "the-admin-api"},
		{"Kits: fetching and verifying tokens in Go", "kits-fetching-and-verifying-tokens-in-go"},
		{"`gooclaim-auth clients create`", "gooclaim-auth-clients-create"},
		{"Über *emphasis* & more", "über-emphasis--more"},
		{"2026-11-27", "2026-11-27"},
	} {
		if got := Anchor(tt.heading); got != tt.want {
			t.Errorf("Anchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}

func TestAnchorsNumberRepeatedHeadings(t *testing.T) {
	got := Anchors("# A\n\n## B\n\n## B\n\n### B\n\n```\n# C\n```\n\nD\n-\n\n<a id=\"e\"></a>\n")
	var list []string
	for a := range got {
		list = append(list, a)
	}
	slices.Sort(list)
	want := []string{"a", "b", "b-1", "b-2", "d", "e"}
	if !slices.Equal(list, want) {
		t.Errorf("anchors %v, want %v", list, want)
	}
}

// moduleRoot is the directory of go.mod, above this package.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
