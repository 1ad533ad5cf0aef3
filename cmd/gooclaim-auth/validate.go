package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/signing"
)

// validate checks every setting of serve, global ones included, and
// reports all problems at once — with those found reading the environment
// and the configuration file — each naming the setting the way it was given
// (--flag, GOOCLAIM_FLAG or file:line: key) and what to do.
func (c *serveConfig) validate(g *globalFlags) error {
	st := g.settings
	n := st.name
	var p []string
	if st != nil {
		p = append(p, st.problems...)
	}
	if _, _, err := net.SplitHostPort(c.listen); err != nil {
		p = append(p, fmt.Sprintf("%s %q: want host:port, for example :8080 or 127.0.0.1:8080", n("listen"), c.listen))
	}
	if c.opsListen != "" {
		if _, _, err := net.SplitHostPort(c.opsListen); err != nil {
			p = append(p, fmt.Sprintf("%s %q: want host:port, for example 127.0.0.1:9090, or \"\" for none", n("ops-listen"), c.opsListen))
		}
	}
	if c.issuer != "" {
		if iss, err := checkIssuer(c.issuer); err != nil {
			p = append(p, n("issuer")+": "+err.Error())
		} else {
			c.issuer = iss
		}
	}
	if c.env != production && c.env != development {
		p = append(p, fmt.Sprintf("%s %q: use production or development", n("env"), c.env))
	}
	switch c.signingAlg {
	case auth.ES256, auth.EdDSA, auth.RS256:
	default:
		p = append(p, fmt.Sprintf("%s %q: use ES256, EdDSA or RS256", n("signing-alg"), c.signingAlg))
	}
	if d := time.Duration(c.tokenTTL); d < 10*time.Second || d > issuer.MaxTokenTTL {
		p = append(p, fmt.Sprintf("%s %s: between 10s and 24h", n("token-ttl"), auth.FormatDuration(d)))
	}
	if c.audience == "" || strings.ContainsAny(c.audience, " \t\r\n") {
		p = append(p, n("audience")+": a URI or name without spaces")
	}
	p = append(p, c.checkAdminAudience(st)...)
	if time.Duration(c.rotationPeriod) <= time.Duration(c.publishAhead) {
		p = append(p, fmt.Sprintf("%s (%s) must be longer than %s (%s)", n("key-rotation-period"), c.rotationPeriod.String(), n("key-publish-ahead"), c.publishAhead.String()))
	}
	for _, d := range []struct {
		name string
		v    durationValue
	}{{"key-check-interval", c.keyCheckInterval}, {"poll-interval", c.pollInterval}, {"read-header-timeout", c.readHeaderTimeout}, {"request-timeout", c.requestTimeout}, {"idle-timeout", c.idleTimeout}} {
		if d.v <= 0 {
			p = append(p, n(d.name)+" must be positive, for example 5s")
		}
	}
	if c.maxStaleness < 0 {
		p = append(p, n("max-staleness")+" must not be negative (0 means no bound), for example 15m")
	} else if c.maxStaleness > 0 && c.pollInterval > 0 && time.Duration(c.maxStaleness) <= 2*time.Duration(c.pollInterval) {
		p = append(p, fmt.Sprintf("%s (%s) must be more than twice %s (%s), or 0 for no bound: a node would otherwise refuse tokens between two polls", n("max-staleness"), c.maxStaleness.String(), n("poll-interval"), c.pollInterval.String()))
	}
	if c.rateLimitFail != "open" && c.rateLimitFail != "closed" {
		p = append(p, fmt.Sprintf("%s %q: use open or closed", n("rate-limit-fail"), c.rateLimitFail))
	}
	if c.dpopNonce != "required" && c.dpopNonce != "off" {
		p = append(p, fmt.Sprintf("%s %q: use required or off", n("dpop-nonce"), c.dpopNonce))
	}
	if d := time.Duration(c.dpopProofMaxAge); d < time.Second || d > 10*time.Minute {
		p = append(p, fmt.Sprintf("%s %s: between 1s and 10m (a proof is made for each request, just before it)", n("dpop-proof-max-age"), c.dpopProofMaxAge.String()))
	}
	if c.redisURL != "" && !strings.HasPrefix(c.redisURL, "redis://") && !strings.HasPrefix(c.redisURL, "rediss://") {
		p = append(p, n("redis-url")+": want redis://host:6379/0 or rediss://…")
	}
	if c.maxHeaderBytes < 4096 {
		p = append(p, fmt.Sprintf("%s %s: at least 4KiB", n("max-header-bytes"), c.maxHeaderBytes.String()))
	}
	if _, err := parseLevel(g.logLevel); err != nil {
		p = append(p, fmt.Sprintf("%s %q: use debug, info, warn or error", n("log-level"), g.logLevel))
	}
	if g.kekFile != "" {
		if _, err := signing.LoadKEKFile(g.kekFile); err != nil {
			p = append(p, fmt.Sprintf("%s: %v", n("key-encryption-key-file"), err))
		}
	} else if isPostgres(g.database) {
		p = append(p, n("key-encryption-key-file")+" is required with PostgreSQL: every node must be given the same key (make one with: openssl rand -base64 32 > kek; chmod 600 kek)")
	}
	p = append(p, c.checkTLS(st)...)
	p = append(p, c.checkMutualTLS(st)...)
	p = append(p, c.checkConfigFile(st)...)
	if c.env == production {
		for _, r := range c.productionRefusals(g) {
			p = append(p, fmt.Sprintf("%s production refuses %s: %s", n("env"), r.what, r.fix))
		}
	}
	if len(p) > 0 {
		return errors.New("invalid settings:\n  " + strings.Join(p, "\n  "))
	}
	return nil
}

// checkAdminAudience refuses, in every environment, an admin audience that
// resource servers accept too. Tokens for the admin API carry the scope
// auth:admin and its audience: if that were --audience, the default
// audience every API verifies, each API would accept admin tokens, and
// whoever runs one (or reads what it receives) could replay them to the
// admin API. The check holds with --no-admin-api too: the setting is
// usually shared by every node of a fleet, and one of them may serve it.
// An empty admin audience cannot be enforced; it is refused only when the
// admin API is served.
func (c *serveConfig) checkAdminAudience(st *settings) []string {
	n := st.name
	switch {
	case c.adminAudience == "" && !c.noAdminAPI:
		return []string{n("admin-audience") + " is empty: the admin API needs the audience its tokens must carry; remove the setting for the default " +
			auth.AdminAudience + ", or set " + n("no-admin-api") + " to serve no admin API"}
	case strings.ContainsAny(c.adminAudience, " \t\r\n"):
		return []string{n("admin-audience") + ": a URI or name without spaces, such as " + auth.AdminAudience}
	case c.adminAudience != "" && sameAudience(c.adminAudience, c.audience):
		return []string{fmt.Sprintf("%s %q is the same as %s %q: every API that accepts the default audience would accept admin tokens, "+
			"and could replay them to the admin API; set %s to an identifier no other API accepts (the default is %s), "+
			"or give %s the identifier of your APIs", n("admin-audience"), c.adminAudience, n("audience"), c.audience,
			n("admin-audience"), auth.AdminAudience, n("audience"))}
	}
	return nil
}

// sameAudience reports whether two audiences may be taken for one another:
// equal, or equal but for letter case or a trailing slash, which some
// resource servers' libraries normalize away.
func sameAudience(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// checkTLS checks that --tls-cert and --tls-key come together, are
// readable and match.
func (c *serveConfig) checkTLS(st *settings) []string {
	n := st.name
	switch {
	case c.tlsCert == "" && c.tlsKey == "":
		return nil
	case c.tlsCert == "":
		return []string{n("tls-key") + " needs " + n("tls-cert") + ": give both, or neither for plain HTTP"}
	case c.tlsKey == "":
		return []string{n("tls-cert") + " needs " + n("tls-key") + ": give both, or neither for plain HTTP"}
	}
	if _, err := loadCertificate(c.tlsCert, c.tlsKey); err != nil {
		return []string{fmt.Sprintf("%s, %s: %v", n("tls-cert"), n("tls-key"), err)}
	}
	return nil
}

// checkConfigFile checks that --config-file names a readable file: its
// content is the server's to judge, at start and on every change (a bad
// one is refused and logged), but a name that leads nowhere is a typo to
// report before serving.
func (c *serveConfig) checkConfigFile(st *settings) []string {
	if c.configFile == "" {
		if c.configFilePrune {
			return []string{st.name("config-file-prune") + " without " + st.name("config-file") + ": there is no file to prune by"}
		}
		return nil
	}
	f, err := os.Open(c.configFile)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", st.name("config-file"), err)}
	}
	f.Close()
	return nil
}

// checkMutualTLS checks --tls-client-ca (a readable PEM bundle of CA
// certificates) and --client-cert-header (a header name, and trusted
// proxies to read it from: from anyone else it is ignored, so without
// them it would never be read).
func (c *serveConfig) checkMutualTLS(st *settings) []string {
	n := st.name
	var p []string
	if c.tlsClientCA != "" {
		data, err := os.ReadFile(c.tlsClientCA)
		switch {
		case err != nil:
			p = append(p, fmt.Sprintf("%s: %v", n("tls-client-ca"), err))
		case !x509.NewCertPool().AppendCertsFromPEM(data):
			p = append(p, n("tls-client-ca")+": no PEM certificate in "+c.tlsClientCA+": want the certificates of the CAs that issue client certificates, -----BEGIN CERTIFICATE----- blocks")
		}
	}
	if c.clientCertHeader != "" {
		if !httpapi.ValidHeaderName(c.clientCertHeader) {
			p = append(p, fmt.Sprintf("%s %q: want a header name such as X-SSL-Client-Cert or X-Forwarded-Client-Cert", n("client-cert-header"), c.clientCertHeader))
		}
		if len(c.trustedProxies) == 0 {
			p = append(p, n("client-cert-header")+" needs "+n("trusted-proxies")+": the header is believed only from the proxies listed there (from anyone else it is a certificate the caller made up), so without them it is never read")
		}
	}
	return p
}

// loadCertificate reads a PEM certificate chain and its private key.
func loadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w (want PEM files: the certificate chain, leaf first, and its unencrypted private key)", err)
	}
	return &cert, nil
}

// refusal is a rule of --env production that the configuration breaks:
// what it refuses, and how to fix it.
type refusal struct{ what, fix string }

// productionRefusals lists the rules of production that the configuration
// breaks. Development allows them all and lists them at start.
func (c *serveConfig) productionRefusals(g *globalFlags) []refusal {
	n := g.settings.name
	var r []refusal
	if g.kekFile == "" && !isPostgres(g.database) { // with PostgreSQL, validate already requires one
		r = append(r, refusal{"the key-encryption key generated beside the SQLite database",
			"give an explicit one kept apart from the database with " + n("key-encryption-key-file") + " (make it with: openssl rand -base64 32 > kek; chmod 600 kek)"})
	}
	if c.issuer != "" && !secureIssuer(c.issuer) {
		r = append(r, refusal{fmt.Sprintf("the plain-HTTP issuer %q", c.issuer),
			"set " + n("issuer") + " to an https:// URL (http is allowed for localhost, 127.0.0.1 and [::1] only)"})
	}
	if c.tlsCert == "" && !c.behindProxy {
		r = append(r, refusal{"plain HTTP (no TLS, no --behind-proxy)",
			"serve HTTPS with " + n("tls-cert") + " and " + n("tls-key") + ", or set " + n("behind-proxy") + " if a proxy or load balancer in front terminates TLS"})
	}
	if c.tlsClientCA != "" && c.tlsCert == "" && c.clientCertHeader == "" {
		r = append(r, refusal{n("tls-client-ca") + " with no way for a client certificate to arrive (no TLS on the listener, no " + n("client-cert-header") + ")",
			"serve HTTPS with " + n("tls-cert") + " and " + n("tls-key") + ", or, behind a proxy that terminates TLS, set " + n("client-cert-header") + " to the header the proxy forwards the certificate in (with " + n("trusted-proxies") + ")"})
	}
	if files, fix, ok := exposedDatabase(g.database); ok {
		r = append(r, refusal{"the SQLite database readable by group or others (" + files + ")", fix})
	}
	if c.allowHTTPJWKSURI {
		r = append(r, refusal{n("allow-http-jwks-uri"),
			"client keys fetched over plain HTTP can be replaced by anyone on the path; remove it and have clients publish https jwks_uri values"})
	}
	if c.allowPrivate {
		r = append(r, refusal{n("allow-private-addresses"),
			"it lets whoever registers a client make the server send requests into its own network (loopback, private and link-local addresses, cloud metadata services); remove it and have clients publish their keys on public addresses"})
	}
	return r
}

// secureIssuer reports whether production accepts the issuer: https, or
// http on a loopback name.
func secureIssuer(iss string) bool {
	u, err := url.Parse(iss)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// checkIssuer validates an issuer identifier (RFC 8414 §2: https, no query
// or fragment; http is tolerated for development) and trims a trailing slash.
func checkIssuer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL such as https://auth.example.com", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q: an issuer has no query, fragment or user info (RFC 8414 §2)", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// parseLevel reads --log-level; empty is info.
func parseLevel(level string) (slog.Level, error) {
	var l slog.Level
	if level == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return l, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return l, nil
}
