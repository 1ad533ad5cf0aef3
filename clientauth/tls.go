package clientauth

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/internal/jwkset"
)

// Client authentication by the TLS client certificate (RFC 8705 §2):
// tls_client_auth, a certificate of a CA the server trusts naming what the
// client registered (§2.1), and self_signed_tls_client_auth, a certificate
// whose public key is one of the client's registered keys (§2.2).

// MaxIntermediates bounds the intermediate certificates a chain is built
// from: a real chain has one or two, and each costs a parse and a
// signature check.
const MaxIntermediates = 8

// Reasons of a CertificateError, short and fixed, for the log and metrics.
const (
	ReasonCertificateMalformed = "certificate_malformed" // not one DER X.509 certificate
	ReasonCertificateUntrusted = "certificate_untrusted" // no chain to the CAs, expired, not for client auth
	ReasonCertificateMismatch  = "certificate_mismatch"  // not the subject, SAN or key the client registered
	ReasonCertificateMethod    = "certificate_method"    // the client may not use the method, or it is off
)

// CertificateError is why a certificate does not authenticate a client.
// Reason is one of the Reason constants; Detail says more, for the
// server's log (the client gets one generic answer).
type CertificateError struct {
	Reason, Detail string
}

func (e *CertificateError) Error() string { return e.Reason + ": " + e.Detail }

// FailureReason is Reason (issuer.FailureReason reads it).
func (e *CertificateError) FailureReason() string { return e.Reason }

func certErr(reason, format string, args ...any) *CertificateError {
	return &CertificateError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// VerifyCertificate authenticates client c by the DER certificate leaf
// it presented on the TLS connection (or that a trusted proxy forwarded),
// with method auth.AuthTLSClientAuth or auth.AuthSelfSignedTLSClientAuth:
//
//   - tls_client_auth: the certificate chains, through intermediates if
//     needed (at most MaxIntermediates are used), to one of
//     Config.ClientCAs, is valid now and for client authentication
//     (x509 ExtKeyUsageClientAuth), and names exactly what the client
//     registered (MatchTLSClientAuth);
//   - self_signed_tls_client_auth: the certificate's public key is one of
//     the client's registered keys, inline or at its jwks_uri (fetched
//     and cached as for private_key_jwt); no CA is involved and the
//     certificate's dates are not checked (RFC 8705 §2.2: the key is what
//     the client registered, the certificate only carries it).
//
// Whether c is disabled is the caller's to check. Errors are
// *CertificateError values.
func (v *Verifier) VerifyCertificate(ctx context.Context, c *auth.Client, method string, leaf []byte, intermediates [][]byte) error {
	if c == nil {
		return certErr(ReasonCertificateMethod, "unknown client")
	}
	if !c.AllowsAuthMethod(method) {
		return certErr(ReasonCertificateMethod, "client %s may not authenticate with %s", quote(c.ID), method)
	}
	cert, err := x509.ParseCertificate(leaf)
	if err != nil {
		return certErr(ReasonCertificateMalformed, "the client certificate does not parse: %v", err)
	}
	switch method {
	case auth.AuthTLSClientAuth:
		return v.verifyChain(c, cert, intermediates)
	case auth.AuthSelfSignedTLSClientAuth:
		return v.verifyKey(ctx, c, cert)
	}
	return certErr(ReasonCertificateMethod, "%s is not a certificate authentication method", method)
}

// verifyChain is tls_client_auth (RFC 8705 §2.1).
func (v *Verifier) verifyChain(c *auth.Client, cert *x509.Certificate, intermediates [][]byte) error {
	if v.cfg.clientCAs == nil {
		return certErr(ReasonCertificateMethod, "no client certificate authorities are configured (--tls-client-ca): tls_client_auth cannot be used")
	}
	opts := x509.VerifyOptions{
		Roots:       v.cfg.clientCAs,
		CurrentTime: v.cfg.clock.Now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(intermediates) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for i, der := range intermediates {
			if i == MaxIntermediates {
				break
			}
			if ic, err := x509.ParseCertificate(der); err == nil {
				opts.Intermediates.AddCert(ic)
			}
		}
	}
	if _, err := cert.Verify(opts); err != nil {
		return certErr(ReasonCertificateUntrusted, "the certificate of subject %s does not verify against the client CAs: %v", quote(cert.Subject.String()), err)
	}
	if !MatchTLSClientAuth(cert, c.TLSClientAuth) {
		return certErr(ReasonCertificateMismatch, "the certificate of subject %s does not name what client %s registered for tls_client_auth", quote(cert.Subject.String()), quote(c.ID))
	}
	return nil
}

// verifyKey is self_signed_tls_client_auth (RFC 8705 §2.2): cert's key is
// one of the client's. A jwks_uri whose cached set lacks it is fetched
// again, throttled as for an unknown kid, so that a key just added is
// found.
func (v *Verifier) verifyKey(ctx context.Context, c *auth.Client, cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return certErr(ReasonCertificateMismatch, "the certificate's public key type %T is not one a JWK Set can hold", cert.PublicKey)
	}
	now := v.cfg.clock.Now()
	if len(c.JWKS) > 0 {
		set, err := v.inline.get(c)
		if err != nil {
			return certErr(ReasonCertificateMismatch, "the client's registered JWK Set is unusable: %v", err)
		}
		if holdsKey(set, pub) {
			return nil
		}
	} else if c.JWKSURI != "" {
		entry := v.remote.entry(c.JWKSURI, now)
		set, e := v.remote.current(ctx, entry, now)
		if e != nil {
			return certErr(ReasonCertificateMismatch, "%s", e.Description)
		}
		if holdsKey(set, pub) {
			return nil
		}
		if next := v.remote.refetch(ctx, entry, now, set); next != nil && holdsKey(next, pub) {
			return nil
		}
	}
	return certErr(ReasonCertificateMismatch, "the certificate's public key is not one of the keys client %s registered", quote(c.ID))
}

func holdsKey(set *jwkset.Set, pub interface{ Equal(crypto.PublicKey) bool }) bool {
	for _, k := range set.Keys {
		if pub.Equal(k.Key) {
			return true
		}
	}
	return false
}

// MatchTLSClientAuth reports whether cert names what want registers (RFC
// 8705 §2.1.2), compared exactly: the subject DN, both sides in the form
// NormalizeDN gives; or one of the certificate's SANs of the registered
// type equal to the registered value (an IP address compared as an
// address, so that "::1" and "0:0::1" are one). A zero want matches
// nothing.
func MatchTLSClientAuth(cert *x509.Certificate, want auth.TLSClientAuth) bool {
	switch {
	case want.SubjectDN != "":
		dn, err := NormalizeDN(want.SubjectDN)
		return err == nil && SubjectDN(cert) == dn
	case want.SANDNS != "":
		for _, n := range cert.DNSNames {
			if strings.EqualFold(n, want.SANDNS) { // DNS names are case-insensitive (RFC 4343)
				return true
			}
		}
	case want.SANURI != "":
		for _, u := range cert.URIs {
			if u.String() == want.SANURI {
				return true
			}
		}
	case want.SANIP != "":
		a, err := netip.ParseAddr(want.SANIP)
		if err != nil {
			return false
		}
		for _, ip := range cert.IPAddresses {
			if b, ok := netip.AddrFromSlice(ip); ok && b.Unmap() == a.Unmap() {
				return true
			}
		}
	case want.SANEmail != "":
		for _, e := range cert.EmailAddresses {
			if e == want.SANEmail {
				return true
			}
		}
	}
	return false
}

// SubjectDN is the certificate's subject in the form tls_client_auth
// compares: pkix.Name.String() of the parsed subject (RFC 4514 order and
// escaping; the attributes x509 knows — C, ST, L, STREET, POSTALCODE, O,
// OU, CN, SERIALNUMBER — by name, others as OID=#<hex DER>).
func SubjectDN(cert *x509.Certificate) string { return cert.Subject.String() }

// MaxDNLength bounds a registered subject DN.
const MaxDNLength = 1024

// NormalizeDN parses dn, an RFC 4514 distinguished name such as
// "CN=svc-a,OU=payments,O=Example,C=DE", and writes it again as
// pkix.Name.String() writes the same subject parsed from a certificate
// (SubjectDN): what tls_client_auth compares. So "cn=svc-a, o=Example"
// and "CN=svc-a,O=Example" are one name, and the named attributes come in
// x509's order whatever order they were written in. Values are compared
// exactly, case included. Attributes x509 does not name (DC, UID,
// emailAddress, or any dotted OID) come out as a dotted OID with a #-hex
// value, as SubjectDN writes them; either side's string value is
// re-encoded the same way, so DC=example matches a certificate's
// IA5String "example".
func NormalizeDN(dn string) (string, error) {
	seq, err := ParseDN(dn)
	if err != nil {
		return "", err
	}
	var n pkix.Name
	n.FillFromRDNSequence(&seq)
	return n.String(), nil
}

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

// ParseDN parses an RFC 4514 string into the RDN sequence it writes
// (the string names the last RDN first).
func ParseDN(s string) (pkix.RDNSequence, error) {
	if len(s) > MaxDNLength {
		return nil, fmt.Errorf("longer than %d bytes", MaxDNLength)
	}
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
