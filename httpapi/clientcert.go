package httpapi

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
)

// The client certificate of mutual TLS (RFC 8705) reaches the token,
// introspection and revocation endpoints in one of two ways: on the TLS
// connection itself, when the listener asks for it (server.Config
// TLSClientCAFile), or, behind a proxy that terminates TLS, in the header
// Server.ClientCertHeader names. That header is believed only from the
// trusted proxies (Server.TrustedProxies): from anyone else it is a
// certificate the caller typed, and believing it would let the caller
// be any tls_client_auth client whose certificate it has seen (Keycloak's
// CVE-2024-10039), so it is removed before any handler or log sees it.

// MaxClientCertHeaderBytes bounds the forwarded certificate header: a
// client certificate and two intermediates, URL-encoded, fit in well
// under half of it.
const MaxClientCertHeaderBytes = 16 << 10

// forwardedCert is the certificate a trusted proxy forwarded: the leaf
// and the intermediates after it, DER, or why its header does not read.
type forwardedCert struct {
	leaf  []byte
	chain [][]byte
	err   error
}

type forwardedCertKey struct{}

// forwardedCertificate is the middleware that reads the ClientCertHeader
// of a request from a trusted proxy, and removes the header from every
// request, trusted or not, so that nothing after it can read one that
// was not vetted. Without ClientCertHeader it does nothing.
func (s *Server) forwardedCertificate(next http.Handler) http.Handler {
	if s.ClientCertHeader == "" {
		return next
	}
	name := http.CanonicalHeaderKey(s.ClientCertHeader)
	trusted := s.TrustedProxies
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vs, ok := r.Header[name]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		// The server owns the request until the handler returns; deleting
		// in place spares a copy of the headers on every request.
		delete(r.Header, name)
		if !peerTrusted(r, trusted) {
			next.ServeHTTP(w, r)
			return
		}
		fc := parseForwardedCert(name, vs)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardedCertKey{}, fc)))
	})
}

// ValidHeaderName reports whether s is an HTTP field name, a token (RFC
// 9110 §5.1), as ClientCertHeader must be.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// peerTrusted reports whether the TCP peer of r is one of trusted.
func peerTrusted(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	a, err := netip.ParseAddr(peerIP(r))
	return err == nil && isTrusted(a.Unmap(), trusted)
}

// clientCertificate sets req's client certificate, if the request came
// with one: from a trusted proxy's header when ClientCertHeader is set
// and the peer is a trusted proxy (whose own TLS certificate, if it
// presents one, is not its client's), else from the TLS connection. A
// header that does not read gives an invalid_request error.
func (s *Server) clientCertificate(r *http.Request, req *auth.TokenRequest) error {
	if s.ClientCertHeader != "" {
		if fc, ok := r.Context().Value(forwardedCertKey{}).(*forwardedCert); ok {
			req.ClientCertificate, req.ClientCertificateChain = fc.leaf, fc.chain
			return fc.err
		}
		if peerTrusted(r, s.TrustedProxies) {
			return nil
		}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	certs := r.TLS.PeerCertificates
	req.ClientCertificate = certs[0].Raw
	if len(certs) > 1 {
		req.ClientCertificateChain = make([][]byte, 0, min(len(certs)-1, clientauth.MaxIntermediates))
		for _, c := range certs[1:min(len(certs), clientauth.MaxIntermediates+1)] {
			req.ClientCertificateChain = append(req.ClientCertificateChain, c.Raw)
		}
	}
	return nil
}

// parseForwardedCert reads the certificate header a trusted proxy sent,
// in any of the forms proxies write it:
//
//   - PEM, its line breaks kept or turned into spaces (some proxies and
//     load balancers);
//   - URL-encoded PEM, as nginx's $ssl_client_escaped_cert;
//   - Envoy's x-forwarded-client-cert, whose last element (the one the
//     nearest proxy added) holds Chain="<URL-encoded PEM>" or
//     Cert="<URL-encoded PEM>".
//
// The first certificate is the client's, those after it intermediates. An
// empty header, or an x-forwarded-client-cert element without Cert or
// Chain, is no certificate.
func parseForwardedCert(name string, values []string) *forwardedCert {
	bad := func(format string, args ...any) *forwardedCert {
		return &forwardedCert{err: auth.ErrInvalidRequest.WithDescription(fmt.Sprintf("the client certificate forwarded by the proxy in the %s header ", name) +
			fmt.Sprintf(format, args...) + "; check the proxy's configuration (docs/operations.md, mutual TLS)")}
	}
	if len(values) > 1 {
		return bad("is repeated; the proxy must send it once")
	}
	v := strings.TrimSpace(values[0])
	switch {
	case v == "":
		return &forwardedCert{}
	case len(v) > MaxClientCertHeaderBytes:
		return bad("is longer than %d bytes", MaxClientCertHeaderBytes)
	case strings.HasPrefix(v, "-----BEGIN") || len(v) >= 3 && strings.EqualFold(v[:3], "%2D"):
		// PEM holds no '%': one means URL-encoding (nginx escapes the
		// spaces and line breaks, and may leave the dashes as they are).
		if strings.Contains(v, "%") {
			u, err := url.PathUnescape(v)
			if err != nil {
				return bad("is not correctly URL-encoded")
			}
			v = u
		}
	default:
		pem, ok, err := xfccCertificate(v)
		if err != nil {
			return bad("%s", err)
		}
		if !ok {
			return &forwardedCert{}
		}
		v = pem
	}
	ders, err := pemCertificates(v)
	if err != nil {
		return bad("%s", err)
	}
	fc := &forwardedCert{leaf: ders[0]}
	if len(ders) > 1 {
		fc.chain = ders[1:]
	}
	return fc
}

// xfccCertificate returns the URL-decoded Chain, else Cert, of the last
// element of an x-forwarded-client-cert value (elements separated by
// commas, key=value pairs by semicolons, values quoted or not); ok is
// false when that element has neither.
func xfccCertificate(v string) (pem string, ok bool, err error) {
	elements, err := splitQuoted(v, ',')
	if err != nil {
		return "", false, err
	}
	pairs, err := splitQuoted(elements[len(elements)-1], ';')
	if err != nil {
		return "", false, err
	}
	var cert, chain string
	for _, p := range pairs {
		k, val, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found {
			return "", false, fmt.Errorf("is not PEM, URL-encoded PEM nor an x-forwarded-client-cert value (key=value pairs)")
		}
		val = unquote(val)
		switch strings.ToLower(k) {
		case "cert":
			cert = val
		case "chain":
			chain = val
		}
	}
	if chain != "" {
		cert = chain
	}
	if cert == "" {
		return "", false, nil
	}
	pem, uerr := url.PathUnescape(cert)
	if uerr != nil {
		return "", false, fmt.Errorf("has a Cert or Chain that is not correctly URL-encoded")
	}
	return pem, true, nil
}

// splitQuoted splits s at sep outside double quotes (a backslash escapes
// the next character inside them).
func splitQuoted(s string, sep byte) ([]string, error) {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		return nil, fmt.Errorf("has an unterminated quoted string")
	}
	return append(out, s[start:]), nil
}

// unquote removes the quotes of a quoted-string value, and its escapes.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

const (
	pemBegin = "-----BEGIN CERTIFICATE-----"
	pemEnd   = "-----END CERTIFICATE-----"
)

// pemCertificates decodes the CERTIFICATE blocks of s, at least one and
// at most 1+clientauth.MaxIntermediates, whatever whitespace (line
// breaks, spaces, tabs) is in or around their base64, and checks that
// each is an X.509 certificate.
func pemCertificates(s string) ([][]byte, error) {
	var out [][]byte
	for {
		i := strings.Index(s, pemBegin)
		if i < 0 {
			break
		}
		if strings.TrimSpace(s[:i]) != "" {
			return nil, fmt.Errorf("has text before its PEM certificate")
		}
		s = s[i+len(pemBegin):]
		j := strings.Index(s, pemEnd)
		if j < 0 {
			return nil, fmt.Errorf("has a PEM certificate without its END line")
		}
		b64 := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s[:j])
		s = s[j+len(pemEnd):]
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("holds a PEM certificate whose base64 does not decode")
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("holds a PEM block that is not an X.509 certificate")
		}
		if len(out) > clientauth.MaxIntermediates {
			return nil, fmt.Errorf("holds more than %d certificates", clientauth.MaxIntermediates+1)
		}
		out = append(out, der)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	if strings.TrimSpace(s) != "" {
		return nil, fmt.Errorf("has text after its PEM certificates")
	}
	return out, nil
}
