package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// certReloader serves the certificate of Config.TLSCertFile and
// TLSKeyFile and follows changes to the files: it rereads them every few seconds (files
// this small cost nothing to read, and comparing contents also catches a
// Kubernetes secret swapped under a symlink, which keeps the mtime). A new
// pair that does not load — a half-written file, a key that does not match
// — leaves the previous certificate in service and is logged once.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	// what was last read, loaded or not, and the last error logged
	certPEM, keyPEM []byte
	lastErr         string
}

func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	r.cert.Store(&cert)
	r.certPEM, r.keyPEM = certPEM, keyPEM
	return r, nil
}

func (r *certReloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(r.certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(r.keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// getCertificate is tls.Config.GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// run checks the files every interval until ctx ends.
func (r *certReloader) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reload()
		}
	}
}

// reload loads the files if they changed since last read.
func (r *certReloader) reload() {
	certPEM, keyPEM, err := r.read()
	if err == nil && bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM) {
		return
	}
	if err == nil {
		r.certPEM, r.keyPEM = certPEM, keyPEM
		var cert tls.Certificate
		if cert, err = tls.X509KeyPair(certPEM, keyPEM); err == nil {
			r.cert.Store(&cert)
			r.lastErr = ""
			r.logger.Info("TLS certificate reloaded", certAttrs(&cert)...)
			return
		}
	}
	if err.Error() != r.lastErr {
		r.lastErr = err.Error()
		r.logger.Error("TLS certificate files changed but do not load; still serving the previous certificate",
			"err", err, "tls_cert", r.certFile, "tls_key", r.keyFile)
	}
}

// certAttrs describe a certificate for the logs.
func certAttrs(c *tls.Certificate) []any {
	if c.Leaf == nil {
		return nil
	}
	sum := sha256.Sum256(c.Leaf.Raw)
	return []any{"subject", c.Leaf.Subject.String(), "dns_names", c.Leaf.DNSNames,
		"not_after", c.Leaf.NotAfter, "sha256", hex.EncodeToString(sum[:])}
}

// tlsConfig is the public listener's TLS configuration: TLS 1.2 and up with Go's
// default cipher suites and curves, HTTP/2 offered first.
//
// With client CAs (mutual TLS, RFC 8705) it asks every client for a
// certificate, tls.RequestClientCert: never requiring one, for the
// clients that authenticate otherwise, and never verifying it, for the
// self-signed certificates of self_signed_tls_client_auth; the
// authentication method verifies it against the CAs (clientauth). The
// CAs are still sent as the acceptable authorities, so that a client
// holding several certificates picks the right one.
func (r *certReloader) tlsConfig(clientCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if clientCAs != nil {
		c.ClientAuth = tls.RequestClientCert
		c.ClientCAs = clientCAs
	}
	return c
}

// loadClientCAs reads a PEM bundle of certificate authorities.
func loadClientCAs(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate in it: want the CA certificates, -----BEGIN CERTIFICATE----- blocks")
	}
	return pool, nil
}
