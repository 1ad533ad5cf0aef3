package auth

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// AuditEvent is one change to clients, secrets, keys or revocations, as
// recorded by the store in the same transaction as the change itself, so
// that a change without its record (or the reverse) cannot exist. Events
// are only ever appended: no interface updates or deletes them.
type AuditEvent struct {
	Seq int64
	At  time.Time
	// Actor is who made the change: "client:<client_id>" through the admin
	// API, "cli:<OS user>" from the command line, "system" for the server's
	// own maintenance (scheduled key rotation).
	Actor string
	// Action is what was done, such as "client.create" (see the Action constants).
	Action string
	// TargetKind and TargetID name what changed: "client" and its ID,
	// "keys" and the new key's ID, "token" and its jti.
	TargetKind string
	TargetID   string
	// RemoteAddr is where the change came from: the API caller's address,
	// or the host name for the CLI.
	RemoteAddr string
	// Source is what the change came from beyond its actor: for changes
	// made by apply, the configuration file's digest ("sha256:<hex>"),
	// followed by " via " and who applied it ("cli:<OS user>",
	// "client:<id>" through the admin API, "serve:<host>" for a server's
	// configuration file); "" for the others.
	Source string
	// Before and After are JSON views of the target without any secret
	// (AuditClientView); null when it did not exist before or after.
	Before json.RawMessage
	After  json.RawMessage
}

// Actions recorded in the audit trail.
const (
	ActionClientCreate       = "client.create"
	ActionClientUpdate       = "client.update"
	ActionClientDisable      = "client.disable"
	ActionClientEnable       = "client.enable"
	ActionClientDelete       = "client.delete"
	ActionSecretRotate       = "client.rotate_secret"
	ActionSecretRevoke       = "client.revoke_secret"
	ActionClientRevokeTokens = "client.revoke_tokens"
	ActionKeysRotate         = "keys.rotate"
	ActionKeysRevoke         = "keys.revoke"
	ActionKeysUpdate         = "keys.update"
	ActionTokenRevoke        = "token.revoke"
	ActionIssuerCreate       = "issuer.create"
	ActionIssuerUpdate       = "issuer.update"
	ActionIssuerDelete       = "issuer.delete"
	// ActionQuotaExceeded is a client's first breach of a quota in a
	// window (actor "system"), recorded by the server with RecordEvent.
	ActionQuotaExceeded = "client.quota_exceeded"
)

// Audit says who is making a change and why; stores read it from the
// context of every write and record it with the change.
//
// It travels in the context rather than as a parameter so that every write
// path (CLI, admin API, the server's own maintenance) is recorded by the
// store inside the write's transaction, without each store method growing
// an argument that callers could forget.
type Audit struct {
	Actor      string
	Action     string // empty: the store's generic action for the write
	RemoteAddr string
	// Source is what the change came from beyond its actor: for changes
	// made by apply, the configuration file's digest ("sha256:<hex>"),
	// followed by " via " and who applied it. Recorded as
	// AuditEvent.Source.
	Source string
}

type auditKey struct{}

// WithAudit returns a context whose writes are recorded as made by a.
func WithAudit(ctx context.Context, a Audit) context.Context {
	return context.WithValue(ctx, auditKey{}, a)
}

// AuditFrom returns the Audit of ctx; without one, the actor is "system"
// and the action is def.
func AuditFrom(ctx context.Context, def string) Audit {
	a, _ := ctx.Value(auditKey{}).(Audit)
	if a.Actor == "" {
		a.Actor = "system"
	}
	if a.Action == "" {
		a.Action = def
	}
	return a
}

// AuditQuery selects audit events; zero fields select everything.
type AuditQuery struct {
	After    int64 // events with Seq > After (pagination)
	Limit    int   // at most this many; 0 means 100, at most 1000
	TargetID string
	Actor    string
	Action   string
	Since    time.Time // At >= Since
	Until    time.Time // At < Until
}

// AuditLog reads the audit trail.
type AuditLog interface {
	// AuditEvents returns the events q selects, in Seq order.
	AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// RecordEvent appends e, an event that goes with no change the store
	// makes (such as ActionQuotaExceeded, a client's quota breach noticed
	// by the server), at the store's time; e's Seq and At are ignored.
	RecordEvent(ctx context.Context, e AuditEvent) error
}

// NormalizedLimit is q.Limit with its default and bound applied.
func (q AuditQuery) NormalizedLimit() int {
	switch {
	case q.Limit <= 0:
		return 100
	case q.Limit > 1000:
		return 1000
	}
	return q.Limit
}

// Matches reports whether e is selected by q (apart from Limit), for stores
// that filter in Go and for tests.
func (q AuditQuery) Matches(e AuditEvent) bool {
	return e.Seq > q.After &&
		(q.TargetID == "" || e.TargetID == q.TargetID) &&
		(q.Actor == "" || e.Actor == q.Actor) &&
		(q.Action == "" || e.Action == q.Action) &&
		(q.Since.IsZero() || !e.At.Before(q.Since)) &&
		(q.Until.IsZero() || e.At.Before(q.Until))
}

// auditClient is the audit view of a client: everything but secret hashes.
type auditClient struct {
	ID                  string            `json:"client_id"`
	Incarnation         string            `json:"incarnation,omitempty"`
	Name                string            `json:"name"`
	Scopes              []string          `json:"scopes"`
	Audiences           []string          `json:"audiences"`
	TokenTTL            string            `json:"token_ttl,omitempty"`
	RateLimit           string            `json:"rate_limit,omitempty"`
	Quotas              []string          `json:"quotas,omitempty"`
	QuotaMode           string            `json:"quota_mode,omitempty"`
	Disabled            bool              `json:"disabled"`
	AuthMethods         []string          `json:"auth_methods,omitempty"`
	JWKS                json.RawMessage   `json:"jwks,omitempty"`
	JWKSURI             string            `json:"jwks_uri,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	Claims              map[string]string `json:"claims,omitempty"`
	Condition           string            `json:"condition,omitempty"`
	TokenReuse          string            `json:"token_reuse,omitempty"`
	TokensRevokedBefore *time.Time        `json:"tokens_revoked_before,omitempty"`
	Federated           []string          `json:"federated,omitempty"`
	ExchangeAudiences   []string          `json:"exchange_audiences,omitempty"`
	RequireDPoP         bool              `json:"require_dpop,omitempty"`
	RequireCertBound    bool              `json:"require_certificate_bound_tokens,omitempty"`
	TLSSubjectDN        string            `json:"tls_client_auth_subject_dn,omitempty"`
	TLSSANDNS           string            `json:"tls_client_auth_san_dns,omitempty"`
	TLSSANURI           string            `json:"tls_client_auth_san_uri,omitempty"`
	TLSSANIP            string            `json:"tls_client_auth_san_ip,omitempty"`
	TLSSANEmail         string            `json:"tls_client_auth_san_email,omitempty"`
	ManagedBy           string            `json:"managed_by,omitempty"`
	Secrets             []auditSecret     `json:"secrets"`
}

type auditSecret struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// AuditClientView is the JSON recorded for a client in the audit trail:
// every setting, and of its secrets only their IDs and times — never a
// hash. Nil gives null.
func AuditClientView(c *Client) json.RawMessage {
	if c == nil {
		return json.RawMessage("null")
	}
	v := auditClient{
		ID: c.ID, Incarnation: c.Incarnation, Name: c.Name, Scopes: nonNilStrings(c.Scopes), Audiences: nonNilStrings(c.Audiences),
		Disabled: c.Disabled, AuthMethods: c.AuthMethods, JWKSURI: c.JWKSURI, Metadata: c.Metadata,
		ExchangeAudiences: c.ExchangeAudiences, Secrets: []auditSecret{},
		RequireDPoP: c.RequireDPoP, RequireCertBound: c.RequireCertificateBoundTokens,
		TLSSubjectDN: c.TLSClientAuth.SubjectDN, TLSSANDNS: c.TLSClientAuth.SANDNS, TLSSANURI: c.TLSClientAuth.SANURI,
		TLSSANIP: c.TLSClientAuth.SANIP, TLSSANEmail: c.TLSClientAuth.SANEmail, ManagedBy: c.ManagedBy,
		Quotas: FormatQuotas(c.Quotas), QuotaMode: c.QuotaMode, Claims: c.Claims, Condition: c.Condition,
		TokenReuse: c.TokenReuse,
	}
	for _, f := range c.Federated {
		v.Federated = append(v.Federated, f.String())
	}
	if c.TokenTTL != 0 {
		v.TokenTTL = FormatDuration(c.TokenTTL)
	}
	if !c.RateLimit.IsZero() {
		v.RateLimit = c.RateLimit.String()
	}
	if json.Valid(c.JWKS) {
		v.JWKS = c.JWKS
	}
	if !c.TokensRevokedBefore.IsZero() {
		t := c.TokensRevokedBefore.UTC()
		v.TokensRevokedBefore = &t
	}
	for _, s := range c.Secrets {
		as := auditSecret{ID: s.ID, CreatedAt: s.CreatedAt.UTC()}
		if !s.ExpiresAt.IsZero() {
			t := s.ExpiresAt.UTC()
			as.ExpiresAt = &t
		}
		v.Secrets = append(v.Secrets, as)
	}
	b, _ := json.Marshal(v)
	return b
}

// auditKey is the audit view of a signing key: public facts only.
type auditKeyView struct {
	ID          string    `json:"kid"`
	Algorithm   string    `json:"alg"`
	CreatedAt   time.Time `json:"created_at"`
	SigningFrom time.Time `json:"signing_from"`
}

// AuditKeysView is the JSON recorded for a key set: IDs, algorithms and
// times, never key material.
func AuditKeysView(keys []Key) json.RawMessage {
	v := make([]auditKeyView, 0, len(keys))
	for _, k := range keys {
		v = append(v, auditKeyView{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt.UTC(), SigningFrom: k.SigningFrom.UTC()})
	}
	b, _ := json.Marshal(v)
	return b
}

// AuditRevocationView is the JSON recorded for a revoked token.
func AuditRevocationView(r RevokedToken) json.RawMessage {
	b, _ := json.Marshal(struct {
		JTI       string    `json:"jti"`
		ClientID  string    `json:"client_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}{r.JTI, r.ClientID, r.ExpiresAt.UTC()})
	return b
}

func nonNilStrings(l []string) []string {
	if l == nil {
		return []string{}
	}
	return slices.Clone(l)
}
