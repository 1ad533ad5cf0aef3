package metrics

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The live figures of the admin console (GET /v1/admin/stats): Sample,
// called every StatsInterval, turns the counters the Prometheus metrics
// export into per-interval rates, kept for StatsWindow; NodeStats reads
// them. Only the rate-limited clients are counted apart
// (ObserveRateLimited), because a client_id is never a label.
const (
	StatsInterval = 10 * time.Second
	StatsSamples  = 90 // StatsWindow / StatsInterval
	StatsWindow   = StatsSamples * StatsInterval

	// maxLimitedClients bounds the distinct clients counted per interval:
	// a flood of made-up client IDs costs this much memory at most.
	maxLimitedClients = 1000
	// topLimited is how many of the most rate-limited clients are kept
	// per interval and reported.
	topLimited = 10
	// maxClientIDLen bounds a counted client ID (anyone can send any).
	maxClientIDLen = 128
)

// NodeStats is one node's figures over the window, as GET
// /v1/admin/stats serves them (its OpenAPI schema NodeStats). Node,
// This, Store and Redis are the caller's to fill in.
type NodeStats struct {
	Node           string        `json:"node"`
	This           bool          `json:"this"`
	UpdatedAt      time.Time     `json:"updated_at"`
	Store          StoreStats    `json:"store"`
	Redis          RedisStats    `json:"redis"`
	Totals         Totals        `json:"totals"`
	TopRateLimited []ClientCount `json:"top_rate_limited"`
	Series         Series        `json:"series"`
}

// StoreStats is the store's health as the node sees it.
type StoreStats struct {
	Healthy bool `json:"healthy"`
	// ReplicaStalenessSeconds is the time since the node's copy of the
	// clients and keys was last in step with the store.
	ReplicaStalenessSeconds float64 `json:"replica_staleness_seconds"`
}

// RedisStats says whether the node uses Redis, and whether it reaches it.
type RedisStats struct {
	Configured bool `json:"configured"`
	Healthy    bool `json:"healthy"`
}

// Totals are the counts over the window.
type Totals struct {
	TokensIssued int64            `json:"tokens_issued"`
	Refusals     map[string]int64 `json:"refusals"` // by OAuth error code, rate_limited apart
	RateLimited  int64            `json:"rate_limited"`
}

// ClientCount is a client and how many of its token requests were
// answered 429.
type ClientCount struct {
	ClientID string `json:"client_id"`
	Count    int64  `json:"count"`
}

// Series are the per-interval figures, oldest first. A latency is 0 for
// an interval without token requests.
type Series struct {
	T                    []time.Time          `json:"t"`
	TokensPerSecond      []float64            `json:"tokens_per_second"`
	RefusalsPerSecond    map[string][]float64 `json:"refusals_per_second"`
	RateLimitedPerSecond []float64            `json:"rate_limited_per_second"`
	LatencyP50MS         []float64            `json:"latency_p50_ms"`
	LatencyP99MS         []float64            `json:"latency_p99_ms"`
}

// sample is one interval's figures.
type sample struct {
	at                  time.Time
	seconds             float64
	issued, rateLimited float64
	refusals            map[string]float64
	p50, p99            float64 // milliseconds
	top                 []ClientCount
}

// counts are the cumulative values Sample reads.
type counts struct {
	outcomes map[string]float64
	buckets  []float64 // cumulative counts of LatencyBuckets, then +Inf
}

// stats is the sampler's state.
type stats struct {
	mu      sync.Mutex
	last    *counts
	lastAt  time.Time
	ring    [StatsSamples]sample
	n, next int
	limited map[string]int64 // this interval's 429s by client
}

// ObserveRateLimited counts a token request answered 429 for clientID
// (httpapi.Observer), for the console's most rate-limited clients: at most
// maxLimitedClients distinct clients per interval, later ones ignored.
func (m *Metrics) ObserveRateLimited(clientID string) {
	if clientID == "" {
		return
	}
	if len(clientID) > maxClientIDLen {
		clientID = clientID[:maxClientIDLen]
	}
	s := &m.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.limited[clientID]; ok || len(s.limited) < maxLimitedClients {
		if s.limited == nil {
			s.limited = map[string]int64{}
		}
		s.limited[clientID]++
	}
}

// Sample closes the interval that ends at now: its rates are computed
// from the counters' growth since the last Sample. The first call only
// takes the counters' values.
func (m *Metrics) Sample(now time.Time) {
	cur := m.readCounts()
	s := &m.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	last, lastAt, limited := s.last, s.lastAt, s.limited
	s.last, s.lastAt, s.limited = cur, now, nil
	secs := now.Sub(lastAt).Seconds()
	if last == nil || secs <= 0 {
		return
	}
	smp := sample{at: now, seconds: secs, refusals: map[string]float64{}, top: topClients(limited, topLimited)}
	for outcome, v := range cur.outcomes {
		d := v - last.outcomes[outcome]
		switch {
		case d <= 0:
		case outcome == "issued" || outcome == "reused": // tokens answered, signed or given again
			smp.issued += d
		case outcome == "rate_limited":
			smp.rateLimited = d
		default:
			smp.refusals[outcome] = d
		}
	}
	delta := make([]float64, len(cur.buckets))
	for i := range delta {
		delta[i] = cur.buckets[i] - last.buckets[i]
	}
	smp.p50, smp.p99 = quantileMS(delta, 0.5), quantileMS(delta, 0.99)
	s.ring[s.next] = smp
	s.next = (s.next + 1) % StatsSamples
	s.n = min(s.n+1, StatsSamples)
}

// NodeStats returns the figures of the window's samples, oldest first.
func (m *Metrics) NodeStats() NodeStats {
	s := &m.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := NodeStats{
		UpdatedAt:      s.lastAt,
		Totals:         Totals{Refusals: map[string]int64{}},
		TopRateLimited: []ClientCount{},
		Series: Series{T: []time.Time{}, TokensPerSecond: []float64{}, RefusalsPerSecond: map[string][]float64{},
			RateLimitedPerSecond: []float64{}, LatencyP50MS: []float64{}, LatencyP99MS: []float64{}},
	}
	smps := make([]sample, 0, s.n)
	for i := range s.n {
		smps = append(smps, s.ring[(s.next-s.n+i+StatsSamples)%StatsSamples])
	}
	codes := map[string]bool{}
	limited := map[string]int64{}
	for _, smp := range smps {
		for code := range smp.refusals {
			codes[code] = true
		}
		for _, c := range smp.top {
			limited[c.ClientID] += c.Count
		}
	}
	for code := range codes {
		ns.Series.RefusalsPerSecond[code] = make([]float64, 0, len(smps))
	}
	for _, smp := range smps {
		se := &ns.Series
		se.T = append(se.T, smp.at)
		se.TokensPerSecond = append(se.TokensPerSecond, smp.issued/smp.seconds)
		se.RateLimitedPerSecond = append(se.RateLimitedPerSecond, smp.rateLimited/smp.seconds)
		se.LatencyP50MS = append(se.LatencyP50MS, smp.p50)
		se.LatencyP99MS = append(se.LatencyP99MS, smp.p99)
		for code := range codes {
			se.RefusalsPerSecond[code] = append(se.RefusalsPerSecond[code], smp.refusals[code]/smp.seconds)
			ns.Totals.Refusals[code] += int64(smp.refusals[code])
		}
		ns.Totals.TokensIssued += int64(smp.issued)
		ns.Totals.RateLimited += int64(smp.rateLimited)
	}
	ns.TopRateLimited = topClients(limited, topLimited)
	return ns
}

// topClients returns the k clients with the highest counts, highest
// first (ties by client ID); never nil.
func topClients(counts map[string]int64, k int) []ClientCount {
	out := make([]ClientCount, 0, len(counts))
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, ClientCount{ClientID: id, Count: counts[id]})
	}
	slices.SortStableFunc(out, func(a, b ClientCount) int { return cmp.Compare(b.Count, a.Count) })
	return out[:min(k, len(out))]
}

// readCounts reads the token counters and the token latency histogram
// (both results together: the console shows the endpoint's latency).
func (m *Metrics) readCounts() *counts {
	c := &counts{outcomes: make(map[string]float64, len(m.tokens.byName)+1), buckets: make([]float64, len(LatencyBuckets)+1)}
	for name, ctr := range m.tokens.byName {
		c.outcomes[name] = counterValue(ctr)
	}
	c.outcomes[OutcomeOther] = counterValue(m.tokens.other)
	for _, h := range []prometheus.Observer{m.tokenOK, m.tokenError} {
		var d dto.Metric
		if err := h.(prometheus.Metric).Write(&d); err != nil || d.Histogram == nil {
			continue
		}
		for i, b := range d.Histogram.Bucket {
			c.buckets[i] += float64(b.GetCumulativeCount())
		}
		c.buckets[len(LatencyBuckets)] += float64(d.Histogram.GetSampleCount())
	}
	return c
}

func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	return d.GetCounter().GetValue()
}

// quantileMS estimates the q-quantile, in milliseconds, of the
// observations whose cumulative bucket counts (LatencyBuckets, then +Inf)
// are cum, interpolating linearly within the bucket it falls in, as
// Prometheus's histogram_quantile does: 0 without observations, the
// highest finite bound when it falls in the +Inf bucket.
func quantileMS(cum []float64, q float64) float64 {
	total := cum[len(cum)-1]
	if total <= 0 {
		return 0
	}
	rank := q * total
	for i, bound := range LatencyBuckets {
		if cum[i] < rank {
			continue
		}
		lower, below := 0.0, 0.0
		if i > 0 {
			lower, below = LatencyBuckets[i-1], cum[i-1]
		}
		in := cum[i] - below
		if in <= 0 {
			return bound * 1000
		}
		v := lower + (bound-lower)*(rank-below)/in
		return math.Round(v*1e6) / 1e3 // ms, to the microsecond
	}
	return LatencyBuckets[len(LatencyBuckets)-1] * 1000
}
