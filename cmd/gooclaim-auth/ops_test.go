package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the ops listener's /metrics in the text format.
func (ts *testServer) scrape() map[string]float64 {
	ts.t.Helper()
	resp, err := http.Get("http://" + ts.srv.OpsAddr() + "/metrics")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		ts.t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+",count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestOpsListener: metrics change as expected after real requests, on a
// listener of their own (not the public one), and readiness flips during
// a graceful shutdown.
func TestOpsListener(t *testing.T) {
	ts := startTestServer(t, nil, func(c *serveConfig) { c.shutdownDelay = durationValue(400 * time.Millisecond) })
	if ts.srv.OpsAddr() == "" {
		t.Fatal("no ops listener")
	}
	if r := ts.do("GET", "/metrics", "", ""); r.StatusCode != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404", r.StatusCode)
	}
	id, secret := ts.createClient("--name", "svc", "--scope", "claims:read", "--rate-limit", "2/1m")
	before := ts.scrape()
	ts.tokenFor(id, secret)
	ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"gcs_wrong"}}.Encode())
	ts.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()) // third: over 2/1m
	after := ts.scrape()
	for key, want := range map[string]float64{
		"gooclaim_tokens_total,outcome=issued":         1,
		"gooclaim_tokens_total,outcome=invalid_client": 1,
		"gooclaim_tokens_total,outcome=rate_limited":   1,
	} {
		if got := after[key] - before[key]; got != want {
			t.Errorf("%s grew by %v, want %v", key, got, want)
		}
	}
	if after["gooclaim_token_request_duration_seconds,result=ok,count"] < 1 {
		t.Error("the token latency histogram saw nothing")
	}
	if after["gooclaim_replica_clients"] != 1 || after["gooclaim_signing_keys,state=active"] != 1 {
		t.Errorf("replica clients %v, active keys %v", after["gooclaim_replica_clients"], after["gooclaim_signing_keys,state=active"])
	}
	for key := range after {
		if strings.Contains(key, id) {
			t.Fatalf("a metric is labelled with a client_id: %s", key)
		}
	}

	ready := func() int {
		resp, err := http.Get("http://" + ts.srv.OpsAddr() + "/readyz")
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != 200 {
		t.Fatalf("/readyz before shutdown: %d", got)
	}
	go ts.srv.Shutdown(context.Background())
	waitUntil(t, func() bool { return ready() == 503 })
	// Still serving during the drain delay: the load balancer is the one to stop.
	if r := ts.do("GET", "/healthz", "", ""); r.StatusCode != 200 {
		t.Errorf("public /healthz during the drain delay: %d", r.StatusCode)
	}
}
