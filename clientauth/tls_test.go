package clientauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
)

// TestNormalizeDN: the registered DN and the certificate's subject meet in
// pkix.Name.String()'s form, whatever case, spacing and order the DN was
// written in; values stay exact.
func TestNormalizeDN(t *testing.T) {
	subject := pkix.Name{
		CommonName: "svc a+b", Organization: []string{`Example, "Inc."`}, OrganizationalUnit: []string{"payments"}, Country: []string{"DE"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"}},
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	got := clientauth.SubjectDN(cert)
	for _, dn := range []string{
		got, // what an administrator copies from openssl-like output of Go
		`CN=svc a\+b,OU=payments,O=Example\, \"Inc.\",C=DE,DC=example`,
		`dc=example, c=DE, o=Example\2C \22Inc.\22, ou=payments, cn=svc a\+b`,
	} {
		n, err := clientauth.NormalizeDN(dn)
		if err != nil {
			t.Fatalf("NormalizeDN(%q): %v", dn, err)
		}
		if n != got {
			t.Errorf("NormalizeDN(%q) = %q, want the certificate's %q", dn, n, got)
		}
		if !clientauth.MatchTLSClientAuth(cert, auth.TLSClientAuth{SubjectDN: dn}) {
			t.Errorf("%q does not match the certificate", dn)
		}
	}
	for _, dn := range []string{`CN=Svc a\+b,OU=payments,O=Example\, \"Inc.\",C=DE,DC=example`, `CN=svc a\+b,OU=payments,O=Example\, \"Inc.\",C=DE`} {
		if clientauth.MatchTLSClientAuth(cert, auth.TLSClientAuth{SubjectDN: dn}) {
			t.Errorf("%q matches the certificate", dn)
		}
	}
	for _, bad := range []string{"", "CN", "XX=1", `CN=a\`, `CN=a"b`, "CN=#zz"} {
		if _, err := clientauth.NormalizeDN(bad); err == nil {
			t.Errorf("NormalizeDN(%q) accepted", bad)
		}
	}
}
