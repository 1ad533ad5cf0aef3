package main

import (
	"io"
	"strings"
	"testing"

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
