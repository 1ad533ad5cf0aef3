package authtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// testAuditQuery checks AuditEvents' filters against AuditQuery.Matches
// over the whole trail, and paging with After.
func testAuditQuery(t *testing.T, s auth.Store) {
	ctx := t.Context()
	actors := []string{"client:x", "client:y", ""} // "" is "system"
	rename := func(c *auth.Client) error { c.Name += "!"; return nil }
	for i := range 16 {
		ctx := auth.WithAudit(ctx, auth.Audit{Actor: actors[i%3], RemoteAddr: fmt.Sprintf("192.0.2.%d", i)})
		var err error
		switch i % 4 {
		case 0:
			err = s.CreateClient(ctx, &auth.Client{ID: fmt.Sprintf("c%02d", i)})
		case 1:
			_, err = s.UpdateClient(ctx, "c00", rename)
		case 2:
			err = s.RevokeToken(ctx, auth.RevokedToken{JTI: fmt.Sprintf("tok-%02d", i), ClientID: "c00", ExpiresAt: someTime(3600)})
		case 3:
			a := auth.AuditFrom(ctx, "")
			a.Action = auth.ActionClientDisable
			_, err = s.UpdateClient(auth.WithAudit(ctx, a), "c00", func(c *auth.Client) error { c.Disabled = true; return nil })
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if i == 7 {
			time.Sleep(2 * time.Millisecond) // so that Since and Until split the trail, whatever the clock's resolution
		}
	}
	all := auditEvents(t, s, auth.AuditQuery{})
	if len(all) != 16 {
		t.Fatalf("%d audit events; want 16", len(all))
	}
	count := func(q auth.AuditQuery) int {
		n := 0
		for _, e := range all {
			if q.Matches(e) {
				n++
			}
		}
		return n
	}
	far, ancient := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	queries := []struct {
		q    auth.AuditQuery
		want int // how many q.Matches, to check the test itself
	}{
		{auth.AuditQuery{}, 16},
		{auth.AuditQuery{TargetID: "c00"}, 9}, // created, 4 renames, 4 disables
		{auth.AuditQuery{TargetID: "tok-02"}, 1},
		{auth.AuditQuery{TargetID: "nothing"}, 0},
		{auth.AuditQuery{Actor: "client:x"}, 6},
		{auth.AuditQuery{Actor: "system"}, 5},
		{auth.AuditQuery{Action: auth.ActionTokenRevoke}, 4},
		{auth.AuditQuery{Action: auth.ActionClientDisable, Actor: "client:y"}, 1},
		{auth.AuditQuery{Action: auth.ActionClientUpdate, TargetID: "c00", Actor: "client:x"}, 1},
		{auth.AuditQuery{After: all[4].Seq}, 11},
		{auth.AuditQuery{After: all[4].Seq, Limit: 3}, 11},
		{auth.AuditQuery{After: all[4].Seq, TargetID: "c00", Limit: 2}, 6},
		{auth.AuditQuery{After: all[15].Seq}, 0},
		{auth.AuditQuery{Since: all[8].At}, count(auth.AuditQuery{Since: all[8].At})},
		{auth.AuditQuery{Until: all[8].At}, count(auth.AuditQuery{Until: all[8].At})},
		{auth.AuditQuery{Since: all[3].At, Until: all[12].At, Action: auth.ActionClientUpdate}, count(auth.AuditQuery{Since: all[3].At, Until: all[12].At, Action: auth.ActionClientUpdate})},
		{auth.AuditQuery{Since: far}, 0},
		{auth.AuditQuery{Until: far}, 16},
		{auth.AuditQuery{Since: ancient}, 16},
		{auth.AuditQuery{Until: ancient}, 0},
	}
	for _, tt := range queries {
		var want []auth.AuditEvent
		for _, e := range all {
			if tt.q.Matches(e) && len(want) < tt.q.NormalizedLimit() {
				want = append(want, e)
			}
		}
		if n := count(tt.q); n != tt.want {
			t.Fatalf("the test is wrong: %+v matches %d events, not %d", tt.q, n, tt.want)
		}
		got, err := s.AuditEvents(ctx, tt.q)
		if err != nil {
			t.Fatalf("AuditEvents(%+v): %v", tt.q, err)
		}
		sameEvents(t, fmt.Sprintf("AuditEvents(%+v)", tt.q), got, want)
	}
	if since := count(auth.AuditQuery{Since: all[8].At}); since == 0 || since == 16 {
		t.Errorf("the test is wrong: Since %v matches %d events; want some", all[8].At, since)
	}

	// Paging through one target's events.
	var paged []auth.AuditEvent
	q := auth.AuditQuery{TargetID: "c00", Limit: 2}
	for range 10 {
		page, err := s.AuditEvents(ctx, q)
		if err != nil {
			t.Fatalf("AuditEvents(%+v): %v", q, err)
		}
		if len(page) > 2 {
			t.Fatalf("AuditEvents(%+v) returned %d events", q, len(page))
		}
		paged = append(paged, page...)
		if len(page) < 2 {
			break
		}
		q.After = page[len(page)-1].Seq
	}
	var want []auth.AuditEvent
	for _, e := range all {
		if e.TargetID == "c00" {
			want = append(want, e)
		}
	}
	sameEvents(t, "paging through c00's events", paged, want)
}

// testAuditLimit checks the default and the bound of AuditQuery.Limit.
func testAuditLimit(t *testing.T, s auth.Store) {
	ctx := t.Context()
	const n = 101
	for i := range n {
		if err := s.RevokeToken(ctx, auth.RevokedToken{JTI: fmt.Sprint(i), ExpiresAt: someTime(60)}); err != nil {
			t.Fatalf("RevokeToken %d: %v", i, err)
		}
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {7, 7}, {100, 100}, {1000, n}, {5000, n}} {
		events, err := s.AuditEvents(ctx, auth.AuditQuery{Limit: tt.limit})
		if err != nil {
			t.Fatalf("AuditEvents(Limit %d): %v", tt.limit, err)
		}
		if len(events) != tt.want {
			t.Errorf("AuditEvents(Limit %d) returned %d events; want %d", tt.limit, len(events), tt.want)
		}
	}
}

// testAuditConcurrentUpdates updates one client from many goroutines while
// others revoke tokens: every write has its event, numbered in the order
// the writes took effect, so that each update's Before is its
// predecessor's After.
func testAuditConcurrentUpdates(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	created := auditEvents(t, s, auth.AuditQuery{})
	if len(created) != 1 {
		t.Fatalf("audit events after CreateClient:%s; want 1", formatEvents(created))
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := auth.WithAudit(ctx, auth.Audit{Actor: fmt.Sprintf("worker-%02d", i)})
			_, err := s.UpdateClient(ctx, "c", func(c *auth.Client) error {
				c.Scopes = append(c.Scopes, fmt.Sprintf("scope-%02d", i))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateClient %d: %v", i, err)
			}
		})
		wg.Go(func() {
			err := s.RevokeToken(ctx, auth.RevokedToken{JTI: fmt.Sprintf("tok-%02d", i), ExpiresAt: someTime(60)})
			if err != nil {
				t.Errorf("RevokeToken %d: %v", i, err)
			}
		})
	}
	wg.Wait()

	all := auditEvents(t, s, auth.AuditQuery{After: created[0].Seq})
	if len(all) != 2*n {
		t.Fatalf("%d audit events after the concurrent writes; want %d", len(all), 2*n)
	}
	updates := auditEvents(t, s, auth.AuditQuery{After: created[0].Seq, TargetID: "c"})
	if len(updates) != n {
		t.Fatalf("%d audit events of c; want %d", len(updates), n)
	}
	actors := map[string]bool{}
	prev := created[0]
	for i, e := range updates {
		if e.Seq <= prev.Seq {
			t.Errorf("update %d: Seq %d after %d; want increasing", i, e.Seq, prev.Seq)
		}
		if e.Action != auth.ActionClientUpdate || actors[e.Actor] || !strings.HasPrefix(e.Actor, "worker-") {
			t.Errorf("update %d: Action %q, Actor %q; want %q and a worker seen once", i, e.Action, e.Actor, auth.ActionClientUpdate)
		}
		actors[e.Actor] = true
		if !jsonEqual(e.Before, prev.After) {
			t.Errorf("update %d (Seq %d): Before = %s; want the After of Seq %d, %s", i, e.Seq, e.Before, prev.Seq, prev.After)
		}
		var after struct{ Scopes []string }
		if err := json.Unmarshal(e.After, &after); err != nil || len(after.Scopes) != i+1 {
			t.Errorf("update %d: After = %s, %v; want %d scopes", i, e.After, err, i+1)
		}
		prev = e
	}
	final, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if !jsonEqual(prev.After, auth.AuditClientView(final)) {
		t.Errorf("the last update's After = %s; want the client as stored, %s", prev.After, auth.AuditClientView(final))
	}
}
