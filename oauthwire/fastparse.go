package oauthwire

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gooclaim/auth"
)

// The fast paths below read the common small token request — a form body
// without escapes, or a flat JSON object of plain strings — with one
// allocation (the copy of the body its values point into) instead of
// url.ParseQuery's map and slices or json.Decoder's tokens (about 40
// allocations for a JSON body). Whatever they do not recognise they leave
// to the general path; when they accept a body, the result is exactly the
// general path's (FuzzFastPaths checks it). Hand-written because no library
// reads a form or JSON body into a fixed set of fields without allocating
// per parameter, and the general path's exact acceptance and error
// messages are part of the API.

// fastFormMaxParams is the most parameters (separators + 1) a form body
// read by the fast path has: url.ParseQuery refuses bodies with more than
// its limit (10,000, or GODEBUG urlmaxqueryparams), which the fast path
// leaves to it.
const fastFormMaxParams = 16

// fastFormOK is whether url.ParseQuery accepts fastFormMaxParams
// parameters: false only when GODEBUG urlmaxqueryparams sets a lower limit
// when the process starts, and then every form body takes the general path.
var fastFormOK = func() bool {
	_, err := url.ParseQuery(strings.Repeat("&", fastFormMaxParams-1))
	return err == nil
}()

// parseFormFast reads a form body holding no '%', '+' or ';' — nothing
// url.ParseQuery would unescape or refuse — as parseForm would. ok is false
// when the body is not such a body; then nothing is set.
func parseFormFast(body []byte, p *params) (ok bool, err error) {
	if !fastFormOK {
		return false, nil
	}
	seps := 0
	for _, b := range body {
		switch b {
		case '%', '+', ';':
			return false, nil
		case '&':
			if seps++; seps >= fastFormMaxParams {
				return false, nil // url.ParseQuery limits the parameters' number: its error
			}
		}
	}
	var (
		vals  params
		count [len(knownParams)]int
	)
	for rest := string(body); rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "&")
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		if i := paramIndex(name); i >= 0 {
			if count[i] == 0 {
				vals[i] = value
			}
			count[i]++
		}
	}
	for i, name := range knownParams { // in parseForm's order, so the error reported is its
		switch {
		case count[i] == 0:
			continue
		case count[i] > 1:
			return true, auth.ErrInvalidRequest.WithDescription("parameter " + name + " is repeated; send it once (RFC 6749 §3.2)")
		case !utf8.ValidString(vals[i]):
			return true, auth.ErrInvalidRequest.WithDescription("parameter " + name + " is not valid UTF-8 once decoded")
		}
		p[i] = vals[i]
	}
	return true, nil
}

// parseJSONFast reads a body that is one JSON object whose members are
// plain strings (no escapes) or null, each known member once, with nothing
// but whitespace after it — as parseJSON would. ok is false otherwise; then
// nothing is set.
func parseJSONFast(body []byte, p *params) (ok bool) {
	s := string(body)
	var (
		vals params
		seen [len(knownParams)]bool
	)
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			name, j, ok := plainString(s, i)
			if !ok {
				return false
			}
			j = skipSpace(s, j)
			if j >= len(s) || s[j] != ':' {
				return false
			}
			j = skipSpace(s, j+1)
			var value string
			isNull := strings.HasPrefix(s[j:], "null")
			if isNull {
				j += len("null")
			} else if value, j, ok = plainString(s, j); !ok {
				return false
			}
			if k := paramIndex(name); k >= 0 {
				if seen[k] {
					return false // the general path says which member is repeated
				}
				seen[k] = true
				vals[k] = value
			}
			j = skipSpace(s, j)
			if j >= len(s) {
				return false
			}
			if s[j] == '}' {
				i = j + 1
				break
			}
			if s[j] != ',' {
				return false
			}
			i = skipSpace(s, j+1)
		}
	}
	if skipSpace(s, i) != len(s) {
		return false
	}
	*p = vals
	return true
}

// plainString reads a JSON string without escapes or control characters
// at s[i:], returning its content and the index after it.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch b := s[j]; {
		case b == '"':
			return s[i+1 : j], j + 1, true
		case b == '\\' || b < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
