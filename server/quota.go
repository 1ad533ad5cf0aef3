package server

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/metrics"
)

// quotaRefresh is how often gooclaim_quota_usage_ratio is recomputed.
const quotaRefresh = 10 * time.Second

// quotaWatch is the server's issuer.QuotaObserver: it logs a client's
// first breach of a quota in a window and records it in the audit trail
// (once per window per node, or fleet-wide with Redis, which tells the
// first breach apart for the whole fleet), counts every breach, and keeps
// the latest usage of each client's current windows for the gauge of the
// clients nearest their quotas. Memory: one entry per client and quota
// window counted since the last refresh or still current.
type quotaWatch struct {
	logger  *slog.Logger
	store   auth.AuditLog
	metrics *metrics.Metrics
	node    string
	clock   auth.Clock
	audits  sync.WaitGroup // the audit writes in flight, waited for at shutdown

	mu    sync.Mutex
	usage map[quotaUse]quotaRatio
}

type quotaUse struct {
	id     string
	window time.Duration
}

type quotaRatio struct {
	ratio float64
	end   time.Time // the window's end: past it, the usage is forgotten
}

func (q *quotaWatch) QuotaUsed(c *auth.Client, qs []auth.Rate, used []int) {
	now := q.clock.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, r := range qs {
		_, end := auth.QuotaWindow(now, r.Window)
		q.usage[quotaUse{c.ID, r.Window}] = quotaRatio{float64(used[i]) / float64(r.Limit), end}
	}
}

// auditTimeout bounds the write of a breach's audit event: it runs apart
// from the token request, which does not wait for it.
const auditTimeout = 10 * time.Second

func (q *quotaWatch) QuotaBreached(c *auth.Client, r auth.Rate, used int, end time.Time, warn, first bool) {
	q.metrics.ObserveQuotaBreach(warn)
	if !first {
		return
	}
	mode := "enforce"
	if warn {
		mode = auth.QuotaWarn
	}
	q.logger.Warn("a client used up its token quota", "client_id", c.ID, "quota", r.String(), "mode", mode,
		"used", used, "renews", end.UTC().Format(time.RFC3339))
	after, _ := json.Marshal(struct {
		Quota  string    `json:"quota"`
		Mode   string    `json:"mode"`
		Used   int       `json:"used"`
		Renews time.Time `json:"renews"`
		Node   string    `json:"node"`
	}{r.String(), mode, used, end.UTC(), q.node})
	e := auth.AuditEvent{Actor: "system", Action: auth.ActionQuotaExceeded, TargetKind: "client", TargetID: c.ID, After: after}
	q.audits.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
		defer cancel()
		if err := q.store.RecordEvent(ctx, e); err != nil {
			q.logger.Error("record a quota breach in the audit trail", "client_id", c.ID, "quota", r.String(), "err", err)
		}
	})
}

// run refreshes the gauge every quotaRefresh until ctx ends.
func (q *quotaWatch) run(ctx context.Context) {
	t := time.NewTicker(quotaRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			q.audits.Wait()
			return
		case <-t.C:
			q.metrics.SetQuotaUsage(q.nearest(q.clock.Now()))
		}
	}
}

// nearest forgets the windows that ended and returns the usage of the
// metrics.QuotaNearest client windows nearest their quotas, highest first.
func (q *quotaWatch) nearest(now time.Time) []metrics.QuotaUsage {
	q.mu.Lock()
	all := make([]metrics.QuotaUsage, 0, len(q.usage))
	for k, u := range q.usage {
		if !now.Before(u.end) {
			delete(q.usage, k)
			continue
		}
		all = append(all, metrics.QuotaUsage{ClientID: k.id, Window: k.window, Ratio: u.ratio})
	}
	q.mu.Unlock()
	slices.SortFunc(all, func(a, b metrics.QuotaUsage) int {
		return cmp.Or(cmp.Compare(b.Ratio, a.Ratio), cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.Window, b.Window))
	})
	return all[:min(len(all), metrics.QuotaNearest)]
}
