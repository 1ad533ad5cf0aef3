package admin

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gooclaim/auth"
)

// What a tls_client_auth client registers (RFC 8705 §2.1.2): its
// certificate's subject DN or one of its subjectAltName entries. The
// server compares what the certificate carries with what is stored, so
// each value is stored in the form the comparison uses:
//
//   - the subject DN as crypto/x509/pkix Name.String() would write a
//     certificate subject with the same attributes (NormalizeSubjectDN):
//     "CN=svc, O=Gooclaim" is stored as "CN=svc,O=Gooclaim" and matches a
//     certificate whose Subject.String() is that;
//   - a DNS name in lower case (names are case-insensitive, and CAs issue
//     them in lower case);
//   - an IP address in its canonical netip form ("2001:db8::1", an
//     IPv4-mapped IPv6 address as IPv4);
//   - a URI and an e-mail address as given (compared exactly).

// maxTLSValue bounds each tls_client_auth value.
const maxTLSValue = 1024

// CheckTLSClientAuth normalizes the value registered in t (see above) and
// reports what is wrong with it, one message per problem: at most one
// field may be set (RFC 8705 §2.1.2).
func CheckTLSClientAuth(t *auth.TLSClientAuth) []string {
	var p []string
	set := 0
	for _, f := range []struct {
		name  string
		value *string
		check func(string) (string, error)
	}{
		{"subject DN", &t.SubjectDN, NormalizeSubjectDN},
		{"SAN DNS", &t.SANDNS, normalizeSANDNS},
		{"SAN URI", &t.SANURI, normalizeSANURI},
		{"SAN IP", &t.SANIP, normalizeSANIP},
		{"SAN email", &t.SANEmail, normalizeSANEmail},
	} {
		if *f.value == "" {
			continue
		}
		set++
		if len(*f.value) > maxTLSValue || !utf8.ValidString(*f.value) || strings.ContainsFunc(*f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			p = append(p, fmt.Sprintf("tls_client_auth %s %q: at most %d characters of UTF-8 text without control characters", f.name, *f.value, maxTLSValue))
			continue
		}
		v, err := f.check(*f.value)
		if err != nil {
			p = append(p, fmt.Sprintf("tls_client_auth %s %q: %v", f.name, *f.value, err))
			continue
		}
		*f.value = v
	}
	if set > 1 {
		p = append(p, "tls_client_auth: register one certificate field — the subject DN or one SAN (DNS, URI, IP or email) — not several (RFC 8705 §2.1.2)")
	}
	return p
}

// tlsFieldsHint names, for messages, the settings of TLSClientAuth on the
// command line and in the admin API.
const tlsFieldsHint = "--tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip or --tls-san-email (the API's tls_client_auth_* fields)"

// The attribute types a subject DN may name by keyword (RFC 4514 §3, and
// those crypto/x509/pkix writes by name); others are written as a dotted
// OID ("2.5.4.12=Engineer").
var dnKeywords = map[string]asn1.ObjectIdentifier{
	"C":            {2, 5, 4, 6},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"CN":           {2, 5, 4, 3},
	"SERIALNUMBER": {2, 5, 4, 5},
	"L":            {2, 5, 4, 7},
	"ST":           {2, 5, 4, 8},
	"STREET":       {2, 5, 4, 9},
	"POSTALCODE":   {2, 5, 4, 17},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
	"E":            {1, 2, 840, 113549, 1, 9, 1},
}

// NormalizeSubjectDN parses dn, an RFC 4514 distinguished name such as
// "CN=svc,OU=Payments,O=Gooclaim\, Inc.", and returns it as crypto/x509/pkix
// writes the subject of a certificate with the same attributes
// (Name.String()), the form a certificate's subject is compared in.
//
// The parser follows RFC 4514 §3 with two allowances for names copied from
// other tools: spaces around "=", "," and "+" are ignored (OpenSSL writes
// "CN = svc, O = Gooclaim"), and attribute keywords are case-insensitive.
// Values are strings with RFC 4514 escapes (\, \+ \" \\ \< \> \; \= \#, an
// escaped space, or \XX hex bytes of UTF-8), or "#" and the hex of a
// BER-encoded string (the form Name.String() writes DC, UID and other
// attributes it has no keyword for in). The normal form is what
// Name.String() makes of it: the known attributes in pkix's fixed order
// (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER, written last
// to first), then others as OID=#hex; so it matches a certificate whose
// subject has the same attributes in whatever order. Since such a name
// keeps one CN and one SERIALNUMBER, a DN naming either twice is refused.
func NormalizeSubjectDN(dn string) (string, error) {
	rdns, err := parseDN(dn)
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	for _, rdn := range rdns {
		for _, atv := range rdn {
			switch o := atv.Type.String(); o {
			case "2.5.4.3", "2.5.4.5":
				if seen[o] {
					return "", fmt.Errorf("names %s twice; a certificate subject's string form keeps one, so register a DN with one", map[string]string{"2.5.4.3": "CN", "2.5.4.5": "SERIALNUMBER"}[o])
				}
				seen[o] = true
			}
		}
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdns)
	return n.String(), nil
}

// parseDN parses an RFC 4514 string into the RDN sequence it writes
// (the string names the last RDN first).
func parseDN(s string) (pkix.RDNSequence, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty; write a DN such as CN=svc,O=Gooclaim")
	}
	var (
		rdns pkix.RDNSequence
		rdn  pkix.RelativeDistinguishedNameSET
	)
	i := 0
	for {
		// attributeType "="
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("%q has no \"=\": write TYPE=VALUE pairs separated by commas, such as CN=svc,O=Gooclaim", s[i:])
		}
		typ := strings.TrimSpace(s[i : i+eq])
		oid, err := dnAttributeType(typ)
		if err != nil {
			return nil, err
		}
		i += eq + 1
		value, next, sep, err := dnValue(s, i)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
		if value == "" {
			return nil, fmt.Errorf("%s has an empty value", typ)
		}
		rdn = append(rdn, pkix.AttributeTypeAndValue{Type: oid, Value: value})
		i = next
		if sep == '+' {
			continue
		}
		rdns = append(rdns, rdn)
		rdn = nil
		if sep == 0 {
			break
		}
	}
	// The string form lists the RDNs from the last to the first.
	for l, r := 0, len(rdns)-1; l < r; l, r = l+1, r-1 {
		rdns[l], rdns[r] = rdns[r], rdns[l]
	}
	return rdns, nil
}

// dnAttributeType reads a keyword or a dotted OID.
func dnAttributeType(typ string) (asn1.ObjectIdentifier, error) {
	if oid, ok := dnKeywords[strings.ToUpper(typ)]; ok {
		return oid, nil
	}
	parts := strings.Split(typ, ".")
	if len(parts) < 2 || typ == "" || typ[0] < '0' || typ[0] > '9' {
		return nil, fmt.Errorf("unknown attribute type %q: use CN, O, OU, C, L, ST, STREET, POSTALCODE, SERIALNUMBER, DC, UID, EMAILADDRESS or a dotted OID", typ)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for k, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return nil, fmt.Errorf("attribute type %q is not a keyword or a dotted OID", typ)
		}
		oid[k] = n
	}
	return oid, nil
}

// dnValue reads the value that starts at s[i], up to an unescaped "," or
// "+" (sep, 0 at the end of s), undoing its escapes and dropping unescaped
// spaces around it; next is where the next attribute starts.
func dnValue(s string, i int) (value string, next int, sep byte, err error) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '#' {
		return dnHexValue(s, i+1)
	}
	var b []byte
	keep := 0 // len(b) up to the last escaped byte: escaped trailing spaces stay
	for next = i; next < len(s); next++ {
		c := s[next]
		if c == ',' || c == '+' {
			sep = c
			next++
			break
		}
		switch c {
		case '\\':
			if next+1 >= len(s) {
				return "", 0, 0, fmt.Errorf("ends with a lone \\")
			}
			if h, ok := hexByte(s, next+1); ok {
				b = append(b, h)
				next += 2
			} else if strings.IndexByte(",+\"\\<>;=# ", s[next+1]) >= 0 {
				b = append(b, s[next+1])
				next++
			} else {
				return "", 0, 0, fmt.Errorf("\\%c is not an escape: escape , + \" \\ < > ; = # and spaces with \\, or write a byte as \\XX", s[next+1])
			}
			keep = len(b)
		case '"', ';', '<', '>':
			return "", 0, 0, fmt.Errorf("%q must be escaped as \\%c (RFC 4514 §2.4)", c, c)
		default:
			b = append(b, c)
		}
	}
	value = string(b[:keep]) + strings.TrimRight(string(b[keep:]), " ")
	if !utf8.ValidString(value) {
		return "", 0, 0, fmt.Errorf("the value is not UTF-8")
	}
	return value, next, sep, nil
}

// dnHexValue reads the "#" form of a value (RFC 4514 §2.4): the hex of
// its BER encoding, which must be a string — Name.String() writes the
// attributes it has no keyword for (DC, UID, …) so, and the normal form
// must read back.
func dnHexValue(s string, i int) (value string, next int, sep byte, err error) {
	next = i
	for next < len(s) && s[next] != ',' && s[next] != '+' {
		next++
	}
	h := strings.TrimRight(s[i:next], " ")
	if next < len(s) {
		sep = s[next]
		next++
	}
	der, err := hex.DecodeString(h)
	if err != nil {
		return "", 0, 0, fmt.Errorf("#%s is not hex: write the value as a string, or # and the hex of its BER encoding", h)
	}
	var v any
	if rest, err := asn1.Unmarshal(der, &v); err != nil || len(rest) > 0 {
		return "", 0, 0, fmt.Errorf("#%s is not a BER-encoded value: write the value as a string", h)
	}
	str, ok := v.(string)
	if !ok || !utf8.ValidString(str) {
		return "", 0, 0, fmt.Errorf("#%s is not a string: certificates are compared by their attributes' string values", h)
	}
	return str, next, sep, nil
}

// hexByte reads the two hex digits at s[i:].
func hexByte(s string, i int) (byte, bool) {
	if i+2 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+2], 16, 8)
	return byte(v), err == nil
}

// normalizeSANDNS checks a DNS name: letters, digits and hyphens in labels
// of 1 to 63 characters, no wildcard (the certificate's exact name is
// registered).
func normalizeSANDNS(name string) (string, error) {
	name = strings.ToLower(name)
	if len(name) > 253 {
		return "", fmt.Errorf("a DNS name is at most 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.ContainsFunc(label, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
			return "", fmt.Errorf("not a host name: write the certificate's dNSName, such as svc.example.com (letters, digits and hyphens; no wildcard, no trailing dot)")
		}
	}
	return name, nil
}

// normalizeSANURI checks an absolute URI, such as a SPIFFE ID.
func normalizeSANURI(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || strings.ContainsAny(s, " \t") {
		return "", fmt.Errorf("not an absolute URI: write the certificate's uniformResourceIdentifier, such as spiffe://example.com/ns/payments/sa/worker")
	}
	return s, nil
}

// normalizeSANIP checks an IP address and writes it canonically.
func normalizeSANIP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("not an IP address: write an IPv4 or IPv6 address without a zone, such as 192.0.2.7 or 2001:db8::7")
	}
	return a.Unmap().String(), nil
}

// normalizeSANEmail checks a bare address (no display name, no brackets).
func normalizeSANEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", fmt.Errorf("not an e-mail address: write the certificate's rfc822Name alone, such as svc@example.com")
	}
	return s, nil
}
