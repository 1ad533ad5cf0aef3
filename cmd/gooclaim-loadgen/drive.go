package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth/httpapi"
)

// requestSet holds every client's request, built once, so that the workers
// spend their time on the wire rather than encoding bodies.
type requestSet struct {
	contentType []string
	bodies      [][]byte
	authz       [][]string // Authorization header per client; nil for client_secret_post
}

func newRequestSet(creds []credential, body, authMethod string) *requestSet {
	rs := &requestSet{bodies: make([][]byte, len(creds))}
	if body == "json" {
		rs.contentType = []string{"application/json"}
	} else {
		rs.contentType = []string{"application/x-www-form-urlencoded"}
	}
	if authMethod == "basic" {
		rs.authz = make([][]string, len(creds))
	}
	for i, c := range creds {
		params := [][2]string{{"grant_type", "client_credentials"}}
		if authMethod == "basic" {
			// RFC 6749 §2.3.1: each part form-url-encoded before base64.
			raw := url.QueryEscape(c.ClientID) + ":" + url.QueryEscape(c.ClientSecret)
			rs.authz[i] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(raw))}
		} else {
			params = append(params, [2]string{"client_id", c.ClientID}, [2]string{"client_secret", c.ClientSecret})
		}
		rs.bodies[i] = encodeBody(body, params)
	}
	return rs
}

// encodeBody writes params, in order, as a form or a JSON object.
func encodeBody(body string, params [][2]string) []byte {
	if body == "json" {
		var b bytes.Buffer
		b.WriteByte('{')
		for i, p := range params {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(p[0])
			v, _ := json.Marshal(p[1])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		return b.Bytes()
	}
	var b bytes.Buffer
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p[0]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p[1]))
	}
	return b.Bytes()
}

// driveSettings are what a phase of load needs to know.
type driveSettings struct {
	connections    int
	warmup         time.Duration
	duration       time.Duration
	requestTimeout time.Duration
	// mode is how connections are used (tlsmode.go); "" is keep-alive over plain HTTP.
	mode connMode
}

// phase is the result of driving one target once.
type phase struct {
	Target     string         `json:"target"`
	Mode       connMode       `json:"mode,omitempty"`
	Round      int            `json:"round"`
	Requests   int            `json:"requests"`
	OK         int            `json:"ok"`
	Seconds    float64        `json:"seconds"`
	TokensPerS float64        `json:"tokens_per_sec"`
	P50Ms      float64        `json:"p50_ms"`
	P99Ms      float64        `json:"p99_ms"`
	MaxMs      float64        `json:"max_ms"`
	Non200     map[string]int `json:"non_200"`
	// Sent counts every request sent, warmup included.
	Sent int `json:"sent_with_warmup"`
	// FirstError is the first transport error's text, if any.
	FirstError string `json:"first_error,omitempty"`
	// ServerCPUSeconds is the CPU time the server process used while
	// measured (Linux only), and CPUPerTokenUs that per 200 answer: the
	// cost of a token, whatever share of the CPUs the server got.
	ServerCPUSeconds  float64 `json:"server_cpu_seconds,omitempty"`
	CPUPerTokenUs     float64 `json:"server_cpu_us_per_token,omitempty"`
	LoadgenCPUSeconds float64 `json:"loadgen_cpu_seconds,omitempty"`
	// RedisCPUSeconds is the CPU time the Redis server used while measured
	// (with --scaleout, from INFO cpu: every client of that Redis counts),
	// and RedisCPUPerTokenUs that per 200 answer, for the scale-out target
	// only: the others do not use Redis.
	RedisCPUSeconds    float64 `json:"redis_cpu_seconds,omitempty"`
	RedisCPUPerTokenUs float64 `json:"redis_cpu_us_per_token,omitempty"`
	// AllocsPerToken is the server's heap allocations (its cumulative count,
	// read before and after the measured time, less what reading it costs)
	// per 200 answer; zero when unknown.
	AllocsPerToken float64 `json:"server_allocs_per_token,omitempty"`
	// TLSRequests is the measured requests answered over TLS, and Resumed
	// those whose connection resumed a TLS session.
	TLSRequests int `json:"tls_requests,omitempty"`
	Resumed     int `json:"tls_resumed,omitempty"`

	P50, P99, Max  time.Duration `json:"-"`
	started, ended time.Time
	sample         []byte // the body of one 200 answer
}

// driver sends one target's requests; its round-robin position carries over
// from one phase to the next, so every client gets its share over the run.
type driver struct {
	name string
	url  *url.URL
	reqs *requestSet
	next atomic.Uint64
	pid  int // the server's process, whose CPU time is measured; 0 if unknown
	// redisCPU returns the Redis server's CPU time so far (zero if unknown);
	// nil without --scaleout. usesRedis says whether its Redis CPU is this
	// target's cost.
	redisCPU  func() time.Duration
	usesRedis bool
	// tls is the client configuration of an https target (nil for http).
	tls *tls.Config
	// mallocs reads the server's cumulative heap allocation count; nil if
	// unknown. mallocsCost is what one reading allocates in the server.
	mallocs     func(context.Context) (uint64, error)
	mallocsCost uint64
}

func newDriver(name, baseURL string, reqs *requestSet) (*driver, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + httpapi.TokenPath
	u.RawPath = ""
	return &driver{name: name, url: u, reqs: reqs}, nil
}

// workerResult is what one worker saw during a phase.
type workerResult struct {
	latencies []time.Duration // of the measured requests
	ok        int
	non200    map[string]int
	sent      int
	firstErr  string
	sample    []byte
	tls       int // measured answers over TLS
	resumed   int // of which on a resumed session
}

// run drives the target with s.connections workers over one transport: a
// warmup, not counted, then s.duration of measured requests.
func (d *driver) run(ctx context.Context, round int, s driveSettings) (*phase, error) {
	tr := d.transport(s)
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		Timeout:       s.requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	start := time.Now()
	measureFrom := start.Add(s.warmup)
	stopAt := measureFrom.Add(s.duration)
	// Room for a few thousand latencies per worker, to rarely grow on the hot path.
	const capacity = 4096

	// CPU time of the server and of this process when measuring starts.
	cpuStart := make(chan cpuSample, 1)
	cpuTimer := time.AfterFunc(time.Until(measureFrom), func() { cpuStart <- d.cpu(ctx) })
	defer cpuTimer.Stop()

	results := make([]workerResult, s.connections)
	var wg sync.WaitGroup
	var sampled atomic.Bool
	for w := range s.connections {
		wg.Go(func() {
			r := &results[w]
			r.latencies = make([]time.Duration, 0, capacity)
			r.non200 = map[string]int{}
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					return
				}
				i := int((d.next.Add(1) - 1) % uint64(len(d.reqs.bodies)))
				status, body, resumed, err := d.do(ctx, client, i, !sampled.Load())
				lat := time.Since(t0)
				r.sent++
				if ctx.Err() != nil {
					return // interrupted: the answer says nothing about the server
				}
				if status == http.StatusOK && body != nil && sampled.CompareAndSwap(false, true) {
					r.sample = body
				}
				if t0.Before(measureFrom) {
					continue
				}
				r.latencies = append(r.latencies, lat)
				if resumed >= 0 {
					r.tls++
					r.resumed += resumed
				}
				switch {
				case err != nil:
					r.non200[errorKind(err)]++
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
				case status == http.StatusOK:
					r.ok++
				default:
					r.non200[strconv.Itoa(status)]++
				}
			}
		})
	}
	wg.Wait()
	ended := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &phase{Target: d.name, Mode: s.mode, Round: round, Non200: map[string]int{}, started: start, ended: ended}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		p.OK += r.ok
		p.Sent += r.sent
		p.TLSRequests += r.tls
		p.Resumed += r.resumed
		for k, v := range r.non200 {
			p.Non200[k] += v
		}
		if p.FirstError == "" {
			p.FirstError = r.firstErr
		}
		if r.sample != nil {
			p.sample = r.sample
		}
	}
	select {
	case c0 := <-cpuStart:
		c1 := d.cpu(ctx)
		if c0.mallocsOK && c1.mallocsOK && c1.mallocs >= c0.mallocs+d.mallocsCost && p.OK > 0 {
			p.AllocsPerToken = math.Round(10*float64(c1.mallocs-c0.mallocs-d.mallocsCost)/float64(p.OK)) / 10
		}
		if c0.server > 0 && c1.server > c0.server {
			p.ServerCPUSeconds = (c1.server - c0.server).Seconds()
			p.CPUPerTokenUs = perTokenUs(c1.server-c0.server, p.OK)
		}
		if c0.loadgen > 0 && c1.loadgen > c0.loadgen {
			p.LoadgenCPUSeconds = (c1.loadgen - c0.loadgen).Seconds()
		}
		if c0.redis > 0 && c1.redis >= c0.redis {
			p.RedisCPUSeconds = math.Round((c1.redis-c0.redis).Seconds()*1000) / 1000
			if d.usesRedis {
				p.RedisCPUPerTokenUs = perTokenUs(c1.redis-c0.redis, p.OK)
			}
		}
	default:
	}
	p.Requests = len(all)
	p.Seconds = ended.Sub(measureFrom).Seconds()
	p.TokensPerS = float64(p.OK) / p.Seconds
	slices.Sort(all)
	p.P50, p.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if len(all) > 0 {
		p.Max = all[len(all)-1]
	}
	return p, nil
}

// cpuSample is the CPU time used so far by the server, by this process and
// by Redis (zero when unknown), and the server's heap allocations so far.
type cpuSample struct {
	server, loadgen, redis time.Duration
	mallocs                uint64
	mallocsOK              bool
}

func (d *driver) cpu(ctx context.Context) cpuSample {
	var out cpuSample
	if d.mallocs != nil {
		n, err := d.mallocs(ctx)
		out.mallocs, out.mallocsOK = n, err == nil
	}
	if d.pid > 0 {
		out.server, _ = processCPU(d.pid)
	}
	out.loadgen, _ = processCPU(os.Getpid())
	if d.redisCPU != nil {
		out.redis = d.redisCPU()
	}
	return out
}

// perTokenUs is cpu per token in microseconds, to 0.1µs; 0 without tokens.
func perTokenUs(cpu time.Duration, tokens int) float64 {
	if tokens <= 0 {
		return 0
	}
	return math.Round(cpu.Seconds()*1e7/float64(tokens)) / 10
}

// do sends client i's request and reads the whole answer (keeping it when
// keep is set and the status is 200), so that the connection is reused.
// resumed is 1 if the answer came over a resumed TLS session, 0 over a
// full handshake, -1 without TLS or an answer.
func (d *driver) do(ctx context.Context, client *http.Client, i int, keep bool) (status int, body []byte, resumed int, err error) {
	h := http.Header{"Content-Type": d.reqs.contentType, "User-Agent": userAgent}
	if d.reqs.authz != nil {
		h["Authorization"] = d.reqs.authz[i]
	}
	reqBody := d.reqs.bodies[i]
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           d.url,
		Host:          d.url.Host,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(reqBody)),
		ContentLength: int64(len(reqBody)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
	}).WithContext(ctx)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, -1, err
	}
	defer resp.Body.Close()
	resumed = -1
	if resp.TLS != nil {
		resumed = 0
		if resp.TLS.DidResume {
			resumed = 1
		}
	}
	if keep && resp.StatusCode == http.StatusOK {
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resumed, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, resumed, err
}

var userAgent = []string{"gooclaim-loadgen"}

// errorKind names a transport error for the non-200 counts.
func errorKind(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "conn_error"
}

// percentile returns the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
