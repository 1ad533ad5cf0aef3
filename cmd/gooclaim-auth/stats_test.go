package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gooclaim/auth/httpapi"
)

// stats reads GET /v1/admin/stats with an admin token.
func (ts *testServer) stats(token string) httpapi.Stats {
	ts.t.Helper()
	r := ts.do("GET", "/v1/admin/stats", "", "", "Authorization", "Bearer "+token)
	if r.StatusCode != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		ts.t.Fatalf("GET /v1/admin/stats: status %d, Cache-Control %q, body %s", r.StatusCode, r.Header.Get("Cache-Control"), r.body)
	}
	var s httpapi.Stats
	if err := json.Unmarshal(r.body, &s); err != nil {
		ts.t.Fatalf("stats %s: %v", r.body, err)
	}
	return s
}

// TestAdminStats: the figures move with token requests, refusals and
// 429s, name the rate-limited client, and on a fleet show every node.
func TestAdminStats(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		nodes := []*testServer{a}
		if a != b {
			nodes = append(nodes, b)
		}
		adminID, adminSecret := createOn(t, nodes, "--name", "ops", "--admin")
		tok := a.tokenFor(adminID, adminSecret)
		id, secret := createOn(t, nodes, "--name", "busy", "--scope", "a", "--rate-limit", "3/1m")
		for range 2 {
			a.tokenFor(id, secret)
		}
		a.form("grant_type=client_credentials&client_id=" + id + "&client_secret=wrong") // invalid_client, the third of 3
		for range 2 {
			if r := a.form("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret); r.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status %d, want 429", r.StatusCode)
			}
		}
		for _, n := range nodes {
			n.srv.SampleStats(context.Background())
		}

		s := a.stats(tok)
		if s.WindowSeconds != 900 || s.IntervalSeconds != 10 || len(s.Keys) == 0 || s.Keys[0].State == "" || s.GeneratedAt.IsZero() {
			t.Errorf("stats %+v", s)
		}
		if len(s.Nodes) != len(nodes) {
			t.Fatalf("%d nodes, want %d: %+v", len(s.Nodes), len(nodes), s.Nodes)
		}
		own := s.Nodes[0]
		if !own.This || own.Node == "" || !own.Store.Healthy || own.Redis.Configured != (a != b) {
			t.Errorf("this node %+v", own)
		}
		if own.Totals.TokensIssued < 3 || own.Totals.Refusals["invalid_client"] != 1 || own.Totals.RateLimited != 2 {
			t.Errorf("totals %+v, want at least 3 issued (2 and the admin's), 1 invalid_client, 2 rate_limited", own.Totals)
		}
		if len(own.TopRateLimited) != 1 || own.TopRateLimited[0].ClientID != id || own.TopRateLimited[0].Count != 2 {
			t.Errorf("top_rate_limited %+v, want %s twice", own.TopRateLimited, id)
		}
		if n := len(own.Series.T); n == 0 || len(own.Series.TokensPerSecond) != n || len(own.Series.LatencyP99MS) != n ||
			own.Series.LatencyP99MS[n-1] <= 0 || len(own.Series.RefusalsPerSecond["invalid_client"]) != n {
			t.Errorf("series %+v", own.Series)
		}
		if a != b {
			other := s.Nodes[1]
			if other.This || other.Node == own.Node || other.Totals.TokensIssued != 0 || !other.Redis.Healthy || time.Since(other.UpdatedAt) > time.Minute {
				t.Errorf("the other node %+v", other)
			}
		}
	})
}
