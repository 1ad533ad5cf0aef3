package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/signing"
)

// observedStack is the service as serve wires it with metrics: the store
// and the limiter decorated, the Observer set, on a real listener.
type observedStack struct {
	*httptest.Server
	metrics *metrics.Metrics
	admin   *admin.Service
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// failingLimiter is a rate limiter that cannot decide: Redis down, no fallback.
type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string, auth.Rate) (auth.Decision, error) {
	return auth.Decision{}, auth.Errorf(auth.EUNAVAILABLE, "the rate limiter cannot reach Redis")
}

func newObservedStack(t testing.TB, noRequestLog bool, limiter auth.Limiter) *observedStack {
	return newObservedStackRate(t, noRequestLog, limiter, auth.Rate{Limit: 3, Window: time.Minute}, true)
}

func newObservedStackRate(t testing.TB, noRequestLog bool, limiter auth.Limiter, rate auth.Rate, observe bool) *observedStack {
	t.Helper()
	ctx := context.Background()
	db, dir := migratedDB(t)
	m := metrics.New(metrics.BuildInfo{Version: "test"})
	store := metrics.Store(db, m)
	kek, err := signing.CreateKEKFile(filepath.Join(dir, "auth.kek"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	var keys *issuer.KeyRing
	replica := inmem.NewReplica(store, inmem.ReplicaOptions{Logger: logger, OnKeys: func(k []auth.Key) error { return keys.Load(k) }})
	keys = issuer.NewKeyRing(issuer.KeyPolicy{}, kek, replica, nil)
	if err := replica.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if limiter == nil {
		mem := inmem.NewLimiter(inmem.LimiterOptions{})
		t.Cleanup(mem.Close)
		limiter = mem
	}
	m.WatchReplica(replica)
	m.WatchKeys(keys, nil)
	m.WatchLimiter(nil)
	srv := httptest.NewUnstartedServer(nil)
	iss := "http://" + srv.Listener.Addr().String()
	api := &httpapi.Server{
		Issuer:       issuer.New(issuer.Config{Issuer: iss, RateLimit: rate, IPRateLimit: rate, Revocations: store}, replica, keys, metrics.Limiter(limiter, m), nil),
		Keys:         keys,
		Scopes:       replica,
		Logger:       logger,
		NoRequestLog: noRequestLog,
		Observer:     m,
	}
	if !observe {
		api.Observer = nil
	}
	srv.Config.Handler = api.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &observedStack{Server: srv, metrics: m, admin: &admin.Service{Store: replica, Keys: keys}, logs: logs}
}

func (s *observedStack) client(t testing.TB, scopes ...string) (id, secret string) {
	t.Helper()
	c, secret, err := s.admin.CreateClient(context.Background(), admin.ClientSpec{Name: "observed", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

// post sends a form to path and returns the status and decoded body.
func (s *observedStack) post(t *testing.T, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

func (s *observedStack) token(t *testing.T, id, secret string) (int, map[string]any) {
	t.Helper()
	return s.post(t, httpapi.TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
}

func (s *observedStack) scrape(t *testing.T) scraped {
	t.Helper()
	rec := httptest.NewRecorder()
	s.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return scraped(fams)
}

type scraped map[string]*dto.MetricFamily

// get returns the value of name{labels}, a counter or a histogram's count.
func (f scraped) get(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	for _, m := range f[name].GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
				match = false
			}
		}
		if !match {
			continue
		}
		if m.Histogram != nil {
			return float64(m.Histogram.GetSampleCount())
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// series lists the service's own series.
func (f scraped) series() []string {
	var out []string
	for name, fam := range f {
		if !strings.HasPrefix(name, "gooclaim_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			out = append(out, fmt.Sprint(name, m.GetLabel()))
		}
	}
	sort.Strings(out)
	return out
}

func (f scraped) want(t *testing.T, want map[string]float64) {
	t.Helper()
	for key, v := range want {
		name, labels, _ := strings.Cut(key, " ")
		if got := f.get(t, name, strings.Fields(labels)...); got != v {
			t.Errorf("%s = %v, want %v", key, got, v)
		}
	}
}

// TestObserverSeesTokens makes real token, introspection and revocation
// requests and reads the counters back from a scrape, with the request log
// on and off; the log keeps its shape either way.
func TestObserverSeesTokens(t *testing.T) {
	for _, noLog := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoRequestLog=%v", noLog), func(t *testing.T) {
			s := newObservedStack(t, noLog, nil)
			a, aSecret := s.client(t, "claims:read")
			b, bSecret := s.client(t, auth.ScopeIntrospect)
			d, dSecret := s.client(t, "claims:read")

			// The limit is 3 per client, shared by the token, introspection
			// and revocation endpoints: issued, invalid_client,
			// unauthorized_client (introspecting without the scope), rate_limited.
			if status, _ := s.token(t, a, aSecret); status != 200 {
				t.Fatalf("token: %d", status)
			}
			if status, _ := s.token(t, a, "wrong"); status != 401 {
				t.Fatalf("wrong secret: %d", status)
			}
			status, tok := s.token(t, d, dSecret)
			if status != 200 {
				t.Fatalf("token: %d %v", status, tok)
			}
			access := tok["access_token"].(string)
			creds := func(id, secret string) url.Values {
				return url.Values{"token": {access}, "client_id": {id}, "client_secret": {secret}}
			}
			if status, _ := s.post(t, httpapi.IntrospectPath, creds(a, aSecret)); status != 403 {
				t.Fatalf("introspect without the scope: %d", status)
			}
			if status, _ := s.token(t, a, aSecret); status != 429 {
				t.Fatalf("past the limit: %d", status)
			}
			if status, _ := s.post(t, httpapi.TokenPath, url.Values{"grant_type": {"password"}, "client_id": {"someone"}}); status != 400 {
				t.Fatalf("grant_type=password: %d", status)
			}
			if status, body := s.post(t, httpapi.IntrospectPath, creds(b, bSecret)); status != 200 || body["active"] != true {
				t.Fatalf("introspect: %d %v", status, body)
			}
			if status, _ := s.post(t, httpapi.RevokePath, creds(d, dSecret)); status != 200 {
				t.Fatalf("revoke: %d", status)
			}
			if status, body := s.post(t, httpapi.IntrospectPath, creds(b, bSecret)); status != 200 || body["active"] != false {
				t.Fatalf("introspect a revoked token: %d %v", status, body)
			}
			for _, path := range []string{httpapi.JWKSPath, httpapi.MetadataPath, httpapi.ReadyPath, "/nothing/here"} {
				resp, err := http.Get(s.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}

			s.scrape(t).want(t, map[string]float64{
				"gooclaim_tokens_total outcome issued":                              2,
				"gooclaim_tokens_total outcome invalid_client":                      1,
				"gooclaim_tokens_total outcome rate_limited":                        1,
				"gooclaim_tokens_total outcome unsupported_grant_type":              1,
				"gooclaim_tokens_total outcome other":                               0,
				"gooclaim_token_request_duration_seconds result ok":                 2,
				"gooclaim_token_request_duration_seconds result error":              3,
				"gooclaim_introspections_total outcome active":                      1,
				"gooclaim_introspections_total outcome inactive":                    1,
				"gooclaim_introspections_total outcome unauthorized_client":         1,
				"gooclaim_revocations_total outcome done":                           1,
				"gooclaim_http_requests_total route token status_class 2xx":         2,
				"gooclaim_http_requests_total route token status_class 4xx":         3,
				"gooclaim_http_requests_total route introspect status_class 2xx":    2,
				"gooclaim_http_requests_total route introspect status_class 4xx":    1,
				"gooclaim_http_requests_total route revoke status_class 2xx":        1,
				"gooclaim_http_requests_total route jwks status_class 2xx":          1,
				"gooclaim_http_requests_total route metadata status_class 2xx":      1,
				"gooclaim_http_requests_total route health status_class 2xx":        1,
				"gooclaim_http_requests_total route other status_class 4xx":         1,
				"gooclaim_rate_limiter_decisions_total result allowed":              8,
				"gooclaim_rate_limiter_decisions_total result refused":              1,
				"gooclaim_store_operation_duration_seconds operation revoke_token":  1,
				"gooclaim_store_operation_duration_seconds operation token_revoked": 3, // two introspections and the revocation
				"gooclaim_store_errors_total operation revoke_token":                0,
				"gooclaim_replica_clients":                                          3,
				"gooclaim_signing_keys state active":                                1,
				"gooclaim_rate_limiter_backend backend memory":                      1,
			})

			// The log is what it was without metrics: one line per request
			// with its event, or only the events.
			logs := s.logs.String()
			requests, issued := strings.Count(logs, `"msg":"request"`), strings.Count(logs, `"msg":"token.issued"`)
			if noLog && (requests != 0 || issued != 2) {
				t.Errorf("NoRequestLog: %d request lines, %d token.issued lines; want 0 and 2", requests, issued)
			}
			if !noLog && (requests != 13 || issued != 0 || strings.Count(logs, `"event":"token.issued"`) != 2) {
				t.Errorf("request log: %d request lines (want 13), %d token.issued lines (want 0)", requests, issued)
			}
		})
	}
}

// TestObserverCardinality: a thousand distinct client IDs add no series.
func TestObserverCardinality(t *testing.T) {
	s := newObservedStack(t, true, nil)
	before := s.scrape(t).series()
	h := s.Config.Handler
	for i := range 1000 {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {fmt.Sprintf("gooclaim_nobody_%d", i)}, "client_secret": {"x"}}
		r := httptest.NewRequest("POST", httpapi.TokenPath, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 {
			t.Fatalf("unknown client: %d", w.Code)
		}
	}
	after := s.scrape(t)
	if got := after.series(); !slices.Equal(got, before) {
		t.Fatalf("the series changed: %d → %d", len(before), len(got))
	}
	after.want(t, map[string]float64{
		"gooclaim_tokens_total outcome invalid_client":              1000,
		"gooclaim_http_requests_total route token status_class 4xx": 1000,
	})
}

// TestObserverLimiterFailure: a limiter that cannot decide answers 503,
// counted as temporarily_unavailable, for tokens and operations alike.
func TestObserverLimiterFailure(t *testing.T) {
	s := newObservedStack(t, true, failingLimiter{})
	if status, _ := s.token(t, "anyone", "x"); status != 503 {
		t.Fatalf("token: %d", status)
	}
	if status, _ := s.post(t, httpapi.RevokePath, url.Values{"token": {"x"}, "client_id": {"anyone"}, "client_secret": {"x"}}); status != 503 {
		t.Fatalf("revoke: %d", status)
	}
	s.scrape(t).want(t, map[string]float64{
		"gooclaim_tokens_total outcome temporarily_unavailable":      1,
		"gooclaim_revocations_total outcome temporarily_unavailable": 1,
		"gooclaim_rate_limiter_decisions_total result error":         2,
		"gooclaim_http_requests_total route token status_class 5xx":  1,
	})
	if !strings.Contains(s.logs.String(), `"msg":"token.refused"`) {
		t.Error("the refusal was not logged as an event")
	}
}

// BenchmarkObserver is BenchmarkTokenHandler/form_nolog with and without
// the Observer: what metrics add to an issued token.
func BenchmarkObserver(b *testing.B) {
	never := auth.Rate{Limit: 1 << 30, Window: time.Minute}
	for _, observe := range []bool{false, true} {
		b.Run(fmt.Sprintf("observer=%v", observe), func(b *testing.B) {
			s := newObservedStackRate(b, true, nil, never, observe)
			var creds [][2]string
			for range 20 {
				id, secret := s.client(b, "claims:read")
				creds = append(creds, [2]string{id, secret})
			}
			h := s.Config.Handler
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c := creds[i%len(creds)]
				i++
				serve(b, h, formRequest(c[0], c[1]))
			}
		})
	}
}
