package main

import (
	"strings"
	"testing"

	"github.com/gooclaim/auth"
)

// TestReuseTokensFlag: clients create and update take --reuse-tokens on,
// off or default, a bare --reuse-tokens meaning on; show prints the
// setting, as on, off or default; a bad value and a value after a space
// (which pflag reads as an argument) are refused saying what to write.
func TestReuseTokensFlag(t *testing.T) {
	ts := startTestServer(t, nil)
	reuse := func(id string) string {
		t.Helper()
		v, _ := ts.showJSON(id)["token_reuse"].(string)
		return v
	}

	bare, _ := ts.createClient("--name", "bare", "--scope", "a", "--reuse-tokens")
	off, _ := ts.createClient("--name", "off", "--scope", "a", "--reuse-tokens=off")
	plain, _ := ts.createClient("--name", "plain", "--scope", "a")
	for id, want := range map[string]string{bare: "on", off: "off", plain: "default"} {
		if got := reuse(id); got != want {
			t.Errorf("client %s: token_reuse %q; want %q", id, got, want)
		}
	}
	if c := ts.srv.Replica().Lookup(bare); c == nil || c.TokenReuse != auth.ReuseOn {
		t.Errorf("the server's replica holds %+v; want TokenReuse on", c)
	}
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if out := squash(ts.mustCLI("", "clients", "show", plain)); !strings.Contains(out, "Token reuse: default (the server's serve --reuse-tokens)") {
		t.Errorf("clients show of a client without a setting:\n%s", out)
	}
	if out := squash(ts.mustCLI("", "clients", "show", off)); !strings.Contains(out, "Token reuse: off ") {
		t.Errorf("clients show of a client with reuse off:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--reuse-tokens=default"}, "default"},
		{[]string{"--reuse-tokens"}, "on"},
		{[]string{"--reuse-tokens=off"}, "off"},
		{[]string{"--reuse-tokens=on"}, "on"},
		{[]string{"--reuse-tokens=false"}, "off"},
	} {
		ts.mustCLI("", append([]string{"clients", "update", plain}, tc.args...)...)
		if got := reuse(plain); got != tc.want {
			t.Errorf("clients update %v: token_reuse %q; want %q", tc.args, got, tc.want)
		}
	}
	ts.mustCLI("", "clients", "update", plain, "--name", "renamed")
	if got := reuse(plain); got != "off" {
		t.Errorf("an update of another setting changed token reuse to %q", got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "create", "--name", "x", "--reuse-tokens=sometimes"}, `--reuse-tokens: token reuse "sometimes": want on`},
		{[]string{"clients", "update", plain, "--reuse-tokens=yes"}, `--reuse-tokens: token reuse "yes": want on`},
		{[]string{"clients", "create", "--name", "x", "--reuse-tokens", "off"}, "write --reuse-tokens=off"},
		{[]string{"clients", "update", plain, "--reuse-tokens", "default"}, "write --reuse-tokens=default"},
	} {
		_, errOut, code := ts.cli("", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error saying %q", tc.args, code, errOut, tc.want)
		}
	}
	if got := reuse(plain); got != "off" {
		t.Errorf("refused updates changed token reuse to %q", got)
	}
}
