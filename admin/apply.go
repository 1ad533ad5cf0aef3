package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authconfig"
	"github.com/gooclaim/auth/credential"
)

// ActorApply is the audit actor of every change an apply makes, whoever
// ran it: the file is the author; the audit source names the file (its
// digest) and, through the admin API, the client that sent it.
const ActorApply = "apply"

// ApplyOptions say how a configuration document is applied.
type ApplyOptions struct {
	// Prune deletes the clients and trusted issuers that an earlier apply
	// created or adopted and that the document no longer names. Objects
	// made by hand are never deleted.
	Prune bool
	// DryRun plans without writing.
	DryRun bool
	// GenerateSecrets allows `secret: {generate: true}` to make a secret
	// for a client that has none; the caller must hand the secrets of
	// Plan.GeneratedSecrets out (once) after the apply. Without it such a
	// client is a problem, so that no secret is made that nobody can read.
	GenerateSecrets bool
	// ResolveSecret returns the secret a client's from_file or from_env
	// source names; nil refuses such sources.
	ResolveSecret func(authconfig.Client) (string, error)
}

// Plan is what applying a document does (or did): one entry per object
// the document names or --prune deletes, in the order they are written.
type Plan struct {
	File    string       `json:"file"`
	Digest  string       `json:"digest"`
	Changed bool         `json:"changed"`
	Summary PlanSummary  `json:"summary"`
	Objects []PlanObject `json:"objects"`
	Applied bool         `json:"applied"` // written to the store (not a dry run, something to change)
	secrets []planSecret // generated secrets, handed out once by GeneratedSecrets
	batch   auth.Batch   // what Applied writes
}

// PlanSummary counts the objects by action.
type PlanSummary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Unchanged int `json:"unchanged"`
}

// Actions of a PlanObject.
const (
	PlanCreate    = "create"
	PlanUpdate    = "update"
	PlanDelete    = "delete"
	PlanUnchanged = "unchanged"
)

// PlanObject is one object's part of a plan.
type PlanObject struct {
	Kind   string `json:"kind"` // "issuer" or "client"
	ID     string `json:"id"`   // the issuer's name, the client's ID
	Action string `json:"action"`
	// Adopt is set when the apply takes over an object made by hand.
	Adopt bool `json:"adopt,omitempty"`
	// Unmanaged is set for an unchanged object made by hand that the
	// document names without adopting it: --prune would not delete it.
	Unmanaged bool          `json:"unmanaged,omitempty"`
	Fields    []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one setting's change, with the file's field names. Old
// is null for a created object, New for a deleted one; a secret is never
// shown, only what happens to it.
type FieldChange struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

type planSecret struct{ clientID, secret string }

// GeneratedSecrets returns the secrets the apply generated, by client ID:
// present only once the plan has been applied.
func (p *Plan) GeneratedSecrets() map[string]string {
	if !p.Applied || len(p.secrets) == 0 {
		return nil
	}
	m := make(map[string]string, len(p.secrets))
	for _, s := range p.secrets {
		m[s.clientID] = s.secret
	}
	return m
}

// maxApplyAttempts bounds how often Apply plans again after a concurrent
// change made its plan stale.
const maxApplyAttempts = 5

// Apply makes the store match doc: it plans, then writes the plan's
// changes in one transaction (auth.BatchStore), all or none. Nothing is
// written when the plan changes nothing, so a second apply of the same
// document leaves no audit event.
//
// A plan made stale by a concurrent write (another apply of the same
// document on another node, a change by hand) fails the transaction as a
// whole (ECONFLICT); Apply then plans again from the new state, so that
// two applies of one document end with one of them writing and the other
// finding nothing to do.
//
// The error is an *authconfig.Error for anything wrong with the document
// (every problem, each with its line), the store's error otherwise.
func (s *Service) Apply(ctx context.Context, doc *authconfig.Document, opts ApplyOptions) (*Plan, error) {
	for attempt := 1; ; attempt++ {
		p, err := s.plan(ctx, doc, opts)
		if err != nil || opts.DryRun || !p.Changed {
			return p, err
		}
		// The caller's identity (the admin client, the OS user of the
		// CLI) goes into the source: the actor is the file.
		a := auth.AuditFrom(ctx, "")
		a.Source = doc.Digest
		if a.Actor != "system" {
			a.Source += " via " + a.Actor
		}
		a.Actor, a.Action = ActorApply, ""
		err = s.Store.ApplyBatch(auth.WithAudit(ctx, a), p.batch)
		if err == nil {
			p.Applied = true
			return p, nil
		}
		if auth.ErrorCode(err) != auth.ECONFLICT || attempt == maxApplyAttempts {
			return nil, fmt.Errorf("apply %s: %w", doc.File, err)
		}
	}
}

// state is what the store holds, as a plan needs it.
type state struct {
	issuers map[string]*auth.TrustedIssuer
	clients map[string]*auth.Client
	// managed are the IDs of all clients an apply manages, and bound the
	// clients the document does not name by the issuers they are bound
	// to: read for --prune only.
	managed []string
	bound   map[string][]string
}

func (s *Service) loadState(ctx context.Context, doc *authconfig.Document, prune bool) (*state, error) {
	st := &state{issuers: map[string]*auth.TrustedIssuer{}, clients: map[string]*auth.Client{}, bound: map[string][]string{}}
	issuers, err := s.Store.ListIssuers(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range issuers {
		st.issuers[t.Name] = t
	}
	if prune {
		inDoc := make(map[string]bool, len(doc.Clients))
		for _, e := range doc.Clients {
			inDoc[e.Client.ID] = true
		}
		// Every client must be seen to find the managed ones the document
		// no longer names.
		for after := ""; ; {
			page, err := s.Store.ListClients(ctx, after, 1000)
			if err != nil {
				return nil, err
			}
			for _, c := range page {
				if c.ManagedBy == auth.ManagedByApply {
					st.managed = append(st.managed, c.ID)
				}
				if inDoc[c.ID] {
					st.clients[c.ID] = c
					continue
				}
				for _, f := range c.Federated {
					st.bound[f.Issuer] = append(st.bound[f.Issuer], c.ID)
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
		return st, nil
	}
	for _, e := range doc.Clients {
		c, err := s.Store.Client(ctx, e.Client.ID)
		if auth.ErrorCode(err) == auth.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		st.clients[c.ID] = c
	}
	return st, nil
}

// problems collects a document's semantic problems with their lines.
type problems struct {
	doc  *authconfig.Document
	list []authconfig.Problem
}

func (ps *problems) add(line int, object, field, msg string) {
	ps.list = append(ps.list, authconfig.Problem{File: ps.doc.File, Line: line, Object: object, Field: field, Message: msg})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return authconfig.NewError(ps.list)
}

// plan compares doc with the store and builds the batch that would make
// them match.
func (s *Service) plan(ctx context.Context, doc *authconfig.Document, opts ApplyOptions) (*Plan, error) {
	st, err := s.loadState(ctx, doc, opts.Prune)
	if err != nil {
		return nil, fmt.Errorf("plan %s: read the current state: %w", doc.File, err)
	}
	p := &Plan{File: doc.File, Digest: doc.Digest, Objects: []PlanObject{}}
	ps := &problems{doc: doc}
	named := map[string]bool{}
	for _, e := range doc.Issuers {
		named[e.Issuer.Name] = true
	}
	pruned := map[string]bool{}
	if opts.Prune {
		for name, t := range st.issuers {
			pruned[name] = t.ManagedBy == auth.ManagedByApply && !named[name]
		}
	}
	for i := range doc.Issuers {
		e := &doc.Issuers[i]
		s.planIssuer(p, ps, e, st.issuers[e.Issuer.Name])
	}
	verifier := credential.NewVerifier(0)
	for i := range doc.Clients {
		e := &doc.Clients[i]
		s.planClient(p, ps, e, st.clients[e.Client.ID], verifier, opts)
		for j, f := range e.Client.Federated {
			switch {
			case pruned[f.Issuer]:
				ps.add(e.FieldLine("federated"), clientObject(e.Client.ID), "federated",
					fmt.Sprintf("federated[%d]: the trusted issuer %q is no longer in this file and --prune would delete it", j, f.Issuer))
			case !named[f.Issuer] && st.issuers[f.Issuer] == nil:
				ps.add(e.FieldLine("federated"), clientObject(e.Client.ID), "federated",
					fmt.Sprintf("federated[%d]: no trusted issuer is named %q, in this file or in the store", j, f.Issuer))
			}
		}
	}
	if opts.Prune {
		planPrune(p, ps, doc, st, pruned)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	for _, o := range p.Objects {
		switch o.Action {
		case PlanCreate:
			p.Summary.Create++
		case PlanUpdate:
			p.Summary.Update++
		case PlanDelete:
			p.Summary.Delete++
		default:
			p.Summary.Unchanged++
		}
	}
	p.Changed = !p.batch.IsEmpty()
	return p, nil
}

func issuerObject(name string) string { return fmt.Sprintf("issuer %q", name) }
func clientObject(id string) string   { return fmt.Sprintf("client %q", id) }

func (s *Service) planIssuer(p *Plan, ps *problems, e *authconfig.Issuer, cur *auth.TrustedIssuer) {
	want := e.Issuer
	obj := issuerObject(want.Name)
	if msg := CheckIssuerName(want.Name); msg != "" {
		ps.add(e.FieldLine("name"), obj, "name", msg)
	}
	check := s
	if cur != nil && cur.Issuer == want.Issuer && cur.JWKSURI == want.JWKSURI && (len(cur.JWKS) == 0) == (len(want.JWKS) == 0) {
		// As UpdateIssuer: where the keys come from is unchanged, and was
		// judged when it was set.
		relaxed := *s
		relaxed.AllowHTTPJWKSURI, relaxed.AllowPrivateAddresses = true, true
		check = &relaxed
	}
	for _, msg := range check.CheckIssuer(want) {
		f := issuerProblemField(msg)
		ps.add(e.FieldLine(f), obj, f, msg)
	}
	if cur == nil {
		t := *want
		t.ManagedBy = auth.ManagedByApply
		p.batch.CreateIssuers = append(p.batch.CreateIssuers, &t)
		p.Objects = append(p.Objects, PlanObject{Kind: "issuer", ID: want.Name, Action: PlanCreate, Fields: diffFields(nil, issuerFields(&t))})
		return
	}
	fields := diffFields(issuerFields(cur), issuerFields(want))
	adopt, write := p.existing(ps, PlanObject{Kind: "issuer", ID: want.Name}, cur.ManagedBy, e.Adopt, e.Line, fields)
	if !write {
		return
	}
	t := *cur
	t.Issuer, t.JWKSURI, t.JWKS, t.Audience, t.MaxTokenAge, t.Disabled = want.Issuer, want.JWKSURI, want.JWKS, want.Audience, want.MaxTokenAge, want.Disabled
	t.ManagedBy = auth.ManagedByApply
	p.batch.UpdateIssuers = append(p.batch.UpdateIssuers, &t)
	p.Objects = append(p.Objects, PlanObject{Kind: "issuer", ID: want.Name, Action: PlanUpdate, Adopt: adopt, Fields: fields})
}

func (s *Service) planClient(p *Plan, ps *problems, e *authconfig.Client, cur *auth.Client, v *credential.Verifier, opts ApplyOptions) {
	want := normalizedClient(e.Client)
	obj := clientObject(want.ID)
	problemsBefore := len(ps.list)
	for _, msg := range checkClientID(want.ID) {
		ps.add(e.FieldLine("client_id"), obj, "client_id", msg)
	}
	for _, msg := range CheckTLSClientAuth(&want.TLSClientAuth) {
		f := tlsProblemField(want)
		ps.add(e.FieldLine(f), obj, f, msg)
	}
	now := s.now().UTC()
	var curSecrets []auth.Secret
	if cur != nil {
		curSecrets = liveSecrets(cur.Secrets, now)
	}
	secretChange := ""
	var generated string
	switch src := e.Secret; {
	case src.IsZero():
		if len(curSecrets) > 0 {
			secretChange = "removed"
		}
	case src.Generate:
		if len(curSecrets) > 0 {
			want.Secrets = curSecrets
			break
		}
		if !opts.GenerateSecrets {
			ps.add(e.FieldLine("secret"), obj, "secret", "a secret would be generated and nobody could read it: pass --secrets-out DIR (the apply writes each generated secret to DIR/CLIENT_ID, once), or give the secret with from_file or from_env")
			break
		}
		generated = credential.NewSecret()
		want.Secrets = []auth.Secret{{ID: credential.NewSecretID(), Hash: credential.HashGenerated(generated), CreatedAt: now}}
		secretChange = "generated"
	default:
		if opts.ResolveSecret == nil {
			ps.add(e.FieldLine("secret"), obj, "secret", "secrets from files or the environment are not read here: give the secret with the document (the CLI's --server does) or use generate")
			break
		}
		secret, err := opts.ResolveSecret(*e)
		if err != nil {
			ps.add(e.FieldLine("secret"), obj, "secret", err.Error())
			break
		}
		if cur != nil {
			probe := &auth.Client{ID: cur.ID, Secrets: curSecrets}
			if ok, err := v.Verify(probe, secret, now); err == nil && ok {
				want.Secrets = curSecrets
				break
			}
		}
		hash, err := credential.HashImported(secret)
		if err != nil {
			ps.add(e.FieldLine("secret"), obj, "secret", "client secret: "+err.Error())
			break
		}
		want.Secrets = []auth.Secret{{ID: credential.NewSecretID(), Hash: hash, CreatedAt: now}}
		secretChange = "replaced"
		if len(curSecrets) == 0 {
			secretChange = "set"
		}
	}
	if len(ps.list) > problemsBefore && len(want.Secrets) == 0 && !e.Secret.IsZero() {
		// The secret's own problem is reported; a stand-in keeps the
		// checks below from adding "it has no secret" to it.
		want.Secrets = []auth.Secret{{ID: "unresolved"}}
	}
	for _, msg := range s.checkClient(want) {
		f := clientProblemField(msg)
		ps.add(e.FieldLine(f), obj, f, msg)
	}
	if cur == nil {
		c := want.Clone()
		c.ManagedBy = auth.ManagedByApply
		c.CreatedAt, c.UpdatedAt = now, now
		p.batch.CreateClients = append(p.batch.CreateClients, c)
		fields := diffFields(nil, clientFields(c))
		if secretChange != "" {
			fields = append(fields, FieldChange{Field: "secret", Old: nil, New: secretChange})
		}
		p.Objects = append(p.Objects, PlanObject{Kind: "client", ID: want.ID, Action: PlanCreate, Fields: fields})
		if generated != "" {
			p.secrets = append(p.secrets, planSecret{want.ID, generated})
		}
		return
	}
	fields := diffFields(clientFields(cur), clientFields(want))
	if secretChange != "" {
		fields = append(fields, FieldChange{Field: "secret", Old: secretSummary(curSecrets), New: secretChange})
	}
	adopt, write := p.existing(ps, PlanObject{Kind: "client", ID: want.ID}, cur.ManagedBy, e.Adopt, e.Line, fields)
	if !write {
		return
	}
	c := cur.Clone()
	copySettings(c, want)
	c.Secrets = want.Secrets
	if want.Disabled && !cur.Disabled {
		// As UpdateClient: disabling revokes the tokens the client holds.
		c.TokensRevokedBefore = now
	}
	c.ManagedBy = auth.ManagedByApply
	p.batch.UpdateClients = append(p.batch.UpdateClients, c)
	p.Objects = append(p.Objects, PlanObject{Kind: "client", ID: want.ID, Action: PlanUpdate, Adopt: adopt, Fields: fields})
	if generated != "" {
		p.secrets = append(p.secrets, planSecret{want.ID, generated})
	}
}

// existing decides what becomes of an object that exists: unchanged, or
// updated (write), adopting it when an apply did not make it (adopt).
// One made by hand is changed only when its entry says adopt: true;
// otherwise a difference is a problem, and no difference leaves it as it
// is, unmanaged.
func (p *Plan) existing(ps *problems, o PlanObject, managedBy string, adoptAsked bool, line int, fields []FieldChange) (adopt, write bool) {
	adopt = managedBy != auth.ManagedByApply
	switch {
	case adopt && !adoptAsked && len(fields) > 0:
		ps.add(line, fmt.Sprintf("%s %q", o.Kind, o.ID), "", "exists and was made by hand: add `adopt: true` to this entry to let the file manage it (its settings then follow the file, and --prune may delete it once the entry is gone)")
		return false, false
	case adopt && !adoptAsked:
		o.Action, o.Unmanaged = PlanUnchanged, true
	case !adopt && len(fields) == 0:
		o.Action = PlanUnchanged
	default:
		return adopt, true
	}
	p.Objects = append(p.Objects, o)
	return false, false
}

// planPrune deletes the managed objects the document no longer names:
// clients first, then the issuers pruned, unless a client that stays is
// bound to one.
func planPrune(p *Plan, ps *problems, doc *authconfig.Document, st *state, pruned map[string]bool) {
	inDoc := map[string]bool{}
	for _, e := range doc.Clients {
		inDoc[e.Client.ID] = true
	}
	deleted := map[string]bool{}
	for _, id := range st.managed {
		if !inDoc[id] {
			deleted[id] = true
			p.batch.DeleteClients = append(p.batch.DeleteClients, id)
			p.Objects = append(p.Objects, PlanObject{Kind: "client", ID: id, Action: PlanDelete})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(pruned)) {
		if !pruned[name] {
			continue
		}
		for _, id := range st.bound[name] {
			if !deleted[id] {
				ps.add(0, issuerObject(name), "", fmt.Sprintf("--prune would delete this trusted issuer, which the file no longer names, but client %q (made by hand) is still bound to it: unbind it first (clients update %s --remove-federated …) or name the issuer in the file", id, id))
			}
		}
		p.batch.DeleteIssuers = append(p.batch.DeleteIssuers, name)
		p.Objects = append(p.Objects, PlanObject{Kind: "issuer", ID: name, Action: PlanDelete})
	}
}

// normalizedClient is the document's client as CreateClient would store
// it: lists without repeats, empty lists nil.
func normalizedClient(c *auth.Client) *auth.Client {
	n := c.Clone()
	n.Scopes = nilIfEmpty(dedupe(n.Scopes))
	n.Audiences = nilIfEmpty(dedupe(n.Audiences))
	n.AuthMethods = nilIfEmpty(dedupe(n.AuthMethods))
	n.ExchangeAudiences = nilIfEmpty(dedupe(n.ExchangeAudiences))
	n.Federated = dedupeFederated(n.Federated)
	if len(n.Metadata) == 0 {
		n.Metadata = nil
	}
	if len(n.JWKS) == 0 {
		n.JWKS = nil
	}
	if len(n.Quotas) == 0 {
		n.Quotas = nil
	}
	n.Claims = emptyMapNil(n.Claims)
	n.Secrets = nil
	return n
}

func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// copySettings sets every configured setting of dst to src's (not the
// ID, secrets or state such as incarnation and timestamps).
func copySettings(dst, src *auth.Client) {
	dst.Name, dst.Scopes, dst.Audiences, dst.TokenTTL, dst.RateLimit = src.Name, src.Scopes, src.Audiences, src.TokenTTL, src.RateLimit
	dst.Disabled, dst.AuthMethods, dst.JWKS, dst.JWKSURI, dst.Metadata = src.Disabled, src.AuthMethods, src.JWKS, src.JWKSURI, src.Metadata
	dst.Federated, dst.ExchangeAudiences = src.Federated, src.ExchangeAudiences
	dst.RequireDPoP, dst.RequireCertificateBoundTokens, dst.TLSClientAuth = src.RequireDPoP, src.RequireCertificateBoundTokens, src.TLSClientAuth
	dst.Quotas, dst.QuotaMode = src.Quotas, src.QuotaMode
	dst.Claims, dst.Condition, dst.TokenReuse = src.Claims, src.Condition, src.TokenReuse
}

// field is one setting with the file's name, its value as a plan shows it.
type field struct {
	name  string
	value any
}

// clientFields lists c's settings as the file names them; unset settings
// are nil so that they compare equal however they are stored.
func clientFields(c *auth.Client) []field {
	fed := make([]string, len(c.Federated))
	for i, f := range c.Federated {
		fed[i] = f.String()
	}
	return []field{
		{"name", str(c.Name)},
		{"scopes", list(c.Scopes)},
		{"audiences", list(c.Audiences)},
		{"token_ttl", duration(c.TokenTTL)},
		{"rate_limit", str(c.RateLimit.String())},
		{"quotas", list(auth.FormatQuotas(c.Quotas))},
		{"quota_mode", str(c.QuotaMode)},
		{"claims", metadata(c.Claims)},
		{"condition", str(c.Condition)},
		{"token_reuse", str(c.TokenReuse)},
		{"auth_methods", list(c.AuthMethods)},
		{"jwks", jsonValue(c.JWKS)},
		{"jwks_uri", str(c.JWKSURI)},
		{"metadata", metadata(c.Metadata)},
		{"disabled", flag(c.Disabled)},
		{"federated", list(fed)},
		{"exchange_audiences", list(c.ExchangeAudiences)},
		{"dpop_bound_access_tokens", flag(c.RequireDPoP)},
		{"tls_client_certificate_bound_access_tokens", flag(c.RequireCertificateBoundTokens)},
		{"tls_client_auth_subject_dn", str(c.TLSClientAuth.SubjectDN)},
		{"tls_client_auth_san_dns", str(c.TLSClientAuth.SANDNS)},
		{"tls_client_auth_san_uri", str(c.TLSClientAuth.SANURI)},
		{"tls_client_auth_san_ip", str(c.TLSClientAuth.SANIP)},
		{"tls_client_auth_san_email", str(c.TLSClientAuth.SANEmail)},
	}
}

func issuerFields(t *auth.TrustedIssuer) []field {
	return []field{
		{"issuer", str(t.Issuer)},
		{"jwks_uri", str(t.JWKSURI)},
		{"jwks", jsonValue(t.JWKS)},
		{"audience", str(t.Audience)},
		{"max_token_age", duration(t.MaxTokenAge)},
		{"disabled", flag(t.Disabled)},
	}
}

func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func list(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func flag(b bool) any {
	if !b {
		return nil
	}
	return true
}

func duration(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return auth.FormatDuration(d)
}

func metadata(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// jsonValue decodes a JWK Set so that two encodings of the same set
// compare equal; one that does not decode is compared as text.
func jsonValue(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

// diffFields lists the settings that differ between old and new (nil old:
// every set setting of new).
func diffFields(old, new []field) []FieldChange {
	var out []FieldChange
	for i, f := range new {
		var o any
		if old != nil {
			o = old[i].value
		}
		if f.value == nil && o == nil || reflect.DeepEqual(o, f.value) {
			continue
		}
		out = append(out, FieldChange{Field: f.name, Old: o, New: f.value})
	}
	return out
}

func secretSummary(l []auth.Secret) any {
	if len(l) == 0 {
		return nil
	}
	if len(l) == 1 {
		return "1 secret"
	}
	return fmt.Sprintf("%d secrets", len(l))
}

// clientProblemField is the file field a problem of checkClient is about,
// read from the problem's opening words ("" when it is the client's as a
// whole), so that its line can be shown.
func clientProblemField(msg string) string {
	for _, p := range []struct{ prefix, field string }{
		{"name", "name"}, {"scope", "scopes"}, {"audience", "audiences"}, {"token TTL", "token_ttl"},
		{"rate limit", "rate_limit"}, {"metadata", "metadata"}, {"federated", "federated"},
		{"exchange audience", "exchange_audiences"}, {"keys:", "jwks"}, {"jwks:", "jwks"}, {"jwks_uri", "jwks_uri"},
		{"auth method", "auth_methods"}, {"token reuse", "token_reuse"},
	} {
		if strings.HasPrefix(msg, p.prefix) {
			return p.field
		}
	}
	if strings.Contains(msg, "jwks_uri") {
		return "jwks_uri"
	}
	return ""
}

func issuerProblemField(msg string) string {
	for _, p := range []struct{ prefix, field string }{
		{"keys:", "jwks"}, {"jwks:", "jwks"}, {"audience", "audience"}, {"max token age", "max_token_age"},
	} {
		if strings.HasPrefix(msg, p.prefix) {
			return p.field
		}
	}
	if strings.Contains(msg, "jwks_uri") {
		return "jwks_uri"
	}
	return "issuer"
}

// tlsProblemField is the tls_client_auth_* field c sets (the first, when
// it sets several: the problem is then that it does).
func tlsProblemField(c *auth.Client) string {
	for _, f := range []struct{ v, name string }{
		{c.TLSClientAuth.SubjectDN, "tls_client_auth_subject_dn"}, {c.TLSClientAuth.SANDNS, "tls_client_auth_san_dns"},
		{c.TLSClientAuth.SANURI, "tls_client_auth_san_uri"}, {c.TLSClientAuth.SANIP, "tls_client_auth_san_ip"},
		{c.TLSClientAuth.SANEmail, "tls_client_auth_san_email"},
	} {
		if f.v != "" {
			return f.name
		}
	}
	return ""
}

// Export returns every client and trusted issuer as a configuration
// document (authconfig.Export): what plan and apply read.
func (s *Service) Export(ctx context.Context) ([]byte, error) {
	issuers, err := s.Store.ListIssuers(ctx)
	if err != nil {
		return nil, err
	}
	var clients []*auth.Client
	for after := ""; ; {
		page, err := s.Store.ListClients(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		clients = append(clients, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	return authconfig.Export(clients, issuers)
}
