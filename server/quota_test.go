package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/metrics"
)

// TestQuotaNearest: the gauge holds the metrics.QuotaNearest client
// windows nearest their quotas, highest first, and forgets the windows
// that ended.
func TestQuotaNearest(t *testing.T) {
	clock := authtest.NewClock(time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC))
	q := &quotaWatch{clock: clock, usage: make(map[quotaUse]quotaRatio)}
	hour := []auth.Rate{{Limit: 100, Window: time.Hour}}
	for i := range 30 {
		q.QuotaUsed(&auth.Client{ID: fmt.Sprintf("c%02d", i)}, hour, []int{i})
	}
	q.QuotaUsed(&auth.Client{ID: "daily"}, []auth.Rate{{Limit: 10, Window: 24 * time.Hour}}, []int{9})
	top := q.nearest(clock.Now())
	if len(top) != metrics.QuotaNearest || top[0].ClientID != "daily" || top[0].Ratio != 0.9 || top[1].ClientID != "c29" || top[9].ClientID != "c21" {
		t.Fatalf("nearest = %+v; want daily (0.9), then c29 down to c21", top)
	}
	clock.Set(time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)) // the hour's windows end
	if top := q.nearest(clock.Now()); len(top) != 1 || top[0].ClientID != "daily" {
		t.Errorf("after the hour: nearest = %+v; want the daily window only", top)
	}
	if len(q.usage) != 1 {
		t.Errorf("after the hour: %d windows kept; want 1", len(q.usage))
	}
}
