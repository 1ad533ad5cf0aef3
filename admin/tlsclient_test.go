package admin_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

var (
	oidCN  = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO   = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU  = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC   = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidDC  = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// subjectOf makes a certificate whose subject is rdns exactly, in its
// order, and returns the subject as crypto/x509 parses it.
func subjectOf(t *testing.T, rdns pkix.RDNSequence) pkix.Name {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: raw, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert.Subject
}

func atv(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

// TestNormalizeSubjectDN: a registered DN, written as people write them,
// normalizes to what a certificate with that subject gives as
// Subject.String() — the comparison the server makes.
func TestNormalizeSubjectDN(t *testing.T) {
	tests := []struct {
		name, dn string
		cert     pkix.RDNSequence // in certificate order: the first RDN is the last in the string
	}{
		{"simple", "CN=svc,O=Gooclaim", pkix.RDNSequence{{atv(oidO, "Gooclaim")}, {atv(oidCN, "svc")}}},
		{"OpenSSL spacing", "CN = svc, O = Gooclaim", pkix.RDNSequence{{atv(oidO, "Gooclaim")}, {atv(oidCN, "svc")}}},
		{"lower-case keywords", "cn=svc,o=Gooclaim", pkix.RDNSequence{{atv(oidO, "Gooclaim")}, {atv(oidCN, "svc")}}},
		{"other order", "O=Gooclaim,CN=svc,C=DE", pkix.RDNSequence{{atv(oidC, "DE")}, {atv(oidCN, "svc")}, {atv(oidO, "Gooclaim")}}},
		{"escapes", `CN=svc\, primary,O=Gooclaim\2C Inc.,OU=a\+b`,
			pkix.RDNSequence{{atv(oidOU, "a+b")}, {atv(oidO, "Gooclaim, Inc.")}, {atv(oidCN, "svc, primary")}}},
		{"escaped spaces kept", `CN=\ svc\ `, pkix.RDNSequence{{atv(oidCN, " svc ")}}},
		{"multi-valued RDN", "CN=svc+UID=42,OU=Payments,OU=Ops,DC=example,DC=com",
			pkix.RDNSequence{{atv(oidDC, "com")}, {atv(oidDC, "example")}, {atv(oidOU, "Ops")}, {atv(oidOU, "Payments")}, {atv(oidCN, "svc"), atv(oidUID, "42")}}},
		{"UTF-8", `CN=Zürich,O=caf\C3\A9`, pkix.RDNSequence{{atv(oidO, "café")}, {atv(oidCN, "Zürich")}}},
		{"dotted OID", "2.5.4.3=svc", pkix.RDNSequence{{atv(oidCN, "svc")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := admin.NormalizeSubjectDN(tt.dn)
			if err != nil {
				t.Fatalf("NormalizeSubjectDN(%q): %v", tt.dn, err)
			}
			if want := subjectOf(t, tt.cert).String(); got != want {
				t.Errorf("NormalizeSubjectDN(%q) = %q; the certificate's Subject.String() is %q", tt.dn, got, want)
			}
			if again, err := admin.NormalizeSubjectDN(got); err != nil || again != got {
				t.Errorf("NormalizeSubjectDN(%q) = %q, %v; want the normal form unchanged", got, again, err)
			}
		})
	}
	for _, dn := range []string{"", "   ", "svc", "CN=", "CN=svc,", "CN=svc,,O=x", "XX=svc", "1.2.x=svc", "CN=#0403737663", "CN=#zz", "CN=#1303",
		`CN=a"b`, "CN=a;b", `CN=svc\`, `CN=sv\qc`, "CN=a,CN=b", `CN=\ff\fe`} {
		if got, err := admin.NormalizeSubjectDN(dn); err == nil {
			t.Errorf("NormalizeSubjectDN(%q) = %q; want an error", dn, got)
		}
	}
}

// TestCheckTLSClientAuth: one field at most, each checked and normalized.
func TestCheckTLSClientAuth(t *testing.T) {
	good := []struct{ in, want auth.TLSClientAuth }{
		{auth.TLSClientAuth{}, auth.TLSClientAuth{}},
		{auth.TLSClientAuth{SubjectDN: "CN = svc, O = Gooclaim"}, auth.TLSClientAuth{SubjectDN: "CN=svc,O=Gooclaim"}},
		{auth.TLSClientAuth{SANDNS: "Svc.Example.COM"}, auth.TLSClientAuth{SANDNS: "svc.example.com"}},
		{auth.TLSClientAuth{SANURI: "spiffe://example.com/ns/p/sa/w"}, auth.TLSClientAuth{SANURI: "spiffe://example.com/ns/p/sa/w"}},
		{auth.TLSClientAuth{SANIP: "2001:DB8::0:7"}, auth.TLSClientAuth{SANIP: "2001:db8::7"}},
		{auth.TLSClientAuth{SANIP: "::ffff:192.0.2.7"}, auth.TLSClientAuth{SANIP: "192.0.2.7"}},
		{auth.TLSClientAuth{SANEmail: "svc@example.com"}, auth.TLSClientAuth{SANEmail: "svc@example.com"}},
	}
	for _, tt := range good {
		got := tt.in
		if p := admin.CheckTLSClientAuth(&got); len(p) > 0 || got != tt.want {
			t.Errorf("CheckTLSClientAuth(%+v) = %+v, %q; want %+v", tt.in, got, p, tt.want)
		}
	}
	bad := []auth.TLSClientAuth{
		{SubjectDN: "CN=svc", SANDNS: "svc.example.com"},
		{SANDNS: "*.example.com"}, {SANDNS: "svc..example.com"}, {SANDNS: "-svc.example.com"}, {SANDNS: "svc.example.com."},
		{SANURI: "/relative/path"}, {SANURI: "svc.example.com"}, {SANURI: "https://example.com/a b"},
		{SANIP: "192.0.2"}, {SANIP: "fe80::1%eth0"}, {SANIP: "svc.example.com"},
		{SANEmail: "svc"}, {SANEmail: "Svc <svc@example.com>"}, {SANEmail: "svc@example.com\n"},
		{SubjectDN: "CN=" + strings.Repeat("a", 2000)},
	}
	for _, in := range bad {
		got := in
		if p := admin.CheckTLSClientAuth(&got); len(p) == 0 {
			t.Errorf("CheckTLSClientAuth(%+v) found nothing wrong", in)
		}
	}
}

// TestTLSClientAuthClients: a client with only a certificate to expect
// gets no secret; the methods' requirements are checked; an update
// replaces the registered field, turns the requirements off and clears
// the field.
func TestTLSClientAuthClients(t *testing.T) {
	ctx := t.Context()
	svc := newService(t)
	c, secret, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "mtls", RequireCertificateBoundTokens: true, RequireDPoP: true,
		TLSClientAuth: auth.TLSClientAuth{SubjectDN: "CN = svc, O = Gooclaim"}})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || len(c.Secrets) != 0 {
		t.Errorf("a tls_client_auth client got a secret %q (%d stored)", secret, len(c.Secrets))
	}
	stored, err := svc.Client(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.TLSClientAuth.SubjectDN != "CN=svc,O=Gooclaim" || !stored.RequireDPoP || !stored.RequireCertificateBoundTokens {
		t.Errorf("stored %+v; want the normalized DN and both requirements", stored)
	}
	v := admin.View(stored)
	if v.TLSClientAuthSubjectDN != "CN=svc,O=Gooclaim" || !v.DPoPBoundAccessTokens || !v.TLSClientCertificateBoundAccessTokens ||
		strings.Join(v.AllowedAuthMethods, " ") != auth.AuthTLSClientAuth {
		t.Errorf("View = %+v", v)
	}

	off, ip := false, auth.TLSClientAuth{SANIP: "2001:DB8::7"}
	u, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{RequireDPoP: &off, TLSClientAuth: &ip})
	if err != nil {
		t.Fatal(err)
	}
	if u.TLSClientAuth != (auth.TLSClientAuth{SANIP: "2001:db8::7"}) || u.RequireDPoP || !u.RequireCertificateBoundTokens {
		t.Errorf("after the update %+v", u)
	}
	// Clearing the only credential is refused; with a key it is not.
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{TLSClientAuth: &auth.TLSClientAuth{}}); !errors.Is(err, auth.ErrInvalid) ||
		!strings.Contains(err.Error(), "never authenticate") {
		t.Errorf("clearing the only credential: %v; want EINVALID, never authenticate", err)
	}
	two := auth.TLSClientAuth{SANDNS: "svc.example.com", SANEmail: "svc@example.com"}
	if _, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{TLSClientAuth: &two}); !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), "RFC 8705") {
		t.Errorf("two fields: %v; want EINVALID naming RFC 8705", err)
	}

	for _, tt := range []struct {
		spec admin.ClientSpec
		want string
	}{
		{admin.ClientSpec{Name: "x", AuthMethods: []string{auth.AuthTLSClientAuth}}, "tls_client_auth needs"},
		{admin.ClientSpec{Name: "x", AuthMethods: []string{auth.AuthSelfSignedTLSClientAuth}}, "self_signed_tls_client_auth needs"},
		{admin.ClientSpec{Name: "x", TLSClientAuth: auth.TLSClientAuth{SANURI: "not a uri"}}, "absolute URI"},
		{admin.ClientSpec{Name: "x", TLSClientAuth: auth.TLSClientAuth{SANIP: "192.0.2.1", SANDNS: "a.example"}}, "not several"},
	} {
		if _, _, err := svc.CreateClient(ctx, tt.spec); !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CreateClient(%+v): %v; want EINVALID with %q", tt.spec, err, tt.want)
		}
	}
	// Both methods at once, with a secret method too: the secret is made.
	both, secret, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "both", JWKSURI: "https://keys.example.com/jwks.json",
		TLSClientAuth: auth.TLSClientAuth{SANDNS: "svc.example.com"},
		AuthMethods:   []string{auth.AuthTLSClientAuth, auth.AuthSelfSignedTLSClientAuth, auth.AuthClientSecretBasic}})
	if err != nil || secret == "" || len(both.AuthMethods) != 3 {
		t.Errorf("CreateClient with both methods and a secret method = %+v, %q, %v", both, secret, err)
	}
}
