package policy_test

import (
	"strings"
	"testing"

	"github.com/gooclaim/auth/policy"
)

// TestTry: every expression is evaluated on its own — past a false
// condition and a failed claim, which Eval stops at — a null claim is left
// out, and the values are what Eval puts in a token.
func TestTry(t *testing.T) {
	set, err := policy.Compile(
		map[string]string{"tenant": "client.metadata.tenant", "team": "client.metadata.team", "env": "null"},
		map[string]string{"region": `"eu"`, "tenant": `"none"`},
		`ip_in(request.remote_ip, ["10.0.0.0/8"])`)
	if err != nil {
		t.Fatal(err)
	}
	in := &policy.Input{ClientID: "c", Metadata: map[string]string{"tenant": "acme"}, RemoteIP: "192.0.2.1"}
	tr := set.Try(in)
	if tr.Condition == nil || *tr.Condition {
		t.Errorf("condition from 192.0.2.1: %v, want false", tr.Condition)
	}
	if string(tr.Claims["tenant"]) != `"acme"` || string(tr.Claims["region"]) != `"eu"` || len(tr.Claims) != 2 {
		t.Errorf("claims %q; want tenant \"acme\" (the client's over the default), region \"eu\", no env (null), no team (failed)", tr.Claims)
	}
	if len(tr.Errors) != 1 || tr.Errors[0].Claim != "team" || !strings.Contains(tr.Errors[0].Error(), "no such key") {
		t.Errorf("errors %v; want one, for claim team", tr.Errors)
	}
	in.RemoteIP = "10.1.2.3"
	if tr := set.Try(in); tr.Condition == nil || !*tr.Condition {
		t.Errorf("condition from 10.1.2.3: %v, want true", tr.Condition)
	}
	if tr := (*policy.Set)(nil).Try(in); tr.Condition != nil || len(tr.Claims) != 0 || tr.Errors != nil {
		t.Errorf("Try of nil: %+v, want nothing", tr)
	}
}
