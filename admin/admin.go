// Package admin is the management use cases — create, change, disable and
// delete clients, rotate keys — shared by the CLI and the admin API so that
// they can never disagree. It validates input, makes credentials, and calls
// the store; it knows neither HTTP nor SQL.
package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	auth "github.com/gooclaim/gooclaim-auth"
	"github.com/gooclaim/gooclaim-auth/credential"
	"github.com/gooclaim/gooclaim-auth/issuer"
)

// Service runs the management use cases.
type Service struct {
	Store auth.Store
	// Keys rotates signing keys; nil when the caller has no key-encryption key.
	Keys  *issuer.KeyRing
	Clock auth.Clock
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
	// Secret is empty for a generated secret; set it to import an existing one
	// (it is then hashed with argon2id, as it may be weak).
	Secret string
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
	problems = append(problems, checkSettings(spec.Name, spec.Scopes, spec.Audiences, spec.TokenTTL, spec.RateLimit)...)
	secret, hash := spec.Secret, ""
	if secret == "" {
		secret = credential.NewSecret()
		hash = credential.HashGenerated(secret)
	} else if h, err := credential.HashImported(secret); err != nil {
		problems = append(problems, "client secret: "+err.Error())
	} else {
		hash = h
	}
	if len(problems) > 0 {
		return nil, "", invalid(problems)
	}
	now := s.now().UTC()
	c := &auth.Client{
		ID:        spec.ID,
		Name:      spec.Name,
		Scopes:    dedupe(spec.Scopes),
		Audiences: dedupe(spec.Audiences),
		TokenTTL:  spec.TokenTTL,
		RateLimit: spec.RateLimit,
		Secrets:   []auth.Secret{{ID: credential.NewSecretID(), Hash: hash, CreatedAt: now}},
		CreatedAt: now,
		UpdatedAt: now,
	}
	if c.ID == "" {
		c.ID = credential.NewClientID()
	}
	if err := s.Store.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// ClientUpdate lists the settings to change; nil fields are left alone.
type ClientUpdate struct {
	Name      *string
	Scopes    *[]string
	Audiences *[]string
	TokenTTL  *time.Duration
	RateLimit *auth.Rate
	Disabled  *bool
}

// UpdateClient applies u to the client with the given ID.
func (s *Service) UpdateClient(ctx context.Context, id string, u ClientUpdate) (*auth.Client, error) {
	return s.Store.UpdateClient(ctx, id, func(c *auth.Client) error {
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
		if u.Disabled != nil {
			c.Disabled = *u.Disabled
		}
		if p := checkSettings(c.Name, c.Scopes, c.Audiences, c.TokenTTL, c.RateLimit); len(p) > 0 {
			return invalid(p)
		}
		return nil
	})
}

// SetDisabled disables or re-enables a client.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) (*auth.Client, error) {
	return s.UpdateClient(ctx, id, ClientUpdate{Disabled: &disabled})
}

// DeleteClient deletes a client and its secrets.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	return s.Store.DeleteClient(ctx, id)
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

// RotateKeys adds a new signing key that signs after publishAhead (the
// policy's default when negative).
func (s *Service) RotateKeys(ctx context.Context, publishAhead time.Duration) (auth.Key, error) {
	if s.Keys == nil {
		return auth.Key{}, errors.New("rotating keys needs the key-encryption key")
	}
	return s.Keys.Rotate(ctx, publishAhead)
}

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
