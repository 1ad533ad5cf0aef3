// Package ops serves the operations endpoints of Gooclaim Auth on a
// listener of their own (serve --ops-listen, 127.0.0.1:9090 by default), so
// that metrics and health details are never public by accident:
//
//	GET /metrics   Prometheus metrics (the text and OpenMetrics formats)
//	GET /healthz   liveness: 200 {"status":"ok"} while the process works
//	GET /readyz    readiness: 200 or 503 {"status":…, "detail":…}
//
// HEAD is accepted wherever GET is. The public listener (package httpapi)
// serves /healthz and /readyz too, for load balancers that can probe only
// the service port, but its /readyz answers the status alone: the detail —
// why the node is not ready, key IDs, the store's backend and last error,
// client counts, the rate limiter's state — is served only here.
package ops

import (
	"encoding/json"
	"net/http"
)

// Paths of the operations endpoints.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
)

// Config is what the handler serves. The zero value works: no metrics, and
// a node that is always alive and ready.
type Config struct {
	// Metrics serves GET /metrics, typically metrics.Metrics.Handler(); nil
	// answers 404 there.
	Metrics http.Handler
	// Health reports whether the node should receive traffic — store
	// reachable, keys loaded, not shutting down — and the state of what it
	// depends on, served as /readyz's detail; nil means always ready.
	Health func() (ready bool, detail any)
	// Live reports whether the process still works; nil means it does
	// whenever it can answer. A false makes /healthz answer 503, so that
	// the orchestrator restarts the process.
	Live func() bool
}

// Handler returns the operations endpoints of c.
func Handler(c Config) http.Handler {
	mux := http.NewServeMux()
	if c.Metrics != nil {
		mux.Handle("GET "+MetricsPath, c.Metrics)
	}
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		if c.Live != nil && !c.Live() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		ready, detail := true, any(nil)
		if c.Health != nil {
			ready, detail = c.Health()
		}
		if !ready {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "detail": detail})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "detail": detail})
	})
	for _, p := range []string{MetricsPath, HealthPath, ReadyPath} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			if p == MetricsPath && c.Metrics == nil {
				notFound(w)
				return
			}
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed", "error_description": r.Method + " is not allowed here; use GET"})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	return mux
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found",
		"error_description": "no endpoint at this path; the operations endpoints are GET " + MetricsPath + ", " + HealthPath + " and " + ReadyPath})
}

// writeJSON answers v as JSON, never cached: health changes from one
// request to the next.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"status":"unavailable","error":"the health detail cannot be encoded"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
