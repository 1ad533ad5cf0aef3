package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gooclaim/auth"
)

// report is everything a run prints, as text or as one JSON object.
type report struct {
	Command    string            `json:"command"`
	Platform   string            `json:"platform"`
	GoVersion  string            `json:"go_version"`
	NumCPU     int               `json:"num_cpu"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	Settings   settings          `json:"settings"`
	Setup      setup             `json:"setup"`
	URLs       map[string]string `json:"urls"`
	Targets    []summary         `json:"targets"`
	Phases     []*phase          `json:"phases"`
	// RatioPercent is the service's median tokens/s as a percentage of the baseline's.
	RatioPercent *float64 `json:"service_baseline_ratio_percent,omitempty"`
	// CPURatioPercent is the baseline's server CPU per token as a percentage
	// of the service's: the ratio of tokens/s each would reach on CPUs of
	// its own, unaffected by the load generator and other processes sharing them.
	CPURatioPercent *float64 `json:"cpu_ratio_percent,omitempty"`
	// ScaleoutRatioPercent is the scale-out target's median tokens/s as a
	// percentage of the embedded service's (--scaleout).
	ScaleoutRatioPercent *float64 `json:"scaleout_embedded_ratio_percent,omitempty"`
	// ScaleoutCPURatioPercent is the service's server CPU per token as a
	// percentage of the scale-out node's; ScaleoutCPURatioWithRedisPercent
	// counts Redis's CPU per token as the scale-out node's too.
	ScaleoutCPURatioPercent          *float64 `json:"scaleout_embedded_cpu_ratio_percent,omitempty"`
	ScaleoutCPURatioWithRedisPercent *float64 `json:"scaleout_embedded_cpu_ratio_with_redis_percent,omitempty"`
	// ScaleoutRoundRatioPercent and ScaleoutRoundCPURatioPercent are the
	// same two ratios as the medians of each round's own (see
	// ceilingRatios): the goal is judged on them when the run has rounds.
	ScaleoutRoundRatioPercent    *float64 `json:"scaleout_embedded_round_ratio_percent,omitempty"`
	ScaleoutRoundCPURatioPercent *float64 `json:"scaleout_embedded_round_cpu_ratio_percent,omitempty"`
	// Backends is what each started server's /readyz says it runs on.
	Backends map[string]string `json:"backends,omitempty"`
	Scaleout *scaleoutInfo     `json:"scaleout,omitempty"`
	// Pinning says where the servers and the load generator ran.
	Pinning *pinning `json:"pinning,omitempty"`
	// Ceiling compares the service with the ceiling, per connection mode
	// (one entry without --tls), and Connections what a new connection costs.
	Ceiling     []ceilingRatios  `json:"service_ceiling,omitempty"`
	Connections []connectionCost `json:"new_connection_cost,omitempty"`

	RateLimit     *rateUsage `json:"rate_limit,omitempty"`
	ResponseCheck string     `json:"response_check,omitempty"`
	// CeilingResponseCheck compares the ceiling's tokens with the service's.
	CeilingResponseCheck string `json:"ceiling_response_check,omitempty"`
	Workspace            string `json:"workspace,omitempty"`
}

type settings struct {
	Clients      int    `json:"clients"`
	Connections  int    `json:"connections"`
	Warmup       string `json:"warmup"`
	Duration     string `json:"duration"`
	Rounds       int    `json:"rounds"`
	Body         string `json:"body"`
	Auth         string `json:"auth"`
	Alg          string `json:"alg,omitempty"`
	RequestLog   bool   `json:"request_log"`
	RateLimit    string `json:"rate_limit"`
	ServerMaxCPU string `json:"server_gomaxprocs_env"`
}

type setup struct {
	ClientsCreated       int     `json:"clients_created,omitempty"`
	CreateSeconds        float64 `json:"create_seconds,omitempty"`
	ServerBin            string  `json:"server_bin,omitempty"`
	BuildSeconds         float64 `json:"build_seconds,omitempty"`
	ServiceReadySeconds  float64 `json:"service_ready_seconds,omitempty"`
	BaselineReadySeconds float64 `json:"baseline_ready_seconds,omitempty"`
	CeilingReadySeconds  float64 `json:"ceiling_ready_seconds,omitempty"`
}

// summary is one target over all its rounds: sums, and medians of the rates
// and percentiles.
type summary struct {
	Target     string         `json:"target"`
	Mode       connMode       `json:"mode,omitempty"`
	Rounds     int            `json:"rounds"`
	Requests   int            `json:"requests"`
	OK         int            `json:"ok"`
	TokensPerS float64        `json:"tokens_per_sec"`
	P50Ms      float64        `json:"p50_ms"`
	P99Ms      float64        `json:"p99_ms"`
	MaxMs      float64        `json:"max_ms"`
	Non200     map[string]int `json:"non_200"`
	// CPUPerTokenUs is the median server CPU time per token (Linux only).
	CPUPerTokenUs float64 `json:"server_cpu_us_per_token,omitempty"`
	// RedisCPUPerTokenUs is the median Redis CPU time per token (the scale-out target only).
	RedisCPUPerTokenUs float64 `json:"redis_cpu_us_per_token,omitempty"`
	// AllocsPerToken is the median of the server's heap allocations per token.
	AllocsPerToken float64 `json:"server_allocs_per_token,omitempty"`
	// TLSRequests and Resumed are the phases' sums (--tls).
	TLSRequests int `json:"tls_requests,omitempty"`
	Resumed     int `json:"tls_resumed,omitempty"`
}

// label names a target in a mode for the text report: "service [resume]".
func label(name string, mode connMode) string {
	if mode == "" {
		return name
	}
	return name + " [" + string(mode) + "]"
}

// scaleoutInfo describes the scale-out target (--scaleout): where its state
// lives, how it was set up, and what came out.
type scaleoutInfo struct {
	PostgresURL string `json:"postgres_url"`
	Schema      string `json:"postgres_schema"`
	RedisURL    string `json:"redis_url"`
	RedisPrefix string `json:"redis_prefix"`
	// Kept is set when --keep left the schema and the keys in place.
	Kept bool `json:"kept,omitempty"`
	// RedisPinning says whether Redis was moved to the load generator's CPUs.
	RedisPinning string `json:"redis_pinning,omitempty"`
	// ClientsCopied clients were stored in the schema in CopySeconds, by
	// CopyWorkers concurrent transactions.
	ClientsCopied int     `json:"clients_copied"`
	CopySeconds   float64 `json:"copy_seconds"`
	CopyWorkers   int     `json:"copy_workers"`
	ReadySeconds  float64 `json:"ready_seconds"`
	// LimiterAfter is the node's rate-limiter backend after the run ("redis",
	// or "fallback" while Redis was unreachable) and FallbackRequests how
	// many requests its in-memory fallback decided instead of Redis.
	LimiterAfter     string `json:"rate_limiter_after_run,omitempty"`
	FallbackRequests int64  `json:"rate_limiter_fallback_requests"`
	LimiterLastError string `json:"rate_limiter_last_error,omitempty"`
	// TargetPercent is the goal for ScaleoutRatioPercent; TargetMet whether it was reached.
	TargetPercent float64    `json:"target_percent"`
	TargetMet     *bool      `json:"target_met,omitempty"`
	RateLimit     *rateUsage `json:"rate_limit,omitempty"`
	ResponseCheck string     `json:"response_check,omitempty"`
	Note          string     `json:"note"`
}

// scaleoutTarget is issue 14's goal: the scale-out configuration serves at
// least this percentage of the embedded one's tokens/s on one node.
const scaleoutTarget = 70.0

// rateUsage compares the requests each client sent to the service with its rate limit.
type rateUsage struct {
	Limit     int     `json:"limit"`
	Window    string  `json:"window"`
	PerClient int     `json:"service_requests_per_client"`
	Seconds   float64 `json:"over_seconds"`
	// PerWindow is the most requests one client sent in any window (exact
	// when the service was driven for less than a window, else an average).
	PerWindow int    `json:"per_client_per_window"`
	Exceeded  bool   `json:"exceeded"`
	Note      string `json:"note"`
}

// commandLine is the command line of the run, quoted for a shell.
func commandLine(args []string) string {
	quoted := []string{"gooclaim-loadgen"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?") {
			a = strconv.Quote(a)
		}
		quoted = append(quoted, a)
	}
	return strings.Join(quoted, " ")
}

func newReport(args []string, c *Config) *report {
	rl := c.RateLimit
	if rl == "" {
		rl = c.rate().String() + " (server default)"
	}
	maxprocs := os.Getenv("GOMAXPROCS")
	if maxprocs == "" {
		maxprocs = "unset"
	}
	r := &report{
		Command:    commandLine(args),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion:  runtime.Version(),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		URLs:       map[string]string{},
		Backends:   map[string]string{},
		Settings: settings{
			Clients:      c.Clients,
			Connections:  c.Connections,
			Warmup:       c.Warmup.String(),
			Duration:     c.Duration.String(),
			Rounds:       c.Rounds,
			Body:         c.Body,
			Auth:         map[string]string{"post": auth.AuthClientSecretPost, "basic": auth.AuthClientSecretBasic}[c.Auth],
			RequestLog:   !c.NoRequestLog,
			RateLimit:    rl,
			ServerMaxCPU: maxprocs,
		},
	}
	if c.Target == "" {
		r.Settings.Alg = c.Alg
	}
	return r
}

func (r *report) addPhase(p *phase) { r.Phases = append(r.Phases, p) }

// finish computes the summaries, the ratio, the rate-limit usage and the
// response check from the phases.
func (r *report) finish(c *Config) {
	// Summaries per target and mode, in the order driven; byTarget holds
	// every mode's phases of a target.
	type key struct {
		name string
		mode connMode
	}
	var keys []key
	byKey := map[key][]*phase{}
	byTarget := map[string][]*phase{}
	for _, p := range r.Phases {
		k := key{p.Target, p.Mode}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], p)
		byTarget[p.Target] = append(byTarget[p.Target], p)
		p.P50Ms, p.P99Ms, p.MaxMs = ms(p.P50), ms(p.P99), ms(p.Max)
	}
	for _, k := range keys {
		ps := byKey[k]
		s := summary{Target: k.name, Mode: k.mode, Rounds: len(ps), Non200: map[string]int{}}
		var tps, p50, p99, cpu, rcpu, allocs []float64
		for _, p := range ps {
			s.TLSRequests += p.TLSRequests
			s.Resumed += p.Resumed
			if p.AllocsPerToken > 0 {
				allocs = append(allocs, p.AllocsPerToken)
			}
			s.Requests += p.Requests
			s.OK += p.OK
			s.MaxMs = max(s.MaxMs, p.MaxMs)
			for k, v := range p.Non200 {
				s.Non200[k] += v
			}
			tps, p50, p99 = append(tps, p.TokensPerS), append(p50, p.P50Ms), append(p99, p.P99Ms)
			if p.CPUPerTokenUs > 0 {
				cpu = append(cpu, p.CPUPerTokenUs)
			}
			if p.RedisCPUPerTokenUs > 0 {
				rcpu = append(rcpu, p.RedisCPUPerTokenUs)
			}
		}
		s.TokensPerS, s.P50Ms, s.P99Ms, s.CPUPerTokenUs = median(tps), median(p50), median(p99), median(cpu)
		s.RedisCPUPerTokenUs, s.AllocsPerToken = median(rcpu), median(allocs)
		r.Targets = append(r.Targets, s)
	}
	r.finishCeiling()
	base, svc := r.summary("baseline"), r.summary("service")
	if base != nil && svc != nil && base.TokensPerS > 0 {
		ratio := math.Round(1000*svc.TokensPerS/base.TokensPerS) / 10
		r.RatioPercent = &ratio
	}
	if base != nil && svc != nil && base.CPUPerTokenUs > 0 && svc.CPUPerTokenUs > 0 {
		ratio := math.Round(1000*base.CPUPerTokenUs/svc.CPUPerTokenUs) / 10
		r.CPURatioPercent = &ratio
	}
	limited := "service"
	if c.Target != "" {
		limited = "target"
	}
	if ps := byTarget[limited]; len(ps) > 0 {
		r.RateLimit = rateUsageOf(ps, r.Settings.Clients, c.rate(), limited)
		if c.Target != "" && c.RateLimit == "" {
			r.RateLimit.Note += " (assuming the server's default limit; pass --rate-limit to compare with another)"
		}
	}
	if bs, ss := byTarget["baseline"], byTarget["service"]; len(bs) > 0 && len(ss) > 0 {
		r.ResponseCheck = compareSamples(bs[0].sample, ss[0].sample)
	}
	if cs, ss := byTarget["ceiling"], byTarget["service"]; len(cs) > 0 && len(ss) > 0 {
		r.CeilingResponseCheck = compareCeiling(cs[0].sample, ss[0].sample)
	}
	if r.Scaleout != nil {
		r.finishScaleout(c, byTarget)
	}
}

// finishScaleout computes the scale-out target's ratios to the embedded service.
func (r *report) finishScaleout(c *Config, byTarget map[string][]*phase) {
	so := r.Scaleout
	so.TargetPercent = scaleoutTarget
	svc, out := r.summary("service"), r.summary("scaleout")
	if svc != nil && out != nil && svc.TokensPerS > 0 {
		ratio := math.Round(1000*out.TokensPerS/svc.TokensPerS) / 10
		r.ScaleoutRatioPercent = &ratio
		met := ratio >= scaleoutTarget
		so.TargetMet = &met
	}
	if svc != nil && out != nil && svc.CPUPerTokenUs > 0 && out.CPUPerTokenUs > 0 {
		ratio := math.Round(1000*svc.CPUPerTokenUs/out.CPUPerTokenUs) / 10
		r.ScaleoutCPURatioPercent = &ratio
		if out.RedisCPUPerTokenUs > 0 {
			ratio := math.Round(1000*svc.CPUPerTokenUs/(out.CPUPerTokenUs+out.RedisCPUPerTokenUs)) / 10
			r.ScaleoutCPURatioWithRedisPercent = &ratio
		}
	}
	if tokens, cpu := r.roundPairs("service", "scaleout", ""); len(tokens) > 0 {
		r.ScaleoutRoundRatioPercent = ptr(math.Round(1000*median(tokens)) / 10)
		met := *r.ScaleoutRoundRatioPercent >= scaleoutTarget
		so.TargetMet = &met
		if len(cpu) > 0 {
			r.ScaleoutRoundCPURatioPercent = ptr(math.Round(1000*median(cpu)) / 10)
		}
	}
	if ps := byTarget["scaleout"]; len(ps) > 0 {
		so.RateLimit = rateUsageOf(ps, r.Settings.Clients, c.rate(), "scale-out node")
	}
	if bs, ss := byTarget["baseline"], byTarget["scaleout"]; len(bs) > 0 && len(ss) > 0 {
		so.ResponseCheck = compareScaleout(bs[0].sample, ss[0].sample)
	}
	where := fmt.Sprintf("Redis runs on this machine, on the same %d CPUs as the servers and the load generator, unpinned, so its work competes with theirs for CPU", r.NumCPU)
	if strings.HasPrefix(so.RedisPinning, "Redis (pid") {
		where = "Redis runs on this machine, on the load generator's CPUs (see pinning), so its work competes with the load generator's, not the node's"
	}
	so.Note = "the scale-out node makes one Redis round trip per token request (the fleet-wide rate limit: one EVALSHA, " +
		"batched with the requests of the moment), which the embedded service decides in its own memory; " + where +
		"; PostgreSQL is off the request path (each node serves clients and keys from its in-memory replica, and only follows PostgreSQL's change feed)"
}

func (r *report) summary(name string) *summary {
	for i := range r.Targets {
		if r.Targets[i].Target == name {
			return &r.Targets[i]
		}
	}
	return nil
}

func rateUsageOf(ps []*phase, clients int, rate auth.Rate, name string) *rateUsage {
	sent := 0
	for _, p := range ps {
		sent += p.Sent
	}
	span := ps[len(ps)-1].ended.Sub(ps[0].started)
	u := &rateUsage{
		Limit:     rate.Limit,
		Window:    rate.String()[strings.IndexByte(rate.String(), '/')+1:],
		PerClient: (sent + clients - 1) / clients,
		Seconds:   math.Round(span.Seconds()*10) / 10,
	}
	u.PerWindow = u.PerClient
	if span > rate.Window {
		u.PerWindow = int(math.Ceil(float64(u.PerClient) * float64(rate.Window) / float64(span)))
	}
	u.Exceeded = u.PerWindow > rate.Limit
	verdict := "within the limit, so the limiter allowed every request"
	if u.Exceeded {
		verdict = "ABOVE the limit: the 429s are the limiter working, not a failure; pass --rate-limit (to serve) or more --clients to measure issuance only"
	} else if float64(u.PerWindow) > 0.8*float64(rate.Limit) {
		verdict = "close to the limit"
	}
	u.Note = fmt.Sprintf("the %s got at most %d requests per client (%d over %d clients in %.1fs, warmup included); the limit is %d per %s per client: %s",
		name, u.PerWindow, sent, clients, u.Seconds, rate.Limit, u.Window, verdict)
	return u
}

// compareSamples checks that the two targets answered tokens of the same
// shape: same JOSE header, same claim names.
func compareSamples(base, svc []byte) string {
	bh, bc, bn, err1 := tokenShape(base)
	sh, sc, sn, err2 := tokenShape(svc)
	switch {
	case err1 != nil:
		return "WARNING: cannot read a baseline token: " + err1.Error()
	case err2 != nil:
		return "WARNING: cannot read a service token: " + err2.Error()
	case bh != sh || bc != sc:
		return fmt.Sprintf("WARNING: tokens differ: baseline header %s claims %s, service header %s claims %s", bh, bc, sh, sc)
	}
	return fmt.Sprintf("both targets answer the same token shape: header %s, claims %s; access_token %d bytes (baseline) vs %d (service)", bh, bc, bn, sn)
}

// compareScaleout checks that the scale-out node answers tokens of the
// baseline's shape: the same JOSE header but for the key ID (the node made
// its own signing key in its PostgreSQL schema), the same claim names.
func compareScaleout(base, out []byte) string {
	bh, bc, bn, err1 := tokenShape(base)
	oh, oc, on, err2 := tokenShape(out)
	switch {
	case err1 != nil:
		return "WARNING: cannot read a baseline token: " + err1.Error()
	case err2 != nil:
		return "WARNING: cannot read a scale-out token: " + err2.Error()
	}
	bhd, bkid := withoutKid(bh)
	ohd, okid := withoutKid(oh)
	if bhd != ohd || bc != oc {
		return fmt.Sprintf("WARNING: tokens differ: baseline header %s claims %s, scaleout header %s claims %s", bh, bc, oh, oc)
	}
	return fmt.Sprintf("the scale-out node answers the same token shape: header %s but for its own key (kid %s, the baseline's %s), claims %s; access_token %d bytes (scaleout) vs %d (baseline)",
		bhd, okid, bkid, bc, on, bn)
}

// withoutKid returns a JOSE header without its kid, re-encoded with sorted
// members, and the kid.
func withoutKid(header string) (string, string) {
	var h map[string]any
	if json.Unmarshal([]byte(header), &h) != nil {
		return header, ""
	}
	kid, _ := h["kid"].(string)
	delete(h, "kid")
	b, _ := json.Marshal(h)
	return string(b), kid
}

// tokenShape returns a token response's JOSE header, its sorted claim names
// and the access token's length.
func tokenShape(body []byte) (header, claims string, n int, err error) {
	if body == nil {
		return "", "", 0, fmt.Errorf("no 200 answer was seen")
	}
	var t auth.Token
	if err := json.Unmarshal(body, &t); err != nil {
		return "", "", 0, err
	}
	parts := strings.Split(t.AccessToken, ".")
	if len(parts) != 3 || t.TokenType != "Bearer" {
		return "", "", 0, fmt.Errorf("not a Bearer JWS: %.60q", t.AccessToken)
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	c, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err1 != nil || err2 != nil || json.Unmarshal(c, &m) != nil {
		return "", "", 0, fmt.Errorf("malformed JWS")
	}
	return string(h), "[" + strings.Join(slices.Sorted(maps.Keys(m)), " ") + "]", len(t.AccessToken), nil
}

// writeReport prints rep as --json asks: one indented JSON object, or
// its text for people. Every mode's report goes out through it.
func (m *Main) writeReport(rep interface{ writeText(io.Writer) }) error {
	if m.Config.JSON {
		e := json.NewEncoder(m.stdout)
		e.SetIndent("", "  ")
		e.SetEscapeHTML(false)
		return e.Encode(rep)
	}
	rep.writeText(m.stdout)
	return nil
}

func (r *report) writeText(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "command:   %s\n", r.Command)
	fmt.Fprintf(w, "machine:   %s %s, NumCPU %d, GOMAXPROCS %d (loadgen; servers: GOMAXPROCS env %s)\n",
		r.Platform, r.GoVersion, r.NumCPU, r.GOMAXPROCS, s.ServerMaxCPU)
	if p := r.Pinning; p != nil {
		note := p.Note
		if r.Scaleout != nil {
			note += "; PostgreSQL is a system service off the request path, not pinned; " + r.Scaleout.RedisPinning
		}
		fmt.Fprintf(w, "pinning:   %s\n", note)
	}
	alg := ""
	if s.Alg != "" {
		alg = ", " + s.Alg
	}
	reqLog := "request log on"
	if !s.RequestLog {
		reqLog = "request log OFF"
	}
	fmt.Fprintf(w, "settings:  %d clients, %d connections, %s warmup + %s measured per target, %d round(s), %s body, %s%s, %s, rate limit %s\n",
		s.Clients, s.Connections, s.Warmup, s.Duration, s.Rounds, s.Body, s.Auth, alg, reqLog, s.RateLimit)
	if u := r.Setup; u.ClientsCreated > 0 {
		line := fmt.Sprintf("setup:     %d clients created in %.2fs (%.0f/s, admin.Service.CreateClient, one transaction each)",
			u.ClientsCreated, u.CreateSeconds, float64(u.ClientsCreated)/max(u.CreateSeconds, 0.001))
		if u.BuildSeconds > 0 {
			line += fmt.Sprintf("; server built in %.1fs", u.BuildSeconds)
		}
		line += fmt.Sprintf("; service ready in %.2fs", u.ServiceReadySeconds)
		if u.CeilingReadySeconds > 0 {
			line += fmt.Sprintf(", ceiling in %.2fs", u.CeilingReadySeconds)
		}
		if u.BaselineReadySeconds > 0 {
			line += fmt.Sprintf(", baseline in %.2fs", u.BaselineReadySeconds)
		}
		if so := r.Scaleout; so != nil {
			line += fmt.Sprintf(", scaleout in %.2fs", so.ReadySeconds)
		}
		fmt.Fprintln(w, line)
	}
	if so := r.Scaleout; so != nil {
		fmt.Fprintf(w, "scaleout:  PostgreSQL %s schema %s, Redis %s key prefix %s; the same %d clients (IDs, secret hashes) stored there in %.2fs (%.0f/s, %d concurrent transactions)",
			so.PostgresURL, so.Schema, so.RedisURL, so.RedisPrefix, so.ClientsCopied, so.CopySeconds,
			float64(so.ClientsCopied)/max(so.CopySeconds, 0.001), so.CopyWorkers)
		if so.Kept {
			fmt.Fprint(w, "; kept (--keep)")
		}
		fmt.Fprintln(w)
	}
	for _, name := range urlOrder(r.URLs) {
		line := fmt.Sprintf("%-10s %s", name+":", r.URLs[name])
		if b := r.Backends[name]; b != "" {
			line += " (" + b + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)

	withRedis := r.Scaleout != nil
	withTLS := false
	for _, t := range r.Targets {
		withTLS = withTLS || t.TLSRequests > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "target\trequests\ttokens/s\tp50\tp99\tmax\tserver CPU/token\tallocs/token\t"
	if withRedis {
		head += "Redis CPU/token\t"
	}
	if withTLS {
		head += "resumed\t"
	}
	fmt.Fprintln(tw, head+"non-200\t")
	row := func(name string, requests int, tps, p50, p99, maxMs, cpu, allocs, rcpu float64, resumed, tlsReqs int, non200 map[string]int) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t", name, requests, tps, fmtMs(p50), fmtMs(p99), fmtMs(maxMs), fmtUs(cpu), fmtAllocs(allocs))
		if withRedis {
			fmt.Fprintf(tw, "%s\t", fmtUs(rcpu))
		}
		if withTLS {
			fmt.Fprintf(tw, "%d/%d\t", resumed, tlsReqs)
		}
		fmt.Fprintf(tw, "%s\t\n", fmtNon200(non200))
	}
	if len(r.Phases) > len(r.Targets) {
		for _, p := range r.Phases {
			row(fmt.Sprintf("%s #%d", label(p.Target, p.Mode), p.Round), p.Requests, p.TokensPerS, p.P50Ms, p.P99Ms, p.MaxMs,
				p.CPUPerTokenUs, p.AllocsPerToken, p.RedisCPUPerTokenUs, p.Resumed, p.TLSRequests, p.Non200)
		}
	}
	for _, t := range r.Targets {
		name := label(t.Target, t.Mode)
		if t.Rounds > 1 {
			name += " (median)"
		}
		row(name, t.Requests, t.TokensPerS, t.P50Ms, t.P99Ms, t.MaxMs, t.CPUPerTokenUs, t.AllocsPerToken, t.RedisCPUPerTokenUs, t.Resumed, t.TLSRequests, t.Non200)
	}
	tw.Flush()
	fmt.Fprintln(w)
	r.writeCeilingText(w)
	if r.RatioPercent != nil {
		fmt.Fprintf(w, "service/baseline ratio: %.1f%%\n", *r.RatioPercent)
		if r.CPURatioPercent != nil {
			fmt.Fprintf(w, "service/baseline ratio by server CPU per token: %.1f%% (what each would reach on CPUs of its own)\n", *r.CPURatioPercent)
		}
		fmt.Fprintln(w)
	}
	if so := r.Scaleout; so != nil {
		if r.ScaleoutRatioPercent != nil {
			verdict := "NOT MET"
			if so.TargetMet != nil && *so.TargetMet {
				verdict = "met"
			}
			judged := ""
			if r.ScaleoutRoundRatioPercent != nil {
				judged = "; judged on the rounds' own ratios below"
			}
			fmt.Fprintf(w, "scaleout/embedded ratio: %.1f%% (scaleout tokens/s ÷ service tokens/s; target ≥ %.0f%%: %s%s)\n", *r.ScaleoutRatioPercent, so.TargetPercent, verdict, judged)
		}
		if r.ScaleoutRoundRatioPercent != nil {
			line := fmt.Sprintf("scaleout/embedded ratio, median of the rounds' own ratios: tokens/s %.1f%%", *r.ScaleoutRoundRatioPercent)
			if r.ScaleoutRoundCPURatioPercent != nil {
				line += fmt.Sprintf(", by the node's CPU per token %.1f%%", *r.ScaleoutRoundCPURatioPercent)
			}
			fmt.Fprintln(w, line)
		}
		if r.ScaleoutCPURatioPercent != nil {
			line := fmt.Sprintf("scaleout/embedded ratio by CPU per token: %.1f%% counting the node's CPU only", *r.ScaleoutCPURatioPercent)
			if r.ScaleoutCPURatioWithRedisPercent != nil {
				line += fmt.Sprintf(", %.1f%% counting Redis's CPU per token as the node's too", *r.ScaleoutCPURatioWithRedisPercent)
			}
			fmt.Fprintln(w, line+" (what each would reach on CPUs of its own)")
		}
		limiter := fmt.Sprintf("the scale-out node's rate limiter after the run: %s, %d requests decided by its in-memory fallback instead of Redis", so.LimiterAfter, so.FallbackRequests)
		if so.FallbackRequests > 0 || (so.LimiterAfter != "" && so.LimiterAfter != "redis") {
			limiter = "WARNING: " + limiter + " (last error: " + so.LimiterLastError + "): those requests did not pay the Redis round trip"
		}
		fmt.Fprintln(w, limiter)
		fmt.Fprintf(w, "note: %s\n", so.Note)
		fmt.Fprintln(w)
	}
	for _, p := range r.Phases {
		if p.ServerCPUSeconds > 0 {
			redis := ""
			if withRedis {
				redis = fmt.Sprintf(", Redis %.2fs", p.RedisCPUSeconds)
			}
			if pin := r.Pinning; pin != nil && len(pin.ServerCPUs) > 0 {
				fmt.Fprintln(w, pinnedCPULine(p, len(pin.ServerCPUs), len(pin.LoadgenCPUs), redis))
				continue
			}
			fmt.Fprintf(w, "CPU while measuring %s #%d: server %.1fs, load generator %.1fs%s, of %.1fs available (%d CPUs × %.1fs)\n",
				label(p.Target, p.Mode), p.Round, p.ServerCPUSeconds, p.LoadgenCPUSeconds, redis, float64(r.NumCPU)*p.Seconds, r.NumCPU, p.Seconds)
		}
	}
	if withRedis {
		fmt.Fprintln(w, "(Redis's CPU is the whole Redis server's, from INFO cpu: while baseline and service are measured it is other clients' background work)")
	}
	for _, p := range r.Phases {
		if p.FirstError != "" {
			fmt.Fprintf(w, "first transport error (%s #%d): %s\n", label(p.Target, p.Mode), p.Round, p.FirstError)
		}
	}
	if r.RateLimit != nil {
		fmt.Fprintf(w, "rate limit: %s\n", r.RateLimit.Note)
	}
	if so := r.Scaleout; so != nil && so.RateLimit != nil {
		fmt.Fprintf(w, "rate limit: %s\n", so.RateLimit.Note)
	}
	if r.ResponseCheck != "" {
		fmt.Fprintf(w, "responses:  %s\n", r.ResponseCheck)
	}
	if so := r.Scaleout; so != nil && so.ResponseCheck != "" {
		fmt.Fprintf(w, "responses:  %s\n", so.ResponseCheck)
	}
	if r.CeilingResponseCheck != "" {
		fmt.Fprintf(w, "responses:  %s\n", r.CeilingResponseCheck)
	}
	if r.Workspace != "" {
		logs := "server.log, ceiling.log, baseline.log"
		if r.Scaleout != nil {
			logs += ", scaleout.log"
		}
		fmt.Fprintf(w, "workspace:  %s (%s, clients.json for --target/--clients-file)\n", r.Workspace, logs)
	}
}

// urlOrder lists the targets in the order they are driven, then any other.
func urlOrder(urls map[string]string) []string {
	var names []string
	for _, n := range []string{"ceiling", "baseline", "service", "scaleout", "target"} {
		if _, ok := urls[n]; ok {
			names = append(names, n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(urls)) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func fmtMs(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "ms" }

func fmtUs(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "µs"
}

func fmtNon200(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
