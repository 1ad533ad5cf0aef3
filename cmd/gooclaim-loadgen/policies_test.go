package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth/policy"
)

// TestPolicyExpressionsCheck: the policies set's expressions are accepted
// as the admin API would save them.
func TestPolicyExpressionsCheck(t *testing.T) {
	for name, expr := range policyClaims {
		if err := policy.CheckClaim(name, expr); err != nil {
			t.Error(err)
		}
	}
	if err := policy.CheckCondition(policyCondition); err != nil {
		t.Error(err)
	}
	if s := policySpec(0, 2); s.Condition != "" || s.Claims != nil || s.Metadata != nil {
		t.Errorf("plain spec %+v", s)
	}
	if s := policySpec(2, 2); s.Condition != policyCondition || len(s.Claims) != 3 || s.Metadata["tenant"] == "" {
		t.Errorf("policies spec %+v", s)
	}
}

func TestParseFlagsPolicies(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"--policies", "--rounds", "3"}); err != nil || !m.Config.Policies {
		t.Fatalf("err %v, Policies %v", err, m.Config.Policies)
	}
	err := m.ParseFlags([]string{"--policies", "--tls"})
	if err == nil || !strings.Contains(err.Error(), "--policies and --reuse start their own service") {
		t.Fatalf("--policies --tls: %v", err)
	}
}

func TestPolicyRatiosAndClaimsCheck(t *testing.T) {
	plain := []*phase{{TokensPerS: 1000, CPUPerTokenUs: 100}, {TokensPerS: 1000, CPUPerTokenUs: 100}}
	pol := []*phase{{TokensPerS: 960, CPUPerTokenUs: 104}, {TokensPerS: 900, CPUPerTokenUs: 110}}
	tps, cpu := policyRoundRatios(plain, pol)
	if len(tps) != 2 || tps[0] != 0.96 || tps[1] != 0.9 || cpu[0] != 0.962 || cpu[1] != 0.909 {
		t.Fatalf("ratios %v %v", tps, cpu)
	}
	body := func(claims map[string]any) []byte {
		b, _ := json.Marshal(claims)
		tok := "e30." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
		out, _ := json.Marshal(map[string]string{"access_token": tok})
		return out
	}
	good := body(map[string]any{"sub": "x", "tenant": "acme", "env": "prod", "scopes_n": 1})
	if msg, ok := checkPolicyClaims(body(map[string]any{"sub": "x"}), good); !ok {
		t.Errorf("good: %s", msg)
	}
	if msg, ok := checkPolicyClaims(good, good); ok {
		t.Errorf("a plain token with the claims passed: %s", msg)
	}
	if msg, ok := checkPolicyClaims(nil, body(map[string]any{"tenant": "acme"})); ok {
		t.Errorf("missing claims passed: %s", msg)
	}
}

// TestPoliciesEndToEnd runs --policies with tiny settings against the real server.
func TestPoliciesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--policies", "--clients", "20", "--duration", "500ms", "--warmup", "100ms", "--connections", "2",
		"--rate-limit", "1000000/1m", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	var rep policiesReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	for _, sr := range []*policySetResult{rep.Plain, rep.Policies} {
		if sr == nil || sr.TokensPerS <= 0 || len(sr.Non200) != 0 || len(sr.Rounds) != 1 {
			t.Fatalf("set %+v", sr)
		}
	}
	if !rep.ClaimsOK || len(rep.RatioRounds) != 1 || rep.Ratio <= 0 || rep.Goal != policyGoal {
		t.Fatalf("claims %v (%s), ratios %v → %v", rep.ClaimsOK, rep.ClaimsCheck, rep.RatioRounds, rep.Ratio)
	}
}
