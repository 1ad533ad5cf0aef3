package main

import "testing"

// TestRoundRatios: the per-round ratios pair each round's service with the
// same round's ceiling, so a round where the machine ran slow for both
// does not mix with a fast one.
func TestRoundRatios(t *testing.T) {
	r := &report{}
	for i, cpu := range [][2]float64{{50, 55}, {100, 110}, {60, 100}} { // ceiling, service
		r.addPhase(&phase{Target: "ceiling", Round: i + 1, TokensPerS: 1e6 / cpu[0], CPUPerTokenUs: cpu[0], P99Ms: 10})
		r.addPhase(&phase{Target: "service", Round: i + 1, TokensPerS: 1e6 / cpu[1], CPUPerTokenUs: cpu[1], P99Ms: 12})
	}
	var cr ceilingRatios
	r.roundRatios(&cr)
	if cr.RoundCPURatio == nil || *cr.RoundCPURatio != 0.91 {
		t.Errorf("round CPU ratio = %v, want the median of 0.91, 0.91, 0.60: 0.91", fmtPtr(cr.RoundCPURatio, "%.2f"))
	}
	if cr.RoundTokensPercent == nil || *cr.RoundTokensPercent != 90.9 {
		t.Errorf("round tokens/s = %v, want 90.9%%", fmtPtr(cr.RoundTokensPercent, "%.1f"))
	}
	if cr.RoundP99Ratio == nil || *cr.RoundP99Ratio != 1.2 {
		t.Errorf("round p99 ratio = %v, want 1.2", fmtPtr(cr.RoundP99Ratio, "%.2f"))
	}
}

// TestScaleoutRoundRatios: the scale-out goal is judged on the rounds' own
// ratios, so that one slow round of the embedded service (or of the node)
// does not decide it.
func TestScaleoutRoundRatios(t *testing.T) {
	r := &report{Scaleout: &scaleoutInfo{}, NumCPU: 2}
	for i, tps := range [][2]float64{{12000, 9000}, {8000, 7000}, {12000, 7000}} { // service, scale-out
		r.addPhase(&phase{Target: "service", Round: i + 1, TokensPerS: tps[0], CPUPerTokenUs: 1e6 / tps[0]})
		r.addPhase(&phase{Target: "scaleout", Round: i + 1, TokensPerS: tps[1], CPUPerTokenUs: 1e6 / tps[1]})
	}
	r.finishScaleout(&Config{}, nil)
	if r.ScaleoutRoundRatioPercent == nil || *r.ScaleoutRoundRatioPercent != 75 {
		t.Errorf("round ratio = %v, want the median of 75, 87.5, 58.3: 75", fmtPtr(r.ScaleoutRoundRatioPercent, "%.1f"))
	}
	if r.Scaleout.TargetMet == nil || !*r.Scaleout.TargetMet {
		t.Errorf("target met = %v, want true (75 %% ≥ 70 %%)", r.Scaleout.TargetMet)
	}
	if r.ScaleoutRoundCPURatioPercent == nil || *r.ScaleoutRoundCPURatioPercent != 75 {
		t.Errorf("round CPU ratio = %v, want 75", fmtPtr(r.ScaleoutRoundCPURatioPercent, "%.1f"))
	}
}
