package metrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gooclaim/auth/metrics"
)

// TestStatsSamples: rates per interval from the same counters Prometheus
// exports, totals over the window, latency quantiles from the histogram's
// bucket deltas, and the most rate-limited clients.
func TestStatsSamples(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if ns := m.NodeStats(); len(ns.Series.T) != 0 || ns.Totals.TokensIssued != 0 || ns.TopRateLimited == nil {
		t.Fatalf("fresh: %+v", ns)
	}
	m.ObserveToken("issued", time.Millisecond) // before the first sample: not in any interval
	m.Sample(t0)

	for range 20 {
		m.ObserveToken("issued", 300*time.Microsecond) // in (.00025, .0005]
	}
	for range 5 {
		m.ObserveToken("invalid_client", 2*time.Millisecond)
	}
	for i := range 4 {
		m.ObserveToken("rate_limited", 100*time.Microsecond)
		m.ObserveRateLimited(fmt.Sprintf("client-%d", i%2))
	}
	m.ObserveRateLimited("client-1")
	m.Sample(t0.Add(10 * time.Second))
	m.Sample(t0.Add(20 * time.Second)) // an idle interval

	ns := m.NodeStats()
	if len(ns.Series.T) != 2 || !ns.UpdatedAt.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("series %v, updated_at %v", ns.Series.T, ns.UpdatedAt)
	}
	if ns.Totals.TokensIssued != 20 || ns.Totals.RateLimited != 4 || ns.Totals.Refusals["invalid_client"] != 5 || len(ns.Totals.Refusals) != 1 {
		t.Errorf("totals %+v", ns.Totals)
	}
	if got := ns.Series.TokensPerSecond; got[0] != 2 || got[1] != 0 {
		t.Errorf("tokens_per_second %v, want [2 0]", got)
	}
	if got := ns.Series.RefusalsPerSecond["invalid_client"]; len(got) != 2 || got[0] != 0.5 {
		t.Errorf("refusals_per_second %v", ns.Series.RefusalsPerSecond)
	}
	if p50 := ns.Series.LatencyP50MS[0]; p50 <= 0.25 || p50 > 0.5 {
		t.Errorf("p50 %vms, want within the (0.25, 0.5] ms bucket", p50)
	}
	if p99 := ns.Series.LatencyP99MS[0]; p99 <= 1 || p99 > 2.5 {
		t.Errorf("p99 %vms, want within the (1, 2.5] ms bucket", p99)
	}
	if ns.Series.LatencyP50MS[1] != 0 {
		t.Errorf("an idle interval's p50 is %v, want 0", ns.Series.LatencyP50MS[1])
	}
	if top := ns.TopRateLimited; len(top) != 2 || top[0] != (metrics.ClientCount{ClientID: "client-1", Count: 3}) {
		t.Errorf("top_rate_limited %+v", top)
	}

	// The window keeps StatsSamples intervals.
	for i := range metrics.StatsSamples + 5 {
		m.Sample(t0.Add(time.Duration(30+10*i) * time.Second))
	}
	if ns := m.NodeStats(); len(ns.Series.T) != metrics.StatsSamples || ns.Totals.TokensIssued != 0 {
		t.Errorf("after the window: %d samples, %d tokens", len(ns.Series.T), ns.Totals.TokensIssued)
	}
}

// TestStatsBoundsClients: a flood of distinct client IDs is counted up to
// a bound per interval, and long IDs are cut.
func TestStatsBoundsClients(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	t0 := time.Now()
	m.Sample(t0)
	for i := range 5000 {
		m.ObserveRateLimited(fmt.Sprintf("flood-%05d-%0200d", i, 0))
	}
	m.Sample(t0.Add(metrics.StatsInterval))
	top := m.NodeStats().TopRateLimited
	if len(top) != 10 || len(top[0].ClientID) != 128 {
		t.Errorf("top %d clients, first ID %d bytes", len(top), len(top[0].ClientID))
	}
}
