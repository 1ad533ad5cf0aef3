// Package admin is the management use cases — create, change, disable and
// delete clients, rotate keys — shared by the CLI and the admin API so that
// they can never disagree. It validates input, makes credentials, and calls
// the store; it knows neither HTTP nor SQL.
package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/internal/egress"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/policy"
)

// Service runs the management use cases.
//
// The caller says who it is with auth.WithAudit on the context (actor and
// remote address); the service adds the action, and the store records both
// with the change in one transaction.
type Service struct {
	Store auth.Store
	// Keys rotates signing keys; nil when the caller has no key-encryption key.
	Keys  *issuer.KeyRing
	Clock auth.Clock
	// AllowHTTPJWKSURI accepts plain http jwks_uri values (development only).
	AllowHTTPJWKSURI bool
	// AllowPrivateAddresses accepts a jwks_uri whose host is localhost or
	// an IP literal in a loopback, private, link-local or other
	// special-purpose range (development only: the server would fetch
	// keys from inside its own network). The server re-checks the address
	// it connects to whatever was accepted here.
	AllowPrivateAddresses bool
	// TokenIssuer is the running server's issuer, whose server-wide policies
	// Policies shows and EvaluatePolicy applies; nil outside a server.
	TokenIssuer *issuer.Issuer
}

// audit returns ctx with the action set, keeping the caller's actor.
func audit(ctx context.Context, action string) context.Context {
	a := auth.AuditFrom(ctx, "")
	a.Action = action
	return auth.WithAudit(ctx, a)
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// ClientSpec describes a client to create.
type ClientSpec struct {
	// ID is empty for a generated "gooclaim_app_…" ID; set it to import an existing client.
	ID        string
	Name      string
	Scopes    []string
	Audiences []string
	TokenTTL  time.Duration
	RateLimit auth.Rate
	// Quotas bound the tokens issued per fixed UTC window (auth.ParseQuota);
	// empty means the server's default quotas. QuotaMode is auth.QuotaEnforce
	// or auth.QuotaWarn.
	Quotas    []auth.Rate
	QuotaMode string
	// Claims are claim expressions in CEL by claim name, and Condition the
	// expression that must be true for a token (package policy); both are
	// checked (parsed, type-checked, cost-estimated) before they are saved.
	Claims    map[string]string
	Condition string
	// TokenReuse is "on", "off" or "" (the server's setting, serve
	// --reuse-tokens); CreateClient also takes what auth.CheckTokenReuse
	// accepts ("default", "true", "false") and stores it normalized.
	TokenReuse string
	// Secret is empty for a generated secret; set it to import an existing one
	// (it is then hashed with argon2id, as it may be weak).
	Secret string
	// JWKS (a public JWK Set, JSON) or JWKSURI registers keys for
	// private_key_jwt. Such a client gets no secret unless AuthMethods
	// names a secret method.
	JWKS    []byte
	JWKSURI string
	// AuthMethods restricts the authentication methods; empty allows every
	// method the client's credentials support.
	AuthMethods []string
	Metadata    map[string]string
	// Federated binds the client to subjects of trusted issuers, whose
	// tokens authenticate it. A client with federated identities and
	// neither keys nor a secret given gets no secret, unless AuthMethods
	// names a secret method.
	Federated []auth.FederatedIdentity
	// ExchangeAudiences are the audiences it may obtain by token exchange.
	ExchangeAudiences []string
	// RequireDPoP and RequireCertificateBoundTokens make every token of
	// the client sender-constrained: DPoP-bound (RFC 9449) or bound to its
	// client certificate (RFC 8705 §3).
	RequireDPoP                   bool
	RequireCertificateBoundTokens bool
	// TLSClientAuth is what the client's certificate must name for
	// tls_client_auth (RFC 8705 §2.1.2): one field at most, normalized as
	// CheckTLSClientAuth says. A client with one and neither keys, a
	// federated identity nor a secret given gets no secret, unless
	// AuthMethods names a secret method.
	TLSClientAuth auth.TLSClientAuth
}

// Limits on client settings.
const (
	MinTokenTTL  = 10 * time.Second
	maxScopes    = 200
	maxAudiences = 20
	maxNameLen   = 200
	maxIDLen     = 128
)

// CreateClient validates spec, makes the client's credentials and stores it.
// It returns the client and its secret in clear: the only time it is seen.
func (s *Service) CreateClient(ctx context.Context, spec ClientSpec) (*auth.Client, string, error) {
	var problems []string
	if spec.ID != "" {
		problems = append(problems, checkClientID(spec.ID)...)
	}
	now := s.now().UTC()
	c := &auth.Client{
		ID:          spec.ID,
		Name:        spec.Name,
		Scopes:      dedupe(spec.Scopes),
		Audiences:   dedupe(spec.Audiences),
		TokenTTL:    spec.TokenTTL,
		RateLimit:   spec.RateLimit,
		Quotas:      spec.Quotas,
		QuotaMode:   spec.QuotaMode,
		Claims:      emptyMapNil(spec.Claims),
		Condition:   spec.Condition,
		TokenReuse:  normalizeTokenReuse(spec.TokenReuse),
		JWKS:        spec.JWKS,
		JWKSURI:     spec.JWKSURI,
		AuthMethods: dedupe(spec.AuthMethods),
		Metadata:    spec.Metadata,
		Federated:   dedupeFederated(spec.Federated),
		CreatedAt:   now,
		UpdatedAt:   now,

		RequireDPoP:                   spec.RequireDPoP,
		RequireCertificateBoundTokens: spec.RequireCertificateBoundTokens,
		TLSClientAuth:                 spec.TLSClientAuth,
	}
	if len(c.AuthMethods) == 0 {
		c.AuthMethods = nil
	}
	if l := dedupe(spec.ExchangeAudiences); len(l) > 0 {
		c.ExchangeAudiences = l
	}
	// A client with another credential — keys, a federated identity, a
	// certificate to name — gets a secret only when asked for one.
	wantSecret := !c.HasPublicKeys() && len(c.Federated) == 0 && c.TLSClientAuth.IsZero() || spec.Secret != "" ||
		slices.Contains(c.AuthMethods, auth.AuthClientSecretBasic) || slices.Contains(c.AuthMethods, auth.AuthClientSecretPost)
	secret := ""
	if wantSecret {
		secret = spec.Secret
		hash := ""
		if secret == "" {
			secret = credential.NewSecret()
			hash = credential.HashGenerated(secret)
		} else if h, err := credential.HashImported(secret); err != nil {
			problems = append(problems, "client secret: "+err.Error())
		} else {
			hash = h
		}
		c.Secrets = []auth.Secret{{ID: credential.NewSecretID(), Hash: hash, CreatedAt: now}}
	}
	problems = append(problems, CheckTLSClientAuth(&c.TLSClientAuth)...)
	problems = append(problems, s.checkClient(c)...)
	if len(problems) > 0 {
		return nil, "", invalid(problems)
	}
	if c.ID == "" {
		c.ID = credential.NewClientID()
	}
	if err := s.Store.CreateClient(audit(ctx, auth.ActionClientCreate), c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// checkClient checks every setting of c (its ID apart).
func (s *Service) checkClient(c *auth.Client) []string {
	p := checkSettings(c.Name, c.Scopes, c.Audiences, c.TokenTTL, c.RateLimit)
	p = append(p, checkMetadata(c.Metadata)...)
	p = append(p, checkQuotas(c)...)
	p = append(p, checkExpressions(c)...)
	p = append(p, checkTokenReuse(c)...)
	p = append(p, checkFederated(c)...)
	if len(c.JWKS) > 0 && c.JWKSURI != "" {
		p = append(p, "keys: register a JWK Set or a jwks_uri, not both")
	}
	if len(c.JWKS) > 0 {
		if err := clientauth.CheckJWKS(c.JWKS); err != nil {
			p = append(p, "jwks: "+err.Error())
		}
	}
	if c.JWKSURI != "" {
		err := clientauth.CheckJWKSURI(c.JWKSURI, clientauth.JWKSURIPolicy{AllowHTTP: s.AllowHTTPJWKSURI, AllowPrivateAddresses: s.AllowPrivateAddresses})
		if _, denied := errors.AsType[*egress.DeniedError](err); denied {
			p = append(p, err.Error()+" (for development, --allow-private-addresses allows it)")
		} else if err != nil {
			p = append(p, err.Error())
		}
	}
	for _, m := range c.AuthMethods {
		switch {
		case !slices.Contains(AuthMethods, m):
			p = append(p, fmt.Sprintf("auth method %q: use %s", m, strings.Join(AuthMethods, ", ")))
		case m == auth.AuthPrivateKeyJWT && !c.HasPublicKeys():
			p = append(p, "auth method private_key_jwt needs public keys: register a JWK Set or a jwks_uri")
		case m == auth.AuthFederatedJWT && len(c.Federated) == 0:
			p = append(p, "auth method federated_jwt needs federated identities: bind the client to a subject of a trusted issuer (--federated ISSUER=SUBJECT)")
		case m == auth.AuthTLSClientAuth && c.TLSClientAuth.IsZero():
			p = append(p, "auth method tls_client_auth needs the certificate's subject DN or a SAN to expect: set one with "+tlsFieldsHint)
		case m == auth.AuthSelfSignedTLSClientAuth && !c.HasPublicKeys():
			p = append(p, "auth method self_signed_tls_client_auth needs the certificate's public key: register a JWK Set or a jwks_uri")
		case (m == auth.AuthClientSecretBasic || m == auth.AuthClientSecretPost) && len(c.Secrets) == 0:
			p = append(p, fmt.Sprintf("auth method %s needs a client secret, and the client has none: rotate-secret gives it one", m))
		}
	}
	if len(c.Secrets) == 0 && !c.HasPublicKeys() && len(c.Federated) == 0 && c.TLSClientAuth.IsZero() {
		p = append(p, "the client has no secret, no public keys, no federated identity and no certificate to expect (tls_client_auth), so it could never authenticate")
	}
	return p
}

// maxQuotas bounds a client's quotas: one per window length is all that
// makes sense (an hour and a day, say), and each costs a counter per token.
const maxQuotas = 4

// checkQuotas checks a client's quotas (windows that divide a day, one
// per window, at most maxQuotas) and its quota mode.
func checkQuotas(c *auth.Client) []string {
	var p []string
	if len(c.Quotas) > maxQuotas {
		p = append(p, fmt.Sprintf("quotas: at most %d (one per window, such as 1000/1h and 10000/1d), not %d", maxQuotas, len(c.Quotas)))
	}
	if _, err := auth.ParseQuotas(auth.FormatQuotas(c.Quotas)); err != nil {
		p = append(p, err.Error())
	}
	if _, err := auth.CheckQuotaMode(c.QuotaMode); err != nil || c.QuotaMode == "enforce" {
		p = append(p, fmt.Sprintf("quota mode %q: want \"\" (enforce) or %q", c.QuotaMode, auth.QuotaWarn))
	}
	return p
}

// normalizeTokenReuse is s as auth.CheckTokenReuse normalizes it ("default"
// is "", "true" is "on"); a value it refuses is returned as it is, for
// checkClient to report with the client's other problems.
func normalizeTokenReuse(s string) string {
	if r, err := auth.CheckTokenReuse(s); err == nil {
		return r
	}
	return s
}

// checkTokenReuse checks a client's token reuse setting, which must be
// stored normalized: "on", "off" or "" (the server's default).
func checkTokenReuse(c *auth.Client) []string {
	r, err := auth.CheckTokenReuse(c.TokenReuse)
	if err != nil {
		return []string{err.Error()}
	}
	if r != c.TokenReuse {
		return []string{fmt.Sprintf("token reuse %q: store it as %q", c.TokenReuse, r)}
	}
	return nil
}

// checkExpressions checks a client's claim expressions and condition as
// they are saved, so that no request meets an expression that does not
// compile: each problem names the claim and the position in it.
func checkExpressions(c *auth.Client) []string {
	var p []string
	for _, err := range policy.CheckClaims(c.Claims) {
		p = append(p, err.Error())
	}
	if c.Condition != "" {
		if err := policy.CheckCondition(c.Condition); err != nil {
			p = append(p, err.Error())
		}
	}
	return p
}

// editMap is m replaced by replace (when not nil), then with set's
// entries set and unset's keys removed; nil when empty. m is the stored
// client's copy, edited in place.
func editMap(m map[string]string, replace *map[string]string, set map[string]string, unset []string) map[string]string {
	if replace != nil {
		m = maps.Clone(*replace)
	}
	if len(set) > 0 && m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, set)
	for _, k := range unset {
		delete(m, k)
	}
	return emptyMapNil(m)
}

func emptyMapNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// Limits on metadata.
const (
	maxMetadataEntries = 32
	maxMetadataKey     = 64
	maxMetadataValue   = 1024
)

func checkMetadata(m map[string]string) []string {
	var p []string
	if len(m) > maxMetadataEntries {
		p = append(p, fmt.Sprintf("metadata: at most %d entries", maxMetadataEntries))
	}
	for k, v := range m {
		if k == "" || len(k) > maxMetadataKey || strings.ContainsFunc(k, func(r rune) bool { return r <= 0x20 || r == 0x7f || r == '=' }) {
			p = append(p, fmt.Sprintf("metadata key %q: 1 to %d characters, no spaces, = or control characters", k, maxMetadataKey))
		}
		if len(v) > maxMetadataValue || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			p = append(p, fmt.Sprintf("metadata %q: a value of at most %d characters without control characters", k, maxMetadataValue))
		}
	}
	return p
}

// ClientUpdate lists the settings to change; nil fields are left alone.
type ClientUpdate struct {
	Name      *string
	Scopes    *[]string
	Audiences *[]string
	TokenTTL  *time.Duration
	RateLimit *auth.Rate
	// Quotas replaces the quotas (empty: none, the server's default
	// applies); QuotaMode sets the mode.
	Quotas    *[]auth.Rate
	QuotaMode *string
	// Claims replaces the claim expressions (empty: none); ClaimsSet and
	// ClaimsUnset edit them, after Claims. Condition replaces the
	// condition ("" removes it).
	Claims      *map[string]string
	ClaimsSet   map[string]string
	ClaimsUnset []string
	Condition   *string
	// TokenReuse sets the token reuse setting: "on", "off" or "" (the
	// server's default), or another form auth.CheckTokenReuse accepts.
	TokenReuse *string
	Disabled   *bool
	// JWKS and JWKSURI replace the registered keys; set one to empty to
	// remove it.
	JWKS        *[]byte
	JWKSURI     *string
	AuthMethods *[]string
	// Metadata replaces the metadata; MetadataSet and MetadataUnset edit
	// single entries after that.
	Metadata      *map[string]string
	MetadataSet   map[string]string
	MetadataUnset []string
	// Federated replaces the federated identities; FederatedAdd and
	// FederatedRemove edit single ones after that (removing one the
	// client does not have is an error, adding one it has is not).
	Federated       *[]auth.FederatedIdentity
	FederatedAdd    []auth.FederatedIdentity
	FederatedRemove []auth.FederatedIdentity
	// ExchangeAudiences replaces the exchange audiences; empty clears them.
	ExchangeAudiences *[]string
	// RequireDPoP and RequireCertificateBoundTokens turn the requirements
	// on or off.
	RequireDPoP                   *bool
	RequireCertificateBoundTokens *bool
	// TLSClientAuth replaces what the client's certificate must name
	// (whichever field was set); the zero value removes it.
	TLSClientAuth *auth.TLSClientAuth
}

// UpdateClient applies u to the client with the given ID.
func (s *Service) UpdateClient(ctx context.Context, id string, u ClientUpdate) (*auth.Client, error) {
	action := auth.ActionClientUpdate
	if u.Disabled != nil && u.onlyDisabled() {
		action = auth.ActionClientEnable
		if *u.Disabled {
			action = auth.ActionClientDisable
		}
	}
	return s.Store.UpdateClient(audit(ctx, action), id, func(c *auth.Client) error {
		if u.Name != nil {
			c.Name = *u.Name
		}
		if u.Scopes != nil {
			c.Scopes = dedupe(*u.Scopes)
		}
		if u.Audiences != nil {
			c.Audiences = dedupe(*u.Audiences)
		}
		if u.TokenTTL != nil {
			c.TokenTTL = *u.TokenTTL
		}
		if u.RateLimit != nil {
			c.RateLimit = *u.RateLimit
		}
		if u.Quotas != nil {
			c.Quotas = slices.Clone(*u.Quotas)
			if len(c.Quotas) == 0 {
				c.Quotas = nil
			}
		}
		if u.QuotaMode != nil {
			c.QuotaMode = *u.QuotaMode
		}
		c.Claims = editMap(c.Claims, u.Claims, u.ClaimsSet, u.ClaimsUnset)
		if u.Condition != nil {
			c.Condition = *u.Condition
		}
		if u.TokenReuse != nil {
			c.TokenReuse = normalizeTokenReuse(*u.TokenReuse)
		}
		if u.Disabled != nil {
			if *u.Disabled && !c.Disabled {
				// Disabling revokes every token the client holds, so that
				// enabling it again (once its secret is rotated, say) does
				// not bring back tokens stolen meanwhile.
				c.TokensRevokedBefore = s.now().UTC()
			}
			c.Disabled = *u.Disabled
		}
		if u.JWKS != nil {
			c.JWKS = *u.JWKS
		}
		if u.JWKSURI != nil {
			c.JWKSURI = *u.JWKSURI
		}
		if u.AuthMethods != nil {
			c.AuthMethods = dedupe(*u.AuthMethods)
			if len(c.AuthMethods) == 0 {
				c.AuthMethods = nil
			}
		}
		c.Metadata = editMap(c.Metadata, u.Metadata, u.MetadataSet, u.MetadataUnset)
		if u.Federated != nil {
			c.Federated = dedupeFederated(*u.Federated)
		}
		for _, f := range u.FederatedAdd {
			if !slices.Contains(c.Federated, f) {
				c.Federated = append(c.Federated, f)
			}
		}
		for _, f := range u.FederatedRemove {
			i := slices.Index(c.Federated, f)
			if i < 0 {
				return auth.Errorf(auth.EINVALID, "client %s has no federated identity %s to remove (it has %s)", id, f, federatedList(c.Federated))
			}
			c.Federated = slices.Delete(c.Federated, i, i+1)
		}
		if len(c.Federated) == 0 {
			c.Federated = nil
		}
		if u.ExchangeAudiences != nil {
			c.ExchangeAudiences = dedupe(*u.ExchangeAudiences)
			if len(c.ExchangeAudiences) == 0 {
				c.ExchangeAudiences = nil
			}
		}
		if u.RequireDPoP != nil {
			c.RequireDPoP = *u.RequireDPoP
		}
		if u.RequireCertificateBoundTokens != nil {
			c.RequireCertificateBoundTokens = *u.RequireCertificateBoundTokens
		}
		var p []string
		if u.TLSClientAuth != nil {
			c.TLSClientAuth = *u.TLSClientAuth
			p = CheckTLSClientAuth(&c.TLSClientAuth)
		}
		c.Secrets = liveSecrets(c.Secrets, s.now())
		if p = append(p, s.checkClient(c)...); len(p) > 0 {
			return invalid(p)
		}
		return nil
	})
}

// IsEmpty reports whether u changes nothing.
func (u ClientUpdate) IsEmpty() bool { return u.Disabled == nil && u.onlyDisabled() }

// onlyDisabled reports whether u changes nothing but Disabled, which the
// audit trail then names as disable or enable.
func (u ClientUpdate) onlyDisabled() bool {
	return u.Name == nil && u.Scopes == nil && u.Audiences == nil && u.TokenTTL == nil && u.RateLimit == nil &&
		u.Quotas == nil && u.QuotaMode == nil && u.Claims == nil && len(u.ClaimsSet) == 0 && len(u.ClaimsUnset) == 0 && u.Condition == nil &&
		u.TokenReuse == nil &&
		u.JWKS == nil && u.JWKSURI == nil && u.AuthMethods == nil && u.Metadata == nil &&
		len(u.MetadataSet) == 0 && len(u.MetadataUnset) == 0 &&
		u.Federated == nil && len(u.FederatedAdd) == 0 && len(u.FederatedRemove) == 0 && u.ExchangeAudiences == nil &&
		u.RequireDPoP == nil && u.RequireCertificateBoundTokens == nil && u.TLSClientAuth == nil
}

// federatedList shows identities for a message.
func federatedList(l []auth.FederatedIdentity) string {
	if len(l) == 0 {
		return "none"
	}
	s := make([]string, len(l))
	for i, f := range l {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}

// MaxSecretGrace bounds the grace period of a secret rotation.
const MaxSecretGrace = 30 * 24 * time.Hour

// RotateSecret gives the client a new secret, returned in clear (the only
// time it is seen). The current secret keeps working for grace (zero: it
// stops at once); at most two secrets are ever live, so a rotation during
// another one's grace ends the older secret now.
func (s *Service) RotateSecret(ctx context.Context, id string, grace time.Duration) (*auth.Client, string, error) {
	if grace < 0 || grace > MaxSecretGrace {
		return nil, "", auth.Errorf(auth.EINVALID, "grace %s: between 0 and %s", grace, MaxSecretGrace)
	}
	secret := credential.NewSecret()
	c, err := s.Store.UpdateClient(audit(ctx, auth.ActionSecretRotate), id, func(c *auth.Client) error {
		now := s.now().UTC()
		live := liveSecrets(c.Secrets, now)
		// Keep only the newest live secret, now ending after the grace.
		var kept []auth.Secret
		if n := len(live); n > 0 && grace > 0 {
			newest := live[n-1]
			if end := now.Add(grace); newest.ExpiresAt.IsZero() || end.Before(newest.ExpiresAt) {
				newest.ExpiresAt = end
			}
			kept = append(kept, newest)
		}
		c.Secrets = append(kept, auth.Secret{ID: credential.NewSecretID(), Hash: credential.HashGenerated(secret), CreatedAt: now})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// RevokeOldSecrets ends a rotation's grace now: every secret but the newest
// stops working.
func (s *Service) RevokeOldSecrets(ctx context.Context, id string) (*auth.Client, error) {
	return s.Store.UpdateClient(audit(ctx, auth.ActionSecretRevoke), id, func(c *auth.Client) error {
		live := liveSecrets(c.Secrets, s.now())
		if len(live) < 2 {
			return auth.Errorf(auth.EINVALID, "client %s has no old secret to revoke (it has %d live secret(s))", id, len(live))
		}
		c.Secrets = live[len(live)-1:]
		return nil
	})
}

// liveSecrets drops the secrets whose grace has ended, and orders the rest
// oldest first.
func liveSecrets(l []auth.Secret, now time.Time) []auth.Secret {
	out := make([]auth.Secret, 0, len(l))
	for _, sec := range l {
		if sec.Live(now) {
			out = append(out, sec)
		}
	}
	slices.SortStableFunc(out, func(a, b auth.Secret) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// RevokeClientTokens revokes every token the client holds now; tokens it
// obtains afterwards work (disable the client to stop those too).
func (s *Service) RevokeClientTokens(ctx context.Context, id string) (*auth.Client, error) {
	return s.Store.UpdateClient(audit(ctx, auth.ActionClientRevokeTokens), id, func(c *auth.Client) error {
		c.TokensRevokedBefore = s.now().UTC()
		return nil
	})
}

// AuditEvents queries the audit trail.
func (s *Service) AuditEvents(ctx context.Context, q auth.AuditQuery) ([]auth.AuditEvent, error) {
	return s.Store.AuditEvents(ctx, q)
}

// SetDisabled disables or re-enables a client. Disabling also revokes
// every token the client holds (as RevokeClientTokens); enabling does not
// bring them back.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) (*auth.Client, error) {
	return s.UpdateClient(ctx, id, ClientUpdate{Disabled: &disabled})
}

// DeleteClient deletes a client and its secrets.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	return s.Store.DeleteClient(audit(ctx, auth.ActionClientDelete), id)
}

// Client returns one client.
func (s *Service) Client(ctx context.Context, id string) (*auth.Client, error) {
	return s.Store.Client(ctx, id)
}

// ListClients returns a page of clients in ID order after the given ID.
func (s *Service) ListClients(ctx context.Context, after string, limit int) ([]*auth.Client, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return s.Store.ListClients(ctx, after, limit)
}

// ClientFilter selects clients; zero fields select all.
type ClientFilter struct {
	After string // clients whose ID sorts after this one (pagination)
	Limit int    // at most this many; 0 means 100, at most 1000
	// Name selects clients whose name contains it, ignoring case.
	Name     string
	Disabled *bool
	Scope    string // clients allowed this scope
	// Metadata selects clients with every one of these entries.
	Metadata map[string]string
}

func (f ClientFilter) matches(c *auth.Client) bool {
	if f.Name != "" && !strings.Contains(strings.ToLower(c.Name), strings.ToLower(f.Name)) {
		return false
	}
	if f.Disabled != nil && c.Disabled != *f.Disabled {
		return false
	}
	if f.Scope != "" && !slices.Contains(c.Scopes, f.Scope) {
		return false
	}
	for k, v := range f.Metadata {
		if c.Metadata[k] != v {
			return false
		}
	}
	return true
}

// FindClients returns a page of the clients f selects, in ID order, and the
// cursor of the next page ("" when this is the last). A search reads at
// most MaxFindScan clients: past them the page ends where the reading
// stopped, short or even empty, and the cursor goes on from there.
func (s *Service) FindClients(ctx context.Context, f ClientFilter) (page []*auth.Client, next string, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	after := f.After
	for scanned := 0; ; {
		batch, err := s.Store.ListClients(ctx, after, 500)
		if err != nil {
			return nil, "", err
		}
		for _, c := range batch {
			if !f.matches(c) {
				continue
			}
			if len(page) == limit {
				return page, page[len(page)-1].ID, nil
			}
			page = append(page, c)
		}
		if len(batch) < 500 {
			return page, "", nil
		}
		after = batch[len(batch)-1].ID
		if scanned += len(batch); scanned >= MaxFindScan {
			// A search that matches few of a million clients would read
			// them all in one request: it stops here instead, and the
			// cursor says where to go on (the page may be short, or empty).
			return page, after, nil
		}
	}
}

// MaxFindScan bounds how many clients FindClients reads for one page of
// a search, so that a page costs the same with a thousand clients or a
// million; a variable so that tests can make it small.
var MaxFindScan = 20_000

// RotateKeys adds a new signing key that signs after publishAhead (the
// policy's default when negative).
func (s *Service) RotateKeys(ctx context.Context, publishAhead time.Duration) (auth.Key, error) {
	if s.Keys == nil {
		return auth.Key{}, auth.Errorf(auth.EUNAVAILABLE, "rotating keys needs the key-encryption key")
	}
	return s.Keys.Rotate(audit(ctx, auth.ActionKeysRotate), publishAhead)
}

// RevokeKey removes the signing key kid at once, for a key that is or may
// be compromised (see issuer.KeyRing.Revoke): it leaves the JWKS, never signs
// again, and when it was the active key a new one signs in its place at once.
// The audit trail records it as keys.revoke with the key sets before and
// after; reason, when given, is what the caller says happened, returned for
// the caller's log (the audit trail has no free-text field).
func (s *Service) RevokeKey(ctx context.Context, kid, reason string) (issuer.RevokedKey, error) {
	if s.Keys == nil {
		return issuer.RevokedKey{}, auth.Errorf(auth.EUNAVAILABLE, "revoking keys needs the key-encryption key")
	}
	if strings.TrimSpace(kid) == "" {
		return issuer.RevokedKey{}, auth.Errorf(auth.EINVALID, "key ID: required (`keys list` shows them)")
	}
	if len(reason) > maxRevokeReason || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return issuer.RevokedKey{}, auth.Errorf(auth.EINVALID, "reason: at most %d characters, no control characters", maxRevokeReason)
	}
	return s.Keys.Revoke(audit(ctx, auth.ActionKeysRevoke), kid)
}

// maxRevokeReason bounds the reason given for a key revocation.
const maxRevokeReason = 500

// KeyStatuses describes the stored keys now.
func (s *Service) KeyStatuses(ctx context.Context) ([]issuer.KeyStatus, error) {
	keys, err := s.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return issuer.Statuses(keys, s.now(), issuer.MaxTokenTTL), nil
}

func invalid(problems []string) error {
	return auth.Errorf(auth.EINVALID, "%s", strings.Join(problems, "; "))
}

func checkClientID(id string) []string {
	if len(id) > maxIDLen {
		return []string{fmt.Sprintf("client ID: at most %d characters", maxIDLen)}
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~:@", r)) {
			return []string{fmt.Sprintf("client ID %q: use letters, digits and - . _ ~ : @ only", id)}
		}
	}
	return nil
}

func checkSettings(name string, scopes, audiences []string, ttl time.Duration, rate auth.Rate) []string {
	var p []string
	if strings.TrimSpace(name) == "" {
		p = append(p, "name: required (what this client is, e.g. --name claims-importer)")
	} else if len(name) > maxNameLen || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p = append(p, fmt.Sprintf("name: at most %d characters, no control characters", maxNameLen))
	}
	if len(scopes) > maxScopes {
		p = append(p, fmt.Sprintf("scopes: at most %d", maxScopes))
	}
	for _, s := range scopes {
		if !issuer.ValidScopeToken(s) {
			p = append(p, fmt.Sprintf("scope %q: printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)", s))
		}
	}
	if len(audiences) > maxAudiences {
		p = append(p, fmt.Sprintf("audiences: at most %d", maxAudiences))
	}
	for _, a := range audiences {
		if a == "" || len(a) > 512 || strings.ContainsFunc(a, func(r rune) bool { return r <= 0x20 || r == 0x7f }) {
			p = append(p, fmt.Sprintf("audience %q: a URI or name of at most 512 characters without spaces", a))
		}
	}
	if ttl != 0 && (ttl < MinTokenTTL || ttl > issuer.MaxTokenTTL) {
		p = append(p, fmt.Sprintf("token TTL %s: between %s and %s", ttl, MinTokenTTL, issuer.MaxTokenTTL))
	}
	if !rate.IsZero() && (rate.Limit < 1 || rate.Window < time.Second) {
		p = append(p, "rate limit: at least 1 request per window of at least 1s")
	}
	return p
}

func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		found := false
		for _, o := range out {
			if o == v {
				found = true
				break
			}
		}
		if !found {
			out = append(out, v)
		}
	}
	return out
}
