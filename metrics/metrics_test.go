package metrics_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/metrics"
)

var _ httpapi.Observer = (*metrics.Metrics)(nil)

func TestBuildInfoAndRuntime(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{Version: "v1.2.3", Commit: "abc123", Date: "2026-01-02T03:04:05Z"})
	f := scrape(t, m)
	if v := f.get(t, "gooclaim_build_info", "version", "v1.2.3", "commit", "abc123", "date", "2026-01-02T03:04:05Z", "goversion", runtime.Version()); v != 1 {
		t.Errorf("gooclaim_build_info = %v, want 1", v)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
		if f[name] == nil {
			t.Errorf("%s is missing", name)
		}
	}
	// Two registries do not share state: nothing is global.
	other := metrics.New(metrics.BuildInfo{Version: "v9"})
	m.ObserveToken("issued", time.Millisecond)
	if v := scrape(t, other).get(t, "gooclaim_tokens_total", "outcome", "issued"); v != 0 {
		t.Errorf("another registry counted %v tokens", v)
	}
}

func TestSeriesExistBeforeTheFirstEvent(t *testing.T) {
	f := scrape(t, metrics.New(metrics.BuildInfo{}))
	for _, o := range append(slices.Clone(metrics.TokenOutcomes), metrics.OutcomeOther) {
		if v := f.get(t, "gooclaim_tokens_total", "outcome", o); v != 0 {
			t.Errorf("tokens_total{outcome=%q} = %v", o, v)
		}
	}
	for _, o := range metrics.IntrospectionOutcomes {
		f.get(t, "gooclaim_introspections_total", "outcome", o)
	}
	for _, o := range metrics.RevocationOutcomes {
		f.get(t, "gooclaim_revocations_total", "outcome", o)
	}
	for _, r := range metrics.Routes {
		for _, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
			f.get(t, "gooclaim_http_requests_total", "route", r, "status_class", c)
		}
	}
	for _, op := range metrics.StoreOperations {
		f.get(t, "gooclaim_store_errors_total", "operation", op)
	}
	for _, r := range []string{"allowed", "refused", "error"} {
		f.get(t, "gooclaim_rate_limiter_decisions_total", "result", r)
	}
	f.get(t, "gooclaim_token_request_duration_seconds", "result", "ok")
	f.get(t, "gooclaim_token_request_duration_seconds", "result", "error")
}

func TestObserve(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	m.ObserveToken("issued", 300*time.Microsecond)
	m.ObserveToken("issued", 2*time.Millisecond)
	m.ObserveToken("invalid_client", time.Millisecond)
	m.ObserveToken("something_new", time.Millisecond)
	m.ObserveOperation("introspection", "active")
	m.ObserveOperation("introspection", "inactive")
	m.ObserveOperation("revocation", "done")
	m.ObserveOperation("revocation", "unheard_of")
	m.ObserveOperation("nonsense", "active")
	m.ObserveRequest("token", 200)
	m.ObserveRequest("token", 401)
	m.ObserveRequest("token", 429)
	m.ObserveRequest("jwks", 304)
	m.ObserveRequest("/some/path", 404)
	m.ObserveRequest("token", 0)   // no class: ignored
	m.ObserveRequest("token", 999) // no class: ignored

	f := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gooclaim_tokens_total", []string{"outcome", "issued"}, 2},
		{"gooclaim_tokens_total", []string{"outcome", "invalid_client"}, 1},
		{"gooclaim_tokens_total", []string{"outcome", "other"}, 1},
		{"gooclaim_tokens_total", []string{"outcome", "rate_limited"}, 0},
		{"gooclaim_token_request_duration_seconds", []string{"result", "ok"}, 2},
		{"gooclaim_token_request_duration_seconds", []string{"result", "error"}, 2},
		{"gooclaim_introspections_total", []string{"outcome", "active"}, 1},
		{"gooclaim_introspections_total", []string{"outcome", "inactive"}, 1},
		{"gooclaim_introspections_total", []string{"outcome", "other"}, 0},
		{"gooclaim_revocations_total", []string{"outcome", "done"}, 1},
		{"gooclaim_revocations_total", []string{"outcome", "other"}, 1},
		{"gooclaim_http_requests_total", []string{"route", "token", "status_class", "2xx"}, 1},
		{"gooclaim_http_requests_total", []string{"route", "token", "status_class", "4xx"}, 2},
		{"gooclaim_http_requests_total", []string{"route", "jwks", "status_class", "3xx"}, 1},
		{"gooclaim_http_requests_total", []string{"route", "other", "status_class", "4xx"}, 1},
	} {
		if got := f.get(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The histogram's buckets place the observations.
	h := f["gooclaim_token_request_duration_seconds"].GetMetric()
	for _, s := range h {
		if s.GetLabel()[0].GetValue() != "ok" {
			continue
		}
		if sum := s.GetHistogram().GetSampleSum(); sum < 0.0023 || sum > 0.0024 {
			t.Errorf("sum of issued durations %v, want 0.0023", sum)
		}
		for _, b := range s.GetHistogram().GetBucket() {
			want := map[float64]uint64{0.00025: 0, 0.0005: 1, 0.001: 1, 0.0025: 2}
			if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
				t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
			}
		}
	}
}

// TestCardinalityBounded feeds the observer values from outside every fixed
// set, as many as there could be clients: the series stay the same.
func TestCardinalityBounded(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	before := scrape(t, m).series()
	for i := range 1000 {
		id := fmt.Sprintf("gooclaim_client_%d", i)
		m.ObserveToken(id, time.Millisecond)
		m.ObserveOperation("introspection", id)
		m.ObserveOperation("revocation", id)
		m.ObserveOperation(id, id)
		m.ObserveRequest("/v1/clients/"+id, 200+i%400)
	}
	after := scrape(t, m)
	if got := after.series(); !slices.Equal(got, before) {
		t.Fatalf("the series changed:\nbefore %d: %v\nafter %d: %v", len(before), before, len(got), got)
	}
	if v := after.get(t, "gooclaim_tokens_total", "outcome", "other"); v != 1000 {
		t.Errorf("tokens_total{outcome=other} = %v, want 1000", v)
	}
}

// TestObserveAllocatesNothing: the hot path resolves its series up front.
func TestObserveAllocatesNothing(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{})
	allocs := testing.AllocsPerRun(1000, func() {
		m.ObserveRequest("token", 200)
		m.ObserveToken("issued", time.Millisecond)
		m.ObserveToken("invalid_client", time.Millisecond)
		m.ObserveOperation("introspection", "active")
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request", allocs)
	}
}
