package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/redis"
)

// The result label values of gooclaim_rate_limiter_decisions_total.
const (
	DecisionAllowed = "allowed"
	DecisionRefused = "refused"
	DecisionError   = "error" // the limiter failed: Redis unreachable without a fallback, say
)

const (
	decisionAllowed = iota
	decisionRefused
	decisionError
	numDecisions
)

// LimiterBackends are the backend label values of
// gooclaim_rate_limiter_backend: the in-memory per-node limit, Redis, the
// per-node fallback while Redis is unreachable, or none (Redis unreachable,
// failing closed).
var LimiterBackends = []string{"memory", redis.BackendRedis, redis.BackendFallback, redis.BackendUnavailable}

func (m *Metrics) initLimiter() {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rate_limiter_decisions_total",
		Help: "Rate-limit decisions of token, introspection and revocation requests: allowed, refused, or error.",
	}, []string{"result"})
	m.reg.MustRegister(decisions)
	for i, r := range [numDecisions]string{DecisionAllowed, DecisionRefused, DecisionError} {
		m.decisions[i] = decisions.WithLabelValues(r)
	}
}

// Limiter returns l with every decision counted in
// gooclaim_rate_limiter_decisions_total. Wrap the limiter the issuer uses
// (the Redis one, whose fallback then needs no wrapping), once.
func Limiter(l auth.Limiter, m *Metrics) auth.Limiter {
	return &limiter{next: l, m: m}
}

type limiter struct {
	next auth.Limiter
	m    *Metrics
}

func (l *limiter) Allow(ctx context.Context, key string, rate auth.Rate) (auth.Decision, error) {
	d, err := l.next.Allow(ctx, key, rate)
	switch {
	case err != nil:
		l.m.decisions[decisionError].Inc()
	case d.Allowed:
		l.m.decisions[decisionAllowed].Inc()
	default:
		l.m.decisions[decisionRefused].Inc()
	}
	return d, err
}

// Unwrap returns the limiter that l instruments.
func (l *limiter) Unwrap() auth.Limiter { return l.next }

// WatchLimiter exports the rate limiter's backend: l's state when it is
// not nil, else "memory" (serve without --redis-url), as
// gooclaim_rate_limiter_backend{backend} (1 for the one in use, 0 for the
// others) and gooclaim_rate_limiter_fallback_requests_total. Call it once.
func (m *Metrics) WatchLimiter(l *redis.Limiter) {
	backend := desc("rate_limiter_backend", "1 for the backend that decides rate limits now, 0 for the others: memory (per node), redis (fleet-wide), fallback (per node while Redis is unreachable) or unavailable (Redis unreachable, failing closed).", "backend")
	fallbacks := desc("rate_limiter_fallback_requests_total", "Requests decided by the per-node fallback limiter because Redis was unreachable.")
	m.reg.MustRegister(collectorFunc{
		descs: []*prometheus.Desc{backend, fallbacks},
		collect: func(ch chan<- prometheus.Metric) {
			current, n := "memory", uint64(0)
			if l != nil {
				st := l.State()
				current, n = st.Backend, st.Fallbacks
			}
			for _, b := range LimiterBackends {
				v := 0.0
				if b == current {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(backend, prometheus.GaugeValue, v, b)
			}
			ch <- prometheus.MustNewConstMetric(fallbacks, prometheus.CounterValue, float64(n))
		},
	})
}
