package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	defer ok.Close()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	// A port that was just free: nothing listens on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/healthz"
	l.Close()

	tests := []struct {
		name     string
		url      string
		wantCode int
		wantOut  string // in stdout (code 0) or stderr (code 1)
	}{
		{"2xx", ok.URL + "/healthz", 0, "200 OK"},
		{"404", ok.URL + "/nope", 1, "404 Not Found"},
		{"503", unavailable.URL + "/healthz", 1, "503 Service Unavailable"},
		{"nothing listening", closed, 1, "connection refused"},
		{"not a URL", "127.0.0.1:9090/healthz", 1, "want an http:// or https:// URL"},
		{"other scheme", "ftp://127.0.0.1/healthz", 1, "want an http:// or https:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", "healthcheck", "--url", tt.url)
			got := out
			if tt.wantCode != 0 {
				got = errOut
			}
			if code != tt.wantCode || !strings.Contains(got, tt.wantOut) {
				t.Errorf("healthcheck --url %s: exit %d, stdout %q, stderr %q; want exit %d and %q",
					tt.url, code, out, errOut, tt.wantCode, tt.wantOut)
			}
		})
	}
}

func TestHealthcheckTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	_, err := probe(context.Background(), slow.URL, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("probe of a server that does not answer: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second { // catches a probe without a timeout
		t.Errorf("probe took %v with a 200ms timeout", d)
	}
}

func TestHealthcheckDefaultURL(t *testing.T) {
	cmd := newHealthcheckCmd(&env{})
	if got := cmd.Flags().Lookup("url").DefValue; got != "http://127.0.0.1:9090/healthz" {
		t.Errorf("default --url %q, want the ops listener's /healthz", got)
	}
}

// The probe against a real server's liveness endpoint.
func TestHealthcheckServe(t *testing.T) {
	ts := startTestServer(t, nil)
	out, errOut, code := runCLI(t, "", "healthcheck", "--url", ts.url+"/healthz")
	if code != 0 || !strings.Contains(out, "200 OK") {
		t.Errorf("healthcheck of a running server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
