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
