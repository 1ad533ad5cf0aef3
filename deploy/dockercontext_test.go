package deploy

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// ignorePattern is one line of .dockerignore.
type ignorePattern struct {
	re        *regexp.Regexp
	exception bool // a line starting with !
}

// readDockerignore reads .dockerignore with the rules of Docker's
// patternmatcher (moby/patternmatcher): patterns are relative to the context
// root whether or not they start with /, are cleaned (a trailing / goes),
// * and ? do not cross /, ** crosses any number of directories, a pattern
// that matches a directory excludes everything in it, a later ! line
// re-includes, and the last matching line wins. Unlike .gitignore, *.db
// matches only at the root.
func readDockerignore(r io.Reader) ([]ignorePattern, error) {
	var l []ignorePattern
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		var exception bool
		if rest, ok := strings.CutPrefix(p, "!"); ok {
			exception, p = true, strings.TrimSpace(rest)
		}
		p = path.Clean(p)
		if len(p) > 1 && p[0] == '/' {
			p = p[1:]
		}
		re, err := compileIgnore(p)
		if err != nil {
			return nil, fmt.Errorf(".dockerignore %q: %w", p, err)
		}
		l = append(l, ignorePattern{re: re, exception: exception})
	}
	return l, sc.Err()
}

// compileIgnore turns a pattern into an anchored regular expression, as
// patternmatcher does.
func compileIgnore(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
			}
			if i+1 == len(p) {
				b.WriteString(".*")
			} else {
				b.WriteString("(.*/)?")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '[' || c == ']' || c == '-' || c == '^':
			b.WriteByte(c) // character classes pass through
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// excluded reports whether the file at rel (slash-separated, relative to the
// context root) stays out of the build context.
func excluded(patterns []ignorePattern, rel string) bool {
	var out bool
	for _, p := range patterns {
		if matchesOrParent(p.re, rel) {
			out = !p.exception
		}
	}
	return out
}

func matchesOrParent(re *regexp.Regexp, rel string) bool {
	if re.MatchString(rel) {
		return true
	}
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		if re.MatchString(dir) {
			return true
		}
	}
	return false
}

// dockerContext lists the files `docker build` sends from root: every file
// (and symbolic link) that .dockerignore does not exclude, sorted.
func dockerContext(root string) ([]string, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := readDockerignore(f)
	if err != nil {
		return nil, err
	}
	anyException := slices.ContainsFunc(patterns, func(p ignorePattern) bool { return p.exception })
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if !anyException && excluded(patterns, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !excluded(patterns, rel) {
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// copyFiles copies files (relative to from) into the new directory to,
// keeping their modes and symbolic links.
func copyFiles(from, to string, files []string) error {
	for _, rel := range files {
		src, dst := filepath.Join(from, rel), filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		fi, err := os.Lstat(src)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func TestDockerignoreRules(t *testing.T) {
	patterns, err := readDockerignore(strings.NewReader(`
# comment
.git
/bin/
*.db
**/kek
deploy/
docs/**/*.md
!docs/keep.md
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		out  bool
	}{
		{".git", true}, // a file in a git worktree
		{".git/config", true},
		{"bin/gooclaim-auth", true},
		{"cmd/bin/x", false},
		{"a.db", true},
		{"cmd/a.db", false}, // * does not cross /: root only
		{"kek", true},
		{"deploy/compose/kek", true},
		{"deploy/README.md", true},
		{"deployment.go", false},
		{"docs/a/b/c.md", true},
		{"docs/c.md", true},
		{"docs/keep.md", false},
		{"go.mod", false},
	}
	for _, tt := range tests {
		if got := excluded(patterns, tt.path); got != tt.out {
			t.Errorf("excluded(%q) = %v, want %v", tt.path, got, tt.out)
		}
	}
}

// TestDockerContext: what the image build needs is sent, secrets and local
// state are not.
func TestDockerContext(t *testing.T) {
	files, err := dockerContext(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []string{"go.mod", "go.sum", "scripts/build", "cmd/gooclaim-auth/main.go"} {
		if _, found := slices.BinarySearch(files, need); !found {
			t.Errorf("the build context lacks %s", need)
		}
	}
	// Every Go file of the module, so that no package the binary imports is
	// cut off.
	err = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, repoRoot+string(filepath.Separator)))
		if d.IsDir() && (rel == ".git" || rel == "bin" || rel == "deploy") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			if _, found := slices.BinarySearch(files, rel); !found {
				t.Errorf("the build context lacks %s", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := readDockerignore(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{".git/config", "kek", "deploy/compose/kek", "gooclaim-auth.db", "gooclaim-auth.kek", ".env", "bin/gooclaim-auth", "gooclaim-auth"} {
		if !excluded(patterns, secret) {
			t.Errorf(".dockerignore lets %s into the build context", secret)
		}
	}
}
