package admin

import (
	"encoding/json"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/credential"
)

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
	Disabled    bool     `json:"disabled"`
	// AuthMethods is the configured list, empty for the default (every
	// method the client's credentials allow); AllowedAuthMethods is what
	// the client may use now, either way.
	AuthMethods        []string `json:"auth_methods"`
	AllowedAuthMethods []string `json:"allowed_auth_methods"`
	// JWKS is the client's public JWK Set, JWKSURI where it is fetched from.
	JWKS                json.RawMessage   `json:"jwks,omitempty"`
	JWKSURI             string            `json:"jwks_uri,omitempty"`
	Metadata            map[string]string `json:"metadata"`
	TokensRevokedBefore *time.Time        `json:"tokens_revoked_before,omitempty"`
	Secrets             []SecretView      `json:"secrets"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
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
		Metadata: c.Metadata,
	}
	for _, m := range auth.AuthMethods {
		if c.AllowsAuthMethod(m) {
			v.AllowedAuthMethods = append(v.AllowedAuthMethods, m)
		}
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
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
