package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// Tolerances of the soak's flatness verdict: after the warm-up, the growth
// over the rest of the run fitted by least squares must stay within them.
const (
	soakMemTolerance = 0.10 // of the mean RSS or heap in use
	soakCountSlack   = 8    // goroutines or fds, or 5% of the mean if more
)

// soakReport is what --soak prints.
type soakReport struct {
	Command        string           `json:"command"`
	Clients        int              `json:"clients"`
	RateLimit      string           `json:"rate_limit"`
	CapacityRounds []float64        `json:"capacity_rounds_tokens_per_sec"`
	Capacity       float64          `json:"capacity_tokens_per_sec"` // median
	Load           float64          `json:"load_fraction"`
	Rate           float64          `json:"rate_per_sec"`
	Workers        int              `json:"workers"`
	Duration       string           `json:"duration"`
	Warmup         string           `json:"warmup"`
	ReadySeconds   float64          `json:"ready_seconds"`
	Intervals      []*intervalStats `json:"intervals"`
	Sent, OK       int
	Non200         map[string]int `json:"non_200"`
	Expected429    bool           `json:"429_expected"`
	Unexpected     int            `json:"unexpected_errors"`
	P50Ms, P99Ms   float64        // over the whole run after warm-up
	Trends         []trend        `json:"trends"`
	Pass           bool           `json:"pass"`
}

// trend is one series' behaviour after the warm-up.
type trend struct {
	Series    string  `json:"series"`
	First     float64 `json:"first"`
	Last      float64 `json:"last"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Mean      float64 `json:"mean"`
	PerMinute float64 `json:"slope_per_minute"`
	Change    float64 `json:"fitted_change"` // slope × the span after warm-up
	Tolerance float64 `json:"tolerance"`
	Flat      bool    `json:"flat"`
	unitMebi  bool
}

// runSoak is --soak: measure the capacity, then hold SoakLoad of it for
// Soak, sampling the server's memory, goroutines and descriptors.
func (m *Main) runSoak(ctx context.Context) error {
	c := &m.Config
	ws, bin, err := m.prepareWorkspace(ctx)
	if err != nil {
		return err
	}
	m.logf("creating %d clients in %s", c.Clients, ws.database)
	creds, _, err := createClients(ctx, ws.database, c.Clients)
	if err != nil {
		return err
	}
	rate := c.RateLimit
	srv, err := m.startService(ctx, "service", bin, ws.database, ws.kekFile, ws.dir, rate)
	if err != nil {
		return err
	}
	d, err := newDriver("service", "http://"+srv.addr, newRequestSet(creds, c.Body, c.Auth))
	if err != nil {
		return err
	}
	d.pid = srv.cmd.Process.Pid
	rep := &soakReport{Command: commandLine(m.args), Clients: len(creds), RateLimit: c.rate().String(),
		Load: c.SoakLoad, Duration: c.Soak.String(), ReadySeconds: srv.readySeconds, Non200: map[string]int{}}

	// Capacity: closed loop, as many requests as the connections can get through.
	s := driveSettings{connections: c.Connections, warmup: c.Warmup, duration: c.Duration, requestTimeout: c.RequestTimeout}
	for round := 1; round <= c.Rounds; round++ {
		m.logf("capacity %d/%d: closed loop, %d connections, %s", round, c.Rounds, c.Connections, c.Duration)
		p, err := d.run(ctx, round, s)
		if err != nil {
			return err
		}
		rep.CapacityRounds = append(rep.CapacityRounds, math.Round(p.TokensPerS))
	}
	rep.Capacity = median(rep.CapacityRounds)
	rep.Rate = math.Round(rep.Capacity * c.SoakLoad)
	// As many connections as the capacity was measured with: at 80% of it
	// they suffice, and more would only add the server's per-connection cost.
	rep.Workers = c.Connections
	warm := c.SoakWarmup
	if warm == 0 {
		warm = min(time.Minute, c.Soak/3)
	}
	rep.Warmup = warm.String()
	// A client's share of the soak's rate, within one window of its limit.
	r := c.rate()
	perClient := rep.Rate / float64(len(creds)) * r.Window.Seconds()
	rep.Expected429 = perClient > float64(r.Limit)*0.9

	m.logf("soak: %.0f requests/s (%.0f%% of %.0f) over %d clients for %s, sampling every %s, warm-up %s",
		rep.Rate, 100*c.SoakLoad, rep.Capacity, len(creds), c.Soak, c.SampleEvery, warm)
	ops := "http://" + srv.opsAddr
	ol := &openLoop{d: d, rate: rep.Rate, workers: rep.Workers, duration: c.Soak, every: c.SampleEvery,
		timeout: c.RequestTimeout,
		sample:  func(ctx context.Context) (opsSample, error) { return scrapeOps(ctx, ops) },
		onInterval: func(iv *intervalStats) {
			line := fmt.Sprintf("t=%4.0fs sent %6d ok %6d p50 %6.2fms p99 %7.2fms", iv.Seconds, iv.Sent, iv.OK, iv.P50Ms, iv.P99Ms)
			if iv.Sample != nil {
				line += fmt.Sprintf(" rss %s heap %s goroutines %.0f fds %.0f", mib(iv.Sample.RSS), mib(iv.Sample.HeapInuse), iv.Sample.Goroutines, iv.Sample.OpenFDs)
			}
			if len(iv.Non200) > 0 {
				line += fmt.Sprintf(" non-200 %v", iv.Non200)
			}
			m.logf("%s", line)
		}}
	ivs, err := ol.run(ctx)
	if err != nil {
		return err
	}
	if srv.exited() {
		return fmt.Errorf("the service exited during the soak (%v); its log %s ends with:\n%s", srv.err, srv.logPath, srv.logTail())
	}
	rep.Intervals = ivs
	rep.summarize(warm)
	return m.writeReport(rep)
}

// summarize counts the answers, fits the trends after warm and gives the verdict.
func (r *soakReport) summarize(warm time.Duration) {
	var p50s, p99s []float64
	var after []*opsSample
	for _, iv := range r.Intervals {
		r.Sent += iv.Sent
		r.OK += iv.OK
		for k, v := range iv.Non200 {
			r.Non200[k] += v
			if !(k == "429" && r.Expected429) {
				r.Unexpected += v
			}
		}
		if iv.Seconds > warm.Seconds() {
			p50s, p99s = append(p50s, iv.P50Ms), append(p99s, iv.P99Ms)
			if iv.Sample != nil {
				after = append(after, iv.Sample)
			}
		}
	}
	r.P50Ms, r.P99Ms = median(p50s), median(p99s)
	series := []struct {
		name string
		get  func(*opsSample) float64
		mem  bool
	}{
		{"rss", func(s *opsSample) float64 { return s.RSS }, true},
		{"heap_inuse", func(s *opsSample) float64 { return s.HeapInuse }, true},
		{"goroutines", func(s *opsSample) float64 { return s.Goroutines }, false},
		{"open_fds", func(s *opsSample) float64 { return s.OpenFDs }, false},
	}
	r.Pass = r.Unexpected == 0 && len(after) >= 3
	for _, s := range series {
		xs, ys := make([]float64, len(after)), make([]float64, len(after))
		for i, a := range after {
			xs[i], ys[i] = a.Seconds, s.get(a)
		}
		t := fitTrend(s.name, xs, ys)
		t.unitMebi = s.mem
		if s.mem {
			t.Tolerance = soakMemTolerance * t.Mean
		} else {
			t.Tolerance = max(soakCountSlack, 0.05*t.Mean)
		}
		// Only growth fails: a series that falls after the warm-up (garbage
		// collected, idle connections closed) leaks nothing.
		t.Flat = t.Change <= t.Tolerance
		r.Pass = r.Pass && t.Flat
		r.Trends = append(r.Trends, t)
	}
}

// fitTrend fits ys = a + b·xs by least squares; Change is b times the span of xs.
func fitTrend(name string, xs, ys []float64) trend {
	t := trend{Series: name}
	n := float64(len(xs))
	if len(xs) == 0 {
		return t
	}
	t.First, t.Last = ys[0], ys[len(ys)-1]
	t.Min, t.Max = slices.Min(ys), slices.Max(ys)
	var sx, sy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
	}
	mx, my := sx/n, sy/n
	t.Mean = my
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx > 0 {
		b := sxy / sxx
		t.PerMinute = b * 60
		t.Change = b * (xs[len(xs)-1] - xs[0])
	}
	return t
}

func (r *soakReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "soak: %s\n", r.Command)
	fmt.Fprintf(w, "clients %d, rate limit %s per client, service ready in %.2fs\n", r.Clients, r.RateLimit, r.ReadySeconds)
	fmt.Fprintf(w, "capacity (closed loop, per round) %v tokens/s, median %.0f\n", r.CapacityRounds, r.Capacity)
	fmt.Fprintf(w, "soak: open loop at %.0f requests/s (%.0f%%) for %s over %d connections, warm-up %s\n", r.Rate, 100*r.Load, r.Duration, r.Workers, r.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "t (s)\tsent\t200\tnon-200\tp50 ms\tp99 ms\tmax ms\tRSS MiB\theap MiB\tgoroutines\tfds\t")
	for _, iv := range r.Intervals {
		non := 0
		for _, v := range iv.Non200 {
			non += v
		}
		row := fmt.Sprintf("%.0f\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t", iv.Seconds, iv.Sent, iv.OK, non, iv.P50Ms, iv.P99Ms, iv.MaxMs)
		if s := iv.Sample; s != nil {
			row += fmt.Sprintf("%.1f\t%.1f\t%.0f\t%.0f\t", s.RSS/(1<<20), s.HeapInuse/(1<<20), s.Goroutines, s.OpenFDs)
		} else {
			row += "-\t-\t-\t-\t"
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	fmt.Fprintf(w, "requests %d, 200 %d, non-200 %v (429 expected: %v), unexpected errors %d\n", r.Sent, r.OK, r.Non200, r.Expected429, r.Unexpected)
	fmt.Fprintf(w, "after warm-up: median of the intervals' p50 %.2fms, p99 %.2fms\n", r.P50Ms, r.P99Ms)
	for _, t := range r.Trends {
		f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
		if t.unitMebi {
			f = func(v float64) string { return mib(v) }
		}
		verdict := "flat"
		if !t.Flat {
			verdict = "GROWS"
		}
		fmt.Fprintf(w, "  %-10s %s: first %s last %s min %s max %s; fitted change %s (%s/min), tolerance ±%s\n",
			t.Series, verdict, f(t.First), f(t.Last), f(t.Min), f(t.Max), f(t.Change), f(t.PerMinute), f(t.Tolerance))
	}
	if r.Pass {
		fmt.Fprintln(w, "PASS: no unexpected errors; memory, goroutines and open fds flat after warm-up")
	} else {
		fmt.Fprintln(w, "FAIL: see above")
	}
}

func mib(v float64) string { return fmt.Sprintf("%.1fMiB", v/(1<<20)) }

// prepareWorkspace makes the temporary directory and the KEK and finds the
// server binary, for --soak and --growth.
func (m *Main) prepareWorkspace(ctx context.Context) (*workspace, string, error) {
	c := &m.Config
	ws, err := newWorkspace()
	if err != nil {
		return nil, "", err
	}
	m.onClose(func() {
		if c.Keep {
			m.logf("kept %s", ws.dir)
			return
		}
		os.RemoveAll(ws.dir)
	})
	if err := createKEK(ws.kekFile); err != nil {
		return nil, "", err
	}
	bin, _, err := serverBinary(ctx, c.ServerBin, ws.dir, c.StartTimeout)
	if err != nil {
		return nil, "", err
	}
	return ws, bin, nil
}
