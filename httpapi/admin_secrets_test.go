package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/credential"
)

func TestAdminSecrets(t *testing.T) {
	e := newAdminEnv(t, false)
	created := e.create(`{"name":"svc"}`)
	id, first := created.Client.ClientID, created.ClientSecret
	oldID := created.Client.Secrets[0].ID
	path := "/v1/admin/clients/" + id

	start := time.Now()
	var rot withSecret
	e.call("POST", path+"/rotate-secret", `{"grace":"1h"}`).decode(t, http.StatusOK, &rot)
	if !strings.HasPrefix(rot.ClientSecret, credential.SecretPrefix) || rot.ClientSecret == first {
		t.Fatalf("new secret %q", rot.ClientSecret)
	}
	s := rot.Client.Secrets
	if len(s) != 2 || s[0].ID != oldID || s[0].ExpiresAt == nil || s[1].ExpiresAt != nil || s[1].ID == oldID {
		t.Fatalf("secrets after rotation: %s", e.bodies[len(e.bodies)-1])
	}
	if exp := *s[0].ExpiresAt; exp.Before(start.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
		t.Fatalf("the old secret expires at %s, want an hour from now", exp)
	}
	stored, _ := e.db.Client(t.Context(), id)
	v := credential.NewVerifier(0)
	verified := func(c *auth.Client, secret string) bool {
		ok, err := v.Verify(c, secret, time.Now())
		return ok && err == nil
	}
	if !verified(stored, first) || !verified(stored, rot.ClientSecret) {
		t.Fatal("both secrets must work during the grace")
	}

	e.call("POST", path+"/revoke-secret", `{"old":true}`).decode(t, http.StatusOK, &rot.Client)
	if len(rot.Client.Secrets) != 1 || rot.Client.Secrets[0].ID != s[1].ID {
		t.Fatalf("after revoke-secret: %s", e.bodies[len(e.bodies)-1])
	}
	stored, _ = e.db.Client(t.Context(), id)
	if verified(stored, first) || !verified(stored, rot.ClientSecret) {
		t.Fatal("after revoke-secret only the new secret may work")
	}

	// Without a body, the grace is 24 hours.
	e.call("POST", path+"/rotate-secret", "").decode(t, http.StatusOK, &rot)
	if exp := rot.Client.Secrets[0].ExpiresAt; len(rot.Client.Secrets) != 2 || exp == nil || exp.Before(start.Add(24*time.Hour-time.Second)) {
		t.Fatalf("default grace: %s", e.bodies[len(e.bodies)-1])
	}
	// A grace of 0 ends the old secret at once.
	e.call("POST", path+"/rotate-secret", `{"grace":"0"}`).decode(t, http.StatusOK, &rot)
	if len(rot.Client.Secrets) != 1 {
		t.Fatalf("grace 0: %s", e.bodies[len(e.bodies)-1])
	}

	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
		desc             []string
	}{
		{"bad grace", path + "/rotate-secret", `{"grace":"a while"}`, 400, "invalid_request", []string{"grace"}},
		{"negative grace", path + "/rotate-secret", `{"grace":"-1h"}`, 400, "invalid_request", []string{"grace"}},
		{"grace too long", path + "/rotate-secret", `{"grace":"31d"}`, 400, "invalid_request", []string{"grace"}},
		{"grace not a string", path + "/rotate-secret", `{"grace":3600}`, 400, "invalid_request", []string{"grace", "string"}},
		{"rotate unknown field", path + "/rotate-secret", `{"grace_period":"1h"}`, 400, "invalid_request", []string{`"grace_period"`, "grace"}},
		{"rotate missing client", "/v1/admin/clients/nobody/rotate-secret", ``, 404, "not_found", []string{"nobody"}},
		{"revoke without old", path + "/revoke-secret", `{}`, 400, "invalid_request", []string{"old"}},
		{"revoke without body", path + "/revoke-secret", ``, 400, "invalid_request", []string{"old"}},
		{"revoke with one secret", path + "/revoke-secret", `{"old":true}`, 400, "invalid_request", []string{"no old secret"}},
		{"revoke missing client", "/v1/admin/clients/nobody/revoke-secret", `{"old":true}`, 404, "not_found", []string{"nobody"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.call("POST", tc.path, tc.body).wantError(t, tc.status, tc.code, tc.desc...)
		})
	}
}

func TestAdminRevokeTokens(t *testing.T) {
	e := newAdminEnv(t, false)
	id := e.create(`{"name":"svc"}`).Client.ClientID
	if e.create(`{"name":"other"}`).Client.TokensRevokedBefore != nil {
		t.Fatal("a new client has tokens_revoked_before")
	}
	start := time.Now().Add(-time.Second)
	var v clientView
	e.call("POST", "/v1/admin/clients/"+id+"/revoke-tokens", "").decode(t, http.StatusOK, &v)
	if v.TokensRevokedBefore == nil || v.TokensRevokedBefore.Before(start) || v.TokensRevokedBefore.After(time.Now()) {
		t.Fatalf("%s", e.bodies[len(e.bodies)-1])
	}
	stored, _ := e.db.Client(t.Context(), id)
	if !stored.TokenRevoked(time.Now().Add(-time.Minute).Unix()) || stored.TokenRevoked(time.Now().Add(time.Minute).Unix()) {
		t.Fatal("tokens issued before must be revoked, later ones not")
	}
	e.call("POST", "/v1/admin/clients/nobody/revoke-tokens", "").wantError(t, 404, "not_found", "nobody")
}
