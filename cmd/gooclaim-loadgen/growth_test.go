package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSoakEndToEnd runs --soak with tiny settings against the real server.
func TestSoakEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--soak", "5s", "--soak-warmup", "2s", "--sample-every", "1s", "--clients", "50",
		"--duration", "1s", "--warmup", "200ms", "--connections", "4", "--rate-limit", "1000000/1m", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep soakReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Capacity <= 0 || rep.Rate <= 0 || rep.OK == 0 || rep.Unexpected != 0 {
		t.Fatalf("capacity %v, rate %v, %d OK, %d unexpected errors (%v)", rep.Capacity, rep.Rate, rep.OK, rep.Unexpected, rep.Non200)
	}
	if len(rep.Intervals) < 4 || len(rep.Trends) != 4 {
		t.Fatalf("%d intervals, %d trends", len(rep.Intervals), len(rep.Trends))
	}
	for _, iv := range rep.Intervals[:4] {
		if iv.Sample == nil || iv.Sample.RSS == 0 || iv.Sample.Goroutines == 0 || iv.Sample.OpenFDs == 0 {
			t.Fatalf("interval at %vs: server sample %+v (%s)", iv.Seconds, iv.Sample, iv.ScrapeEr)
		}
	}
}

// TestGrowthEndToEnd runs --growth on two tiny sizes against the real server.
func TestGrowthEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--growth", "20,300", "--active", "10", "--get-workers", "1",
		"--duration", "1s", "--warmup", "200ms", "--connections", "4", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep growthReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.Sizes) != 2 || rep.Sizes[0].Clients != 20 || rep.Sizes[1].Clients != 300 {
		t.Fatalf("sizes %+v", rep.Sizes)
	}
	for _, gs := range rep.Sizes {
		if gs.ReadySeconds <= 0 || gs.Ready == nil || gs.After == nil {
			t.Errorf("%d clients: ready in %vs, samples %v %v", gs.Clients, gs.ReadySeconds, gs.Ready, gs.After)
		}
		for name, pr := range map[string]patternResult{"active": gs.Active, "all": gs.All} {
			if pr.TokensPerS <= 0 || pr.Non200 != 0 || len(pr.Rounds) != 1 {
				t.Errorf("%d clients, %s: %v tokens/s, %d non-200", gs.Clients, name, pr.TokensPerS, pr.Non200)
			}
		}
	}
	if rep.Sizes[0].Active.RatioPercent != 100 {
		t.Errorf("the first size's ratio is %v%%, want 100", rep.Sizes[0].Active.RatioPercent)
	}
	mx := rep.Mixed
	if mx == nil || mx.JWKS.PerSecond <= 0 || mx.Discovery.PerSecond <= 0 || mx.JWKS.Non200+mx.Discovery.Non200 != 0 || len(mx.TokenRounds) != 1 {
		t.Fatalf("mixed run %+v", mx)
	}
}

func TestFitTrend(t *testing.T) {
	xs := []float64{0, 10, 20, 30}
	tr := fitTrend("x", xs, []float64{100, 110, 120, 130})
	if math.Abs(tr.PerMinute-60) > 1e-9 || math.Abs(tr.Change-30) > 1e-9 || tr.Mean != 115 || tr.Min != 100 || tr.Max != 130 {
		t.Fatalf("rising: %+v", tr)
	}
	if tr := fitTrend("x", xs, []float64{5, 5, 5, 5}); tr.Change != 0 {
		t.Fatalf("flat: %+v", tr)
	}
}

func TestSoakVerdict(t *testing.T) {
	iv := func(at, rss float64, non200 map[string]int) *intervalStats {
		return &intervalStats{Seconds: at, Sent: 10, OK: 10, Non200: non200,
			Sample: &opsSample{Seconds: at, RSS: rss, HeapInuse: 10 << 20, Goroutines: 20, OpenFDs: 30}}
	}
	flat := &soakReport{Non200: map[string]int{}, Intervals: []*intervalStats{
		iv(10, 200<<20, nil), iv(20, 50<<20, nil), iv(30, 50<<20, nil), iv(40, 51<<20, nil), iv(50, 50<<20, nil)}}
	flat.summarize(15 * time.Second) // the 200 MiB warm-up sample is left out
	if !flat.Pass {
		t.Fatalf("flat run failed: %+v", flat.Trends)
	}
	grows := &soakReport{Non200: map[string]int{}, Intervals: []*intervalStats{
		iv(10, 50<<20, nil), iv(20, 60<<20, nil), iv(30, 70<<20, nil), iv(40, 80<<20, nil)}}
	grows.summarize(5 * time.Second)
	if grows.Pass || grows.Trends[0].Flat {
		t.Fatalf("growing RSS passed: %+v", grows.Trends[0])
	}
	errs := &soakReport{Non200: map[string]int{}, Expected429: true, Intervals: []*intervalStats{
		iv(10, 50<<20, map[string]int{"429": 3}), iv(20, 50<<20, map[string]int{"500": 1}), iv(30, 50<<20, nil), iv(40, 50<<20, nil)}}
	errs.summarize(5 * time.Second)
	if errs.Pass || errs.Unexpected != 1 || errs.Non200["429"] != 3 {
		t.Fatalf("errors: pass %v, unexpected %d, non-200 %v", errs.Pass, errs.Unexpected, errs.Non200)
	}
}

func TestParseFlagsSoakGrowth(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"--growth", "1000, 100000,1000000"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Config.Growth, []int{1000, 100000, 1000000}) {
		t.Fatalf("Growth %v", m.Config.Growth)
	}
	err := m.ParseFlags([]string{"--soak", "1m", "--growth", "100,10", "--soak-load", "2", "--target", "http://x", "--clients-file", "f"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"one at a time", "not with --target", "--soak-load", "increasing order"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
}
