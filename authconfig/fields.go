package authconfig

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gooclaim/auth/internal/textdist"
)

// field is one field of a mapping of the format: how it is read and how
// it is written, side by side in one table per mapping, so that Parse,
// Export and the order of exported fields cannot drift apart.
type field[T any] struct {
	name string
	// example is a value shown in messages ("write for example  name: k8s").
	example string
	// required fields are a problem when absent.
	required bool
	// read stores the field's value in obj, reporting problems through v.
	read func(v value, obj *T)
	// write is the field's node, nil when the field is left out.
	write func(obj *T) *yaml.Node
}

// names are the YAML names of the fields, in order.
func names[T any](fields []field[T]) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.name
	}
	return out
}

// readFields reads mapping n into obj by fields and returns the line of
// each field read. path is the name of the mapping's own field ("secret"),
// "" for an entry; example is what the mapping could look like, for when
// n is something else.
func readFields[T any](p *parser, object, path, example string, fields []field[T], n *yaml.Node, obj *T) map[string]int {
	if n.Kind != yaml.MappingNode {
		p.problemAt(n.Line, object, path, "want a mapping, such as  %s; not %s", example, describe(n))
		return nil
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.problemAt(k.Line, object, path, "a field name must be a plain word, not %s", describe(k))
			continue
		}
		name := join(path, k.Value)
		if first, dup := lines[k.Value]; dup {
			p.problemAt(k.Line, object, name, "given twice (first on line %d); keep one", first)
			continue
		}
		i := slices.IndexFunc(fields, func(f field[T]) bool { return f.name == k.Value })
		if i < 0 {
			p.problemAt(k.Line, object, name, "unknown field; %s", suggest(k.Value, names(fields)))
			continue
		}
		lines[k.Value] = k.Line
		fields[i].read(value{p: p, object: object, field: name, node: v}, obj)
	}
	for _, f := range fields {
		if _, ok := lines[f.name]; f.required && !ok {
			p.problemAt(n.Line, object, join(path, f.name), "missing; write for example  %s: %s", f.name, f.example)
		}
	}
	return lines
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// exclusive reports, for each group of fields of which at most one may be
// given, the fields given after the first.
func exclusive(p *parser, object string, lines map[string]int, groups ...[]string) {
	for _, g := range groups {
		first := ""
		for _, name := range g {
			if _, ok := lines[name]; !ok {
				continue
			}
			if first == "" {
				first = name
				continue
			}
			p.problemAt(lines[name], object, name, "give only one of %s; %s is on line %d", strings.Join(g, ", "), first, lines[first])
		}
	}
}

// writeFields is the mapping of obj's fields, in the order of the table,
// those left out omitted.
func writeFields[T any](fields []field[T], obj *T) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fields {
		if v := f.write(obj); v != nil {
			m.Content = append(m.Content, strNode(f.name), v)
		}
	}
	return m
}

// suggest is the hint for an unknown field name: the valid name it is
// closest to when it looks like a typing mistake, else all valid names.
func suggest(name string, valid []string) string {
	best, dist := "", 3 // more than 2 edits is not a typing mistake
	for _, v := range valid {
		if d := textdist.Levenshtein(strings.ToLower(name), v); d < dist {
			best, dist = v, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %s?", best)
	}
	return "the fields here are " + strings.Join(valid, ", ")
}

// describe names what a node is, for messages that say what was found
// instead of what was wanted.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing (null)"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		}
		return fmt.Sprintf("a value tagged %s", n.Tag)
	}
	return "an alias"
}
