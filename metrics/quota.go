package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gooclaim/auth"
)

// QuotaNearest is how many clients gooclaim_quota_usage_ratio holds at
// most: those nearest their quotas, so that the number of series stays
// bounded whatever the number of clients.
const QuotaNearest = 10

// QuotaUsage is how much of one quota window a client has used.
type QuotaUsage struct {
	ClientID string
	Window   time.Duration
	Ratio    float64 // tokens counted / the quota's limit; above 1 in warn mode
}

type quotaMetrics struct {
	breaches [2]prometheus.Counter // enforce, warn
	usage    *prometheus.GaugeVec
}

func (m *Metrics) initQuota() {
	breaches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "quota_breaches_total",
		Help: "Tokens past a client's quota: refused (mode enforce) or issued all the same (mode warn).",
	}, []string{"mode"})
	m.quota.usage = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "quota_usage_ratio",
		Help: "Tokens issued in the current window / the quota, for the 10 clients nearest their quotas only (refreshed every 10 s).",
	}, []string{"client_id", "window"})
	m.reg.MustRegister(breaches, m.quota.usage)
	m.quota.breaches[0] = breaches.WithLabelValues("enforce")
	m.quota.breaches[1] = breaches.WithLabelValues("warn")
}

// ObserveQuotaBreach counts a token past a quota, refused or (warn) issued.
func (m *Metrics) ObserveQuotaBreach(warn bool) {
	if warn {
		m.quota.breaches[1].Inc()
	} else {
		m.quota.breaches[0].Inc()
	}
}

// SetQuotaUsage replaces gooclaim_quota_usage_ratio's series with those of
// top, which holds at most QuotaNearest entries (more are ignored).
func (m *Metrics) SetQuotaUsage(top []QuotaUsage) {
	m.quota.usage.Reset()
	for i, u := range top {
		if i == QuotaNearest {
			break
		}
		m.quota.usage.WithLabelValues(u.ClientID, auth.FormatDuration(u.Window)).Set(u.Ratio)
	}
}
