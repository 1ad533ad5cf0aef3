package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/metrics"
)

// Stats is the answer of GET /v1/admin/stats: the live figures of the
// last metrics.StatsWindow for the console's overview.
type Stats struct {
	GeneratedAt     time.Time           `json:"generated_at"`
	WindowSeconds   int                 `json:"window_seconds"`
	IntervalSeconds int                 `json:"interval_seconds"`
	Keys            []admin.KeyView     `json:"keys"`
	NextRotation    *time.Time          `json:"next_rotation"`
	Nodes           []metrics.NodeStats `json:"nodes"`
}

// stats serves GET /v1/admin/stats: the signing keys, and the figures of
// every live node (NodeStats).
func (a *Admin) stats(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if a.Service.Clock != nil {
		now = a.Service.Clock.Now()
	}
	st, err := a.Service.KeyStatuses(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := Stats{
		GeneratedAt:     now.UTC(),
		WindowSeconds:   int(metrics.StatsWindow / time.Second),
		IntervalSeconds: int(metrics.StatsInterval / time.Second),
		Keys:            admin.ViewKeys(st),
		Nodes:           []metrics.NodeStats{},
	}
	if a.Service.Keys != nil {
		if next := a.Service.Keys.NextRotation(now); !next.IsZero() {
			out.NextRotation = &next
		}
	}
	if a.NodeStats != nil {
		out.Nodes = a.NodeStats(r.Context())
	}
	writeAdminJSON(w, http.StatusOK, out)
}

// NodeStatsFunc returns the figures of every live node, this one's marked.
type NodeStatsFunc func(ctx context.Context) []metrics.NodeStats
