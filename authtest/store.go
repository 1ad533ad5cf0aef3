package authtest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// RunStoreTests runs the conformance suite of auth.Store: every backend's
// test calls it. newStore must return an empty store, ready for use, and
// close it when the test ends (t.Cleanup); each subtest gets its own.
//
// Beyond the interface's documentation the suite requires that times read
// back are in UTC and Equal to those written (the times it writes have
// microsecond precision; times a store sets itself, such as CreatedAt and
// UpdatedAt, must be returned as the store keeps them), that empty lists
// read back as empty (nil or not) — but a client's AuthMethods, JWKS and
// Metadata as nil —, that a client's secrets are ordered by CreatedAt, then
// ID, that its federated identities keep their order, that a trusted
// issuer's empty JWKS reads back as nil, and that RevokeToken refuses a revocation without a JTI or an expiry
// (EINVALID). Audit events must have the At of their write (for a client,
// its new UpdatedAt), in UTC, and the Source of its context; their Before
// and After are compared as JSON values, nil counting as null.
//
// ApplyBatch (auth.BatchStore) must write a batch as one transaction, in
// the order of auth.Batch's fields, each object checked, stored and
// recorded (one audit event, one change) as its single-object method does
// it — but with its kind's generic action whatever the context's Action,
// and with every object of the batch at the same time, the batch's. An
// updated object whose stored UpdatedAt is not the one it carries fails
// with ECONFLICT. On success the times, incarnations and new secrets'
// times the store set are written back into the batch's objects; on any
// failure nothing is written (no object, event or change) and the
// error's code is the single-object method's, its domain message
// (auth.ErrorMessage) naming the object: client "id" or trusted issuer
// "name".
//
// A store that is a ClientCache must keep its copy in step with what is
// written through it (see ClientCache).
func RunStoreTests(t *testing.T, newStore func(t *testing.T) auth.Store) {
	tests := []struct {
		name       string
		run        func(*testing.T, auth.Store)
		concurrent bool // writes from several goroutines
	}{
		{"ClientRoundTrip", testClientRoundTrip, false},
		{"ClientEmptyFields", testClientEmptyFields, false},
		{"CreateClientConflict", testCreateClientConflict, false},
		{"MissingClient", testMissingClient, false},
		{"UpdateClient", testUpdateClient, false},
		{"UpdateClientConcurrently", testUpdateClientConcurrently, true},
		{"DeleteClient", testDeleteClient, false},
		{"ClientIncarnation", testClientIncarnation, false},
		{"ListClients", testListClients, false},
		{"UpdateKeys", testUpdateKeys, false},
		{"UpdateKeysImmutable", testUpdateKeysImmutable, false},
		{"UpdateKeysError", testUpdateKeysError, false},
		{"UpdateKeysConcurrently", testUpdateKeysConcurrently, true},
		{"ChangeFeed", testChangeFeed, false},
		{"RevokeToken", testRevokeToken, false},
		{"RevokeTokenInvalid", testRevokeTokenInvalid, false},
		{"PruneRevocations", testPruneRevocations, false},
		{"AuditWrites", testAuditWrites, false},
		{"AuditQuery", testAuditQuery, false},
		{"AuditLimit", testAuditLimit, false},
		{"AuditConcurrentUpdates", testAuditConcurrentUpdates, true},
		{"RecordEvent", testRecordEvent, false},
		{"IssuerRoundTrip", testIssuerRoundTrip, false},
		{"IssuerConflicts", testIssuerConflicts, false},
		{"MissingIssuer", testMissingIssuer, false},
		{"FederatedClients", testFederatedClients, false},
		{"FederatedConflicts", testFederatedConflicts, false},
		{"DeleteBoundIssuer", testDeleteBoundIssuer, false},
		{"IssuerAuditAndChanges", testIssuerAuditAndChanges, false},
		{"SenderConstrainedClients", testSenderConstrainedClients, false},
		{"BatchManagedBy", testBatchManagedBy, false},
		{"BatchEveryKind", testBatchEveryKind, false},
		{"BatchAtomic", testBatchAtomic, false},
		{"BatchOptimistic", testBatchOptimistic, false},
		{"BatchDeleteIssuerWithClient", testBatchDeleteIssuerWithClient, false},
		{"BatchConcurrentCreate", testBatchConcurrentCreate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			cache, ok := s.(ClientCache)
			if !ok {
				tt.run(t, s)
				return
			}
			checker := &cacheChecker{ClientCache: cache, t: t, concurrent: tt.concurrent}
			tt.run(t, checker)
			checker.checkAll()
		})
	}
}

// someTime returns a time with microsecond precision, in a zone other than
// UTC, sec seconds after a fixed instant in the past.
func someTime(sec int) time.Time {
	zone := time.FixedZone("UTC+2", 2*60*60)
	return time.Date(2001, 2, 3, 4, 5, 6, 789_012_000, zone).Add(time.Duration(sec) * time.Second)
}

// fullClient returns a client with every field set.
func fullClient(id string) *auth.Client {
	return &auth.Client{
		ID:                            id,
		Name:                          "Client " + id,
		Scopes:                        []string{"read", "write:all"},
		Audiences:                     []string{"https://api.example.com", "urn:example:billing"},
		TokenTTL:                      90 * time.Second,
		RateLimit:                     auth.Rate{Limit: 60, Window: time.Minute},
		Disabled:                      true,
		AuthMethods:                   []string{auth.AuthClientSecretBasic, auth.AuthPrivateKeyJWT},
		JWKS:                          []byte(`{"keys": [{"kty":"OKP","crv":"Ed25519","kid":"` + id + `-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
		Metadata:                      map[string]string{"owner": "team-billing", "contact": "billing@example.com", "note": "é ✓ \"quoted\" {}"},
		ExchangeAudiences:             []string{"https://downstream.example.com", "urn:example:ledger"},
		RequireDPoP:                   true,
		RequireCertificateBoundTokens: true,
		TLSClientAuth:                 auth.TLSClientAuth{SubjectDN: "CN=" + id + ",OU=Billing,O=Gooclaim\\, Inc.,C=DE"},
		TokensRevokedBefore:           someTime(4),
		ManagedBy:                     auth.ManagedByApply,
		Quotas:                        []auth.Rate{{Limit: 1000, Window: time.Hour}, {Limit: 10000, Window: 24 * time.Hour}},
		QuotaMode:                     auth.QuotaWarn,
		Claims:                        map[string]string{"tenant": "client.metadata.tenant", "env": `has(client.metadata.env) ? client.metadata.env : null`},
		Condition:                     `ip_in(request.remote_ip, ["10.0.0.0/8", "2001:db8::/32"])`,
		TokenReuse:                    auth.ReuseOn,
		Secrets: []auth.Secret{
			{ID: "s1", Hash: "sha256:AAAA", CreatedAt: someTime(1), ExpiresAt: someTime(3600)},
			{ID: "s2", Hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", CreatedAt: someTime(2)},
		},
		CreatedAt: someTime(0),
		UpdatedAt: someTime(5),
	}
}

// checkClient reports every field of got that differs from want.
func checkClient(t *testing.T, got, want *auth.Client) {
	t.Helper()
	if got == nil {
		t.Fatalf("client %q: got nil", want.ID)
	}
	id := want.ID
	if got.ID != want.ID || got.Name != want.Name {
		t.Errorf("client %q: ID, Name = %q, %q; want %q, %q", id, got.ID, got.Name, want.ID, want.Name)
	}
	if !slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.Audiences, want.Audiences) {
		t.Errorf("client %q: Scopes, Audiences = %q, %q; want %q, %q", id, got.Scopes, got.Audiences, want.Scopes, want.Audiences)
	}
	if got.TokenTTL != want.TokenTTL || got.RateLimit != want.RateLimit || got.Disabled != want.Disabled {
		t.Errorf("client %q: TokenTTL, RateLimit, Disabled = %v, %v, %v; want %v, %v, %v", id,
			got.TokenTTL, got.RateLimit, got.Disabled, want.TokenTTL, want.RateLimit, want.Disabled)
	}
	if !slices.Equal(got.AuthMethods, want.AuthMethods) {
		t.Errorf("client %q: AuthMethods = %q; want %q", id, got.AuthMethods, want.AuthMethods)
	}
	if !bytes.Equal(got.JWKS, want.JWKS) || got.JWKSURI != want.JWKSURI {
		t.Errorf("client %q: JWKS, JWKSURI = %q, %q; want %q, %q", id, got.JWKS, got.JWKSURI, want.JWKS, want.JWKSURI)
	}
	if !maps.Equal(got.Metadata, want.Metadata) || got.ManagedBy != want.ManagedBy {
		t.Errorf("client %q: Metadata, ManagedBy = %q, %q; want %q, %q", id, got.Metadata, got.ManagedBy, want.Metadata, want.ManagedBy)
	}
	if !slices.Equal(got.Federated, want.Federated) || !slices.Equal(got.ExchangeAudiences, want.ExchangeAudiences) {
		t.Errorf("client %q: Federated, ExchangeAudiences = %q, %q; want %q, %q", id, got.Federated, got.ExchangeAudiences, want.Federated, want.ExchangeAudiences)
	}
	if got.RequireDPoP != want.RequireDPoP || got.RequireCertificateBoundTokens != want.RequireCertificateBoundTokens || got.TLSClientAuth != want.TLSClientAuth {
		t.Errorf("client %q: RequireDPoP, RequireCertificateBoundTokens, TLSClientAuth = %v, %v, %+v; want %v, %v, %+v", id,
			got.RequireDPoP, got.RequireCertificateBoundTokens, got.TLSClientAuth, want.RequireDPoP, want.RequireCertificateBoundTokens, want.TLSClientAuth)
	}
	if !slices.Equal(got.Quotas, want.Quotas) || got.QuotaMode != want.QuotaMode {
		t.Errorf("client %q: Quotas, QuotaMode = %v, %q; want %v, %q", id, got.Quotas, got.QuotaMode, want.Quotas, want.QuotaMode)
	}
	if !maps.Equal(got.Claims, want.Claims) || got.Condition != want.Condition {
		t.Errorf("client %q: Claims, Condition = %v, %q; want %v, %q", id, got.Claims, got.Condition, want.Claims, want.Condition)
	}
	if got.TokenReuse != want.TokenReuse {
		t.Errorf("client %q: TokenReuse = %q; want %q", id, got.TokenReuse, want.TokenReuse)
	}
	checkTime(t, fmt.Sprintf("client %q: TokensRevokedBefore", id), got.TokensRevokedBefore, want.TokensRevokedBefore)
	checkTime(t, fmt.Sprintf("client %q: CreatedAt", id), got.CreatedAt, want.CreatedAt)
	checkTime(t, fmt.Sprintf("client %q: UpdatedAt", id), got.UpdatedAt, want.UpdatedAt)
	if len(got.Secrets) != len(want.Secrets) {
		t.Errorf("client %q: %d secrets %+v; want %d %+v", id, len(got.Secrets), got.Secrets, len(want.Secrets), want.Secrets)
		return
	}
	for i, g := range got.Secrets {
		w := want.Secrets[i]
		if g.ID != w.ID || g.Hash != w.Hash {
			t.Errorf("client %q: secret %d: ID, Hash = %q, %q; want %q, %q", id, i, g.ID, g.Hash, w.ID, w.Hash)
		}
		checkTime(t, fmt.Sprintf("client %q: secret %q: CreatedAt", id, w.ID), g.CreatedAt, w.CreatedAt)
		checkTime(t, fmt.Sprintf("client %q: secret %q: ExpiresAt", id, w.ID), g.ExpiresAt, w.ExpiresAt)
	}
}

// checkTime reports a time read back that is not Equal to the one written, or not in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s = %v; want it in UTC", what, got)
	}
}
