package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestForwardedCertificateHeaderStripped: the certificate header is
// removed before the next handler runs, from an untrusted peer (so that
// nothing downstream can believe it) and from a trusted proxy (whose
// certificate is then read from the context only).
func TestForwardedCertificateHeaderStripped(t *testing.T) {
	const name = "X-Client-Cert"
	s := &Server{ClientCertHeader: name, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, peer := range []string{"192.0.2.9:1", "10.0.0.1:1"} {
		var seen []string
		var fc *forwardedCert
		h := s.forwardedCertificate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Values(name)
			fc, _ = r.Context().Value(forwardedCertKey{}).(*forwardedCert)
		}))
		r := httptest.NewRequest(http.MethodPost, TokenPath, nil)
		r.RemoteAddr = peer
		r.Header.Set(name, "-----BEGIN CERTIFICATE-----")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if len(seen) != 0 {
			t.Errorf("peer %s: the handler saw %s: %q", peer, name, seen)
		}
		if trusted := peer == "10.0.0.1:1"; (fc != nil) != trusted {
			t.Errorf("peer %s: forwarded certificate read %v, want %v", peer, fc != nil, trusted)
		}
	}
}
