package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
)

// quotaBackends runs fn on one SQLite node (the quota counted in its
// memory) and on two PostgreSQL nodes sharing Redis (counted fleet-wide),
// each with a clock set 20 minutes past an hour, which fn may move.
func quotaBackends(t *testing.T, fn func(t *testing.T, clock *authtest.Clock, a, b *testServer)) {
	start := time.Now().UTC().Truncate(time.Hour).Add(20 * time.Minute)
	t.Run("sqlite", func(t *testing.T) {
		clock := authtest.NewClock(start)
		ts := startTestServer(t, clock)
		fn(t, clock, ts, ts)
	})
	t.Run("postgres", func(t *testing.T) {
		clock := authtest.NewClock(start)
		f := startFleet(t, 2, clock, func(c *serveConfig) { c.issuer = "https://auth.fleet.test" })
		fn(t, clock, f.nodes[0], f.nodes[1])
	})
}

func tokenBody(id, secret string, extra ...string) string {
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

// TestQuotaEnforced: a client with --quota 3/1h gets three tokens an hour
// — from either node — and then 429 rate_limited naming the quota, with
// Retry-After to the top of the hour; refused requests (a wrong secret, a
// scope it may not have) do not count; the next hour renews the quota.
func TestQuotaEnforced(t *testing.T) {
	quotaBackends(t, func(t *testing.T, clock *authtest.Clock, a, b *testServer) {
		id, secret := createOn(t, []*testServer{a, b}, "--name", "quota", "--scope", "claims:read", "--quota", "3/1h", "--quota", "100/1d")
		a.form(tokenBody(id, secret)).token(t)
		if r := b.form(tokenBody(id, "wrong")); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong secret: status %d, want 401", r.StatusCode)
		}
		if r := a.form(tokenBody(id, secret, "scope", "claims:write")); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("scope it may not have: status %d, want 400", r.StatusCode)
		}
		b.form(tokenBody(id, secret)).token(t)
		a.form(tokenBody(id, secret)).token(t)

		top := clock.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		for _, n := range []*testServer{a, b} {
			r := n.form(tokenBody(id, secret))
			if r.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("fourth token: status %d, want 429; body %s", r.StatusCode, r.body)
			}
			code, desc := r.errorBody(t)
			want := "the client's quota of 3 tokens per 1h is used up; it renews at " + top.Format(time.RFC3339)
			if code != "rate_limited" || desc != want {
				t.Errorf("429: %s %q; want rate_limited %q", code, desc, want)
			}
			if got, want := r.Header.Get("Retry-After"), strconv.Itoa(int(top.Sub(clock.Now())/time.Second)); got != want {
				t.Errorf("Retry-After %q; want %s, the seconds to the top of the hour", got, want)
			}
		}
		clock.Set(top)
		b.form(tokenBody(id, secret)).token(t)
	})
}

// TestQuotaWarn: in warn mode every token is issued, and the first breach
// of each window is recorded once in the audit trail (actor system, action
// client.quota_exceeded, the client as target).
func TestQuotaWarn(t *testing.T) {
	quotaBackends(t, func(t *testing.T, clock *authtest.Clock, a, b *testServer) {
		id, secret := createOn(t, []*testServer{a, b}, "--name", "watched", "--scope", "claims:read", "--quota", "2/1h", "--quota-mode", "warn")
		for i := range 5 {
			[]*testServer{a, b}[i%2].form(tokenBody(id, secret)).token(t)
		}
		waitQuotaEvents(t, a, id, 1)
		clock.Advance(time.Hour)
		for i := range 4 {
			[]*testServer{a, b}[i%2].form(tokenBody(id, secret)).token(t)
		}
		events := waitQuotaEvents(t, a, id, 2)
		e := events[0]
		if e.Actor != "system" || e.TargetKind != "client" || !strings.Contains(string(e.After), `"quota":"2/1h"`) || !strings.Contains(string(e.After), `"mode":"warn"`) {
			t.Errorf("audit event %+v (after %s); want actor system, target the client, the quota and the mode", e, e.After)
		}
	})
}

// waitQuotaEvents waits until the client has want quota audit events
// (they are written apart from the token request), checks that no more
// come, and returns them.
func waitQuotaEvents(t *testing.T, ts *testServer, id string, want int) []auth.AuditEvent {
	t.Helper()
	read := func() []auth.AuditEvent {
		events, err := ts.srv.Store().AuditEvents(context.Background(), auth.AuditQuery{TargetID: id, Action: auth.ActionQuotaExceeded})
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	deadline := time.Now().Add(waitLimit)
	for len(read()) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a second event, wrongly written, would be here by now
	events := read()
	if len(events) != want {
		t.Fatalf("%d quota audit events for %s; want %d", len(events), id, want)
	}
	return events
}

// TestQuotaServerDefault: serve --default-quota applies to the clients
// that set no quota of their own, not to the others.
func TestQuotaServerDefault(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.defaultQuotas = quotasValue{{Limit: 2, Window: 24 * time.Hour}} })
	plain, plainSecret := ts.createClient("--name", "plain", "--scope", "a")
	own, ownSecret := ts.createClient("--name", "own", "--scope", "a", "--quota", "4/1d")
	for range 2 {
		ts.form(tokenBody(plain, plainSecret)).token(t)
	}
	if r := ts.form(tokenBody(plain, plainSecret)); r.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(r.body), "quota of 2 tokens per 1d") {
		t.Fatalf("third token of a client under the default 2/1d: status %d %s; want 429 naming the quota", r.StatusCode, r.body)
	}
	for range 4 {
		ts.form(tokenBody(own, ownSecret)).token(t)
	}
	if r := ts.form(tokenBody(own, ownSecret)); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fifth token of a client with 4/1d: status %d; want 429", r.StatusCode)
	}
	// Removing its quota puts the client under the default, whose window
	// already holds its four tokens.
	if _, errOut, code := ts.cli("", "clients", "update", own, "--no-quota"); code != 0 {
		t.Fatalf("clients update --no-quota: exit %d: %s", code, errOut)
	}
	deadline := time.Now().Add(waitLimit)
	for len(ts.srv.Replica().Lookup(own).Quotas) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not see the update within %v", waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := ts.form(tokenBody(own, ownSecret)); r.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(r.body), "quota of 2 tokens per 1d") {
		t.Fatalf("after --no-quota: status %d %s; want 429 naming the default", r.StatusCode, r.body)
	}
}

// TestQuotaFlags: the CLI refuses a window that does not divide a day and
// an unknown mode, saying what to use, and shows the quotas.
func TestQuotaFlags(t *testing.T) {
	ts := startTestServer(t, nil)
	for _, tc := range []struct{ args, want string }{
		{"--quota 100/7h", "does not divide a day"},
		{"--quota 100/1d --quota 5/1d", "already set"},
		{"--quota-mode loud", "want enforce"},
		{"--quota lots", "want TOKENS/WINDOW"},
	} {
		_, errOut, code := ts.cli("", append([]string{"clients", "create", "--name", "x", "--scope", "a"}, strings.Fields(tc.args)...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("clients create %s: exit %d, %q; want an error saying %q", tc.args, code, errOut, tc.want)
		}
	}
	id, _ := ts.createClient("--name", "shown", "--scope", "a", "--quota", "1000/1h", "--quota", "10000/1d", "--quota-mode", "warn")
	out, _, _ := ts.cli("", "clients", "show", id, "-o", "json")
	if !strings.Contains(out, `"quotas": [`) || !strings.Contains(out, `"1000/1h"`) || !strings.Contains(out, `"quota_mode": "warn"`) {
		t.Errorf("clients show -o json: %s; want the quotas and the mode", out)
	}
}

// TestQuotaFleetExact: three nodes on Redis, many concurrent requests:
// exactly N tokens are issued fleet-wide, the rest refused with the
// quota's description, and the breach is audited once for the fleet.
func TestQuotaFleetExact(t *testing.T) {
	f := startFleet(t, 3, nil, func(c *serveConfig) { c.rateLimit = rateValue{Limit: 100000, Window: time.Minute} })
	const quota = 60
	id, secret := createOn(t, f.nodes, "--name", "busy", "--scope", "claims:read", "--quota", strconv.Itoa(quota)+"/1d")
	var issued, refused atomic.Int64
	var wg sync.WaitGroup
	for _, n := range f.nodes {
		for range 8 {
			wg.Go(func() {
				for range 12 {
					r := n.form(tokenBody(id, secret))
					switch {
					case r.StatusCode == http.StatusOK:
						issued.Add(1)
					case r.StatusCode == http.StatusTooManyRequests && strings.Contains(string(r.body), "quota of 60 tokens per 1d"):
						refused.Add(1)
					default:
						t.Errorf("status %d %s", r.StatusCode, r.body)
					}
				}
			})
		}
	}
	wg.Wait()
	if issued.Load() != quota || issued.Load()+refused.Load() != 3*8*12 {
		t.Fatalf("%d tokens issued and %d refused of %d requests; want exactly %d issued fleet-wide", issued.Load(), refused.Load(), 3*8*12, quota)
	}
	waitQuotaEvents(t, f.nodes[0], id, 1)
}
