package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/httpapi"
	"github.com/gooclaim/auth/inmem"
	"github.com/gooclaim/auth/internal/dpop"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/metrics"
	"github.com/gooclaim/auth/oauthwire"
	"github.com/gooclaim/auth/signing"
)

// benchClients is how many clients the benchmarks spread their requests over.
const benchClients = 1000

const benchIssuer = "http://localhost:8080"

// benchStack is the token endpoint as serve assembles it — SQLite store,
// replica, key ring, limiter, issuer, httpapi.Server — without the network.
type benchStack struct {
	logged   http.Handler // with the request log, formatted as JSON and discarded, written directly as serve does (RequestLogJSON)
	slogged  http.Handler // logged, each line through slog
	unlogged http.Handler // with NoRequestLog
	observed http.Handler // logged, with a metrics.Metrics Observer
	reused   http.Handler // logged, every client reusing its tokens (issuer.TokenCache)
	// server returns the handler of a Server over the same stack logging to logger (and, if set, direct).
	server func(logger *slog.Logger, direct io.Writer) http.Handler
	signer *signing.Signer // the active key, for the baseline
	creds  [][2]string     // client_id, client_secret
}

// benchAlgs are the signing algorithms the benchmarks run with: ES256, the
// default, whose crypto/ecdsa signature alone costs about half a token
// request and 59 allocations, and EdDSA, whose signature allocates nothing —
// so what the rest of the path costs shows.
var benchAlgs = []string{auth.ES256, auth.EdDSA}

// newBenchStack builds the stack with benchClients clients and a signing
// key of the given algorithm.
func newBenchStack(b testing.TB, alg string) *benchStack {
	b.Helper()
	return newStackOf(b, alg, benchClients)
}

// newStackOf builds the stack with n clients.
func newStackOf(b testing.TB, alg string, n int) *benchStack {
	b.Helper()
	return newStackWith(b, alg, n, func(i int) admin.ClientSpec {
		return admin.ClientSpec{Name: fmt.Sprintf("bench-%d", i), Scopes: []string{"claims:read"}}
	})
}

// newStackWith builds the stack with n clients, client i made from spec(i).
func newStackWith(b testing.TB, alg string, n int, spec func(i int) admin.ClientSpec) *benchStack {
	b.Helper()
	ctx := context.Background()
	db, dir := migratedDB(b)
	// Clients first, as an operator would create them before serve starts;
	// the replica then reads them in one load.
	st := &benchStack{}
	svc := &admin.Service{Store: db}
	for i := range n {
		c, secret, err := svc.CreateClient(ctx, spec(i))
		if err != nil {
			b.Fatal(err)
		}
		st.creds = append(st.creds, [2]string{c.ID, secret})
	}
	kek, err := signing.CreateKEKFile(filepath.Join(dir, "auth.kek"))
	if err != nil {
		b.Fatal(err)
	}
	discard := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var keys *issuer.KeyRing
	replica := inmem.NewReplica(db, inmem.ReplicaOptions{
		Logger: discard,
		OnKeys: func(k []auth.Key) error { return keys.Load(k) },
	})
	keys = issuer.NewKeyRing(issuer.KeyPolicy{Algorithm: alg}, kek, replica, nil)
	if err := replica.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := keys.Maintain(ctx); err != nil {
		b.Fatal(err)
	}
	if st.signer, err = keys.Signer(time.Now()); err != nil {
		b.Fatal(err)
	}
	limiter := inmem.NewLimiter(inmem.LimiterOptions{})
	b.Cleanup(limiter.Close)
	never := auth.Rate{Limit: 1 << 30, Window: time.Minute} // the limiter counts but never refuses
	iss := issuer.New(issuer.Config{Issuer: benchIssuer, RateLimit: never, IPRateLimit: never}, replica, keys, limiter, nil)
	// DPoP as serve configures it: every request then pays for looking
	// the DPoP header up, which Bearer requests must not feel.
	replay := inmem.NewReplayCache(inmem.ReplayCacheOptions{})
	st.server = func(logger *slog.Logger, direct io.Writer) http.Handler {
		return (&httpapi.Server{Issuer: iss, Keys: keys, Scopes: replica, Logger: logger, RequestLogJSON: direct,
			DPoP: &httpapi.DPoP{Replay: replay}}).Handler()
	}
	st.logged = st.server(discard, io.Discard)
	st.slogged = st.server(discard, nil)
	st.unlogged = (&httpapi.Server{Issuer: iss, Keys: keys, Scopes: replica, Logger: discard, NoRequestLog: true}).Handler()
	st.observed = (&httpapi.Server{Issuer: iss, Keys: keys, Scopes: replica, Logger: discard, RequestLogJSON: io.Discard,
		Observer: metrics.New(metrics.BuildInfo{})}).Handler()
	// Every client reusing its tokens (serve --reuse-tokens): after each
	// client's first, the requests measure a token given again.
	reusing := issuer.New(issuer.Config{Issuer: benchIssuer, RateLimit: never, IPRateLimit: never,
		ReuseTokens: true, Tokens: issuer.NewTokenCache(n)}, replica, keys, limiter, nil)
	st.reused = (&httpapi.Server{Issuer: reusing, Keys: keys, Scopes: replica, Logger: discard, RequestLogJSON: io.Discard,
		DPoP: &httpapi.DPoP{Replay: replay}}).Handler()
	return st
}

// encoding builds client i's token request in one of the three ways a client may send it.
type encoding func(id, secret string) *http.Request

func formRequest(id, secret string) *http.Request {
	body := "grant_type=client_credentials&client_id=" + url.QueryEscape(id) + "&client_secret=" + url.QueryEscape(secret)
	r := httptest.NewRequest(http.MethodPost, httpapi.TokenPath, bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func jsonRequest(id, secret string) *http.Request {
	body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
	r := httptest.NewRequest(http.MethodPost, httpapi.TokenPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func basicRequest(id, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, httpapi.TokenPath, bytes.NewReader([]byte("grant_type=client_credentials")))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r
}

// benchDPoPKey is the DPoP key of the benchmarks' clients.
var benchDPoPKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

// dpopRequest is formRequest with a fresh DPoP proof (ES256).
func dpopRequest(b testing.TB, id, secret string) *http.Request {
	r := formRequest(id, secret)
	p, err := dpop.NewProof(benchDPoPKey, "ES256", http.MethodPost, benchIssuer+httpapi.TokenPath, "", "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	r.Header["Dpop"] = []string{p}
	return r
}

// reportCPU starts measuring the process's CPU time and returns the
// function that reports it per operation as cpu-ns/op: on a shared machine
// it moves far less than ns/op, which counts the time other processes hold
// the cores (with GOMAXPROCS=1, -cpu 1, it is one core's CPU per token,
// garbage collection included).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// serve sends one request and fails the benchmark unless it got a token.
func serve(b testing.TB, h http.Handler, r *http.Request) {
	if err := try(h, r); err != nil {
		b.Fatal(err)
	}
}

// try sends one request and says what was wrong if it got no token; for
// RunParallel's goroutines, which must not call b.Fatal.
func try(h http.Handler, r *http.Request) error {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return fmt.Errorf("status %d: %s", w.Code, w.Body.String())
	}
	return nil
}

// BenchmarkTokenHandler is one token request at a time through the whole
// handler: routing, request log, parsing, rate limit, authentication,
// signing, response; per signing algorithm (ES256/…, EdDSA/…). form_nolog
// is form with NoRequestLog, form_slog form with each request's line
// written through slog rather than directly (RequestLogJSON), form_reused
// form with every client reusing its tokens (a token given again, after
// each client's first). TestTokenPathAllocations guards its allocations.
func BenchmarkTokenHandler(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			st := newBenchStack(b, alg)
			for _, bc := range []struct {
				name string
				h    http.Handler
				enc  encoding
			}{
				{"form", st.logged, formRequest},
				{"json", st.logged, jsonRequest},
				{"basic", st.logged, basicRequest},
				{"form_nolog", st.unlogged, formRequest},
				{"form_slog", st.slogged, formRequest},
				{"form_reused", st.reused, formRequest},
			} {
				b.Run(bc.name, func(b *testing.B) {
					b.ReportAllocs()
					defer reportCPU(b)()
					i := 0
					for b.Loop() {
						c := st.creds[i%len(st.creds)]
						i++
						serve(b, bc.h, bc.enc(c[0], c[1]))
					}
				})
			}
		})
	}
}

// BenchmarkTokenHandlerDPoP is BenchmarkTokenHandler/form with an ES256
// DPoP proof per request: what binding the token to the client's key
// costs the server (the proof's parse, signature and thumbprint, its jti
// in the replay cache, cnf in the claims). The proofs are made before the
// timer starts — stopping the timer per request would read the memory
// statistics every time and count the client's signing as the server's
// CPU — so the loop runs b.N times rather than under b.Loop.
func BenchmarkTokenHandlerDPoP(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			st := newBenchStack(b, alg)
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				c := st.creds[i%len(st.creds)]
				reqs[i] = dpopRequest(b, c[0], c[1])
			}
			b.ReportAllocs()
			defer reportCPU(b)()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				serve(b, st.logged, reqs[i])
			}
		})
	}
}

// BenchmarkTokenHandlerParallel is BenchmarkTokenHandler/form (and
// /form_nolog) from GOMAXPROCS goroutines at once: what contention adds.
func BenchmarkTokenHandlerParallel(b *testing.B) {
	st := newBenchStack(b, auth.ES256)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"form", st.logged}, {"form_nolog", st.unlogged}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var next atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c := st.creds[(next.Add(1)-1)%uint64(len(st.creds))]
					if err := try(bc.h, formRequest(c[0], c[1])); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// baselineHandler does only what any token endpoint must — parse the
// request, sign claims of the shape issuer.Issue builds, write the response —
// with none of the service's authentication, rate limit, logging or routing;
// as gooclaim-loadgen's baseline server. The ratio of its ns/op to
// BenchmarkTokenHandler's is the cost of the rest.
func baselineHandler(signer *signing.Signer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := oauthwire.ParseTokenRequest(r)
		if err != nil {
			oauthwire.WriteError(w, http.StatusBadRequest, err)
			return
		}
		now := time.Now()
		var jti [16]byte
		rand.Read(jti[:])
		claims := auth.Claims{
			Issuer:   benchIssuer,
			Subject:  req.ClientID,
			Audience: auth.Audience{issuer.DefaultAudience},
			ClientID: req.ClientID,
			Scope:    "claims:read",
			IssuedAt: now.Unix(),
			Expiry:   now.Add(issuer.DefaultTokenTTL).Unix(),
			JWTID:    base64.RawURLEncoding.EncodeToString(jti[:]),
		}
		payload, err := json.Marshal(&claims)
		if err != nil {
			oauthwire.WriteError(w, http.StatusInternalServerError, err)
			return
		}
		token, err := signer.Sign(payload)
		if err != nil {
			oauthwire.WriteError(w, http.StatusInternalServerError, err)
			return
		}
		oauthwire.WriteToken(w, &auth.Token{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(issuer.DefaultTokenTTL / time.Second), Scope: claims.Scope})
	})
}

// BenchmarkBaselineHandler is the baseline with the same requests and key
// algorithm as BenchmarkTokenHandler/<alg>/form, serially and in parallel.
func BenchmarkBaselineHandler(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			st := newBenchStack(b, alg)
			h := baselineHandler(st.signer)
			b.Run("form", func(b *testing.B) {
				b.ReportAllocs()
				defer reportCPU(b)()
				i := 0
				for b.Loop() {
					c := st.creds[i%len(st.creds)]
					i++
					serve(b, h, formRequest(c[0], c[1]))
				}
			})
			b.Run("form_parallel", func(b *testing.B) {
				b.ReportAllocs()
				var next atomic.Uint64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c := st.creds[(next.Add(1)-1)%uint64(len(st.creds))]
						if err := try(h, formRequest(c[0], c[1])); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
