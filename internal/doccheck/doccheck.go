// Package doccheck checks the relative links of the repository's Markdown
// files, so that moving a section or renaming a file cannot leave a dead
// link behind: every file a link names must exist, and every #fragment
// must be the anchor of a heading in the Markdown file it points into, as
// GitHub renders anchors (see [Anchor]). Links with a scheme (https:,
// mailto:) are not fetched; links inside code blocks and code spans are not
// links and are not checked.
//
// The test of this package runs [Check] over the whole repository.
package doccheck

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Problem is a dead link.
type Problem struct {
	File   string // the Markdown file holding the link, relative to the root, with slashes
	Line   int
	Link   string // the link's destination as written
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Link, p.Reason)
}

// Report is what Check looked at and what it found.
type Report struct {
	Files    []string // the Markdown files read, relative to the root
	Links    int      // the relative links checked
	Problems []Problem
}

// Check reads every *.md file under root — leaving out hidden directories
// (.git) and testdata directories — and checks its relative links.
func Check(root string) (Report, error) {
	files, err := MarkdownFiles(root)
	if err != nil {
		return Report{}, err
	}
	c := &checker{root: root, anchors: map[string]map[string]bool{}}
	rep := Report{Files: files}
	for _, f := range files {
		n, problems, err := c.file(f)
		if err != nil {
			return rep, err
		}
		rep.Links += n
		rep.Problems = append(rep.Problems, problems...)
	}
	return rep, nil
}

// MarkdownFiles lists the *.md files under root, relative to it and with
// slashes, leaving out hidden directories and testdata directories.
func MarkdownFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

type checker struct {
	root    string
	anchors map[string]map[string]bool // by file, relative to root
}

// file checks the links of one Markdown file, named relative to the root.
func (c *checker) file(name string) (int, []Problem, error) {
	b, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(name)))
	if err != nil {
		return 0, nil, err
	}
	links := Links(string(b))
	var problems []Problem
	for _, l := range links {
		if reason := c.link(name, l.Dest); reason != "" {
			problems = append(problems, Problem{File: name, Line: l.Line, Link: l.Dest, Reason: reason})
		}
	}
	return len(links), problems, nil
}

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// link says what is wrong with a link found in the file from, or "".
func (c *checker) link(from, dest string) string {
	path, frag, _ := strings.Cut(dest, "#")
	path, _, _ = strings.Cut(path, "?")
	p, err := url.PathUnescape(path)
	if err != nil {
		return "the path is not valid percent-encoding"
	}
	var target string // relative to the root, with slashes
	switch {
	case p == "":
		target = from
	case strings.HasPrefix(p, "/"):
		target = strings.TrimPrefix(filepathClean(p), "/")
	default:
		target = filepathClean(filepathDir(from) + "/" + p)
	}
	if target == ".." || strings.HasPrefix(target, "../") {
		return "points outside the repository"
	}
	fi, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(target)))
	if err != nil {
		return "no such file or directory: " + target
	}
	if frag == "" || fi.IsDir() || !strings.HasSuffix(target, ".md") {
		return "" // anchors are checked in Markdown files only (file.go#L10 is GitHub's own)
	}
	anchors, err := c.anchorsOf(target)
	if err != nil {
		return err.Error()
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if !anchors[frag] {
		msg := fmt.Sprintf("no heading of %s has the anchor #%s", target, frag)
		if near := nearest(frag, anchors); near != "" {
			msg += fmt.Sprintf(" (did you mean #%s?)", near)
		}
		return msg
	}
	return ""
}

func (c *checker) anchorsOf(target string) (map[string]bool, error) {
	if a, ok := c.anchors[target]; ok {
		return a, nil
	}
	b, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(target)))
	if err != nil {
		return nil, err
	}
	a := Anchors(string(b))
	c.anchors[target] = a
	return a, nil
}

// filepathClean and filepathDir work on slash-separated paths whatever the OS.
func filepathClean(p string) string { return filepath.ToSlash(filepath.Clean(filepath.FromSlash(p))) }
func filepathDir(p string) string   { return filepath.ToSlash(filepath.Dir(filepath.FromSlash(p))) }

// nearest is the anchor that shares the longest prefix with frag, if any
// shares at least half of it: a hint for a renamed heading.
func nearest(frag string, anchors map[string]bool) string {
	best, bestN := "", 0
	for a := range anchors {
		n := 0
		for n < len(a) && n < len(frag) && a[n] == frag[n] {
			n++
		}
		if n > bestN || (n == bestN && n > 0 && a < best) {
			best, bestN = a, n
		}
	}
	if bestN*2 < len(frag) {
		return ""
	}
	return best
}

// Link is a relative link found in a Markdown file.
type Link struct {
	Line int    // 1-based
	Dest string // as written, without angle brackets or title
}

// Links returns the relative links of a Markdown document: inline links and
// images ([text](dest), ![alt](dest), with or without a title) and
// reference definitions ([label]: dest). Links with a scheme, and text in
// fenced code blocks and code spans, are left out.
func Links(doc string) []Link {
	text := blankCode(doc)
	var links []Link
	add := func(at int, dest string) {
		if dest == "" || scheme.MatchString(dest) || strings.HasPrefix(dest, "//") {
			return
		}
		links = append(links, Link{Line: 1 + strings.Count(text[:at], "\n"), Dest: dest})
	}
	for i := 0; ; {
		j := strings.Index(text[i:], "](")
		if j < 0 {
			break
		}
		start := i + j + 2
		dest, end := destination(text, start)
		add(start, dest)
		i = max(end, start)
	}
	for _, m := range refDef.FindAllStringSubmatchIndex(text, -1) {
		add(m[2], strings.Trim(text[m[2]:m[3]], "<>"))
	}
	slices.SortStableFunc(links, func(a, b Link) int { return a.Line - b.Line })
	return links
}

// refDef is a link reference definition: [label]: destination.
var refDef = regexp.MustCompile(`(?m)^ {0,3}\[[^\]\n]+\]:[ \t]*(\S+)`)

// destination reads a link destination starting at text[i] (just after
// "]("): <…>, or a run without spaces with balanced parentheses. It
// returns the destination and where it ends.
func destination(text string, i int) (string, int) {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	if i < len(text) && text[i] == '<' {
		end := strings.IndexAny(text[i:], ">\n")
		if end < 0 || text[i+end] != '>' {
			return "", i
		}
		return text[i+1 : i+end], i + end + 1
	}
	depth := 0
	j := i
	for ; j < len(text); j++ {
		ch := text[j]
		if ch == ' ' || ch == '\t' || ch == '\n' {
			break
		}
		if ch == '(' {
			depth++
		}
		if ch == ')' {
			if depth == 0 {
				break
			}
			depth--
		}
	}
	return text[i:j], j
}

// fence opens or closes a fenced code block: up to three spaces, then at
// least three backticks or tildes.
var fence = regexp.MustCompile("^ {0,3}(```+|~~~+)")

// blankCode returns doc with the content of fenced code blocks and code
// spans replaced by spaces, newlines kept, so that offsets and line
// numbers stay those of doc.
func blankCode(doc string) string {
	s := blankFences(doc)
	b := []byte(s)
	// Code spans: a run of n backticks up to the next run of exactly n
	// backticks, within a paragraph (no blank line between them).
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := run(s, i)
		end := closingRun(s, i+n, n)
		if end < 0 {
			i += n
			continue
		}
		blank(b, i, end+n)
		i = end + n
	}
	return string(b)
}

// run is the length of the run of backticks at s[i].
func run(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

// closingRun finds, from s[i], a run of exactly n backticks before the end
// of the paragraph; -1 if there is none.
func closingRun(s string, i, n int) int {
	for i < len(s) {
		if strings.HasPrefix(s[i:], "\n") && blankLineAt(s, i+1) {
			return -1
		}
		if s[i] == '`' {
			m := run(s, i)
			if m == n {
				return i
			}
			i += m
			continue
		}
		i++
	}
	return -1
}

// blankLineAt reports whether the line starting at s[i] holds only spaces.
func blankLineAt(s string, i int) bool {
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		end = len(s) - i
	}
	return strings.TrimSpace(s[i:i+end]) == ""
}

func blank(b []byte, from, to int) {
	for k := from; k < to && k < len(b); k++ {
		if b[k] != '\n' {
			b[k] = ' '
		}
	}
}

var (
	atxHeading     = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextLine     = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	inlineLink     = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag        = regexp.MustCompile(`<[^>]*>`)
	explicitAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// Anchors returns the anchors of a Markdown document's headings (ATX "#"
// headings and setext headings underlined with = or -), as GitHub makes
// them: see Anchor; a heading whose anchor was taken already gets -1, -2, …
// Explicit <a name="…"> and <a id="…"> anchors count too. Headings in
// fenced code blocks are not headings.
func Anchors(doc string) map[string]bool {
	text := blankFences(doc)
	lines := strings.Split(text, "\n")
	anchors := map[string]bool{}
	seen := map[string]int{}
	addHeading := func(h string) {
		a := Anchor(h)
		if n, ok := seen[a]; ok {
			seen[a] = n + 1
			a = fmt.Sprintf("%s-%d", a, n+1)
		} else {
			seen[a] = 0
		}
		anchors[a] = true
	}
	for i, line := range lines {
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			addHeading(m[1])
			continue
		}
		if i > 0 && setextLine.MatchString(line) && strings.TrimSpace(lines[i-1]) != "" &&
			!atxHeading.MatchString(lines[i-1]) && !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "|") {
			addHeading(strings.TrimSpace(lines[i-1]))
		}
	}
	for _, m := range explicitAnchor.FindAllStringSubmatch(text, -1) {
		anchors[m[1]] = true
	}
	return anchors
}

// blankFences returns doc with its fenced code blocks (fences included)
// replaced by spaces, newlines kept. Anchors works on this, not on
// blankCode's result: a heading's code spans are part of its text.
func blankFences(doc string) string {
	b := []byte(doc)
	off := 0
	open := ""
	for _, line := range strings.SplitAfter(doc, "\n") {
		m := fence.FindStringSubmatch(line)
		switch {
		case open == "" && m != nil:
			open = m[1]
			blank(b, off, off+len(line))
		case open != "":
			if m != nil && m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(line[len(m[0]):]) == "" {
				open = ""
			}
			blank(b, off, off+len(line))
		}
		off += len(line)
	}
	return string(b)
}

// Anchor is the anchor GitHub gives a heading: the heading's text (a link
// counts as its text, HTML tags as nothing) in lower case, every character
// that is not a letter, a mark, a digit, a connector such as "_", a hyphen
// or a space dropped, and spaces turned into hyphens.
// "Rate limit" → rate-limit; "Introspection (RFC 7662)" → introspection-rfc-7662;
// "`private_key_jwt`: no shared secret" → private_key_jwt-no-shared-secret.
func Anchor(heading string) string {
	h := inlineLink.ReplaceAllString(heading, "$1")
	h = htmlTag.ReplaceAllString(h, "")
	var sb strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			sb.WriteByte('-')
		case r == '-' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || unicode.Is(unicode.Pc, r):
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
