package authconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parse reads a configuration document from data; file is the name its
// problems are reported with ("-" for standard input). Anything wrong with
// the content is an *Error listing every problem found.
func Parse(file string, data []byte) (*Document, error) {
	p := &parser{file: file}
	if len(data) > MaxSize {
		p.problemAt(0, "", "", "the file has %d bytes, more than the %d (16 MiB) accepted; split the configuration", len(data), MaxSize)
		return nil, p.err()
	}
	root := p.decode(data)
	if root == nil || len(p.problems) > 0 {
		return nil, p.err()
	}
	sum := sha256.Sum256(data)
	doc := &Document{File: file, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	p.document(root, doc)
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	return doc, nil
}

// parser collects the problems of one file.
type parser struct {
	file     string
	problems []Problem
}

func (p *parser) problemAt(line int, object, field, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Object: object, Field: field, Message: fmt.Sprintf(format, args...)})
}

// err is the problems as an *Error.
func (p *parser) err() error { return NewError(p.problems) }

// decode returns the root node of the only document in data, nil after a
// problem. Anchors and aliases are refused before anything is read, so
// that no value is ever shared or expanded.
func (p *parser) decode(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.problemAt(1, "", "", "the file is empty; it must start with  apiVersion: %s  and  kind: %s", APIVersion, Kind)
		} else {
			p.syntaxProblem(data, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.syntaxProblem(data, err)
	default:
		p.problemAt(next.Line, "", "", "a second YAML document starts here; the file must hold one document (remove the ---)")
	}
	if len(doc.Content) == 0 {
		p.problemAt(doc.Line, "", "", "the document is empty; it must start with  apiVersion: %s  and  kind: %s", APIVersion, Kind)
		return nil
	}
	p.refuseAliases(doc.Content[0])
	return doc.Content[0]
}

func (p *parser) refuseAliases(n *yaml.Node) {
	switch {
	case n.Kind == yaml.AliasNode:
		p.problemAt(n.Line, "", "", "alias *%s: anchors and aliases are not accepted; write the value out", n.Value)
		return
	case n.Anchor != "":
		p.problemAt(n.Line, "", "", "anchor &%s: anchors and aliases are not accepted; write the value out", n.Anchor)
	}
	for _, c := range n.Content {
		p.refuseAliases(c)
	}
}

// yamlLine finds the line go-yaml names in its errors.
var yamlLine = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): `)

// syntaxProblem reports an error of the YAML parser with its line: the
// one it names, or, when it names none (a refused character, a problem on
// the first line), the line of the first character YAML refuses.
func (p *parser) syntaxProblem(data []byte, err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.problemAt(line, "", "", "invalid YAML: %s", msg[len(m[0]):])
		return
	}
	p.problemAt(unprintableLine(data), "", "", "invalid YAML: %s", trimYAMLPrefix(msg))
}

func trimYAMLPrefix(s string) string {
	if len(s) > 6 && s[:6] == "yaml: " {
		return s[6:]
	}
	return s
}

// unprintableLine is the line of the first character YAML does not allow
// in a stream (YAML 1.2 §5.1), 1 when there is none.
func unprintableLine(b []byte) int {
	line := 1
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		printable := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
			(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
		if (r == utf8.RuneError && n == 1) || !printable {
			return line
		}
		if r == '\n' {
			line++
		}
		b = b[n:]
	}
	return 1
}
