package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// connMode is how a phase uses its connections.
type connMode string

const (
	// modeKeepAlive keeps one connection per worker for the whole phase.
	modeKeepAlive connMode = "keepalive"
	// modeResume opens a connection per request and resumes a TLS session
	// (a session ticket the server issued earlier, kept in a client cache).
	modeResume connMode = "resume"
	// modeFull opens a connection per request with a full TLS handshake
	// (no session cache): a certificate signature and its verification each time.
	modeFull connMode = "full"
)

// tlsModes are the three modes --tls drives each target in, in this order.
var tlsModes = []connMode{modeKeepAlive, modeResume, modeFull}

// describe says what the mode measures, for the report.
func (m connMode) describe() string {
	switch m {
	case modeResume:
		return "a new connection per request, TLS session resumed"
	case modeFull:
		return "a new connection per request, full TLS handshake"
	}
	return "keep-alive connections"
}

// transport is the phase's client: HTTP/1.1 only (no HTTP/2, whose
// multiplexing would change what a connection costs), with the target's TLS
// configuration and, per mode, no keep-alive and a session cache or not.
func (d *driver) transport(s driveSettings) *http.Transport {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        s.connections * 2,
		MaxIdleConnsPerHost: s.connections * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		// A non-nil empty map: the client never negotiates h2.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if d.tls != nil {
		cfg := d.tls.Clone()
		cfg.ClientSessionCache = nil
		if s.mode == modeResume {
			// Fresh for each phase, so no session of another phase (or
			// another server, which could not resume it) is offered.
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4 * s.connections)
		}
		tr.TLSClientConfig = cfg
	}
	if s.mode == modeResume || s.mode == modeFull {
		tr.DisableKeepAlives = true
	}
	return tr
}

// selfSignedCert writes a fresh self-signed P-256 certificate for
// 127.0.0.1 and localhost, and its key (owner-only), into dir, and returns
// a client configuration that trusts it.
func selfSignedCert(dir string) (certFile, keyFile string, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, fmt.Errorf("TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", nil, fmt.Errorf("TLS certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "gooclaim-loadgen"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, fmt.Errorf("TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", nil, fmt.Errorf("TLS key: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", nil, fmt.Errorf("write TLS certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, fmt.Errorf("write TLS key: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
