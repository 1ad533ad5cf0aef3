package admin

import (
	"encoding/json"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/credential"
	"github.com/gooclaim/auth/issuer"
)

// The views: how clients, keys and audit events are shown, by the CLI's
// JSON output and by the admin API alike, as the OpenAPI document
// (httpapi/openapi.yaml) describes them.

// ClientView is how a client is shown, by the CLI's JSON output and by the
// admin API alike: every setting, and of its secrets only their IDs, kinds
// and times — never a secret or its hash.
type ClientView struct {
	ClientID string `json:"client_id"`
	// Incarnation tells this client apart from deleted clients that had
	// its ID; its tokens carry it (claim client_incarnation).
	Incarnation string   `json:"incarnation,omitempty"`
	Name        string   `json:"name"`
	Scopes      []string `json:"scopes"`
	Audiences   []string `json:"audiences"`
	TokenTTL    string   `json:"token_ttl,omitempty"`  // "15m"; absent: the server's default
	RateLimit   string   `json:"rate_limit,omitempty"` // "100/1m"; absent: the server's default
	// Quotas are the client's token quotas ("10000/1d"), empty for the
	// server's default; QuotaMode is "enforce" or "warn".
	Quotas    []string `json:"quotas"`
	QuotaMode string   `json:"quota_mode"`
	// Claims are the client's claim expressions in CEL by claim name;
	// Condition the expression that must hold for a token, "" for none.
	Claims    map[string]string `json:"claims"`
	Condition string            `json:"condition"`
	// TokenReuse is "on", "off" or "default" (the server's setting, serve
	// --reuse-tokens): whether a request for what a live token of the
	// client already grants gets that token again (TokenReuseName).
	TokenReuse string `json:"token_reuse"`
	Disabled   bool   `json:"disabled"`
	// AuthMethods is the configured list, empty for the default (every
	// method the client's credentials allow); AllowedAuthMethods is what
	// the client may use now, either way.
	AuthMethods        []string `json:"auth_methods"`
	AllowedAuthMethods []string `json:"allowed_auth_methods"`
	// JWKS is the client's public JWK Set, JWKSURI where it is fetched from.
	JWKS     json.RawMessage   `json:"jwks,omitempty"`
	JWKSURI  string            `json:"jwks_uri,omitempty"`
	Metadata map[string]string `json:"metadata"`
	// Federated are the subjects of trusted issuers bound to the client;
	// ExchangeAudiences the audiences it may obtain by token exchange.
	Federated         []FederatedView `json:"federated"`
	ExchangeAudiences []string        `json:"exchange_audiences"`
	// DPoPBoundAccessTokens (RFC 9449 §5.2) and
	// TLSClientCertificateBoundAccessTokens (RFC 8705 §3.4) say whether
	// every token of the client must be bound to a DPoP key or to its
	// client certificate.
	DPoPBoundAccessTokens                 bool `json:"dpop_bound_access_tokens"`
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens"`
	// What the client's certificate must name for tls_client_auth (RFC
	// 8705 §2.1.2): one of them at most, in its normalized form.
	TLSClientAuthSubjectDN string       `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string       `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string       `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string       `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string       `json:"tls_client_auth_san_email,omitempty"`
	TokensRevokedBefore    *time.Time   `json:"tokens_revoked_before,omitempty"`
	Secrets                []SecretView `json:"secrets"`
	// ManagedBy is "apply" when a configuration file manages the client
	// (gooclaim-auth apply, serve --config-file): a change made by hand is
	// undone by the file's next apply. Absent for a client made by hand.
	ManagedBy string    `json:"managed_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// QuotaModeName is how a quota mode is shown: "enforce" or "warn".
func QuotaModeName(m string) string {
	if m == auth.QuotaEnforce {
		return "enforce"
	}
	return m
}

// TokenReuseName is how a token reuse setting is shown: "on", "off" or
// "default" for the server's setting — the word the admin API, the CLI
// and the declarative file all take for it.
func TokenReuseName(r string) string {
	if r == auth.ReuseDefault {
		return "default"
	}
	return r
}

// FederatedView is one federated identity of a client.
type FederatedView struct {
	Issuer  string `json:"issuer"` // the trusted issuer's name
	Subject string `json:"subject"`
}

// SecretView describes one secret without revealing it.
type SecretView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"` // "generated" or "imported"
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// View returns the view of c.
func View(c *auth.Client) ClientView {
	v := ClientView{
		ClientID: c.ID, Incarnation: c.Incarnation, Name: c.Name, Scopes: nonNil(c.Scopes), Audiences: nonNil(c.Audiences),
		Disabled: c.Disabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Secrets: []SecretView{},
		AuthMethods: nonNil(c.AuthMethods), AllowedAuthMethods: []string{}, JWKSURI: c.JWKSURI,
		Metadata: c.Metadata, Federated: []FederatedView{}, ExchangeAudiences: nonNil(c.ExchangeAudiences),
		Quotas: nonNil(auth.FormatQuotas(c.Quotas)), QuotaMode: QuotaModeName(c.QuotaMode),
		Claims: c.Claims, Condition: c.Condition, TokenReuse: TokenReuseName(c.TokenReuse), ManagedBy: c.ManagedBy,

		DPoPBoundAccessTokens:                 c.RequireDPoP,
		TLSClientCertificateBoundAccessTokens: c.RequireCertificateBoundTokens,
		TLSClientAuthSubjectDN:                c.TLSClientAuth.SubjectDN,
		TLSClientAuthSANDNS:                   c.TLSClientAuth.SANDNS,
		TLSClientAuthSANURI:                   c.TLSClientAuth.SANURI,
		TLSClientAuthSANIP:                    c.TLSClientAuth.SANIP,
		TLSClientAuthSANEmail:                 c.TLSClientAuth.SANEmail,
	}
	for _, f := range c.Federated {
		v.Federated = append(v.Federated, FederatedView{Issuer: f.Issuer, Subject: f.Subject})
	}
	for _, m := range AuthMethods {
		if c.AllowsAuthMethod(m) {
			v.AllowedAuthMethods = append(v.AllowedAuthMethods, m)
		}
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if v.Claims == nil {
		v.Claims = map[string]string{}
	}
	if len(c.JWKS) > 0 && json.Valid(c.JWKS) {
		v.JWKS = json.RawMessage(c.JWKS)
	}
	if !c.TokensRevokedBefore.IsZero() {
		t := c.TokensRevokedBefore
		v.TokensRevokedBefore = &t
	}
	if c.TokenTTL != 0 {
		v.TokenTTL = auth.FormatDuration(c.TokenTTL)
	}
	if !c.RateLimit.IsZero() {
		v.RateLimit = c.RateLimit.String()
	}
	for _, s := range c.Secrets {
		sv := SecretView{ID: s.ID, Kind: secretKind(s.Hash), CreatedAt: s.CreatedAt}
		if !s.ExpiresAt.IsZero() {
			t := s.ExpiresAt
			sv.ExpiresAt = &t
		}
		v.Secrets = append(v.Secrets, sv)
	}
	return v
}

// IssuerView is how a trusted issuer is shown, by the CLI's JSON output
// and by the admin API alike (the OpenAPI document's Issuer).
type IssuerView struct {
	Name    string          `json:"name"`
	Issuer  string          `json:"issuer"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	// Audience is absent for the default: this server's issuer or token endpoint.
	Audience string `json:"audience,omitempty"`
	// MaxTokenAge is absent for the default, auth.DefaultMaxTokenAge.
	MaxTokenAge string `json:"max_token_age,omitempty"`
	Disabled    bool   `json:"disabled"`
	// ManagedBy is "apply" when a configuration file manages the issuer,
	// as for a client (ClientView.ManagedBy).
	ManagedBy string    `json:"managed_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ViewIssuer returns the view of t.
func ViewIssuer(t *auth.TrustedIssuer) IssuerView {
	v := IssuerView{Name: t.Name, Issuer: t.Issuer, JWKSURI: t.JWKSURI, Audience: t.Audience, Disabled: t.Disabled,
		ManagedBy: t.ManagedBy, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if len(t.JWKS) > 0 && json.Valid(t.JWKS) {
		v.JWKS = json.RawMessage(t.JWKS)
	}
	if t.MaxTokenAge != 0 {
		v.MaxTokenAge = auth.FormatDuration(t.MaxTokenAge)
	}
	return v
}

// ViewIssuers returns the views of ts, in their order; never nil.
func ViewIssuers(ts []*auth.TrustedIssuer) []IssuerView {
	out := make([]IssuerView, 0, len(ts))
	for _, t := range ts {
		out = append(out, ViewIssuer(t))
	}
	return out
}

// KeyView is how a signing key is shown, by the CLI's JSON output and by
// the admin API alike (the OpenAPI document's Key): public facts only,
// never key material.
type KeyView struct {
	KID          string     `json:"kid"`
	Algorithm    string     `json:"alg"`
	State        string     `json:"state"` // next, active, retired or expired
	CreatedAt    time.Time  `json:"created_at"`
	SigningFrom  time.Time  `json:"signing_from"`
	RetiredAt    *time.Time `json:"retired_at,omitempty"`
	PublishedTil *time.Time `json:"published_until,omitempty"` // when a retired key leaves the JWKS
}

// ViewKeys returns the views of keys, in their order; never nil.
func ViewKeys(keys []issuer.KeyStatus) []KeyView {
	out := make([]KeyView, 0, len(keys))
	for _, s := range keys {
		v := keyView(s.Key, s.State)
		if !s.RetiredAt.IsZero() {
			r, p := s.RetiredAt, s.PublishedTil
			v.RetiredAt, v.PublishedTil = &r, &p
		}
		out = append(out, v)
	}
	return out
}

func keyView(k auth.Key, state issuer.KeyState) KeyView {
	return KeyView{KID: k.ID, Algorithm: k.Algorithm, State: string(state), CreatedAt: k.CreatedAt, SigningFrom: k.SigningFrom}
}

// NewKeyView is how a key made by a rotation is shown (the OpenAPI
// document's NewKey): whether it is next or active depends on when it is
// read, so it has no state.
type NewKeyView struct {
	KID         string    `json:"kid"`
	Algorithm   string    `json:"alg"`
	CreatedAt   time.Time `json:"created_at"`
	SigningFrom time.Time `json:"signing_from"`
}

// ViewNewKey returns the view of k, made by a rotation.
func ViewNewKey(k auth.Key) NewKeyView {
	return NewKeyView{KID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, SigningFrom: k.SigningFrom}
}

// RevokedKeyView is how a key revocation is shown (the OpenAPI document's
// RevokedKey).
type RevokedKeyView struct {
	// Revoked is the key removed, with the state it was in.
	Revoked KeyView `json:"revoked"`
	// Replacement is the key that signs in its place when the revoked key
	// was the active one; absent otherwise.
	Replacement *KeyView `json:"replacement,omitempty"`
	// Reason is the operator's, as given; absent when none was.
	Reason string `json:"reason,omitempty"`
}

// ViewRevokedKey returns the view of rk, revoked for reason.
func ViewRevokedKey(rk issuer.RevokedKey, reason string) RevokedKeyView {
	v := RevokedKeyView{Revoked: keyView(rk.Key, rk.State), Reason: reason}
	if k := rk.Replacement; k != nil {
		r := keyView(*k, issuer.KeyActive)
		v.Replacement = &r
	}
	return v
}

// AuditEventView is how an audit event is shown, by the CLI's JSON output
// and by the admin API alike (the OpenAPI document's AuditEvent): every
// member always present but source, which only changes made by apply
// have; the time in UTC, before and after null when there is nothing to
// show.
type AuditEventView struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetKind string          `json:"target_kind"`
	TargetID   string          `json:"target_id"`
	RemoteAddr string          `json:"remote_addr"`
	Source     string          `json:"source,omitempty"` // auth.AuditEvent.Source
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

// ViewAuditEvents returns the views of events, in their order; never nil.
func ViewAuditEvents(events []auth.AuditEvent) []AuditEventView {
	out := make([]AuditEventView, 0, len(events))
	for _, e := range events {
		out = append(out, AuditEventView{
			Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, TargetKind: e.TargetKind, TargetID: e.TargetID,
			RemoteAddr: e.RemoteAddr, Source: e.Source, Before: rawOrNull(e.Before), After: rawOrNull(e.After),
		})
	}
	return out
}

func rawOrNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || !json.Valid(m) {
		return json.RawMessage("null")
	}
	return m
}

func secretKind(hash string) string {
	switch credential.KindOf(hash) {
	case credential.KindSHA256:
		return "generated"
	case credential.KindArgon2id:
		return "imported"
	}
	return "unknown"
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
