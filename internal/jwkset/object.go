package jwkset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The JSON objects of JOSE — JWS headers, JWT claims, and the documents
// around them — are read by the verification kit and by client assertion
// checks alike, with the same rule against duplicate members.

// ErrNotObject is DecodeObject's error for data that is not one JSON object.
var ErrNotObject = errors.New("it is not an object")

// StringMember returns the member name of m when it is a JSON string.
func StringMember(m map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := m[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// DecodeObject decodes a JSON object, refusing duplicate member names
// (RFC 7515 §5.2, RFC 8725 §3.7: two parsers must not read two different
// values) and trailing data. Numbers decode as json.Number.
func DecodeObject[T any](data []byte) (map[string]T, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]T
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, ErrNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data follows it")
	}
	// The map keeps one value per name (escaped spellings included): more
	// members than names means a name appears twice.
	if countMembers(data) != len(m) {
		return nil, fmt.Errorf("member %s appears twice", Quote(duplicateMember(data)))
	}
	return m, nil
}

// countMembers counts the members of the JSON object data (valid JSON):
// the colons outside strings at depth 1.
func countMembers(data []byte) int {
	n, depth := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 1:
			n++
		}
	}
	return n
}

// duplicateMember returns the first repeated member name of the JSON object
// data (valid JSON), for the error message.
func duplicateMember(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.Token() // {
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		name, _ := t.(string)
		if seen[name] {
			return name
		}
		seen[name] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return ""
}
