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

	auth "github.com/gooclaim/gooclaim-auth"
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

	RateLimit     *rateUsage `json:"rate_limit,omitempty"`
	ResponseCheck string     `json:"response_check,omitempty"`
	Workspace     string     `json:"workspace,omitempty"`
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
}

// summary is one target over all its rounds: sums, and medians of the rates
// and percentiles.
type summary struct {
	Target     string         `json:"target"`
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
}

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

func newReport(args []string, c *Config) *report {
	quoted := []string{"gooclaim-loadgen"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?") {
			a = strconv.Quote(a)
		}
		quoted = append(quoted, a)
	}
	rl := c.RateLimit
	if rl == "" {
		rl = c.rate().String() + " (server default)"
	}
	maxprocs := os.Getenv("GOMAXPROCS")
	if maxprocs == "" {
		maxprocs = "unset"
	}
	r := &report{
		Command:    strings.Join(quoted, " "),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion:  runtime.Version(),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		URLs:       map[string]string{},
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
	var names []string
	byTarget := map[string][]*phase{}
	for _, p := range r.Phases {
		if _, ok := byTarget[p.Target]; !ok {
			names = append(names, p.Target)
		}
		byTarget[p.Target] = append(byTarget[p.Target], p)
		p.P50Ms, p.P99Ms, p.MaxMs = ms(p.P50), ms(p.P99), ms(p.Max)
	}
	for _, name := range names {
		ps := byTarget[name]
		s := summary{Target: name, Rounds: len(ps), Non200: map[string]int{}}
		var tps, p50, p99, cpu []float64
		for _, p := range ps {
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
		}
		s.TokensPerS, s.P50Ms, s.P99Ms, s.CPUPerTokenUs = median(tps), median(p50), median(p99), median(cpu)
		r.Targets = append(r.Targets, s)
	}
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

func (r *report) writeJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	return e.Encode(r)
}

func (r *report) writeText(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "command:   %s\n", r.Command)
	fmt.Fprintf(w, "machine:   %s %s, NumCPU %d, GOMAXPROCS %d (loadgen; servers: GOMAXPROCS env %s); load generator and servers share these CPUs\n",
		r.Platform, r.GoVersion, r.NumCPU, r.GOMAXPROCS, s.ServerMaxCPU)
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
		line += fmt.Sprintf("; service ready in %.2fs, baseline in %.2fs", u.ServiceReadySeconds, u.BaselineReadySeconds)
		fmt.Fprintln(w, line)
	}
	for _, name := range slices.Sorted(maps.Keys(r.URLs)) {
		fmt.Fprintf(w, "%-10s %s\n", name+":", r.URLs[name])
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\ttokens/s\tp50\tp99\tmax\tserver CPU/token\tnon-200\t")
	if len(r.Phases) > len(r.Targets) {
		for _, p := range r.Phases {
			fmt.Fprintf(tw, "%s #%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", p.Target, p.Round, p.Requests, p.TokensPerS,
				fmtMs(p.P50Ms), fmtMs(p.P99Ms), fmtMs(p.MaxMs), fmtUs(p.CPUPerTokenUs), fmtNon200(p.Non200))
		}
	}
	for _, t := range r.Targets {
		name := t.Target
		if t.Rounds > 1 {
			name += " (median)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", name, t.Requests, t.TokensPerS,
			fmtMs(t.P50Ms), fmtMs(t.P99Ms), fmtMs(t.MaxMs), fmtUs(t.CPUPerTokenUs), fmtNon200(t.Non200))
	}
	tw.Flush()
	fmt.Fprintln(w)
	if r.RatioPercent != nil {
		fmt.Fprintf(w, "service/baseline ratio: %.1f%%\n", *r.RatioPercent)
		if r.CPURatioPercent != nil {
			fmt.Fprintf(w, "service/baseline ratio by server CPU per token: %.1f%% (what each would reach on CPUs of its own)\n", *r.CPURatioPercent)
		}
		fmt.Fprintln(w)
	}
	for _, p := range r.Phases {
		if p.ServerCPUSeconds > 0 {
			fmt.Fprintf(w, "CPU while measuring %s #%d: server %.1fs, load generator %.1fs, of %.1fs available (%d CPUs × %.1fs)\n",
				p.Target, p.Round, p.ServerCPUSeconds, p.LoadgenCPUSeconds, float64(r.NumCPU)*p.Seconds, r.NumCPU, p.Seconds)
		}
	}
	for _, p := range r.Phases {
		if p.FirstError != "" {
			fmt.Fprintf(w, "first transport error (%s #%d): %s\n", p.Target, p.Round, p.FirstError)
		}
	}
	if r.RateLimit != nil {
		fmt.Fprintf(w, "rate limit: %s\n", r.RateLimit.Note)
	}
	if r.ResponseCheck != "" {
		fmt.Fprintf(w, "responses:  %s\n", r.ResponseCheck)
	}
	if r.Workspace != "" {
		fmt.Fprintf(w, "workspace:  %s (server.log, baseline.log, clients.json for --target/--clients-file)\n", r.Workspace)
	}
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
