package clientauth

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

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
			if n == want.SANDNS {
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

// attributeTypes are the names RFC 4514 strings use for the attributes
// pkix.Name.String() writes by name (attribute type names are
// case-insensitive).
var attributeTypes = map[string]asn1.ObjectIdentifier{
	"C": {2, 5, 4, 6}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "CN": {2, 5, 4, 3},
	"SERIALNUMBER": {2, 5, 4, 5}, "L": {2, 5, 4, 7}, "ST": {2, 5, 4, 8},
	"STREET": {2, 5, 4, 9}, "POSTALCODE": {2, 5, 4, 17},
	// Not named by pkix.Name.String(), which writes them as OID=#hex:
	// accepted here so that an administrator can write them as people do.
	"DC": {0, 9, 2342, 19200300, 100, 1, 25}, "UID": {0, 9, 2342, 19200300, 100, 1, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

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
	seq, err := parseDN(dn)
	if err != nil {
		return "", err
	}
	var n pkix.Name
	n.FillFromRDNSequence(&seq)
	return n.String(), nil
}

// parseDN reads an RFC 4514 string into the RDN sequence it names, in
// ASN.1 order (RFC 4514 writes the last RDN first).
func parseDN(dn string) (pkix.RDNSequence, error) {
	if len(dn) > MaxDNLength {
		return nil, fmt.Errorf("the distinguished name is longer than %d bytes", MaxDNLength)
	}
	if strings.TrimSpace(dn) == "" {
		return nil, errors.New("the distinguished name is empty")
	}
	p := dnParser{s: dn}
	var seq pkix.RDNSequence
	for {
		var rdn pkix.RelativeDistinguishedNameSET
		for {
			atv, err := p.attribute()
			if err != nil {
				return nil, fmt.Errorf("distinguished name %s: %v", quote(dn), err)
			}
			rdn = append(rdn, atv)
			if p.i < len(p.s) && p.s[p.i] == '+' {
				p.i++
				continue
			}
			break
		}
		seq = append(seq, rdn)
		if p.i >= len(p.s) {
			break
		}
		if p.s[p.i] != ',' && p.s[p.i] != ';' {
			return nil, fmt.Errorf("distinguished name %s: unexpected %q at byte %d", quote(dn), p.s[p.i], p.i)
		}
		p.i++
	}
	for i, j := 0, len(seq)-1; i < j; i, j = i+1, j-1 {
		seq[i], seq[j] = seq[j], seq[i]
	}
	return seq, nil
}

type dnParser struct {
	s string
	i int
}

func (p *dnParser) skipSpace() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// attribute reads "type=value".
func (p *dnParser) attribute() (pkix.AttributeTypeAndValue, error) {
	var atv pkix.AttributeTypeAndValue
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '=' && p.s[p.i] != ',' && p.s[p.i] != '+' {
		p.i++
	}
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return atv, fmt.Errorf("an attribute at byte %d has no '='", start)
	}
	name := strings.TrimSpace(p.s[start:p.i])
	p.i++
	if oid, ok := attributeTypes[strings.ToUpper(name)]; ok {
		atv.Type = oid
	} else if oid, ok := parseOID(name); ok {
		atv.Type = oid
	} else {
		return atv, fmt.Errorf("unknown attribute type %s: use C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER or a dotted OID", quote(name))
	}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '#' {
		return p.berValue(atv)
	}
	v, err := p.stringValue()
	if err != nil {
		return atv, err
	}
	atv.Value = v
	return atv, nil
}

// berValue reads "#<hex>", the BER encoding of the value (RFC 4514 §2.4).
func (p *dnParser) berValue(atv pkix.AttributeTypeAndValue) (pkix.AttributeTypeAndValue, error) {
	p.i++
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '+' && p.s[p.i] != ';' && p.s[p.i] != ' ' {
		p.i++
	}
	der, err := hex.DecodeString(p.s[start:p.i])
	if err != nil {
		return atv, fmt.Errorf("the #-value at byte %d is not hexadecimal", start)
	}
	var v any
	if rest, err := asn1.Unmarshal(der, &v); err != nil || len(rest) > 0 {
		return atv, fmt.Errorf("the #-value at byte %d is not one BER value", start)
	}
	p.skipSpace()
	atv.Value = v
	return atv, nil
}

// stringValue reads a value with RFC 4514 §3's escapes (\, \" \+ … and
// \XX hex pairs); unescaped trailing spaces are not part of it.
func (p *dnParser) stringValue() (string, error) {
	var b []byte
	trail := 0 // unescaped spaces at the end of b
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ',' || c == '+' || c == ';':
			return string(b[:len(b)-trail]), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", errors.New("the name ends with a lone backslash")
			}
			if p.i+2 < len(p.s) && isHex(p.s[p.i+1]) && isHex(p.s[p.i+2]) {
				n, _ := strconv.ParseUint(p.s[p.i+1:p.i+3], 16, 8)
				b = append(b, byte(n))
				p.i += 3
			} else {
				b = append(b, p.s[p.i+1])
				p.i += 2
			}
			trail = 0
			continue
		case c == '"':
			return "", errors.New(`an unescaped '"' in a value: write \"`)
		case c == ' ':
			trail++
		default:
			trail = 0
		}
		b = append(b, c)
		p.i++
	}
	return string(b[:len(b)-trail]), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// parseOID reads a dotted OID such as "2.5.4.3".
func parseOID(s string) (asn1.ObjectIdentifier, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, false
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || part == "" || part[0] == '+' {
			return nil, false
		}
		oid[i] = n
	}
	return oid, true
}
