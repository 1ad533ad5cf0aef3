package main

import (
	"encoding/json"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// TestSecretRotationUnderLoad: while clients keep asking for tokens with
// the old secret, the secret is rotated over the admin API; no request
// fails, and the new secret works at once on every node.
func TestSecretRotationUnderLoad(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a, b}
		adminID, adminSecret := createOn(t, nodes, "--name", "ops", "--scope", auth.ScopeAdmin, "--audience", auth.AdminAudience)
		id, oldSecret := createOn(t, nodes, "--name", "busy", "--scope", "claims:read", "--rate-limit", "100000/1m")
		adminTok := a.tokenFor(adminID, adminSecret)

		stop := make(chan struct{})
		var ok, failed atomic.Int64
		var firstFailure atomic.Value
		var wg sync.WaitGroup
		for w := range 8 {
			node := nodes[w%2]
			wg.Go(func() {
				body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {oldSecret}}.Encode()
				for {
					select {
					case <-stop:
						return
					default:
					}
					r := node.do("POST", "/v1/auth/token", "application/x-www-form-urlencoded", body)
					var tok map[string]any
					if r.StatusCode == 200 && json.Unmarshal(r.body, &tok) == nil && len(tok) == 4 && tok["token_type"] == "Bearer" && tok["scope"] == "claims:read" {
						ok.Add(1)
						continue
					}
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, string(r.body))
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		r := a.do("POST", "/v1/admin/clients/"+id+"/rotate-secret", "application/json", `{"grace":"1h"}`, "Authorization", "Bearer "+adminTok)
		if r.StatusCode != 200 {
			close(stop)
			wg.Wait()
			t.Fatalf("rotate-secret: %d %s", r.StatusCode, r.body)
		}
		var rotated struct {
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal(r.body, &rotated); err != nil || rotated.ClientSecret == "" || rotated.ClientSecret == oldSecret {
			t.Fatalf("rotate-secret answered %s", r.body)
		}
		// The new secret works on every node as soon as each has seen the change.
		for _, n := range nodes {
			waitUntil(t, func() bool {
				body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {rotated.ClientSecret}}.Encode()
				return n.form(body).StatusCode == 200
			})
		}
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if failed.Load() != 0 || ok.Load() < 10 {
			t.Fatalf("during the rotation: %d requests succeeded, %d failed (first: %v)", ok.Load(), failed.Load(), firstFailure.Load())
		}
		t.Logf("%d token requests with the old secret during the rotation, none failed", ok.Load())

		// Ending the grace early stops the old secret on every node.
		if r := a.do("POST", "/v1/admin/clients/"+id+"/revoke-secret", "application/json", `{"old":true}`, "Authorization", "Bearer "+adminTok); r.StatusCode != 200 {
			t.Fatalf("revoke-secret: %d %s", r.StatusCode, r.body)
		}
		oldBody := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {oldSecret}}.Encode()
		for _, n := range nodes {
			waitUntil(t, func() bool { return n.form(oldBody).StatusCode == 401 })
		}
	})
}
