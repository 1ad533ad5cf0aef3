package admin

import (
	"crypto/x509/pkix"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
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
	rdns, err := clientauth.ParseDN(dn)
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
