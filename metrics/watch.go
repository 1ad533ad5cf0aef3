package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
)

// KeyStates are the state label values of gooclaim_signing_keys.
var KeyStates = []issuer.KeyState{issuer.KeyNext, issuer.KeyActive, issuer.KeyRetired, issuer.KeyExpired}

// WatchReplica exports the freshness of the in-memory replica, read at
// each scrape: gooclaim_replica_last_sync_age_seconds (absent until the
// first load) and gooclaim_replica_clients. Call it once.
func (m *Metrics) WatchReplica(r *inmem.Replica) {
	age := desc("replica_last_sync_age_seconds", "Seconds since the in-memory replica last matched the store; grows while the store is unreachable.")
	clients := desc("replica_clients", "Clients held by the in-memory replica.")
	m.reg.MustRegister(collectorFunc{
		descs: []*prometheus.Desc{age, clients},
		collect: func(ch chan<- prometheus.Metric) {
			if last := r.LastSync(); !last.IsZero() {
				ch <- prometheus.MustNewConstMetric(age, prometheus.GaugeValue, time.Since(last).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(clients, prometheus.GaugeValue, float64(r.Len()))
		},
	})
}

// WatchKeys exports the signing keys of k at now() (nil: time.Now), read at
// each scrape: gooclaim_signing_keys{state}, and — while a key signs —
// gooclaim_signing_key_age_seconds and
// gooclaim_signing_key_next_rotation_seconds. Call it once.
func (m *Metrics) WatchKeys(k *issuer.KeyRing, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	count := desc("signing_keys", "Signing keys loaded, by state: next (published, not signing yet), active, retired (published until their tokens expire), expired.", "state")
	age := desc("signing_key_age_seconds", "Seconds since the active signing key started signing.")
	next := desc("signing_key_next_rotation_seconds", "Seconds until key maintenance creates the next signing key; 0 while a new key is published and waiting to sign, negative when overdue.")
	m.reg.MustRegister(collectorFunc{
		descs: []*prometheus.Desc{count, age, next},
		collect: func(ch chan<- prometheus.Metric) {
			t := now()
			n := make(map[issuer.KeyState]int, len(KeyStates))
			var active *issuer.KeyStatus
			statuses := k.Statuses(t)
			for i, s := range statuses {
				n[s.State]++
				if s.State == issuer.KeyActive {
					active = &statuses[i]
				}
			}
			for _, s := range KeyStates {
				ch <- prometheus.MustNewConstMetric(count, prometheus.GaugeValue, float64(n[s]), string(s))
			}
			if active == nil {
				return
			}
			ch <- prometheus.MustNewConstMetric(age, prometheus.GaugeValue, t.Sub(active.Key.SigningFrom).Seconds())
			until := 0.0
			if r := k.NextRotation(t); !r.IsZero() {
				until = r.Sub(t).Seconds()
			}
			ch <- prometheus.MustNewConstMetric(next, prometheus.GaugeValue, until)
		},
	})
}
