// Package metrics exposes what Gooclaim Auth does as Prometheus metrics:
// tokens, introspections and revocations by outcome, request latency, the
// rate limiter's backend and decisions, store and Redis latency and errors,
// the replica's freshness and the signing keys' age.
//
// A Metrics owns its registry: main creates one with New and passes it
// down — to httpapi.Server.Observer, around the store (Store), the limiter
// (Limiter) and the Redis client (InstrumentRedis), over the live replica,
// key ring and Redis limiter (WatchReplica, WatchKeys, WatchLimiter) — and
// serves Handler on the operations listener. Nothing is global.
//
// Every label takes its values from a fixed set, resolved when the metrics
// are created: a client_id, a jti or a path never becomes a label, so the
// number of series does not grow with the number of clients, and
// observing a request allocates nothing. The one exception is
// gooclaim_quota_usage_ratio, whose client_id label holds at most the
// QuotaNearest clients nearest their quotas.
package metrics

import (
	"net/http"
	"runtime"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes the name of every metric of the service.
const Namespace = "gooclaim"

// BuildInfo describes the running binary, exported as gooclaim_build_info.
type BuildInfo struct {
	Version   string
	Commit    string
	Date      string
	GoVersion string // default runtime.Version()
}

// LatencyBuckets are the histogram buckets of every latency, in seconds:
// from 100µs (an issued token is well under a millisecond) to 2.5s (a
// store or Redis past its timeouts).
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Metrics holds the service's metrics and the registry they live in. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	http          map[string]*[5]prometheus.Counter // route → status class 1xx…5xx
	tokens        outcomes
	tokenOK       prometheus.Observer
	tokenError    prometheus.Observer
	introspection outcomes
	revocation    outcomes
	dpop          outcomes               // DPoP proofs at the token endpoint
	federated     *prometheus.CounterVec // issuer, outcome
	decisions     [numDecisions]prometheus.Counter
	store         [numStoreOps]storeOpMetrics
	quota         quotaMetrics

	redisOnce sync.Once
	redis     *redisMetrics

	stats stats // the admin console's live figures (stats.go)
}

// New returns the metrics of one process, in a registry of their own that
// also holds the Go runtime and process collectors and gooclaim_build_info.
func New(info BuildInfo) *Metrics {
	if info.GoVersion == "" {
		info.GoVersion = runtime.Version()
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   Namespace,
		Name:        "build_info",
		Help:        "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{"version": info.Version, "commit": info.Commit, "date": info.Date, "goversion": info.GoVersion},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)
	m.initHTTP()
	m.initStore()
	m.initLimiter()
	m.initQuota()
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg,
		EnableOpenMetrics: true,
	}))
	return m
}

// Registry returns the registry, to add collectors or gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats, for
// GET /metrics on the operations listener.
func (m *Metrics) Handler() http.Handler { return m.handler }

// outcomes is a counter per outcome of a fixed set, and one for any other.
type outcomes struct {
	byName map[string]prometheus.Counter
	other  prometheus.Counter
}

// newOutcomes creates the counter vector name{outcome} with a series for
// each of names and for "other", all registered at zero.
func (m *Metrics) newOutcomes(name, help string, names []string) outcomes {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, []string{"outcome"})
	m.reg.MustRegister(vec)
	o := outcomes{byName: make(map[string]prometheus.Counter, len(names)), other: vec.WithLabelValues(OutcomeOther)}
	for _, n := range names {
		o.byName[n] = vec.WithLabelValues(n)
	}
	return o
}

// get returns the counter of outcome, or the one of "other".
func (o outcomes) get(outcome string) prometheus.Counter {
	if c, ok := o.byName[outcome]; ok {
		return c
	}
	return o.other
}

// collectorFunc is a Collector whose metrics are computed at each scrape.
type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}
