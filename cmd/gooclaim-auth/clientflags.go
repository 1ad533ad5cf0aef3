package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/clientauth"
)

// policyFlags are the client settings that create and update share beyond
// name, scopes and audiences: how the client authenticates, its public keys
// and its metadata.
type policyFlags struct {
	jwksFile      string
	jwksURI       string
	authMethods   []string
	metadata      []string
	unsetMetadata []string // update only
	allowHTTP     bool
	allowPrivate  bool

	federated       []string // ISSUER=SUBJECT
	removeFederated []string // update only
	exchangeAuds    []string
	noExchangeAud   bool // update only

	// Sender-constrained tokens (RFC 9449, RFC 8705).
	requireDPoP      bool
	requireCertBound bool
	tls              auth.TLSClientAuth
	noTLS            bool // update only

	// Claims and condition in CEL (package policy).
	claims       []string // NAME=EXPR
	removeClaims []string // update only
	noClaims     bool     // update only
	condition    string
	noCondition  bool // update only

	// Token quotas.
	quotas    []string // N/WINDOW
	noQuota   bool     // update only
	quotaMode string

	// Server-side token reuse: on, off or default.
	tokenReuse string
}

// addReuse adds --reuse-tokens. A bare --reuse-tokens means on, as a
// boolean flag would; off and default then need the = (--reuse-tokens=off),
// which reuseValueArg points out when it is missing.
func (p *policyFlags) addReuse(f *pflag.FlagSet, update bool) {
	what := "default: the server's setting"
	if update {
		what = "default returns to the server's setting"
	}
	f.StringVar(&p.tokenReuse, "reuse-tokens", "", "on, off or default: whether a request for the same scope, audience and binding while a live token of the client has over half its lifetime left gets that token again (see docs/policies.md); a bare --reuse-tokens means on, write --reuse-tokens=off; "+what)
	f.Lookup("reuse-tokens").NoOptDefVal = auth.ReuseOn
}

// parseReuseFlag reads --reuse-tokens: on, off or default (true and false
// too, as for a boolean flag), normalized as Client.TokenReuse holds it.
func (p *policyFlags) parseReuseFlag() (string, error) {
	r, err := auth.CheckTokenReuse(p.tokenReuse)
	if err != nil {
		return "", fmt.Errorf("--reuse-tokens: %w", err)
	}
	return r, nil
}

// reuseValueArg explains a stray on, off or default argument after
// --reuse-tokens: pflag reads a bare --reuse-tokens as on, so in
// "--reuse-tokens off" the off is an argument of its own.
func reuseValueArg(cmd *cobra.Command, args []string) error {
	if !cmd.Flags().Changed("reuse-tokens") {
		return nil
	}
	for _, a := range args {
		switch a {
		case "on", "off", "default":
			return fmt.Errorf("--reuse-tokens %s: write --reuse-tokens=%s (a bare --reuse-tokens means on, so %q was read as an argument)", a, a, a)
		}
	}
	return nil
}

// addQuotas adds the flags of token quotas.
func (p *policyFlags) addQuotas(f *pflag.FlagSet, update bool) {
	what := "repeatable (default: the server's --default-quota, if any)"
	if update {
		what = `repeatable, replaces the list; "none" removes them (as --no-quota does)`
		f.BoolVar(&p.noQuota, "no-quota", false, "remove the client's token quotas: the server's --default-quota, if any, applies")
	}
	f.StringArrayVar(&p.quotas, "quota", nil, "token quota TOKENS/WINDOW: at most TOKENS tokens issued per fixed UTC window (10000/1d, 1000/1h; the window must divide a day); "+what)
	f.StringVar(&p.quotaMode, "quota-mode", "", "enforce (refuse tokens past a quota, the default) or warn (issue them, and log, count and audit the first breach per window)")
}

// addExpressions adds the flags of claim expressions and the condition.
func (p *policyFlags) addExpressions(f *pflag.FlagSet, update bool) {
	what := "repeatable"
	if update {
		what = "repeatable; sets or replaces that claim's expression, keeping the others"
		f.StringArrayVar(&p.removeClaims, "remove-claim", nil, "remove the claim expression NAME; repeatable")
		f.BoolVar(&p.noClaims, "no-claims", false, "remove every claim expression of the client (the server's --default-claim still apply)")
		f.BoolVar(&p.noCondition, "no-condition", false, "remove the client's condition")
	}
	f.StringArrayVar(&p.claims, "claim", nil, `claim NAME='EXPR' of the client's tokens, a CEL expression over client, request and now (tenant='client.metadata.tenant'; a null value leaves the claim out; see docs/policies.md); `+what)
	f.StringVar(&p.condition, "condition", "", `CEL expression that must be true for the client to obtain a token (ip_in(request.remote_ip, ["10.0.0.0/8"]); see docs/policies.md)`)
}

// parseClaims reads --claim NAME=EXPR values (and --default-claim's); a
// claim named twice is an error, as two expressions for it would be.
func parseClaims(flag string, values []string) (map[string]string, error) {
	return parsePairs(flag, "NAME=EXPR", "tenant='client.metadata.tenant'", "claim", values)
}

// parseQuotaFlags reads --quota and --quota-mode.
func (p *policyFlags) parseQuotaFlags() ([]auth.Rate, string, error) {
	qs, err := auth.ParseQuotas(p.quotas)
	if err != nil {
		return nil, "", fmt.Errorf("--quota: %w", err)
	}
	m, err := auth.CheckQuotaMode(p.quotaMode)
	if err != nil {
		return nil, "", fmt.Errorf("--quota-mode: %w", err)
	}
	return qs, m, nil
}

const authMethodsHelp = "client_secret_basic, client_secret_post, private_key_jwt, federated_jwt, tls_client_auth or self_signed_tls_client_auth"

// tlsFlags are the flags of TLSClientAuth's fields, in its order.
var tlsFlags = []string{"tls-subject-dn", "tls-san-dns", "tls-san-uri", "tls-san-ip", "tls-san-email"}

// addSenderConstrained adds the flags of sender-constrained tokens.
func (p *policyFlags) addSenderConstrained(f *pflag.FlagSet, update bool) {
	how, dpop, bound := "", "every token request of the client must carry a DPoP proof (RFC 9449): its tokens are bound to a key it holds", "every token request of the client must come with its client certificate over mutual TLS (RFC 8705): its tokens are bound to the certificate"
	if update {
		how = " (replaces whichever certificate field was registered)"
		dpop += "; =false lifts the requirement"
		bound += "; =false lifts the requirement"
	} else {
		how = ". With no --jwks-file, --jwks-uri, --federated, --secret-stdin or secret --auth-method, the client gets no secret"
	}
	f.BoolVar(&p.requireDPoP, "require-dpop", false, dpop)
	f.BoolVar(&p.requireCertBound, "require-certificate-bound-tokens", false, bound)
	f.StringVar(&p.tls.SubjectDN, "tls-subject-dn", "", `for tls_client_auth (RFC 8705 §2.1.2): the subject DN the client's certificate must have, RFC 4514 ("CN=svc,O=Gooclaim"); stored as Go's crypto/x509 writes a certificate subject`+how)
	f.StringVar(&p.tls.SANDNS, "tls-san-dns", "", "for tls_client_auth: a DNS name the client's certificate must have as a subjectAltName"+how)
	f.StringVar(&p.tls.SANURI, "tls-san-uri", "", "for tls_client_auth: a URI (such as a SPIFFE ID) the client's certificate must have as a subjectAltName"+how)
	f.StringVar(&p.tls.SANIP, "tls-san-ip", "", "for tls_client_auth: an IP address the client's certificate must have as a subjectAltName"+how)
	f.StringVar(&p.tls.SANEmail, "tls-san-email", "", "for tls_client_auth: an e-mail address the client's certificate must have as a subjectAltName"+how)
	if update {
		f.BoolVar(&p.noTLS, "no-tls-client-auth", false, "remove the certificate field registered for tls_client_auth")
	}
}

// tlsChanged reports whether a --tls-* field flag was given.
func tlsChanged(f *pflag.FlagSet) bool {
	return slices.ContainsFunc(tlsFlags, f.Changed)
}

func (p *policyFlags) add(f *pflag.FlagSet, update bool) {
	if update {
		f.StringVar(&p.jwksFile, "jwks-file", "", `replace the client's public keys with this public JWK Set (JSON file, - for standard input); "" removes them`)
		f.StringVar(&p.jwksURI, "jwks-uri", "", `replace the client's public keys with the JWK Set at this https URL; "" removes them`)
		f.StringArrayVar(&p.authMethods, "auth-method", nil, `authentication method the client may use (`+authMethodsHelp+`); repeatable, replaces the list; "" returns to the default (every method its credentials allow)`)
		f.StringArrayVar(&p.metadata, "metadata", nil, "set a metadata entry KEY=VALUE (owner, contact, description, …); repeatable")
		f.StringArrayVar(&p.unsetMetadata, "unset-metadata", nil, "remove the metadata entry KEY; repeatable")
		f.StringArrayVar(&p.federated, "federated", nil, "bind the client to SUBJECT of the trusted issuer ISSUER (ISSUER=SUBJECT, see issuers list), adding to its federated identities; repeatable")
		f.StringArrayVar(&p.removeFederated, "remove-federated", nil, "remove the federated identity ISSUER=SUBJECT from the client; repeatable")
		f.StringArrayVar(&p.exchangeAuds, "exchange-audience", nil, "audience the client may obtain by token exchange (RFC 8693); repeatable, replaces the list")
		f.BoolVar(&p.noExchangeAud, "no-exchange-audience", false, "remove every exchange audience: the client may no longer obtain tokens by token exchange")
	} else {
		f.StringVar(&p.jwksFile, "jwks-file", "", "public JWK Set (JSON file, - for standard input) for private_key_jwt; the client then gets no secret unless --auth-method names a secret method")
		f.StringVar(&p.jwksURI, "jwks-uri", "", "https URL of the client's public JWK Set for private_key_jwt, instead of --jwks-file")
		f.StringArrayVar(&p.authMethods, "auth-method", nil, "authentication method the client may use ("+authMethodsHelp+"); repeatable (default: every method its credentials allow)")
		f.StringArrayVar(&p.metadata, "metadata", nil, "metadata entry KEY=VALUE for people (owner=claims-team, contact=…, description=…); repeatable")
		f.StringArrayVar(&p.federated, "federated", nil, "bind the client to SUBJECT of the trusted issuer ISSUER (ISSUER=SUBJECT, see issuers list): its tokens authenticate the client (federated_jwt); repeatable. With no --jwks-file, --jwks-uri, --secret-stdin or secret --auth-method, the client gets no secret")
		f.StringArrayVar(&p.exchangeAuds, "exchange-audience", nil, "audience the client may obtain by token exchange (RFC 8693), acting for the subject of a token of this server; repeatable")
	}
	p.addSenderConstrained(f, update)
	p.addQuotas(f, update)
	p.addExpressions(f, update)
	p.addReuse(f, update)
	f.BoolVar(&p.allowHTTP, "allow-http-jwks-uri", false, "accept a plain http --jwks-uri (development only: keys fetched over http can be substituted)")
	f.BoolVar(&p.allowPrivate, "allow-private-addresses", false, "accept a --jwks-uri on localhost or a loopback, private, link-local or other special-purpose IP address (development only; the server fetches from such an address only with its own --allow-private-addresses or a loopback issuer)")
}

// readJWKS reads a JWK Set file ("-": standard input), compacted when it is
// valid JSON; the service checks the content.
func readJWKS(path string, stdin io.Reader) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, clientauth.MaxJWKSSize+1))
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			b, err = io.ReadAll(io.LimitReader(f, clientauth.MaxJWKSSize+1))
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("--jwks-file: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("--jwks-file %s is empty: give the client's public JWK Set ({\"keys\": [...]})", path)
	}
	var compact bytes.Buffer
	if json.Compact(&compact, b) == nil {
		return compact.Bytes(), nil
	}
	return b, nil
}

// parseAuthMethods reads --auth-method values, each possibly a
// comma-separated list; empty values are dropped ("" clears the list).
func parseAuthMethods(values []string) []string {
	out := []string{}
	for _, v := range values {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

// parseMetadata reads --metadata KEY=VALUE values; the last of a key
// given twice wins.
func parseMetadata(values []string) (map[string]string, error) {
	return parsePairs("metadata", "KEY=VALUE", "owner=claims-team", "", values)
}

// parsePairs reads the NAME=VALUE values of the flag named flag (form and
// example say how in an error); nil for none. A name given twice is an
// error naming it as a dup when dup is set, else the last value wins.
func parsePairs(flag, form, example, dup string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: use %s, e.g. --%s %s", flag, v, form, flag, example)
		}
		if _, seen := m[k]; seen && dup != "" {
			return nil, fmt.Errorf("--%s: %s %q is given twice", flag, dup, k)
		}
		m[k] = val
	}
	return m, nil
}

// parseFederatedFlags reads ISSUER=SUBJECT values of the flag named flag.
func parseFederatedFlags(flag string, values []string) ([]auth.FederatedIdentity, error) {
	var out []auth.FederatedIdentity
	for _, v := range values {
		f, err := admin.ParseFederated(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %s", flag, auth.ErrorMessage(err))
		}
		out = append(out, f)
	}
	return out, nil
}

// addAdmin makes a spec's client an admin client: the auth:admin scope, and
// the admin audience as its default (first) audience.
func addAdmin(scopes, audiences []string) ([]string, []string) {
	scopes = append(scopes, auth.ScopeAdmin)
	return scopes, append([]string{auth.AdminAudience}, audiences...)
}

// clientUpdate turns the flags given to clients update into a ClientUpdate.
func clientUpdate(f *pflag.FlagSet, stdin io.Reader, name, ttl, rate string, scopes, auds []string, policy policyFlags) (admin.ClientUpdate, error) {
	var u admin.ClientUpdate
	changed := false
	if f.Changed("name") {
		u.Name, changed = &name, true
	}
	if f.Changed("scope") {
		s := splitScopes(scopes)
		u.Scopes, changed = &s, true
	}
	if f.Changed("audience") {
		u.Audiences, changed = &auds, true
	}
	if f.Changed("token-ttl") {
		var d time.Duration
		if ttl != "default" {
			v, err := auth.ParseDuration(ttl)
			if err != nil {
				return u, fmt.Errorf("--token-ttl: %w", err)
			}
			d = v
		}
		u.TokenTTL, changed = &d, true
	}
	if f.Changed("rate-limit") {
		var r auth.Rate
		if rate != "default" {
			v, err := auth.ParseRate(rate)
			if err != nil {
				return u, fmt.Errorf("--rate-limit: %w", err)
			}
			r = v
		}
		u.RateLimit, changed = &r, true
	}
	// The keys are one setting: either flag replaces both.
	if f.Changed("jwks-file") || f.Changed("jwks-uri") {
		jwks := []byte{}
		if policy.jwksFile != "" {
			b, err := readJWKS(policy.jwksFile, stdin)
			if err != nil {
				return u, err
			}
			jwks = b
		}
		uri := policy.jwksURI
		u.JWKS, u.JWKSURI, changed = &jwks, &uri, true
	}
	if f.Changed("auth-method") {
		m := parseAuthMethods(policy.authMethods)
		u.AuthMethods, changed = &m, true
	}
	if f.Changed("metadata") {
		md, err := parseMetadata(policy.metadata)
		if err != nil {
			return u, err
		}
		u.MetadataSet, changed = md, true
	}
	if f.Changed("unset-metadata") {
		u.MetadataUnset, changed = policy.unsetMetadata, true
	}
	if f.Changed("federated") {
		l, err := parseFederatedFlags("federated", policy.federated)
		if err != nil {
			return u, err
		}
		u.FederatedAdd, changed = l, true
	}
	if f.Changed("remove-federated") {
		l, err := parseFederatedFlags("remove-federated", policy.removeFederated)
		if err != nil {
			return u, err
		}
		u.FederatedRemove, changed = l, true
	}
	switch {
	case f.Changed("exchange-audience") && policy.noExchangeAud:
		return u, fmt.Errorf("--exchange-audience and --no-exchange-audience: give one (--exchange-audience replaces the list)")
	case f.Changed("exchange-audience"):
		l := slices.Clone(policy.exchangeAuds)
		u.ExchangeAudiences, changed = &l, true
	case policy.noExchangeAud:
		u.ExchangeAudiences, changed = &[]string{}, true
	}
	if f.Changed("require-dpop") {
		v := policy.requireDPoP
		u.RequireDPoP, changed = &v, true
	}
	if f.Changed("require-certificate-bound-tokens") {
		v := policy.requireCertBound
		u.RequireCertificateBoundTokens, changed = &v, true
	}
	switch {
	case tlsChanged(f) && policy.noTLS:
		return u, fmt.Errorf("--tls-* and --no-tls-client-auth: give one (a --tls-* flag replaces whichever certificate field was registered)")
	case tlsChanged(f):
		t := policy.tls
		u.TLSClientAuth, changed = &t, true
	case policy.noTLS:
		u.TLSClientAuth, changed = &auth.TLSClientAuth{}, true
	}
	qs, mode, err := policy.parseQuotaFlags()
	if err != nil {
		return u, err
	}
	switch {
	case f.Changed("quota") && policy.noQuota:
		return u, fmt.Errorf("--quota and --no-quota: give one (--quota replaces the list)")
	case f.Changed("quota"):
		u.Quotas, changed = &qs, true
	case policy.noQuota:
		u.Quotas, changed = &[]auth.Rate{}, true
	}
	if f.Changed("quota-mode") {
		u.QuotaMode, changed = &mode, true
	}
	if changed, err = policy.expressionUpdate(f, &u, changed); err != nil {
		return u, err
	}
	if f.Changed("reuse-tokens") {
		r, err := policy.parseReuseFlag()
		if err != nil {
			return u, err
		}
		u.TokenReuse, changed = &r, true
	}
	if !changed {
		return u, fmt.Errorf("nothing to change: give at least one of --name, --scope, --audience, --token-ttl, --rate-limit, --quota, --no-quota, --quota-mode, --claim, --remove-claim, --no-claims, --condition, --no-condition, --reuse-tokens, --jwks-file, --jwks-uri, --auth-method, --metadata, --unset-metadata, --federated, --remove-federated, --exchange-audience, --no-exchange-audience, --require-dpop, --require-certificate-bound-tokens, --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email, --no-tls-client-auth")
	}
	return u, nil
}

// expressionUpdate adds --claim, --remove-claim, --no-claims, --condition
// and --no-condition to u; changed says whether anything was already.
func (p *policyFlags) expressionUpdate(f *pflag.FlagSet, u *admin.ClientUpdate, changed bool) (bool, error) {
	claims, err := parseClaims("claim", p.claims)
	if err != nil {
		return changed, err
	}
	if p.noClaims {
		if len(claims) > 0 || len(p.removeClaims) > 0 {
			return changed, fmt.Errorf("--no-claims with --claim or --remove-claim: give one")
		}
		u.Claims, changed = &map[string]string{}, true
	}
	if len(claims) > 0 {
		u.ClaimsSet, changed = claims, true
	}
	if len(p.removeClaims) > 0 {
		u.ClaimsUnset, changed = p.removeClaims, true
	}
	switch {
	case f.Changed("condition") && p.noCondition:
		return changed, fmt.Errorf("--condition and --no-condition: give one")
	case f.Changed("condition"):
		u.Condition, changed = &p.condition, true
	case p.noCondition:
		u.Condition, changed = new(string), true
	}
	return changed, nil
}
