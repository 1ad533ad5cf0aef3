package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth/admin"
)

// --policies measures what claims and a condition in CEL cost a token
// (issue 19, point 5: with three claim expressions and a condition, tokens/s
// ≥ 0.95 of the same client without them). One database holds two sets of
// --clients clients each, alike but for the expressions: the plain set, and
// the policies set whose clients carry policyClaims, policyCondition and the
// metadata the claims read. One server serves both; each round drives one
// set then the other (the order reversed every round), and the report gives
// each set's tokens/s, server CPU and allocations per token, and the ratio
// policies ÷ plain per round and its median.

// policyGoal is the least policies ÷ plain ratio of tokens/s issue 19 asks.
const policyGoal = 0.95

// policyClaims are the three claim expressions of the policies set: a
// metadata lookup, an optional one (null leaves the claim out) and a
// function of the request.
var policyClaims = map[string]string{
	"tenant":   "client.metadata.tenant",
	"env":      "has(client.metadata.env) ? client.metadata.env : null",
	"scopes_n": "size(request.scope)",
}

// policyCondition is the policies set's condition: an IP allow-list the
// load generator's loopback address passes.
const policyCondition = `ip_in(request.remote_ip, ["127.0.0.0/8", "::1/128"])`

// policyMetadata is what the policies set's claims read.
var policyMetadata = map[string]string{"tenant": "acme", "env": "prod"}

// policySetResult is one set's phases and their medians over the rounds.
type policySetResult struct {
	Name           string         `json:"name"`
	Rounds         []float64      `json:"tokens_per_sec_rounds"`
	TokensPerS     float64        `json:"tokens_per_sec"`
	P50Ms          float64        `json:"p50_ms"`
	P99Ms          float64        `json:"p99_ms"`
	CPUPerTokenUs  float64        `json:"server_cpu_us_per_token"`
	AllocsPerToken float64        `json:"server_allocs_per_token"`
	Non200         map[string]int `json:"non_200"`

	// FirstCPUPerTokenUs is the server CPU per token of the priming pass,
	// one token per client: the first token of a policies client compiles
	// its expressions (once per client version and replica).
	FirstCPUPerTokenUs float64 `json:"first_token_server_cpu_us_per_token"`
	FirstSeconds       float64 `json:"first_tokens_seconds"`

	phases []*phase
	drv    *driver
}

// pairSettings are what a paired measurement (--policies, --reuse) ran
// with, at the head of its report.
type pairSettings struct {
	Command     string   `json:"command"`
	Alg         string   `json:"alg"`
	Clients     int      `json:"clients_per_set"`
	RateLimit   string   `json:"rate_limit"`
	Connections int      `json:"connections"`
	Warmup      string   `json:"warmup"`
	Duration    string   `json:"duration"`
	Rounds      int      `json:"rounds"`
	NumCPU      int      `json:"num_cpu"`
	Pinning     *pinning `json:"pinning"`
}

// pairSettings returns the settings of this run, pinned as pin says.
func (m *Main) pairSettings(pin *pinning) pairSettings {
	c := &m.Config
	return pairSettings{Command: commandLine(m.args), Alg: c.Alg, Clients: c.Clients, RateLimit: c.rate().String(),
		Connections: c.Connections, Warmup: c.Warmup.String(), Duration: c.Duration.String(), Rounds: c.Rounds,
		NumCPU: runtime.NumCPU(), Pinning: pin}
}

// writeHead writes the report's first lines: name, command and settings.
func (s *pairSettings) writeHead(w io.Writer, name string) {
	fmt.Fprintf(w, "%s: %s\n", name, s.Command)
	fmt.Fprintf(w, "%s; %d clients per set; rate limit %s per client; %d connections; %s warm-up + %s measured per phase; %d rounds (order reversed every round); medians over the rounds\n",
		s.Alg, s.Clients, s.RateLimit, s.Connections, s.Warmup, s.Duration, s.Rounds)
	fmt.Fprintf(w, "%s\n", s.Pinning.Note)
}

// pairRatios compare the second set of a paired measurement with the
// first: RatioRounds is b ÷ a tokens/s per round (the two phases of a
// round were taken one after the other), Ratio their median; CPURatio
// likewise for a ÷ b CPU per token. Met says whether Ratio reached Goal
// with every answer a 200 and the report's own check passed.
type pairRatios struct {
	RatioRounds    []float64 `json:"ratio_rounds"`
	Ratio          float64   `json:"ratio"`
	CPURatioRounds []float64 `json:"cpu_ratio_rounds,omitempty"`
	CPURatio       float64   `json:"cpu_ratio,omitempty"`
	Goal           float64   `json:"goal"`
	Met            bool      `json:"met"`
}

// writeSets writes a line per set: its tokens/s per round, and its medians.
func writeSets(w io.Writer, sets ...*policySetResult) {
	width := 0
	for _, sr := range sets {
		width = max(width, len(sr.Name))
	}
	for _, sr := range sets {
		fmt.Fprintf(w, "  %-*s %v → %6.0f tokens/s, p50 %6.2fms p99 %6.2fms, CPU %6.1fµs/token, %6.1f allocs/token, non-200 %s\n",
			width, sr.Name, sr.Rounds, sr.TokensPerS, sr.P50Ms, sr.P99Ms, sr.CPUPerTokenUs, sr.AllocsPerToken, fmtNon200(sr.Non200))
	}
}

// writeRatios writes b ÷ a tokens/s and a ÷ b CPU per token with their
// rounds, each line after indent, and with verdict whether Ratio met Goal.
func (r *pairRatios) writeRatios(w io.Writer, indent, a, b string, verdict bool) {
	fmt.Fprintf(w, "%s%s ÷ %s tokens/s: %.3f (per round %v", indent, b, a, r.Ratio, r.RatioRounds)
	if verdict {
		met := "not met"
		if r.Met {
			met = "met"
		}
		fmt.Fprintf(w, "; goal ≥ %g: %s", r.Goal, met)
	}
	fmt.Fprintln(w, ")")
	if len(r.CPURatioRounds) > 0 {
		fmt.Fprintf(w, "%s%s ÷ %s CPU per token: %.3f (per round %v)\n", indent, a, b, r.CPURatio, r.CPURatioRounds)
	}
}

// compare takes both sets' medians and fills the ratios of b to a, and
// Met given the report's check.
func (r *pairRatios) compare(a, b *policySetResult, checked bool) {
	summarizeSets(a, b)
	r.RatioRounds, r.CPURatioRounds = policyRoundRatios(a.phases, b.phases)
	r.Ratio, r.CPURatio = median(r.RatioRounds), median(r.CPURatioRounds)
	r.Met = r.Ratio >= r.Goal && checked && len(a.Non200) == 0 && len(b.Non200) == 0
}

type policiesReport struct {
	pairSettings
	Claims    map[string]string `json:"claims"`
	Condition string            `json:"condition"`
	Metadata  map[string]string `json:"metadata"`

	Plain      *policySetResult `json:"plain"`
	Policies   *policySetResult `json:"policies"`
	pairRatios                  // policies ÷ plain tokens/s; plain ÷ policies CPU per token (below 1: a policy token costs more)
	// ClaimsCheck says whether a policies token carries the claims and a
	// plain one does not.
	ClaimsCheck string `json:"claims_check"`
	ClaimsOK    bool   `json:"claims_ok"`
}

// policySpec is the client i of a --policies database of n per set: the
// first n plain, the next n with the expressions.
func policySpec(i, n int) admin.ClientSpec {
	if i < n {
		return admin.ClientSpec{Name: fmt.Sprintf("loadgen-plain-%07d", i), Scopes: []string{testScope}}
	}
	return admin.ClientSpec{Name: fmt.Sprintf("loadgen-policy-%07d", i-n), Scopes: []string{testScope},
		Claims: maps.Clone(policyClaims), Condition: policyCondition, Metadata: maps.Clone(policyMetadata)}
}

// runPolicies is --policies.
func (m *Main) runPolicies(ctx context.Context) error {
	c := &m.Config
	m.logf("%d plain clients and %d with %d claim expressions and a condition", c.Clients, c.Clients, len(policyClaims))
	sets, pin, err := m.runPair(ctx, [2]string{"plain", "policies"}, policySpec, false)
	if err != nil {
		return err
	}
	plain, pol := sets[0], sets[1]
	rep := &policiesReport{pairSettings: m.pairSettings(pin), Claims: policyClaims, Condition: policyCondition,
		Metadata: policyMetadata, pairRatios: pairRatios{Goal: policyGoal}, Plain: plain, Policies: pol}
	rep.summarize()
	return m.writeReport(rep)
}

// runPair creates --clients clients of each of two sets (spec(i, n) is
// client i of 2n: the first n of the first set), starts one service over
// them, primes every client with one token and drives the two sets one
// after the other in each of --rounds rounds, the order reversed every
// round. With ceiling, the ceiling (ceiling.go) serves the same clients
// too, and its two sets are driven in the same rounds: sets holds the
// service's two, then the ceiling's. The results' phases are per round,
// their medians not yet taken (summarizeSets).
func (m *Main) runPair(ctx context.Context, names [2]string, spec func(i, n int) admin.ClientSpec, ceiling bool) (sets []*policySetResult, pin *pinning, err error) {
	c := &m.Config
	ws, bin, err := m.prepareWorkspace(ctx)
	if err != nil {
		return nil, nil, err
	}
	pin = m.setupPinning()
	n := c.Clients
	m.logf("creating %d %s and %d %s clients in %s", n, names[0], n, names[1], ws.database)
	t0 := time.Now()
	creds, clients, err := createClientsWith(ctx, ws.database, 2*n, func(i int) admin.ClientSpec { return spec(i, n) })
	if err != nil {
		return nil, nil, err
	}
	m.logf("created %d clients in %.1fs", 2*n, since(t0))
	srv, err := m.startServiceOn(ctx, "service", bin, ws.database, ws.kekFile, ws.dir, c.RateLimit, pin.ServerCPUs)
	if err != nil {
		return nil, nil, err
	}
	type server struct {
		prefix, base string
		pid          int
		mallocs      func(context.Context) (uint64, error)
		exited       func() error
	}
	servers := []server{{"", "http://" + srv.addr, srv.cmd.Process.Pid, opsMallocs("http://" + srv.opsAddr), func() error {
		if srv.exited() {
			return fmt.Errorf("the service exited (%v); its log %s ends with:\n%s", srv.err, srv.logPath, srv.logTail())
		}
		return nil
	}}}
	if ceiling {
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, fmt.Errorf("find this program to start the ceiling: %w", err)
		}
		_, port, _ := net.SplitHostPort(srv.addr)
		ceil, err := m.startCeiling(ctx, exe, ws, creds, clients, "http://localhost:"+port, "", "", pin.ServerCPUs)
		if err != nil {
			return nil, nil, err
		}
		servers = append(servers, server{"ceiling ", "http://" + ceil.addr, ceil.cmd.Process.Pid, debugMallocs("http://" + ceil.opsAddr), func() error {
			if ceil.exited() {
				return fmt.Errorf("the ceiling exited (%v); its log %s ends with:\n%s", ceil.err, ceil.logPath, ceil.logTail())
			}
			return nil
		}})
	}
	exited := make(map[*policySetResult]func() error)
	for _, sv := range servers {
		for k, part := range [][]credential{creds[:n], creds[n:]} {
			r := &policySetResult{Name: sv.prefix + names[k], Non200: map[string]int{}}
			d, err := newDriver(r.Name, sv.base, newRequestSet(part, c.Body, c.Auth))
			if err != nil {
				return nil, nil, err
			}
			d.pid = sv.pid
			m.measureMallocs(ctx, d, sv.mallocs)
			r.drv = d
			sets = append(sets, r)
			exited[r] = sv.exited
		}
	}
	// Priming: one token per client, so that the rounds measure the steady
	// state — every policies client's expressions compiled, every reusing
	// client's token kept —; what the first tokens cost is reported on its own.
	for _, r := range sets {
		m.logf("priming %s: one token per client (%d)", r.Name, n)
		if err := m.prime(ctx, r); err != nil {
			return nil, nil, fmt.Errorf("prime %s: %w", r.Name, err)
		}
		m.logf("  %.2fs, %.1fµs CPU/token", r.FirstSeconds, r.FirstCPUPerTokenUs)
	}
	s := driveSettings{connections: c.Connections, warmup: c.Warmup, duration: c.Duration, requestTimeout: c.RequestTimeout}
	for round := 1; round <= c.Rounds; round++ {
		// The order is reversed every round, so that no set always runs
		// first or last while the machine's speed drifts, nor always on a
		// server another set has just warmed (or heated).
		order := slices.Clone(sets)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, r := range order {
			m.logf("round %d/%d: %s (%s warmup, %s measured, %d connections)", round, c.Rounds, r.Name, c.Warmup, c.Duration, c.Connections)
			p, err := r.drv.run(ctx, round, s)
			if err != nil {
				return nil, nil, fmt.Errorf("drive %s: %w", r.Name, err)
			}
			if err := exited[r](); err != nil {
				return nil, nil, err
			}
			m.logf("  %.0f tokens/s, p99 %.2fms, %.1fµs CPU/token, %.0f allocs/token, non-200 %v", p.TokensPerS, ms(p.P99), p.CPUPerTokenUs, p.AllocsPerToken, p.Non200)
			r.phases = append(r.phases, p)
		}
	}
	return sets, pin, nil
}

// prime sends one request per client of r's set over --connections
// workers and records the time and the server's CPU per token it took.
func (m *Main) prime(ctx context.Context, r *policySetResult) error {
	d := r.drv
	hc := &http.Client{Transport: d.transport(driveSettings{connections: m.Config.Connections}), Timeout: m.Config.RequestTimeout}
	defer hc.CloseIdleConnections()
	n := len(d.reqs.bodies)
	var next, ok atomic.Int64
	var firstErr atomic.Value
	cpu0, ok0 := processCPU(d.pid)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range m.Config.Connections {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				status, _, _, err := d.do(ctx, hc, i, false)
				switch {
				case err != nil:
					firstErr.CompareAndSwap(nil, err.Error())
				case status != http.StatusOK:
					firstErr.CompareAndSwap(nil, fmt.Sprintf("HTTP %d", status))
				default:
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r.FirstSeconds = since(t0)
	if err := ctx.Err(); err != nil {
		return err
	}
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%d of %d answered 200; first failure: %s", ok.Load(), n, e)
	}
	if cpu1, ok1 := processCPU(d.pid); ok0 && ok1 && cpu1 > cpu0 {
		r.FirstCPUPerTokenUs = perTokenUs(cpu1-cpu0, int(ok.Load()))
	}
	return nil
}

func (r *policiesReport) summarize() {
	r.compare(r.Plain, r.Policies, true)
	r.ClaimsCheck, r.ClaimsOK = checkPolicyClaims(lastSample(r.Plain.phases), lastSample(r.Policies.phases))
}

// summarizeSets takes each set's medians over its rounds.
func summarizeSets(sets ...*policySetResult) {
	for _, sr := range sets {
		var tps, p50, p99, cpu, allocs []float64
		for _, p := range sr.phases {
			tps = append(tps, math.Round(p.TokensPerS))
			p50, p99 = append(p50, ms(p.P50)), append(p99, ms(p.P99))
			if p.CPUPerTokenUs > 0 {
				cpu = append(cpu, p.CPUPerTokenUs)
			}
			if p.AllocsPerToken > 0 {
				allocs = append(allocs, p.AllocsPerToken)
			}
			for k, v := range p.Non200 {
				sr.Non200[k] += v
			}
		}
		sr.Rounds, sr.TokensPerS, sr.P50Ms, sr.P99Ms = tps, median(tps), median(p50), median(p99)
		sr.CPUPerTokenUs, sr.AllocsPerToken = median(cpu), median(allocs)
	}
}

// policyRoundRatios is, per round, policies ÷ plain tokens/s and plain ÷
// policies CPU per token (both below 1 when the expressions cost), to 0.001.
func policyRoundRatios(plain, pol []*phase) (tps, cpu []float64) {
	for i := range min(len(plain), len(pol)) {
		if plain[i].TokensPerS > 0 {
			tps = append(tps, math.Round(1000*pol[i].TokensPerS/plain[i].TokensPerS)/1000)
		}
		if plain[i].CPUPerTokenUs > 0 && pol[i].CPUPerTokenUs > 0 {
			cpu = append(cpu, math.Round(1000*plain[i].CPUPerTokenUs/pol[i].CPUPerTokenUs)/1000)
		}
	}
	return tps, cpu
}

func lastSample(ps []*phase) []byte {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].sample != nil {
			return ps[i].sample
		}
	}
	return nil
}

// checkPolicyClaims says whether the policies token (a token response's
// body) carries the claims the expressions give for policyMetadata and the
// plain one none of them.
func checkPolicyClaims(plainBody, polBody []byte) (string, bool) {
	want := map[string]any{"tenant": policyMetadata["tenant"], "env": policyMetadata["env"], "scopes_n": float64(1)}
	pc, err := tokenClaims(polBody)
	if err != nil {
		return "policies token: " + err.Error(), false
	}
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if pc[k] != want[k] {
			bad = append(bad, fmt.Sprintf("%s = %v, want %v", k, pc[k], want[k]))
		}
	}
	if plainBody != nil {
		qc, err := tokenClaims(plainBody)
		if err != nil {
			return "plain token: " + err.Error(), false
		}
		for k := range want {
			if _, ok := qc[k]; ok {
				bad = append(bad, "the plain token has "+k)
			}
		}
	}
	if len(bad) > 0 {
		return "claims wrong: " + strings.Join(bad, "; "), false
	}
	return `a policies token carries tenant "acme", env "prod", scopes_n 1; a plain token none of them`, true
}

// tokenClaims decodes the claims of the access token in a token response.
func tokenClaims(body []byte) (map[string]any, error) {
	if body == nil {
		return nil, fmt.Errorf("no 200 answer sampled")
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	parts := strings.Split(resp.AccessToken, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the access token is not a JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(raw, &claims)
}

func (r *policiesReport) writeText(w io.Writer) {
	r.writeHead(w, "policies")
	fmt.Fprintf(w, "policies clients: metadata %v; condition %s; claims:\n", r.Metadata, r.Condition)
	for _, k := range slices.Sorted(maps.Keys(r.Claims)) {
		fmt.Fprintf(w, "  %s: %s\n", k, r.Claims[k])
	}
	fmt.Fprintln(w)
	writeSets(w, r.Plain, r.Policies)
	fmt.Fprintf(w, "  first token of each client (priming, before the rounds; a policies client's compiles its expressions): plain %.1fµs CPU/token, policies %.1fµs\n",
		r.Plain.FirstCPUPerTokenUs, r.Policies.FirstCPUPerTokenUs)
	fmt.Fprintln(w)
	r.writeRatios(w, "", "plain", "policies", true)
	if d := r.Policies.AllocsPerToken - r.Plain.AllocsPerToken; r.Plain.AllocsPerToken > 0 && r.Policies.AllocsPerToken > 0 {
		fmt.Fprintf(w, "allocations the expressions add: %+.1f per token\n", d)
	}
	fmt.Fprintf(w, "claims check: %s\n", r.ClaimsCheck)
}
