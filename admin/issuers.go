package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/internal/egress"
)

// IssuerSpec describes a trusted issuer to create.
type IssuerSpec struct {
	Name   string
	Issuer string
	// JWKSURI or JWKS (a public JWK Set, JSON), at most one; with neither
	// the keys are found by OpenID discovery from Issuer.
	JWKSURI string
	JWKS    []byte
	// Audience is the "aud" its tokens must carry; empty means this
	// server's issuer or token endpoint.
	Audience string
	// MaxTokenAge is zero for auth.DefaultMaxTokenAge.
	MaxTokenAge time.Duration
}

// IssuerUpdate lists the settings of a trusted issuer to change; nil
// fields are left alone. Setting JWKSURI or JWKS to a value drops the
// other; setting both to empty goes back to OpenID discovery.
type IssuerUpdate struct {
	Issuer      *string
	JWKSURI     *string
	JWKS        *[]byte
	Audience    *string
	MaxTokenAge *time.Duration
	Disabled    *bool
}

// IsEmpty reports whether u changes nothing.
func (u IssuerUpdate) IsEmpty() bool {
	return u.Issuer == nil && u.JWKSURI == nil && u.JWKS == nil && u.Audience == nil && u.MaxTokenAge == nil && u.Disabled == nil
}

// Limits on trusted issuers and federated identities.
const (
	MinMaxTokenAge  = time.Minute
	MaxMaxTokenAge  = 24 * time.Hour
	maxIssuerURL    = 512
	maxFederated    = 50
	maxSubject      = 1024
	maxExchangeAuds = 20
)

// issuerName is the form of a trusted issuer's name: a short slug that
// reads well in "NAME=SUBJECT".
var issuerName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CheckIssuerName returns what is wrong with a trusted issuer's name, ""
// when nothing is.
func CheckIssuerName(name string) string {
	if !issuerName.MatchString(name) {
		return fmt.Sprintf("issuer name %q: 1 to 63 characters, lower-case letters, digits and - _ . , starting with a letter or digit (such as k8s-prod or github)", name)
	}
	return ""
}

// CreateIssuer validates spec and stores the trusted issuer.
func (s *Service) CreateIssuer(ctx context.Context, spec IssuerSpec) (*auth.TrustedIssuer, error) {
	now := s.now().UTC()
	t := &auth.TrustedIssuer{
		Name: spec.Name, Issuer: spec.Issuer, JWKSURI: spec.JWKSURI, JWKS: spec.JWKS, Audience: spec.Audience,
		MaxTokenAge: spec.MaxTokenAge, CreatedAt: now, UpdatedAt: now,
	}
	if len(t.JWKS) == 0 {
		t.JWKS = nil
	}
	var p []string
	if msg := CheckIssuerName(t.Name); msg != "" {
		p = append(p, msg)
	}
	if p = append(p, s.CheckIssuer(t)...); len(p) > 0 {
		return nil, invalid(p)
	}
	if err := s.Store.CreateIssuer(audit(ctx, auth.ActionIssuerCreate), t); err != nil {
		return nil, err
	}
	return t, nil
}

// UpdateIssuer applies u to the trusted issuer named name.
func (s *Service) UpdateIssuer(ctx context.Context, name string, u IssuerUpdate) (*auth.TrustedIssuer, error) {
	return s.Store.UpdateIssuer(audit(ctx, auth.ActionIssuerUpdate), name, func(t *auth.TrustedIssuer) error {
		before := *t
		if u.Issuer != nil {
			t.Issuer = *u.Issuer
		}
		if u.JWKSURI != nil {
			t.JWKSURI = *u.JWKSURI
			if t.JWKSURI != "" && u.JWKS == nil {
				t.JWKS = nil
			}
		}
		if u.JWKS != nil {
			t.JWKS = *u.JWKS
			if len(t.JWKS) == 0 {
				t.JWKS = nil
			} else if u.JWKSURI == nil {
				t.JWKSURI = ""
			}
		}
		if u.Audience != nil {
			t.Audience = *u.Audience
		}
		if u.MaxTokenAge != nil {
			t.MaxTokenAge = *u.MaxTokenAge
		}
		if u.Disabled != nil {
			t.Disabled = *u.Disabled
		}
		check := s
		if t.Issuer == before.Issuer && t.JWKSURI == before.JWKSURI && (len(t.JWKS) == 0) == (len(before.JWKS) == 0) {
			// Where the keys come from is unchanged: its URLs were judged
			// when they were set (by whoever was allowed http or private
			// addresses then), and disabling an issuer in an emergency
			// must not fail on that judgement.
			relaxed := *s
			relaxed.AllowHTTPJWKSURI, relaxed.AllowPrivateAddresses = true, true
			check = &relaxed
		}
		if p := check.CheckIssuer(t); len(p) > 0 {
			return invalid(p)
		}
		return nil
	})
}

// DeleteIssuer removes a trusted issuer; refused while clients are bound
// to it.
func (s *Service) DeleteIssuer(ctx context.Context, name string) error {
	return s.Store.DeleteIssuer(audit(ctx, auth.ActionIssuerDelete), name)
}

// Issuer returns one trusted issuer.
func (s *Service) Issuer(ctx context.Context, name string) (*auth.TrustedIssuer, error) {
	return s.Store.TrustedIssuer(ctx, name)
}

// ListIssuers returns every trusted issuer, by name.
func (s *Service) ListIssuers(ctx context.Context) ([]*auth.TrustedIssuer, error) {
	return s.Store.ListIssuers(ctx)
}

// CheckIssuer checks every setting of t but its name, as the CLI and the
// admin API both accept them: the issuer and jwks_uri are absolute https
// URLs (http only where jwks_uri may be, Service.AllowHTTPJWKSURI), the
// JWK Set holds public signature keys only, at most one of the two is
// set, the maximum token age is within MinMaxTokenAge and
// MaxMaxTokenAge.
func (s *Service) CheckIssuer(t *auth.TrustedIssuer) []string {
	var p []string
	// The issuer is fetched (its OpenID discovery document) only when
	// neither keys nor where to fetch them are given; then it must be a
	// public address, as a jwks_uri must.
	discovery := t.JWKSURI == "" && len(t.JWKS) == 0
	if msg := s.checkIssuerURL(t.Issuer, discovery); msg != "" {
		p = append(p, msg)
	}
	if len(t.JWKS) > 0 && t.JWKSURI != "" {
		p = append(p, "keys: give the issuer's JWK Set or its jwks_uri, not both (or neither, for OpenID discovery)")
	}
	if len(t.JWKS) > 0 {
		if err := clientauth.CheckJWKS(t.JWKS); err != nil {
			p = append(p, "jwks: "+err.Error())
		}
	}
	if t.JWKSURI != "" {
		if msg := s.checkFetchedURL(t.JWKSURI); msg != "" {
			p = append(p, msg)
		}
	}
	if t.Audience != "" && (len(t.Audience) > 512 || strings.ContainsFunc(t.Audience, func(r rune) bool { return r <= 0x20 || r == 0x7f })) {
		p = append(p, fmt.Sprintf("audience %q: a URI or name of at most 512 characters without spaces", t.Audience))
	}
	if t.MaxTokenAge != 0 && (t.MaxTokenAge < MinMaxTokenAge || t.MaxTokenAge > MaxMaxTokenAge) {
		p = append(p, fmt.Sprintf("max token age %s: between 1m and 24h (or default, %s)", auth.FormatDuration(t.MaxTokenAge),
			auth.FormatDuration(auth.DefaultMaxTokenAge)))
	}
	return p
}

// checkFetchedURL checks a URL this server fetches keys from, as a
// client's jwks_uri is checked.
func (s *Service) checkFetchedURL(raw string) string {
	err := clientauth.CheckJWKSURI(raw, clientauth.JWKSURIPolicy{AllowHTTP: s.AllowHTTPJWKSURI, AllowPrivateAddresses: s.AllowPrivateAddresses})
	if _, denied := errors.AsType[*egress.DeniedError](err); denied {
		return err.Error() + " (for development, --allow-private-addresses allows it)"
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// checkIssuerURL checks an issuer identifier: what checkFetchedURL checks
// (the address only when it is fetched, for discovery), and no query, as
// OpenID Connect Discovery 1.0 §3 and RFC 8414 §2 require.
func (s *Service) checkIssuerURL(raw string, fetched bool) string {
	if raw == "" {
		return "issuer: required, the exact \"iss\" of the issuer's tokens, such as https://token.actions.githubusercontent.com"
	}
	if len(raw) > maxIssuerURL {
		return fmt.Sprintf("issuer: at most %d characters", maxIssuerURL)
	}
	pol := clientauth.JWKSURIPolicy{AllowHTTP: s.AllowHTTPJWKSURI, AllowPrivateAddresses: s.AllowPrivateAddresses || !fetched}
	if err := clientauth.CheckJWKSURI(raw, pol); err != nil {
		msg := "issuer " + strings.TrimPrefix(err.Error(), "jwks_uri ")
		if _, denied := errors.AsType[*egress.DeniedError](err); denied {
			msg += " (its keys are found by OpenID discovery from it: give --jwks-file or --jwks-uri instead, or for development --allow-private-addresses)"
		}
		return msg
	}
	if u, err := url.Parse(raw); err == nil && (u.RawQuery != "" || u.ForceQuery) {
		return fmt.Sprintf("issuer %q: no query (an issuer identifier is a URL without query or fragment, RFC 8414 §2)", raw)
	}
	return ""
}

// ParseFederated reads "NAME=SUBJECT", as the command line writes a
// federated identity. The subject may hold "=".
func ParseFederated(s string) (auth.FederatedIdentity, error) {
	name, subject, ok := strings.Cut(s, "=")
	if !ok || name == "" || subject == "" {
		return auth.FederatedIdentity{}, auth.Errorf(auth.EINVALID, "federated identity %q: write ISSUER=SUBJECT, such as k8s=system:serviceaccount:payments:worker", s)
	}
	return auth.FederatedIdentity{Issuer: name, Subject: subject}, nil
}

// checkFederated checks a client's federated identities and exchange
// audiences; that the issuers exist and the pairs are free is the store's
// to say, in the transaction that binds them.
func checkFederated(c *auth.Client) []string {
	var p []string
	if len(c.Federated) > maxFederated {
		p = append(p, fmt.Sprintf("federated identities: at most %d", maxFederated))
	}
	seen := map[auth.FederatedIdentity]bool{}
	for _, f := range c.Federated {
		if msg := CheckIssuerName(f.Issuer); msg != "" {
			p = append(p, "federated identity "+f.String()+": "+msg)
		}
		if f.Subject == "" || len(f.Subject) > maxSubject || strings.ContainsFunc(f.Subject, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			p = append(p, fmt.Sprintf("federated identity %s: the subject is 1 to %d characters without control characters, the exact \"sub\" of the issuer's tokens", f, maxSubject))
		}
		if seen[f] {
			p = append(p, fmt.Sprintf("federated identity %s: listed twice", f))
		}
		seen[f] = true
	}
	if len(c.ExchangeAudiences) > maxExchangeAuds {
		p = append(p, fmt.Sprintf("exchange audiences: at most %d", maxExchangeAuds))
	}
	for _, a := range c.ExchangeAudiences {
		if a == "" || len(a) > 512 || strings.ContainsFunc(a, func(r rune) bool { return r <= 0x20 || r == 0x7f }) {
			p = append(p, fmt.Sprintf("exchange audience %q: a URI or name of at most 512 characters without spaces", a))
		}
	}
	return p
}

// dedupeFederated drops repeated identities, keeping the first.
func dedupeFederated(l []auth.FederatedIdentity) []auth.FederatedIdentity {
	var out []auth.FederatedIdentity
	for _, f := range l {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// AuthMethods are the client authentication methods a client may be
// restricted to: those discovery advertises, federated_jwt, which uses
// private_key_jwt's parameters with another issuer's token, and the two
// mutual-TLS methods of RFC 8705 §2.
// (dedupe: discovery may come to advertise the latter.)
var AuthMethods = dedupe(append(slices.Clip(auth.AuthMethods), auth.AuthFederatedJWT, auth.AuthTLSClientAuth, auth.AuthSelfSignedTLSClientAuth))
