package authconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// jwks reads a JWK Set, written as a YAML mapping or as a JSON string, as
// compact JSON. The JSON is built from the YAML tree rather than through
// a Go map, so that the keys keep the order of the file and an exported
// JWKS reads back to the same bytes.
func (v value) jwks() []byte {
	n := v.node
	switch {
	case n.Kind == yaml.MappingNode:
		var b bytes.Buffer
		if !v.json(&b, n) {
			return nil
		}
		return b.Bytes()
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(n.Value)); err != nil {
			v.problem(n, "the string is not JSON (%v); write the JWK Set as a mapping, such as  jwks: {keys: [...]}", err)
			return nil
		}
		if b.Len() == 0 || b.Bytes()[0] != '{' {
			v.problem(n, "want a JWK Set, a JSON object such as {\"keys\": [...]}")
			return nil
		}
		return b.Bytes()
	}
	v.problem(n, "want a JWK Set, as a mapping such as  jwks: {keys: [...]}  or as a JSON string, not %s", describe(n))
	return nil
}

// json writes n as JSON to b; false after a problem.
func (v value) json(b *bytes.Buffer, n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		return v.jsonObject(b, n)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !v.json(b, item) {
				return false
			}
		}
		b.WriteByte(']')
		return true
	case yaml.ScalarNode:
		return v.jsonScalar(b, n)
	}
	v.problem(n, "want a JSON value, not %s", describe(n))
	return false
}

func (v value) jsonObject(b *bytes.Buffer, n *yaml.Node) bool {
	seen := map[string]bool{}
	b.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !plainScalar(k) {
			v.problem(k, "a JSON member's name must be a string, not %s", describe(k))
			return false
		}
		if seen[k.Value] {
			v.problem(k, "the member %q is given twice", k.Value)
			return false
		}
		seen[k.Value] = true
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, k.Value)
		b.WriteByte(':')
		if !v.json(b, n.Content[i+1]) {
			return false
		}
	}
	b.WriteByte('}')
	return true
}

// jsonScalar writes a scalar as JSON: strings as strings, numbers as
// numbers (as written when JSON has the same form), true, false, null.
func (v value) jsonScalar(b *bytes.Buffer, n *yaml.Node) bool {
	switch n.Tag {
	case "!!str":
		writeJSONString(b, n.Value)
	case "!!null":
		b.WriteString("null")
	case "!!bool":
		b.WriteString(strconv.FormatBool(strings.EqualFold(n.Value, "true")))
	case "!!int", "!!float":
		num, ok := jsonNumber(n)
		if !ok {
			v.problem(n, "%s cannot be written in JSON; quote it if it is a string", n.Value)
			return false
		}
		b.WriteString(num)
	default:
		v.problem(n, "want a JSON value, not %s", describe(n))
		return false
	}
	return true
}

// jsonNumber is a YAML number as JSON: its own text when that is JSON (so
// that 1.0 stays 1.0), else the value (0x1F is 31); .inf and .nan are not.
func jsonNumber(n *yaml.Node) (string, bool) {
	if json.Valid([]byte(n.Value)) && n.Value[0] != '"' {
		return n.Value, true
	}
	var f float64
	if n.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	var i int64
	if n.Tag == "!!int" && n.Decode(&i) == nil {
		return strconv.FormatInt(i, 10), true
	}
	return strconv.FormatFloat(f, 'g', -1, 64), true
}

// writeJSONString writes s as encoding/json does, but with <, > and &
// left as they are: they are harmless here and a JWKS is compared byte
// for byte.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// jwksNode is a stored JWK Set for Export: a YAML mapping in the order of
// its members when that reads back to the same compact JSON, else the
// JSON as a string (a JWKS that is not JSON, or whose strings are escaped
// in another way than Parse writes them), so that nothing is lost.
func jwksNode(stored []byte) *yaml.Node {
	if len(stored) == 0 {
		return nil
	}
	var compact bytes.Buffer
	if json.Compact(&compact, stored) != nil {
		return strNode(string(stored))
	}
	n, err := jsonToNode(json.NewDecoder(bytes.NewReader(compact.Bytes())))
	if err != nil || n.Kind != yaml.MappingNode {
		return strNode(compact.String())
	}
	var back bytes.Buffer
	p := &parser{}
	if !(value{p: p, node: n}).json(&back, n) || !bytes.Equal(back.Bytes(), compact.Bytes()) {
		return strNode(compact.String())
	}
	return n
}

// jsonToNode reads one JSON value from dec as a YAML node, keeping the
// order of object members.
func jsonToNode(dec *json.Decoder) (*yaml.Node, error) {
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		return jsonContainer(dec, t)
	case string:
		return strNode(t), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, errors.New("unexpected JSON token")
}

func jsonContainer(dec *json.Decoder, open json.Delim) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	if open == '{' {
		n.Kind = yaml.MappingNode
	}
	for dec.More() {
		if n.Kind == yaml.MappingNode {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, strNode(k.(string)))
		}
		item, err := jsonToNode(dec)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, item)
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return n, nil
}
