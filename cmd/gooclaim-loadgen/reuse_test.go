package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// TestReuseSpecAndFlags: the signed set's clients never reuse tokens, the
// reused set's always do, whatever the server's default; --reuse is its
// own measurement.
func TestReuseSpecAndFlags(t *testing.T) {
	if s := reuseSpec(1, 2); s.TokenReuse != auth.ReuseOff || !strings.HasPrefix(s.Name, "loadgen-signed-") {
		t.Errorf("signed spec %+v", s)
	}
	if s := reuseSpec(2, 2); s.TokenReuse != auth.ReuseOn || !strings.HasPrefix(s.Name, "loadgen-reused-") {
		t.Errorf("reused spec %+v", s)
	}
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"--reuse", "--rounds", "3"}); err != nil || !m.Config.Reuse {
		t.Fatalf("err %v, Reuse %v", err, m.Config.Reuse)
	}
	for _, args := range [][]string{{"--reuse", "--scaleout"}, {"--reuse", "--policies"}} {
		if err := m.ParseFlags(args); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestReuseEndToEnd runs --reuse with tiny settings against the real
// server and the ceiling: both give a reusing client its token again.
func TestReuseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--reuse", "--clients", "20", "--duration", "400ms", "--warmup", "100ms", "--connections", "2",
		"--rounds", "2", "--rate-limit", "1000000/1m", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep reuseReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	for i, sr := range []*policySetResult{rep.Signed, rep.Reused, rep.CeilingSigned, rep.CeilingReused} {
		want := []string{"signed", "reused", "ceiling signed", "ceiling reused"}[i]
		if sr == nil || sr.Name != want || sr.TokensPerS <= 0 || len(sr.Non200) != 0 || len(sr.Rounds) != 2 {
			t.Fatalf("set %d: %+v, want %s", i, sr, want)
		}
	}
	if !rep.CheckOK || strings.Contains(rep.Check, "ceiling") || len(rep.RatioRounds) != 2 || len(rep.Ceiling.RatioRounds) != 2 ||
		rep.Ratio <= 0 || rep.Ceiling.Ratio <= 0 {
		t.Fatalf("check %v (%s), ratios %v and the ceiling's %v", rep.CheckOK, rep.Check, rep.RatioRounds, rep.Ceiling.RatioRounds)
	}
	// The order of the second round is the first's reversed.
	if !strings.Contains(stderr.String(), "round 2/2: ceiling reused") ||
		strings.Index(stderr.String(), "round 2/2: ceiling reused") > strings.Index(stderr.String(), "round 2/2: signed") {
		t.Errorf("round 2 not in reverse order:\n%s", stderr.String())
	}
}
