package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gooclaim/auth/httpapi"
)

// growthRateLimit is --growth's per-client limit unless --rate-limit is
// given: high enough that the active subset (a few thousand requests per
// second over --active clients) is never refused, so that every size is
// measured on 200s.
const growthRateLimit = "10000000/1m"

// growthSize is one database size of --growth and what was measured on it.
type growthSize struct {
	Clients       int     `json:"clients"`
	CreateSeconds float64 `json:"create_seconds"`
	DBBytes       int64   `json:"database_bytes"`
	ReadySeconds  float64 `json:"ready_seconds"`
	// Ready is the server's memory when it first became ready (idle);
	// After once every round was run.
	Ready *opsSample `json:"ready"`
	After *opsSample `json:"after"`
	// Patterns: "active" (round-robin over the first --active clients) and
	// "all" (round-robin over every client).
	Active patternResult `json:"active"`
	All    patternResult `json:"all"`

	svc   *service
	creds []credential
	drv   map[string]*driver
}

// patternResult holds one client-selection pattern's phases on one size.
type patternResult struct {
	Rounds        []float64 `json:"tokens_per_sec_rounds"`
	TokensPerS    float64   `json:"tokens_per_sec"` // medians over the rounds
	P50Ms         float64   `json:"p50_ms"`
	P99Ms         float64   `json:"p99_ms"`
	CPUPerTokenUs float64   `json:"server_cpu_us_per_token"`
	Non200        int       `json:"non_200"`
	// RatioPercent is TokensPerS against the first size's, per round then median.
	RatioPercent    float64 `json:"ratio_to_first_percent"`
	CPURatioPercent float64 `json:"cpu_ratio_to_first_percent"`

	phases []*phase
}

// mixedResult is the mixed run: the token load plus GETs of the JWK Set and
// the discovery document, on the largest size.
type mixedResult struct {
	Clients     int       `json:"clients"`
	GetWorkers  int       `json:"get_workers"`
	TokenRounds []float64 `json:"tokens_per_sec_rounds"`
	// TokenRatioPercent is the mixed run's tokens/s against the
	// token-only "active" phase of the same size in the same round, per
	// round, then the median.
	TokenRatios       []float64 `json:"token_ratio_rounds_percent"`
	TokenRatioPercent float64   `json:"token_ratio_percent"`
	TokenP99Ms        float64   `json:"token_p99_ms"`
	JWKS              getResult `json:"jwks"`
	Discovery         getResult `json:"discovery"`

	tokenP99 []float64
}

type getResult struct {
	Path      string  `json:"path"`
	PerSecond float64 `json:"per_sec"` // medians over the rounds
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Non200    int     `json:"non_200"`

	rate, p50, p99 []float64
}

type growthReport struct {
	Command     string        `json:"command"`
	RateLimit   string        `json:"rate_limit"`
	ActiveCount int           `json:"active_clients"`
	Connections int           `json:"connections"`
	Warmup      string        `json:"warmup"`
	Duration    string        `json:"duration"`
	Rounds      int           `json:"rounds"`
	Sizes       []*growthSize `json:"sizes"`
	// Per registered client, between the smallest and the largest size, at ready.
	RSSPerClient  float64      `json:"rss_bytes_per_client"`
	HeapPerClient float64      `json:"heap_inuse_bytes_per_client"`
	Mixed         *mixedResult `json:"mixed,omitempty"`
}

// runGrowth is --growth: one database per size, one server per database,
// the same load on each in alternating rounds.
func (m *Main) runGrowth(ctx context.Context) error {
	c := &m.Config
	ws, bin, err := m.prepareWorkspace(ctx)
	if err != nil {
		return err
	}
	rl := c.RateLimit
	if rl == "" {
		rl = growthRateLimit
	}
	rep := &growthReport{Command: commandLine(m.args), RateLimit: rl, ActiveCount: c.Active,
		Connections: c.Connections, Warmup: c.Warmup.String(), Duration: c.Duration.String(), Rounds: c.Rounds}
	for _, n := range c.Growth {
		db := filepath.Join(ws.dir, fmt.Sprintf("auth-%d.db", n))
		m.logf("creating %d clients in %s", n, db)
		t0 := time.Now()
		creds, _, err := createClients(ctx, db, n)
		if err != nil {
			return err
		}
		gs := &growthSize{Clients: n, CreateSeconds: since(t0), creds: creds}
		gs.DBBytes = fileSizes(db, db+"-wal")
		m.logf("created %d clients in %.1fs (%s)", n, gs.CreateSeconds, mib(float64(gs.DBBytes)))
		rep.Sizes = append(rep.Sizes, gs)
	}
	// One server at a time comes up, so that each start-up is timed alone.
	for _, gs := range rep.Sizes {
		db := filepath.Join(ws.dir, fmt.Sprintf("auth-%d.db", gs.Clients))
		gs.svc, err = m.startService(ctx, fmt.Sprintf("service-%d", gs.Clients), bin, db, ws.kekFile, ws.dir, rl)
		if err != nil {
			return err
		}
		m.logf("%d clients: ready in %.2fs", gs.Clients, gs.svc.readySeconds)
		time.Sleep(2 * time.Second) // let the load's garbage be collected
		if s, err := scrapeOps(ctx, "http://"+gs.svc.opsAddr); err == nil {
			gs.Ready = &s
		} else {
			m.logf("%v", err)
		}
		gs.ReadySeconds = gs.svc.readySeconds
		active := gs.creds[:min(c.Active, len(gs.creds))]
		gs.drv = map[string]*driver{}
		for name, cr := range map[string][]credential{"active": active, "all": gs.creds} {
			d, err := newDriver(fmt.Sprintf("%d/%s", gs.Clients, name), "http://"+gs.svc.addr, newRequestSet(cr, c.Body, c.Auth))
			if err != nil {
				return err
			}
			d.pid = gs.svc.cmd.Process.Pid
			gs.drv[name] = d
		}
	}
	largest := rep.Sizes[len(rep.Sizes)-1]
	rep.Mixed = &mixedResult{Clients: largest.Clients, GetWorkers: c.GetWorkers,
		JWKS: getResult{Path: httpapi.JWKSPath}, Discovery: getResult{Path: httpapi.MetadataPath}}
	s := driveSettings{connections: c.Connections, warmup: c.Warmup, duration: c.Duration, requestTimeout: c.RequestTimeout}
	for round := 1; round <= c.Rounds; round++ {
		for _, gs := range rep.Sizes {
			for _, name := range []string{"active", "all"} {
				m.logf("round %d/%d: %d clients, %s", round, c.Rounds, gs.Clients, name)
				p, err := gs.drv[name].run(ctx, round, s)
				if err != nil {
					return err
				}
				if gs.svc.exited() {
					return fmt.Errorf("%s exited (%v); its log %s ends with:\n%s", gs.svc.name, gs.svc.err, gs.svc.logPath, gs.svc.logTail())
				}
				m.logf("  %.0f tokens/s, p99 %.2fms, %.1fµs CPU/token, non-200 %v", p.TokensPerS, ms(p.P99), p.CPUPerTokenUs, p.Non200)
				pr := &gs.Active
				if name == "all" {
					pr = &gs.All
				}
				pr.phases = append(pr.phases, p)
			}
		}
		if c.GetWorkers > 0 {
			m.logf("round %d/%d: mixed, %d clients: tokens (active) + %d workers GETting %s and %s", round, c.Rounds, largest.Clients, c.GetWorkers, rep.Mixed.JWKS.Path, rep.Mixed.Discovery.Path)
			if err := m.mixedRound(ctx, round, s, largest, rep.Mixed); err != nil {
				return err
			}
		}
	}
	for _, gs := range rep.Sizes {
		if s, err := scrapeOps(ctx, "http://"+gs.svc.opsAddr); err == nil {
			gs.After = &s
		}
	}
	rep.summarize()
	return m.writeReport(rep)
}

// mixedRound drives gs's active pattern while GetWorkers workers fetch the
// JWK Set and the discovery document in turn, closed loop.
func (m *Main) mixedRound(ctx context.Context, round int, s driveSettings, gs *growthSize, mx *mixedResult) error {
	c := &m.Config
	base := "http://" + gs.svc.addr
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		lat    []time.Duration
		non200 int
	}
	var mu sync.Mutex
	got := map[string]*res{mx.JWKS.Path: {}, mx.Discovery.Path: {}}
	measureFrom := time.Now().Add(s.warmup)
	stopAt := measureFrom.Add(s.duration)
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: c.GetWorkers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: c.RequestTimeout}
	var wg sync.WaitGroup
	for w := range c.GetWorkers {
		wg.Go(func() {
			paths := []string{mx.JWKS.Path, mx.Discovery.Path}
			local := map[string]*res{paths[0]: {}, paths[1]: {}}
			for i := w; gctx.Err() == nil; i++ {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					break
				}
				p := paths[i%2]
				req, _ := http.NewRequestWithContext(gctx, http.MethodGet, base+p, nil)
				resp, err := hc.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if t0.Before(measureFrom) || gctx.Err() != nil {
					continue
				}
				r := local[p]
				r.lat = append(r.lat, time.Since(t0))
				if !ok {
					r.non200++
				}
			}
			mu.Lock()
			for p, r := range local {
				got[p].lat = append(got[p].lat, r.lat...)
				got[p].non200 += r.non200
			}
			mu.Unlock()
		})
	}
	p, err := gs.drv["active"].run(ctx, round, s)
	wg.Wait()
	if err != nil {
		return err
	}
	secs := p.Seconds
	mx.TokenRounds = append(mx.TokenRounds, math.Round(p.TokensPerS))
	if n := len(gs.Active.phases); n > 0 {
		mx.TokenRatios = append(mx.TokenRatios, pct(p.TokensPerS, gs.Active.phases[n-1].TokensPerS))
	}
	mx.tokenP99 = append(mx.tokenP99, ms(p.P99))
	for _, g := range []*getResult{&mx.JWKS, &mx.Discovery} {
		r := got[g.Path]
		slices.Sort(r.lat)
		g.rate = append(g.rate, float64(len(r.lat))/secs)
		g.p50 = append(g.p50, ms(percentile(r.lat, 0.5)))
		g.p99 = append(g.p99, ms(percentile(r.lat, 0.99)))
		g.Non200 += r.non200
	}
	m.logf("  tokens %.0f/s (p99 %.2fms, %.1f%% of the token-only run); jwks %.0f/s p99 %.2fms; discovery %.0f/s p99 %.2fms",
		p.TokensPerS, ms(p.P99), mx.TokenRatios[len(mx.TokenRatios)-1],
		mx.JWKS.rate[len(mx.JWKS.rate)-1], mx.JWKS.p99[len(mx.JWKS.p99)-1],
		mx.Discovery.rate[len(mx.Discovery.rate)-1], mx.Discovery.p99[len(mx.Discovery.p99)-1])
	return nil
}

// pct is a as a percentage of b, to 0.1.
func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(1000*a/b) / 10
}

func (r *growthReport) summarize() {
	first := r.Sizes[0]
	for _, gs := range r.Sizes {
		for _, pair := range []struct{ pr, fr *patternResult }{{&gs.Active, &first.Active}, {&gs.All, &first.All}} {
			pr, fr := pair.pr, pair.fr
			var tps, p50, p99, cpu, ratio, cpuRatio []float64
			for i, p := range pr.phases {
				tps = append(tps, math.Round(p.TokensPerS))
				p50, p99 = append(p50, ms(p.P50)), append(p99, ms(p.P99))
				cpu = append(cpu, p.CPUPerTokenUs)
				for _, v := range p.Non200 {
					pr.Non200 += v
				}
				if i < len(fr.phases) {
					ratio = append(ratio, pct(p.TokensPerS, fr.phases[i].TokensPerS))
					if p.CPUPerTokenUs > 0 {
						// Below 100%: a token costs more CPU than on the first size.
						cpuRatio = append(cpuRatio, pct(fr.phases[i].CPUPerTokenUs, p.CPUPerTokenUs))
					}
				}
			}
			pr.Rounds, pr.TokensPerS, pr.P50Ms, pr.P99Ms = tps, median(tps), median(p50), median(p99)
			pr.CPUPerTokenUs, pr.RatioPercent, pr.CPURatioPercent = median(cpu), median(ratio), median(cpuRatio)
		}
	}
	last := r.Sizes[len(r.Sizes)-1]
	if dn := float64(last.Clients - first.Clients); dn > 0 && first.Ready != nil && last.Ready != nil {
		r.RSSPerClient = math.Round((last.Ready.RSS - first.Ready.RSS) / dn)
		r.HeapPerClient = math.Round((last.Ready.HeapInuse - first.Ready.HeapInuse) / dn)
	}
	if mx := r.Mixed; mx != nil && len(mx.TokenRounds) > 0 {
		mx.TokenRatioPercent = median(mx.TokenRatios)
		mx.TokenP99Ms = median(mx.tokenP99)
		for _, g := range []*getResult{&mx.JWKS, &mx.Discovery} {
			g.PerSecond, g.P50Ms, g.P99Ms = math.Round(median(g.rate)), median(g.p50), median(g.p99)
		}
	} else {
		r.Mixed = nil
	}
}

func (r *growthReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "growth: %s\n", r.Command)
	fmt.Fprintf(w, "rate limit %s per client; %d connections; %s warm-up + %s measured per phase; %d rounds; medians over the rounds\n",
		r.RateLimit, r.Connections, r.Warmup, r.Duration, r.Rounds)
	fmt.Fprintln(w, "\nsize: creation, start-up to ready, memory when ready (idle) and after the runs")
	for _, gs := range r.Sizes {
		line := fmt.Sprintf("  %9d clients: created in %6.1fs (db %s), ready in %6.2fs", gs.Clients, gs.CreateSeconds, mib(float64(gs.DBBytes)), gs.ReadySeconds)
		if gs.Ready != nil {
			line += fmt.Sprintf(", ready: RSS %s heap %s", mib(gs.Ready.RSS), mib(gs.Ready.HeapInuse))
		}
		if gs.After != nil {
			line += fmt.Sprintf(", after: RSS %s heap %s goroutines %.0f fds %.0f", mib(gs.After.RSS), mib(gs.After.HeapInuse), gs.After.Goroutines, gs.After.OpenFDs)
		}
		fmt.Fprintln(w, line)
	}
	if r.RSSPerClient != 0 || r.HeapPerClient != 0 {
		fmt.Fprintf(w, "  per registered client (largest − smallest, at ready): RSS %.0f B, heap in use %.0f B\n", r.RSSPerClient, r.HeapPerClient)
	}
	for _, name := range []string{"active", "all"} {
		if name == "active" {
			fmt.Fprintf(w, "\ntokens, round-robin over the first %d clients (rounds; median; ratio to %d clients per round, median)\n", r.ActiveCount, r.Sizes[0].Clients)
		} else {
			fmt.Fprintf(w, "\ntokens, round-robin over all clients\n")
		}
		for _, gs := range r.Sizes {
			pr := gs.Active
			if name == "all" {
				pr = gs.All
			}
			fmt.Fprintf(w, "  %9d clients: %v → %6.0f tokens/s (%5.1f%%), p50 %6.2fms p99 %6.2fms, CPU %6.1fµs/token (%5.1f%%), non-200 %d\n",
				gs.Clients, pr.Rounds, pr.TokensPerS, pr.RatioPercent, pr.P50Ms, pr.P99Ms, pr.CPUPerTokenUs, pr.CPURatioPercent, pr.Non200)
		}
	}
	if mx := r.Mixed; mx != nil {
		fmt.Fprintf(w, "\nmixed, %d clients: token load (active) + %d workers GETting the JWK Set and the discovery document\n", mx.Clients, mx.GetWorkers)
		fmt.Fprintf(w, "  tokens %v/s → %.1f%% of the token-only run of the same round (per round %v), p99 %.2fms\n", mx.TokenRounds, mx.TokenRatioPercent, mx.TokenRatios, mx.TokenP99Ms)
		for _, g := range []getResult{mx.JWKS, mx.Discovery} {
			fmt.Fprintf(w, "  GET %-40s %6.0f/s p50 %6.2fms p99 %6.2fms non-200 %d\n", g.Path, g.PerSecond, g.P50Ms, g.P99Ms, g.Non200)
		}
	}
}

// fileSizes is the total size of the files that exist among paths.
func fileSizes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
