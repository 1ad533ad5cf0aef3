package admin_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

const publicJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`

// TestIssuerValidation: one row per rule of CheckIssuer and the name's.
func TestIssuerValidation(t *testing.T) {
	svc := newService(t)
	tests := []struct {
		name    string
		spec    admin.IssuerSpec
		devHTTP bool   // Service.AllowHTTPJWKSURI
		want    string // in the EINVALID message; "" for success
	}{
		{"discovery", admin.IssuerSpec{Name: "github", Issuer: "https://token.actions.githubusercontent.com"}, false, ""},
		{"jwks uri", admin.IssuerSpec{Name: "k8s", Issuer: "https://k8s.example.com", JWKSURI: "https://k8s.example.com/openid/v1/jwks", Audience: "https://auth.example.com", MaxTokenAge: time.Hour}, false, ""},
		{"jwks", admin.IssuerSpec{Name: "k8s.inline_1", Issuer: "https://10.0.0.1", JWKS: []byte(publicJWKS), MaxTokenAge: time.Minute}, false, ""},
		{"http in development", admin.IssuerSpec{Name: "dev", Issuer: "http://dev.example.com", JWKS: []byte(publicJWKS)}, true, ""},
		{"bad name", admin.IssuerSpec{Name: "K8s Prod", Issuer: "https://a.example.com"}, false, `issuer name "K8s Prod"`},
		{"name starting with a dash", admin.IssuerSpec{Name: "-k8s", Issuer: "https://a.example.com"}, false, "issuer name"},
		{"long name", admin.IssuerSpec{Name: strings.Repeat("a", 64), Issuer: "https://a.example.com"}, false, "issuer name"},
		{"no issuer", admin.IssuerSpec{Name: "x"}, false, "issuer: required"},
		{"relative issuer", admin.IssuerSpec{Name: "x", Issuer: "k8s.example.com"}, false, "not an absolute URL"},
		{"http issuer", admin.IssuerSpec{Name: "x", Issuer: "http://k8s.example.com"}, false, "plain http"},
		{"fragment", admin.IssuerSpec{Name: "x", Issuer: "https://k8s.example.com#a"}, false, "fragment"},
		{"query", admin.IssuerSpec{Name: "x", Issuer: "https://k8s.example.com?a=b"}, false, "no query"},
		{"private issuer fetched", admin.IssuerSpec{Name: "x", Issuer: "https://10.0.0.1"}, false, "--allow-private-addresses"},
		{"http jwks uri", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", JWKSURI: "http://a.example.com/keys"}, false, "plain http"},
		{"both", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", JWKSURI: "https://a.example.com/keys", JWKS: []byte(publicJWKS)}, false, "not both"},
		{"empty set", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", JWKS: []byte(`{"keys":[]}`)}, false, "empty"},
		{"not a set", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", JWKS: []byte(`[1]`)}, false, "not a JWK Set"},
		{"private key", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", JWKS: []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"p","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`)}, false, "private or symmetric"},
		{"symmetric key", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", JWKS: []byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)}, false, "private or symmetric"},
		{"age too short", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", MaxTokenAge: 30 * time.Second}, false, "max token age 30s"},
		{"age too long", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", MaxTokenAge: 25 * time.Hour}, false, "between 1m and 24h"},
		{"audience with a space", admin.IssuerSpec{Name: "x", Issuer: "https://a.example.com", Audience: "a b"}, false, `audience "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc.AllowHTTPJWKSURI = tt.devHTTP
			ti, err := svc.CreateIssuer(t.Context(), tt.spec)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CreateIssuer: %v", err)
				}
				if got, err := svc.Issuer(t.Context(), tt.spec.Name); err != nil || got.Issuer != ti.Issuer {
					t.Errorf("Issuer = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(auth.ErrorMessage(err), tt.want) {
				t.Errorf("CreateIssuer = %v; want EINVALID saying %q", err, tt.want)
			}
		})
	}
}

// TestIssuerUpdate: partial updates, switching between the key sources,
// and validation on the result.
func TestIssuerUpdate(t *testing.T) {
	ctx := t.Context()
	svc := newService(t)
	if _, err := svc.CreateIssuer(ctx, admin.IssuerSpec{Name: "k8s", Issuer: "https://k8s.example.com", JWKS: []byte(publicJWKS)}); err != nil {
		t.Fatal(err)
	}
	uri := "https://k8s.example.com/keys"
	ti, err := svc.UpdateIssuer(ctx, "k8s", admin.IssuerUpdate{JWKSURI: &uri})
	if err != nil || ti.JWKSURI != uri || ti.JWKS != nil {
		t.Fatalf("UpdateIssuer(jwks_uri) = %+v, %v; want the URI and no JWK Set", ti, err)
	}
	jwks := []byte(publicJWKS)
	if ti, err = svc.UpdateIssuer(ctx, "k8s", admin.IssuerUpdate{JWKS: &jwks}); err != nil || ti.JWKSURI != "" || string(ti.JWKS) != publicJWKS {
		t.Fatalf("UpdateIssuer(jwks) = %+v, %v; want the JWK Set and no URI", ti, err)
	}
	empty, none := "", []byte{}
	if ti, err = svc.UpdateIssuer(ctx, "k8s", admin.IssuerUpdate{JWKSURI: &empty, JWKS: &none}); err != nil || ti.JWKSURI != "" || ti.JWKS != nil {
		t.Fatalf("UpdateIssuer(discovery) = %+v, %v; want neither", ti, err)
	}
	yes, age := true, 10*time.Second
	if _, err = svc.UpdateIssuer(ctx, "k8s", admin.IssuerUpdate{Disabled: &yes, MaxTokenAge: &age}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("UpdateIssuer(bad age) = %v; want EINVALID", err)
	}
	if ti, err = svc.UpdateIssuer(ctx, "k8s", admin.IssuerUpdate{Disabled: &yes}); err != nil || !ti.Disabled {
		t.Fatalf("UpdateIssuer(disable) = %+v, %v", ti, err)
	}
	events, err := svc.AuditEvents(ctx, auth.AuditQuery{TargetID: "k8s"})
	if err != nil || len(events) != 5 || events[0].Action != auth.ActionIssuerCreate || events[4].Action != auth.ActionIssuerUpdate || events[4].TargetKind != "issuer" {
		t.Errorf("audit events = %+v, %v; want a create and four updates", events, err)
	}
}

// TestFederatedOnlyClient: a client with federated identities and nothing
// else gets no secret, and may use federated_jwt only; naming a secret
// method gives it a secret.
func TestFederatedOnlyClient(t *testing.T) {
	ctx := t.Context()
	svc := newService(t)
	if _, err := svc.CreateIssuer(ctx, admin.IssuerSpec{Name: "k8s", Issuer: "https://k8s.example.com"}); err != nil {
		t.Fatal(err)
	}
	sa := auth.FederatedIdentity{Issuer: "k8s", Subject: "system:serviceaccount:x:y"}
	c, secret, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "wl", Federated: []auth.FederatedIdentity{sa}, ExchangeAudiences: []string{"https://ledger"}})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || len(c.Secrets) != 0 {
		t.Errorf("federated-only client got a secret: %q, %+v", secret, c.Secrets)
	}
	v := admin.View(c)
	if !slices.Equal(v.AllowedAuthMethods, []string{auth.AuthFederatedJWT}) || len(v.Federated) != 1 || v.Federated[0].Subject != sa.Subject ||
		!slices.Equal(v.ExchangeAudiences, []string{"https://ledger"}) {
		t.Errorf("view = %+v; want federated_jwt only, its identity and exchange audience", v)
	}

	_, _, err = svc.CreateClient(ctx, admin.ClientSpec{Name: "thief", Federated: []auth.FederatedIdentity{sa}})
	if !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), `already bound to client "`+c.ID+`"`) {
		t.Errorf("binding a taken identity = %v; want ECONFLICT naming %q", err, c.ID)
	}
	both, secret, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "both", AuthMethods: []string{auth.AuthFederatedJWT, auth.AuthClientSecretBasic},
		Federated: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "other"}}})
	if err != nil || secret == "" || len(both.Secrets) != 1 {
		t.Errorf("federated client naming a secret method = %+v, %q, %v; want a secret", both, secret, err)
	}
	if _, _, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "x", AuthMethods: []string{auth.AuthFederatedJWT}}); !errors.Is(err, auth.ErrInvalid) ||
		!strings.Contains(auth.ErrorMessage(err), "federated_jwt needs federated identities") {
		t.Errorf("federated_jwt without identities = %v; want EINVALID", err)
	}

	// Update: add, remove, replace the exchange audiences; removing an
	// absent identity says what the client has.
	more := auth.FederatedIdentity{Issuer: "k8s", Subject: "system:serviceaccount:x:z"}
	got, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{FederatedAdd: []auth.FederatedIdentity{more, sa}})
	if err != nil || !slices.Equal(got.Federated, []auth.FederatedIdentity{sa, more}) {
		t.Fatalf("add = %+v, %v", got, err)
	}
	_, err = svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{FederatedRemove: []auth.FederatedIdentity{{Issuer: "k8s", Subject: "nope"}}})
	if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(auth.ErrorMessage(err), sa.String()) {
		t.Errorf("removing an absent identity = %v; want EINVALID listing the client's", err)
	}
	none := []string{}
	got, err = svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{FederatedRemove: []auth.FederatedIdentity{sa}, ExchangeAudiences: &none})
	if err != nil || !slices.Equal(got.Federated, []auth.FederatedIdentity{more}) || got.ExchangeAudiences != nil {
		t.Fatalf("remove = %+v, %v", got, err)
	}
	// Removing the last credential is refused.
	if _, err = svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{FederatedRemove: []auth.FederatedIdentity{more}}); !errors.Is(err, auth.ErrInvalid) ||
		!strings.Contains(auth.ErrorMessage(err), "could never authenticate") {
		t.Errorf("removing the last identity of a secretless client = %v; want EINVALID", err)
	}
	if err := svc.DeleteIssuer(ctx, "k8s"); !errors.Is(err, auth.ErrConflict) || !strings.Contains(auth.ErrorMessage(err), c.ID) {
		t.Errorf("DeleteIssuer of a bound issuer = %v; want ECONFLICT naming %q", err, c.ID)
	}
}
