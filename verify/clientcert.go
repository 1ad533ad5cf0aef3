package verify

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
)

// maxCertHeader bounds a forwarded certificate header: a certificate with
// a long chain of names is a few KiB, URL-escaped PEM about twice that.
const maxCertHeader = 32 << 10

// clientCertSettings say where a request's client certificate comes from:
// the TLS connection, or a header that only trusted proxies may set.
type clientCertSettings struct {
	header  string         // canonical header name; empty: TLS only
	proxies []netip.Prefix // peers whose header is believed
}

// checkClientCert validates Config.ClientCertificateHeader and
// Config.TrustedProxies.
func (cfg Config) checkClientCert(bad func(string, ...any)) clientCertSettings {
	var s clientCertSettings
	switch {
	case cfg.ClientCertificateHeader == "" && len(cfg.TrustedProxies) > 0:
		bad("TrustedProxies is set without ClientCertificateHeader: name the header in which those proxies forward the client certificate")
	case cfg.ClientCertificateHeader != "" && len(cfg.TrustedProxies) == 0:
		// Without it anyone could name a certificate in the header: the
		// spoofing of CVE-2024-10039.
		bad("ClientCertificateHeader %q needs TrustedProxies: the addresses of the proxies that set it; from anyone else it would be a forgery", cfg.ClientCertificateHeader)
	case cfg.ClientCertificateHeader != "":
		if !isToken(cfg.ClientCertificateHeader) {
			bad("ClientCertificateHeader %q is not a header name", cfg.ClientCertificateHeader)
		}
		s.header = textproto.CanonicalMIMEHeaderKey(cfg.ClientCertificateHeader)
	}
	for _, p := range cfg.TrustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				bad("TrustedProxies: %q is neither an address nor a CIDR prefix", p)
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		s.proxies = append(s.proxies, prefix.Masked())
	}
	return s
}

// certificate returns the DER client certificate of r, nil without one.
// A request from a trusted proxy is judged by the proxy's header alone (the
// TLS peer is then the proxy itself); from anyone else the header is
// ignored, whatever it holds, and only the TLS connection counts.
func (s clientCertSettings) certificate(r *http.Request) ([]byte, *Error) {
	if s.header != "" && s.fromTrustedProxy(r) {
		values := r.Header.Values(s.header)
		switch len(values) {
		case 0:
			return nil, nil
		case 1:
		default:
			return nil, invalidToken("the request has more than one " + s.header + " header")
		}
		der, err := parseCertHeader(values[0])
		if err != nil {
			return nil, invalidToken("the proxy's " + s.header + " header: " + err.Error())
		}
		return der, nil
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0].Raw, nil
	}
	return nil, nil
}

func (s clientCertSettings) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseCertHeader reads a certificate forwarded by a proxy, in any of the
// forms proxies use: RFC 9440's Client-Cert (":base64 DER:"), URL-escaped
// PEM (nginx's $ssl_client_escaped_cert, Envoy's
// %DOWNSTREAM_PEER_CERT%), PEM, or base64 DER. It returns the DER of an
// X.509 certificate.
func parseCertHeader(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if len(v) > maxCertHeader {
		return nil, fmt.Errorf("over %d bytes", maxCertHeader)
	}
	var der []byte
	switch {
	case v == "":
		return nil, fmt.Errorf("empty")
	case len(v) >= 2 && v[0] == ':' && v[len(v)-1] == ':':
		b, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
		if err != nil {
			return nil, fmt.Errorf("not RFC 9440 base64 between colons")
		}
		der = b
	case strings.HasPrefix(v, "-----BEGIN") || strings.HasPrefix(strings.ToUpper(v), "%2D%2D%2D%2D%2DBEGIN"):
		if strings.Contains(v, "%") {
			// PathUnescape, not QueryUnescape: a "+" of the base64 is a "+".
			u, err := url.PathUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("not a well-formed URL-escaped PEM")
			}
			v = u
		}
		block, _ := pem.Decode([]byte(v))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("not a PEM certificate")
		}
		der = block.Bytes
	default:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("neither RFC 9440 (:base64:), PEM nor base64 DER")
		}
		der = b
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("not an X.509 certificate")
	}
	return der, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), as a
// header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
