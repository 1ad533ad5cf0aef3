package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPanicBecomesErrorShape(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	h := s.recoverPanics(s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom: secret internals")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/auth/token", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "server_error" || body["error_description"] == "" {
		t.Fatalf("body %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatal("the panic leaked to the client")
	}
	if !strings.Contains(logs.String(), "boom: secret internals") || !strings.Contains(logs.String(), "middleware_test.go") {
		t.Fatalf("the panic and its stack were not logged: %s", logs.String())
	}
}

func TestRequestLogLine(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	h := s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.clientID = "gooclaim_app_1"
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	req := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader("client_secret=hunter2"))
	req.Header.Set("Authorization", "Basic aHVudGVyMg==")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if line["msg"] != "request" || line["status"] != float64(418) || line["client_id"] != "gooclaim_app_1" || line["path"] != "/v1/auth/token" || line["duration_ms"] == nil {
		t.Fatalf("log line %v", line)
	}
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(logs.String(), "aHVudGVyMg") {
		t.Fatal("credentials logged")
	}
}

func TestIssuerPath(t *testing.T) {
	for iss, want := range map[string]string{
		"https://auth.example.com":         "",
		"https://auth.example.com/":        "",
		"https://example.com/tenant/auth":  "/tenant/auth",
		"https://example.com/tenant/auth/": "/tenant/auth",
	} {
		if got := issuerPath(iss); got != want {
			t.Errorf("issuerPath(%q) = %q, want %q", iss, got, want)
		}
	}
}
