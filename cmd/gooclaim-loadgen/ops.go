package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// opsSample is what the server's ops listener (/metrics) says about its
// process at one moment.
type opsSample struct {
	At         time.Time `json:"-"`
	Seconds    float64   `json:"t_seconds"` // since the start of the phase sampled
	RSS        float64   `json:"rss_bytes"`
	HeapInuse  float64   `json:"heap_inuse_bytes"`
	Goroutines float64   `json:"goroutines"`
	OpenFDs    float64   `json:"open_fds"`
}

// opsMetrics are the /metrics series an opsSample reads.
var opsMetrics = map[string]func(*opsSample, float64){
	"process_resident_memory_bytes": func(s *opsSample, v float64) { s.RSS = v },
	"go_memstats_heap_inuse_bytes":  func(s *opsSample, v float64) { s.HeapInuse = v },
	"go_goroutines":                 func(s *opsSample, v float64) { s.Goroutines = v },
	"process_open_fds":              func(s *opsSample, v float64) { s.OpenFDs = v },
}

// scrapeOps reads the ops listener's /metrics at base (http://HOST:PORT).
func scrapeOps(ctx context.Context, base string) (opsSample, error) {
	s := opsSample{At: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("read %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read %s/metrics: %s", base, resp.Status)
	}
	seen := 0
	err = eachMetric(resp.Body, base, func(name string, v float64) bool {
		if set := opsMetrics[name]; set != nil {
			set(&s, v)
			seen++
		}
		return true
	})
	if err != nil {
		return s, err
	}
	if seen < len(opsMetrics) {
		return s, fmt.Errorf("%s/metrics lacks some of process_resident_memory_bytes, go_memstats_heap_inuse_bytes, go_goroutines, process_open_fds", base)
	}
	return s, nil
}

// eachMetric calls fn with each unlabelled sample of a Prometheus text
// exposition read from r (the /metrics of the server at base), until fn
// returns false.
func eachMetric(r io.Reader, base string, fn func(name string, value float64) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return fmt.Errorf("%s/metrics: %s: %w", base, name, err)
		}
		if !fn(name, v) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s/metrics: %w", base, err)
	}
	return nil
}

// service is a `gooclaim-auth serve` the load generator started, with its
// ops listener at a known address.
type service struct {
	*child
	addr, opsAddr string
	readySeconds  float64
}

// startService starts serve on database with the ops listener on a free
// loopback port and waits for /readyz (the ops listener's) to answer 200;
// readySeconds is the time from the start of the process to then.
func (m *Main) startService(ctx context.Context, name, bin, database, kekFile, logDir, rateLimit string) (*service, error) {
	return m.startServiceOn(ctx, name, bin, database, kekFile, logDir, rateLimit, nil)
}

// startServiceOn is startService with the server on cpus (GOMAXPROCS=1,
// as startChildOn does); nil: unpinned.
func (m *Main) startServiceOn(ctx context.Context, name, bin, database, kekFile, logDir, rateLimit string, cpus []int) (*service, error) {
	c := &m.Config
	addr, opsAddr, err := freeLoopbackPair()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", addr, "--ops-listen", opsAddr, "--database", database,
		"--key-encryption-key-file", kekFile, "--signing-alg", c.Alg}
	if rateLimit != "" {
		args = append(args, "--rate-limit", rateLimit)
	}
	if c.NoRequestLog {
		args = append(args, "--no-request-log")
	}
	m.logf("starting %s %v", bin, args)
	t0 := time.Now()
	ch, err := startChildOn(ctx, name, bin, args, filepath.Join(logDir, name+".log"), cpus)
	if err != nil {
		return nil, err
	}
	m.onClose(ch.stop)
	if err := ch.waitReady(ctx, "http://"+opsAddr+"/readyz", c.StartTimeout); err != nil {
		return nil, err
	}
	return &service{child: ch, addr: addr, opsAddr: opsAddr, readySeconds: since(t0)}, nil
}
