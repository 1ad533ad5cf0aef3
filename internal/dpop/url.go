package dpop

import (
	"errors"
	"net/url"
	"strings"
)

// NormalizeURL returns u as htu is compared (RFC 9449 §4.3, item 9):
// without query and fragment, after the syntax-based normalization of RFC
// 3986 §6.2.2 (scheme and host in lower case, percent-encodings in upper
// case and decoded where they encode an unreserved character, dot segments
// removed) and the scheme-based one of §6.2.3 (no default port, an empty
// path is "/"). Only absolute http and https URLs are accepted.
func NormalizeURL(u string) (string, error) {
	parsed, err := url.Parse(stripQuery(u))
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(parsed.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", errors.New("not an absolute http or https URL")
	}
	if parsed.Opaque != "" || parsed.Host == "" {
		return "", errors.New("no host")
	}
	host := strings.ToLower(parsed.Host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	host = strings.TrimSuffix(host, ":") // an empty port is the default one (§6.2.3)
	path := normalizePercent(parsed.EscapedPath())
	path = removeDotSegments(path)
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(path) + 16)
	b.WriteString(scheme)
	b.WriteString("://")
	if parsed.User != nil {
		// Kept so that a URL with userinfo never equals the server's own.
		b.WriteString(parsed.User.String())
		b.WriteByte('@')
	}
	b.WriteString(host)
	b.WriteString(path)
	return b.String(), nil
}

// normalizePercent decodes the percent-encodings of unreserved characters
// and writes the others' hex digits in upper case (RFC 3986 §6.2.2.1-2).
func normalizePercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			b.WriteByte(s[i])
			continue
		}
		c := byte(hi<<4 | lo)
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(s[i+1 : i+3]))
		}
		i += 2
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if !strings.HasPrefix(r, "/") && strings.HasPrefix(p, "/") {
		r = "/" + r
	}
	return r
}
