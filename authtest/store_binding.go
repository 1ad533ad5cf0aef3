package authtest

import (
	"testing"

	"github.com/gooclaim/auth"
)

// testSenderConstrainedClients: a client's RequireDPoP,
// RequireCertificateBoundTokens and each of the five TLSClientAuth fields
// read back as written, by Client and ListClients, after CreateClient
// and UpdateClient — set, changed from one field to another
// and cleared; a client naming two certificate fields is refused (EINVALID)
// and nothing is written.
func testSenderConstrainedClients(t *testing.T, s auth.Store) {
	ctx := t.Context()
	tls := []auth.TLSClientAuth{
		{SubjectDN: `CN=svc,OU=Payments+UID=42,O=Gooclaim\, Inc.,C=DE`},
		{SANDNS: "svc.payments.example.com"},
		{SANURI: "spiffe://example.com/ns/payments/sa/svc"},
		{SANIP: "2001:db8::7"},
		{SANEmail: "svc@payments.example.com"},
	}
	var want []*auth.Client
	for i, tc := range tls {
		c := &auth.Client{ID: "mtls-" + string(rune('a'+i)), Name: "mTLS", TLSClientAuth: tc,
			RequireDPoP: i%2 == 0, RequireCertificateBoundTokens: i%2 == 1,
			AuthMethods: []string{auth.AuthTLSClientAuth}}
		want = append(want, c)
	}
	for _, c := range want {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
	}
	for _, w := range want {
		got, err := s.Client(ctx, w.ID)
		if err != nil {
			t.Fatalf("Client(%q): %v", w.ID, err)
		}
		checkClient(t, got, w)
	}
	page, err := s.ListClients(ctx, "", 10)
	if err != nil || len(page) != len(want) {
		t.Fatalf("ListClients = %d clients, %v; want %d", len(page), err, len(want))
	}
	for i, got := range page {
		checkClient(t, got, want[i])
	}

	// From the subject DN to a SAN, the requirements swapped; then nothing.
	updated, err := s.UpdateClient(ctx, want[0].ID, func(c *auth.Client) error {
		c.TLSClientAuth = auth.TLSClientAuth{SANIP: "192.0.2.7"}
		c.RequireDPoP, c.RequireCertificateBoundTokens = false, true
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	w := want[0].Clone()
	w.TLSClientAuth, w.RequireDPoP, w.RequireCertificateBoundTokens, w.UpdatedAt = auth.TLSClientAuth{SANIP: "192.0.2.7"}, false, true, updated.UpdatedAt
	checkClient(t, updated, w)
	if got, err := s.Client(ctx, w.ID); err != nil {
		t.Fatalf("Client after UpdateClient: %v", err)
	} else {
		checkClient(t, got, w)
	}
	updated, err = s.UpdateClient(ctx, w.ID, func(c *auth.Client) error {
		c.TLSClientAuth, c.RequireCertificateBoundTokens = auth.TLSClientAuth{}, false
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient (clear): %v", err)
	}
	if !updated.TLSClientAuth.IsZero() || updated.RequireDPoP || updated.RequireCertificateBoundTokens {
		t.Errorf("UpdateClient (clear) = %+v; want no requirement and no tls_client_auth", updated)
	}
	if got, err := s.Client(ctx, w.ID); err != nil || !got.TLSClientAuth.IsZero() || got.RequireDPoP || got.RequireCertificateBoundTokens {
		t.Errorf("Client after clearing = %+v, %v; want no requirement and no tls_client_auth", got, err)
	}

	// Two certificate fields are ambiguous (RFC 8705 §2.1.2).
	two := auth.TLSClientAuth{SubjectDN: "CN=svc", SANDNS: "svc.example.com"}
	if err := s.CreateClient(ctx, &auth.Client{ID: "two", TLSClientAuth: two}); auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("CreateClient with two certificate fields: %v; want EINVALID", err)
	}
	if _, err := s.Client(ctx, "two"); auth.ErrorCode(err) != auth.ENOTFOUND {
		t.Errorf("Client(two) after the refused create: %v; want ENOTFOUND", err)
	}
	if _, err := s.UpdateClient(ctx, want[1].ID, func(c *auth.Client) error { c.TLSClientAuth = two; return nil }); auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("UpdateClient to two certificate fields: %v; want EINVALID", err)
	}
	if got, err := s.Client(ctx, want[1].ID); err != nil {
		t.Fatalf("Client after the refused update: %v", err)
	} else {
		checkClient(t, got, want[1])
	}
}
