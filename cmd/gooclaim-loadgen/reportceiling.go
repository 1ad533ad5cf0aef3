package main

import (
	"fmt"
	"io"
	"math"
)

// ceilingRatios compare the service with the ceiling in one connection mode.
type ceilingRatios struct {
	Mode connMode `json:"mode,omitempty"`
	// TokensPercent is the service's tokens/s as a percentage of the ceiling's.
	TokensPercent *float64 `json:"tokens_per_sec_percent,omitempty"`
	// CPURatio is the ceiling's server CPU per token divided by the
	// service's: the share of the ceiling's throughput the service would
	// reach on a CPU of its own (1 is the ceiling; 0.90 is the goal).
	CPURatio *float64 `json:"cpu_per_token_ceiling_over_service,omitempty"`
	// P99Ratio is the service's p99 latency divided by the ceiling's.
	P99Ratio *float64 `json:"p99_service_over_ceiling,omitempty"`
	// RoundTokensPercent, RoundCPURatio and RoundP99Ratio are the medians
	// of the same ratios taken round by round: each round measures both
	// targets one after the other, so on a shared machine whose speed
	// drifts between rounds the pair of a round is compared like with like.
	RoundTokensPercent *float64 `json:"round_tokens_per_sec_percent,omitempty"`
	RoundCPURatio      *float64 `json:"round_cpu_per_token_ceiling_over_service,omitempty"`
	RoundP99Ratio      *float64 `json:"round_p99_service_over_ceiling,omitempty"`
	// Allocations per token of each.
	ServiceAllocs float64 `json:"service_allocs_per_token,omitempty"`
	CeilingAllocs float64 `json:"ceiling_allocs_per_token,omitempty"`
}

// connectionCost is what a new connection per request adds to a target's
// server CPU per token, over keep-alive (--tls).
type connectionCost struct {
	Target string   `json:"target"`
	Mode   connMode `json:"mode"`
	// ExtraCPUUs is the mode's server CPU per token minus keep-alive's, and
	// Times the mode's as a multiple of keep-alive's.
	ExtraCPUUs float64 `json:"extra_server_cpu_us_per_token"`
	Times      float64 `json:"times_keepalive"`
}

// ceilingGoal is issue 14's goal for the CPU ratio.
const ceilingGoal = 0.90

// finishCeiling computes the service/ceiling ratios per mode and, with
// --tls, the cost of a new connection.
func (r *report) finishCeiling() {
	var modes []connMode
	for _, t := range r.Targets {
		if t.Target == "ceiling" {
			modes = append(modes, t.Mode)
		}
	}
	for _, mode := range modes {
		c, s := r.summaryIn("ceiling", mode), r.summaryIn("service", mode)
		if s == nil {
			continue
		}
		cr := ceilingRatios{Mode: mode, ServiceAllocs: s.AllocsPerToken, CeilingAllocs: c.AllocsPerToken}
		if c.TokensPerS > 0 {
			cr.TokensPercent = ptr(math.Round(1000*s.TokensPerS/c.TokensPerS) / 10)
		}
		if c.CPUPerTokenUs > 0 && s.CPUPerTokenUs > 0 {
			cr.CPURatio = ptr(math.Round(100*c.CPUPerTokenUs/s.CPUPerTokenUs) / 100)
		}
		if c.P99Ms > 0 {
			cr.P99Ratio = ptr(math.Round(100*s.P99Ms/c.P99Ms) / 100)
		}
		r.roundRatios(&cr)
		r.Ceiling = append(r.Ceiling, cr)
	}
	for _, name := range []string{"ceiling", "service"} {
		ka := r.summaryIn(name, modeKeepAlive)
		for _, mode := range []connMode{modeResume, modeFull} {
			s := r.summaryIn(name, mode)
			if ka == nil || s == nil || ka.CPUPerTokenUs <= 0 || s.CPUPerTokenUs <= 0 {
				continue
			}
			r.Connections = append(r.Connections, connectionCost{Target: name, Mode: mode,
				ExtraCPUUs: math.Round(10*(s.CPUPerTokenUs-ka.CPUPerTokenUs)) / 10,
				Times:      math.Round(10*s.CPUPerTokenUs/ka.CPUPerTokenUs) / 10})
		}
	}
}

func ptr(v float64) *float64 { return &v }

// roundRatios sets cr's per-round ratios from the phases of each round
// that measured both the ceiling and the service in cr's mode.
func (r *report) roundRatios(cr *ceilingRatios) {
	tokens, cpu := r.roundPairs("ceiling", "service", cr.Mode)
	var p99 []float64
	for _, pr := range r.pairs("ceiling", "service", cr.Mode) {
		if pr[0].P99Ms > 0 {
			p99 = append(p99, pr[1].P99Ms/pr[0].P99Ms)
		}
	}
	if len(tokens) > 0 {
		cr.RoundTokensPercent = ptr(math.Round(1000*median(tokens)) / 10)
	}
	if len(cpu) > 0 {
		cr.RoundCPURatio = ptr(math.Round(100*median(cpu)) / 100)
	}
	if len(p99) > 0 {
		cr.RoundP99Ratio = ptr(math.Round(100*median(p99)) / 100)
	}
}

// pairs returns, round by round, the phases of targets ref and other in
// mode, for the rounds that measured both.
func (r *report) pairs(ref, other string, mode connMode) [][2]*phase {
	byRound := map[int]*phase{}
	for _, p := range r.Phases {
		if p.Target == ref && p.Mode == mode {
			byRound[p.Round] = p
		}
	}
	var out [][2]*phase
	for _, p := range r.Phases {
		if q := byRound[p.Round]; q != nil && p.Target == other && p.Mode == mode {
			out = append(out, [2]*phase{q, p})
		}
	}
	return out
}

// roundPairs returns each round's other tokens/s ÷ ref's and ref's CPU per
// token ÷ other's: both above 1 when other does better.
func (r *report) roundPairs(ref, other string, mode connMode) (tokens, cpu []float64) {
	for _, pr := range r.pairs(ref, other, mode) {
		if pr[0].TokensPerS > 0 {
			tokens = append(tokens, pr[1].TokensPerS/pr[0].TokensPerS)
		}
		if pr[0].CPUPerTokenUs > 0 && pr[1].CPUPerTokenUs > 0 {
			cpu = append(cpu, pr[0].CPUPerTokenUs/pr[1].CPUPerTokenUs)
		}
	}
	return tokens, cpu
}

// summaryIn returns the summary of a target in a mode, nil if none.
func (r *report) summaryIn(name string, mode connMode) *summary {
	for i := range r.Targets {
		if r.Targets[i].Target == name && r.Targets[i].Mode == mode {
			return &r.Targets[i]
		}
	}
	return nil
}

// writeCeilingText writes the ratios, the resumption counts and the cost
// of a new connection.
func (r *report) writeCeilingText(w io.Writer) {
	for _, cr := range r.Ceiling {
		label := "service/ceiling"
		if cr.Mode != "" {
			label += " (" + cr.Mode.describe() + ")"
		}
		fmt.Fprintf(w, "%s: tokens/s %s; CPU per token ceiling÷service %s (goal ≥ %.2f%s); p99 service÷ceiling %s; allocations per token %s (service) vs %s (ceiling)\n",
			label, fmtPtr(cr.TokensPercent, "%.1f%%"), fmtPtr(cr.CPURatio, "%.2f"), ceilingGoal, goalVerdict(cr.CPURatio),
			fmtPtr(cr.P99Ratio, "%.2f×"), fmtAllocs(cr.ServiceAllocs), fmtAllocs(cr.CeilingAllocs))
		if cr.RoundCPURatio != nil {
			fmt.Fprintf(w, "%s, median of the rounds' own ratios: tokens/s %s; CPU per token ceiling÷service %s (goal ≥ %.2f%s); p99 service÷ceiling %s\n",
				label, fmtPtr(cr.RoundTokensPercent, "%.1f%%"), fmtPtr(cr.RoundCPURatio, "%.2f"), ceilingGoal, goalVerdict(cr.RoundCPURatio),
				fmtPtr(cr.RoundP99Ratio, "%.2f×"))
		}
	}
	for _, t := range r.Targets {
		if t.TLSRequests == 0 || t.Mode == modeKeepAlive {
			continue
		}
		line := fmt.Sprintf("TLS sessions resumed, %s [%s]: %d of %d measured requests", t.Target, t.Mode, t.Resumed, t.TLSRequests)
		switch {
		case t.Mode == modeResume && float64(t.Resumed) < 0.9*float64(t.TLSRequests):
			line = "WARNING: " + line + ": resumption mostly failed, so this mode measured full handshakes"
		case t.Mode == modeFull && t.Resumed > 0:
			line = "WARNING: " + line + ": this mode should resume none"
		}
		fmt.Fprintln(w, line)
	}
	for _, cc := range r.Connections {
		fmt.Fprintf(w, "cost of %s, %s: %+.1fµs server CPU per token over keep-alive (%.1f× keep-alive's)\n",
			cc.Mode.describe(), cc.Target, cc.ExtraCPUUs, cc.Times)
	}
	if len(r.Ceiling) > 0 || len(r.Connections) > 0 {
		fmt.Fprintln(w)
	}
}

func goalVerdict(v *float64) string {
	if v == nil {
		return ""
	}
	if *v >= ceilingGoal {
		return ": met"
	}
	return ": not met"
}

func fmtPtr(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func fmtAllocs(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// compareCeiling checks that the ceiling answers the service's token shape:
// the same JOSE header (the same key) and the same claim names.
func compareCeiling(ceil, svc []byte) string {
	ch, cc, cn, err1 := tokenShape(ceil)
	sh, sc, sn, err2 := tokenShape(svc)
	switch {
	case err1 != nil:
		return "WARNING: cannot read a ceiling token: " + err1.Error()
	case err2 != nil:
		return "WARNING: cannot read a service token: " + err2.Error()
	case ch != sh || cc != sc:
		return fmt.Sprintf("WARNING: tokens differ: ceiling header %s claims %s, service header %s claims %s", ch, cc, sh, sc)
	}
	return fmt.Sprintf("the ceiling answers the service's token shape: header %s, claims %s; access_token %d bytes (ceiling) vs %d (service)", ch, cc, cn, sn)
}

// pinnedCPULine says how busy each side's own CPUs were during a phase, and
// flags the side that held the other back: a load generator that used
// nearly all of its CPUs while the server did not measured itself, not the
// server (likely in the TLS modes that open a connection per request,
// where the client pays a handshake too). Other processes on the machine
// can take the rest of either side's CPUs; they are not pinned away.
func pinnedCPULine(p *phase, serverCPUs, loadgenCPUs int, redis string) string {
	srvAvail, lgAvail := float64(serverCPUs)*p.Seconds, float64(loadgenCPUs)*p.Seconds
	line := fmt.Sprintf("CPU while measuring %s #%d: server %.1fs of %.1fs on its CPU (%.0f%%), load generator %.1fs of %.1fs on its %d CPU(s) (%.0f%%)%s",
		label(p.Target, p.Mode), p.Round, p.ServerCPUSeconds, srvAvail, 100*p.ServerCPUSeconds/srvAvail,
		p.LoadgenCPUSeconds, lgAvail, loadgenCPUs, 100*p.LoadgenCPUSeconds/lgAvail, redis)
	srvBusy, lgBusy := p.ServerCPUSeconds >= 0.9*srvAvail, p.LoadgenCPUSeconds >= 0.9*lgAvail
	switch {
	case lgBusy && !srvBusy:
		line += ": the load generator saturated first, so tokens/s are its limit; CPU per token still holds"
	case !lgBusy && !srvBusy:
		line += ": neither side saturated (other processes on these CPUs, or latency-bound)"
	}
	return line
}
