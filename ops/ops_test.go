package ops_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/ops"
)

type response struct {
	status int
	header http.Header
	body   string
}

func get(h http.Handler, method, path string) response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return v
}

func TestReadiness(t *testing.T) {
	ready := true
	h := ops.Handler(ops.Config{Health: func() (bool, any) {
		detail := map[string]any{"keys": map[string]any{"active_kid": "k1"}, "store": map[string]any{"clients": 3}}
		if !ready {
			detail["reason"] = "shutting down"
		}
		return ready, detail
	}})
	for _, tt := range []struct {
		ready      bool
		status     int
		wantStatus string
	}{
		{true, 200, "ready"},
		{false, 503, "unavailable"},
	} {
		ready = tt.ready
		r := get(h, "GET", "/readyz")
		if r.status != tt.status {
			t.Fatalf("ready=%v: status %d, want %d", tt.ready, r.status, tt.status)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
		}
		body := r.json(t)
		detail, _ := body["detail"].(map[string]any)
		if body["status"] != tt.wantStatus || detail == nil || detail["keys"].(map[string]any)["active_kid"] != "k1" {
			t.Errorf("ready=%v: body %s", tt.ready, r.body)
		}
		if !tt.ready && detail["reason"] != "shutting down" {
			t.Errorf("no reason: %s", r.body)
		}
	}
}

func TestLiveness(t *testing.T) {
	alive := true
	h := ops.Handler(ops.Config{
		Live:   func() bool { return alive },
		Health: func() (bool, any) { return false, nil }, // not ready is still alive
	})
	if r := get(h, "GET", "/healthz"); r.status != 200 || r.json(t)["status"] != "ok" {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	alive = false
	if r := get(h, "GET", "/healthz"); r.status != 503 || r.json(t)["status"] != "unavailable" {
		t.Fatalf("healthz while not alive: %d %s", r.status, r.body)
	}
}

func TestZeroConfig(t *testing.T) {
	h := ops.Handler(ops.Config{})
	if r := get(h, "GET", "/healthz"); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	if r := get(h, "GET", "/readyz"); r.status != 200 || r.json(t)["status"] != "ready" {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
	if r := get(h, "GET", "/metrics"); r.status != 404 {
		t.Errorf("metrics without a handler: %d", r.status)
	}
}

func TestMetricsAndRouting(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{Version: "v0.0.1"})
	h := ops.Handler(ops.Config{Metrics: m.Handler()})
	r := get(h, "GET", "/metrics")
	if r.status != 200 || !strings.Contains(r.body, `gooclaim_build_info{`) || !strings.Contains(r.body, `version="v0.0.1"`) {
		t.Fatalf("metrics: %d\n%s", r.status, r.body)
	}
	if r := get(h, "HEAD", "/readyz"); r.status != 200 {
		t.Errorf("HEAD /readyz: %d", r.status)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		r := get(h, "POST", path)
		if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" || r.json(t)["error"] != "method_not_allowed" {
			t.Errorf("POST %s: %d %q %s", path, r.status, r.header.Get("Allow"), r.body)
		}
	}
	for _, path := range []string{"/", "/v1/auth/token", "/metrics/x"} {
		if r := get(h, "GET", path); r.status != 404 || r.json(t)["error"] != "not_found" {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
}
