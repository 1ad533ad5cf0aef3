package auth

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// TrustedIssuer is an identity provider outside this server whose signed
// tokens (JWTs) may authenticate clients: a Kubernetes cluster's service
// account issuer, GitHub Actions' or GitLab CI's OIDC issuer, a SPIFFE
// trust domain. A client bound to one of its subjects (FederatedIdentity)
// proves who it is with a token of that issuer and holds no secret of ours
// (RFC 7523 §2.2 client assertions, RFC 8693 subject tokens).
type TrustedIssuer struct {
	// Name is how clients and people refer to the issuer ("k8s-prod",
	// "github"); it never changes.
	Name string
	// Issuer is the "iss" its tokens carry, compared exactly, such as
	// "https://token.actions.githubusercontent.com". Two trusted issuers
	// never share one.
	Issuer string
	// JWKSURI is where its public keys are fetched; JWKS is its JWK Set
	// (RFC 7517) as JSON, for issuers this server cannot reach. With
	// neither, the keys are found through the issuer's OpenID discovery
	// document (Issuer + "/.well-known/openid-configuration", jwks_uri).
	JWKSURI string
	JWKS    []byte
	// Audience is the "aud" its tokens must carry; empty means this
	// server's issuer identifier or its token endpoint's URL (RFC 7523 §3).
	Audience string
	// MaxTokenAge bounds how long after its "iat" a token is accepted,
	// whatever its "exp"; zero means DefaultMaxTokenAge.
	MaxTokenAge time.Duration
	// Disabled issuers authenticate no one; their bindings are kept.
	Disabled bool
	// ManagedBy is ManagedByApply when a configuration file manages the
	// issuer, "" when it was made by hand.
	ManagedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultMaxTokenAge is a TrustedIssuer's MaxTokenAge when it sets none:
// Kubernetes' default projected token lives an hour.
const DefaultMaxTokenAge = time.Hour

// TokenAgeLimit is the issuer's MaxTokenAge, or DefaultMaxTokenAge.
func (t *TrustedIssuer) TokenAgeLimit() time.Duration {
	if t.MaxTokenAge > 0 {
		return t.MaxTokenAge
	}
	return DefaultMaxTokenAge
}

// Clone returns a deep copy.
func (t *TrustedIssuer) Clone() *TrustedIssuer {
	if t == nil {
		return nil
	}
	d := *t
	d.JWKS = slices.Clone(t.JWKS)
	return &d
}

// FederatedIdentity binds a client to one subject of a trusted issuer: a
// token of that issuer (by its Name) whose "sub" is Subject, compared
// exactly, authenticates the client. An (Issuer, Subject) pair belongs to
// at most one client.
type FederatedIdentity struct {
	Issuer  string
	Subject string
}

// String is "issuer=subject", as the command line writes it.
func (f FederatedIdentity) String() string { return f.Issuer + "=" + f.Subject }

// IssuerStore keeps the trusted issuers. Every write appends an AuditEvent
// (auth.ActionIssuer…) and a ChangeIssuer change in its transaction.
type IssuerStore interface {
	// CreateIssuer stores a new trusted issuer. ECONFLICT when its Name or
	// its Issuer is taken.
	CreateIssuer(ctx context.Context, t *TrustedIssuer) error
	// TrustedIssuer returns the issuer named name. ENOTFOUND when there is none.
	TrustedIssuer(ctx context.Context, name string) (*TrustedIssuer, error)
	// ListIssuers returns every trusted issuer, by Name.
	ListIssuers(ctx context.Context) ([]*TrustedIssuer, error)
	// UpdateIssuer loads the issuer, lets fn change it and saves the result
	// in one transaction; Name and CreatedAt cannot change. ENOTFOUND when
	// there is none, ECONFLICT when the new Issuer is another's.
	UpdateIssuer(ctx context.Context, name string, fn func(*TrustedIssuer) error) (*TrustedIssuer, error)
	// DeleteIssuer removes the issuer. ENOTFOUND when there is none;
	// ECONFLICT, naming them, while clients are bound to it.
	DeleteIssuer(ctx context.Context, name string) error
}

// Federation is what the token endpoint needs to authenticate a federated
// client: the in-memory replica implements it, so that it costs no query.
// The values returned are shared and must not be modified.
type Federation interface {
	// IssuerByURL returns the trusted issuer whose Issuer is iss, nil if none.
	IssuerByURL(iss string) *TrustedIssuer
	// FederatedClient returns the client bound to subject of the issuer
	// named issuer, nil if none.
	FederatedClient(issuer, subject string) *Client
}

// auditIssuer is the audit view of a trusted issuer (nothing in it is secret).
type auditIssuer struct {
	Name        string          `json:"name"`
	Issuer      string          `json:"issuer"`
	JWKSURI     string          `json:"jwks_uri,omitempty"`
	JWKS        json.RawMessage `json:"jwks,omitempty"`
	Audience    string          `json:"audience,omitempty"`
	MaxTokenAge string          `json:"max_token_age,omitempty"`
	Disabled    bool            `json:"disabled"`
	ManagedBy   string          `json:"managed_by,omitempty"`
}

// AuditIssuerView is the JSON recorded for a trusted issuer in the audit
// trail. Nil gives null.
func AuditIssuerView(t *TrustedIssuer) json.RawMessage {
	if t == nil {
		return json.RawMessage("null")
	}
	v := auditIssuer{Name: t.Name, Issuer: t.Issuer, JWKSURI: t.JWKSURI, Audience: t.Audience, Disabled: t.Disabled, ManagedBy: t.ManagedBy}
	if json.Valid(t.JWKS) {
		v.JWKS = t.JWKS
	}
	if t.MaxTokenAge != 0 {
		v.MaxTokenAge = FormatDuration(t.MaxTokenAge)
	}
	b, _ := json.Marshal(v)
	return b
}
