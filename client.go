package auth

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"slices"
	"time"
)

// Client is a machine client registered to obtain access tokens.
type Client struct {
	ID string
	// Incarnation tells this client apart from earlier clients that had
	// the same ID and were deleted: a random value the store gives every
	// client it creates, never changed afterwards. Tokens carry it (the
	// client_incarnation claim), and a token whose incarnation is not the
	// client's current one is not accepted, so deleting a client and
	// creating another with its ID never revives the old tokens. Clients
	// stored before incarnations existed have "", which matches tokens
	// without the claim.
	Incarnation string
	Name        string
	// Scopes the client may be granted. A token request without `scope` gets all of them.
	Scopes []string
	// Audiences the client may ask for with `resource` or `audience`; the first
	// is the default. Empty means the server's default audience only.
	Audiences []string
	// TokenTTL overrides the server's token lifetime when non-zero.
	TokenTTL time.Duration
	// RateLimit overrides the server's per-client rate limit when non-zero.
	RateLimit Rate
	// Quotas bound the tokens issued to the client per fixed UTC window
	// (per hour, per day: ParseQuota), at most one per window length;
	// empty means the server's default quotas, if any.
	Quotas []Rate
	// QuotaMode is QuotaEnforce (refuse past a quota) or QuotaWarn (issue,
	// and log, count and audit the breach).
	QuotaMode string
	// Claims are CEL expressions by claim name (package policy) whose
	// values the client's tokens carry, over the server's default claims;
	// nil for none.
	Claims map[string]string
	// Condition is a CEL expression that must be true for the client to
	// obtain a token; empty for none.
	Condition string
	// TokenReuse is ReuseOn, ReuseOff or ReuseDefault (the server's
	// setting): whether a request for what a live token of the client
	// already grants gets that token again rather than a new one.
	TokenReuse string
	// Disabled clients cannot obtain tokens; they are kept for audit and re-enabling.
	Disabled bool
	// Secrets are the hashes of the client's live secrets (at most two during a rotation).
	Secrets []Secret
	// AuthMethods are the client authentication methods it may use (AuthClientSecretBasic,
	// AuthClientSecretPost, AuthPrivateKeyJWT, AuthFederatedJWT). Empty means every method its
	// credentials allow: the secret methods when it has a secret,
	// private_key_jwt when it has public keys, federated_jwt when it has
	// federated identities.
	AuthMethods []string
	// JWKS is the client's public JWK Set (RFC 7517) for private_key_jwt,
	// as JSON; JWKSURI is where to fetch it instead. At most one is set.
	JWKS    []byte
	JWKSURI string
	// Federated are the subjects of trusted issuers whose tokens
	// authenticate the client instead of a secret or a key of its own.
	Federated []FederatedIdentity
	// ExchangeAudiences are the audiences the client may obtain, acting
	// for the subject of one of our access tokens, by token exchange (RFC
	// 8693 delegation); empty means it may not delegate.
	ExchangeAudiences []string
	// RequireDPoP refuses the client's token requests without a DPoP proof
	// (RFC 9449 §5): every token it gets is DPoP-bound.
	RequireDPoP bool
	// RequireCertificateBoundTokens refuses the client's token requests
	// without a client certificate on the connection (RFC 8705 §3): every
	// token it gets is bound to its certificate.
	RequireCertificateBoundTokens bool
	// TLSClientAuth is what its certificate must name for tls_client_auth
	// (RFC 8705 §2.1); zero when it does not use that method.
	TLSClientAuth TLSClientAuth
	// ManagedBy is ManagedByApply when a configuration file manages the
	// client, "" when it was made by hand.
	ManagedBy string
	// Metadata is free-form information for people (owner, contact,
	// description, …); the server gives it no meaning.
	Metadata map[string]string
	// TokensRevokedBefore revokes every token of the client issued at or
	// before it ("revoke all"); zero means none.
	TokensRevokedBefore time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// AllowsAuthMethod reports whether the client may authenticate with method m.
func (c *Client) AllowsAuthMethod(m string) bool {
	if len(c.AuthMethods) > 0 {
		return slices.Contains(c.AuthMethods, m)
	}
	switch m {
	case AuthClientSecretBasic, AuthClientSecretPost:
		return len(c.Secrets) > 0
	case AuthPrivateKeyJWT:
		return c.HasPublicKeys()
	case AuthFederatedJWT:
		return len(c.Federated) > 0
	case AuthTLSClientAuth:
		return !c.TLSClientAuth.IsZero()
	case AuthSelfSignedTLSClientAuth:
		return len(c.JWKS) > 0 || c.JWKSURI != ""
	}
	return false
}

// HasPublicKeys reports whether the client registered keys for private_key_jwt.
func (c *Client) HasPublicKeys() bool { return len(c.JWKS) > 0 || c.JWKSURI != "" }

// TokenRevoked reports whether a token of the client issued at iat (Unix
// seconds) is revoked by TokensRevokedBefore. A token's iat has a resolution
// of one second, so tokens issued within the second of a revoke-all are
// revoked too: revoking slightly too much is the safe side.
func (c *Client) TokenRevoked(iat int64) bool {
	return !c.TokensRevokedBefore.IsZero() && iat <= c.TokensRevokedBefore.Unix()
}

// NewIncarnation returns a fresh Incarnation: 96 random bits, base64url.
func NewIncarnation() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Clone returns a deep copy, so that a cached client can be handed out and
// changed without touching the cache.
func (c *Client) Clone() *Client {
	if c == nil {
		return nil
	}
	d := *c
	d.Scopes = slices.Clone(c.Scopes)
	d.Audiences = slices.Clone(c.Audiences)
	d.Secrets = slices.Clone(c.Secrets)
	d.AuthMethods = slices.Clone(c.AuthMethods)
	d.JWKS = slices.Clone(c.JWKS)
	d.Federated = slices.Clone(c.Federated)
	d.ExchangeAudiences = slices.Clone(c.ExchangeAudiences)
	d.Metadata = maps.Clone(c.Metadata)
	d.Quotas = slices.Clone(c.Quotas)
	d.Claims = maps.Clone(c.Claims)
	return &d
}

// Secret is one client secret, stored only as a hash.
type Secret struct {
	// ID identifies the secret within its client (for rotation and display); never the secret itself.
	ID string
	// Hash is the encoded hash, self-describing: "sha256:<base64url>" for
	// generated high-entropy secrets, a PHC "$argon2id$…" string for imported ones.
	Hash      string
	CreatedAt time.Time
	// ExpiresAt ends a secret's life (the grace period of a rotation); zero means never.
	ExpiresAt time.Time
}

// Live reports whether the secret may still authenticate at t.
func (s Secret) Live(t time.Time) bool { return s.ExpiresAt.IsZero() || t.Before(s.ExpiresAt) }

// CheckStorable checks what every ClientStore relies on: an ID, and secrets
// with distinct, non-empty IDs. Violations are EINVALID errors.
func (c *Client) CheckStorable() error {
	if c == nil || c.ID == "" {
		return Errorf(EINVALID, "the client ID is empty")
	}
	seen := make(map[string]bool, len(c.Secrets))
	for _, s := range c.Secrets {
		if s.ID == "" {
			return Errorf(EINVALID, "client %q: a secret has an empty ID", c.ID)
		}
		if seen[s.ID] {
			return Errorf(EINVALID, "client %q: two secrets have the ID %q", c.ID, s.ID)
		}
		seen[s.ID] = true
	}
	bound := make(map[FederatedIdentity]bool, len(c.Federated))
	for _, f := range c.Federated {
		if f.Issuer == "" || f.Subject == "" {
			return Errorf(EINVALID, "client %q: a federated identity needs both an issuer name and a subject, not %q", c.ID, f.String())
		}
		if bound[f] {
			return Errorf(EINVALID, "client %q: the federated identity %q is listed twice", c.ID, f.String())
		}
		bound[f] = true
	}
	n := 0
	for _, v := range []string{c.TLSClientAuth.SubjectDN, c.TLSClientAuth.SANDNS, c.TLSClientAuth.SANURI, c.TLSClientAuth.SANIP, c.TLSClientAuth.SANEmail} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return Errorf(EINVALID, "client %q: tls_client_auth names %d certificate fields; register exactly one (the subject DN or one SAN, RFC 8705 §2.1.2)", c.ID, n)
	}
	for _, a := range c.ExchangeAudiences {
		if a == "" {
			return Errorf(EINVALID, "client %q: an exchange audience is empty", c.ID)
		}
	}
	return nil
}

// StampSecrets sets the zero CreatedAt of the client's secrets to now.
func (c *Client) StampSecrets(now time.Time) {
	for i := range c.Secrets {
		if c.Secrets[i].CreatedAt.IsZero() {
			c.Secrets[i].CreatedAt = now
		}
	}
}
