package policy

import (
	"strings"
	"testing"
	"time"
)

func TestCheckClaim(t *testing.T) {
	for _, tc := range []struct{ name, expr, wantErr string }{
		{"tenant", "client.metadata.tenant", ""},
		{"tenant", `has(client.metadata.tenant) ? client.metadata.tenant : null`, ""},
		{"roles", `["a", 1, true, {"k": 2.5}]`, ""},
		{"tenant", "clinet.metadata.tenant", `claim "tenant": ERROR: <input>:1:1: undeclared reference to 'clinet'`},
		{"tenant", "client.metadata.", `claim "tenant": ERROR: <input>:1:17:`},
		{"sub", `"x"`, `claim "sub": a registered claim`},
		{"typ", `"x"`, `claim "typ": a registered claim`},
		{"bad name", `"x"`, "printable ASCII"},
		{"t", "now", "has no JSON form"},
		{"t", "", "empty"},
		{"t", strings.Repeat("1+", 1100) + "1", "bytes, over"},
		{"t", "client.scopes.all(a, client.scopes.all(b, client.scopes.all(c, a == b && b == c)))", "over the limit"},
	} {
		err := CheckClaim(tc.name, tc.expr)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("CheckClaim(%q, %.40q) = %v; want %q", tc.name, tc.expr, err, tc.wantErr)
		}
	}
}

func TestCheckCondition(t *testing.T) {
	for _, tc := range []struct{ expr, wantErr string }{
		{`ip_in(request.remote_ip, ["10.0.0.0/8", "2001:db8::/32"])`, ""},
		{`hour_in(now, "Europe/Paris", 9, 18) && now.getHours("UTC") < 23`, ""},
		{`client.metadata.env == "prod"`, ""},
		{`client.metadata.env`, "must be a bool"},
		{`"yes"`, "must be a bool"},
		{`ip_in(request.remote_ip)`, "ERROR: <input>:1:6: found no matching overload for 'ip_in'"},
	} {
		err := CheckCondition(tc.expr)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("CheckCondition(%q) = %v; want %q", tc.expr, err, tc.wantErr)
		}
	}
}

func TestEval(t *testing.T) {
	in := &Input{
		ClientID: "c1", ClientName: "importer", Scopes: []string{"a", "b"}, Metadata: map[string]string{"tenant": "acme"},
		Scope: []string{"a"}, Audience: "https://api", AuthMethod: "client_secret_basic", RemoteIP: "10.1.2.3",
		Now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	}
	s, err := Compile(map[string]string{
		"tenant": "client.metadata.tenant",
		"env":    `has(client.metadata.env) ? client.metadata.env : null`,
		"n":      "size(request.scope) + 1",
		"obj":    `{"id": client.id, "ok": true, "f": 1.5, "l": request.scope}`,
	}, map[string]string{"tenant": `"default"`, "region": `"eu"`}, `ip_in(request.remote_ip, ["10.0.0.0/8"]) && hour_in(now, "Europe/Paris", 9, 18)`)
	if err != nil {
		t.Fatal(err)
	}
	ok, members, err := s.Eval(in)
	want := `,"n":2,"obj":{"f":1.5,"id":"c1","l":["a"],"ok":true},"region":"eu","tenant":"acme"`
	if !ok || err != nil || string(members) != want {
		t.Errorf("Eval = %v, %s, %v; want true, %s", ok, members, err, want)
	}
	in.RemoteIP = "192.0.2.1"
	if ok, members, err := s.Eval(in); ok || err != nil || members != nil {
		t.Errorf("Eval from outside = %v, %s, %v; want false", ok, members, err)
	}
	in.RemoteIP = "::ffff:10.0.0.1"
	in.Now = in.Now.Add(8 * time.Hour) // 19:00 in Paris
	if ok, _, _ := s.Eval(in); ok {
		t.Error("Eval after hours allowed")
	}

	s, _ = Compile(map[string]string{"tenant": "client.metadata.missing"}, nil, "")
	_, _, err = s.Eval(in)
	if e, ok := err.(*EvalError); !ok || e.Claim != "tenant" {
		t.Errorf("Eval of a missing key = %v; want an EvalError of claim tenant", err)
	}
	if s, err := Compile(nil, nil, ""); s != nil || err != nil {
		t.Errorf("Compile(nothing) = %v, %v; want nil, nil", s, err)
	}
	if _, err := Compile(map[string]string{"iss": `"x"`}, nil, ""); err == nil {
		t.Error("Compile of a registered claim succeeded")
	}
}

func TestHourInWraps(t *testing.T) {
	s, err := Compile(nil, nil, `hour_in(now, "UTC", 22, 6)`)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[int]bool{23: true, 2: true, 6: false, 12: false, 22: true} {
		ok, _, err := s.Eval(&Input{Now: time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC)})
		if ok != want || err != nil {
			t.Errorf("hour %d: %v, %v; want %v", h, ok, err, want)
		}
	}
}

// TestCompileSharesPrograms: clients with the same expression texts share
// their compiled programs; a different text gets its own.
func TestCompileSharesPrograms(t *testing.T) {
	claims := map[string]string{"tenant": `client.metadata.tenant + "-shared-test"`}
	cond := `ip_in(request.remote_ip, ["192.0.2.0/24"]) || true`
	a, err := Compile(claims, nil, cond)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(map[string]string{"tenant": claims["tenant"]}, nil, cond)
	if err != nil {
		t.Fatal(err)
	}
	if a.claims[0].prog != b.claims[0].prog || a.condition != b.condition {
		t.Error("two clients with the same expressions hold two compilations of them")
	}
	c, err := Compile(map[string]string{"tenant": `client.metadata.tenant + "-other-test"`}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.claims[0].prog == a.claims[0].prog {
		t.Error("a different expression shares another's program")
	}
	// A bad expression is refused every time, never kept.
	for range 2 {
		if _, err := Compile(map[string]string{"x": "clinet.id"}, nil, ""); err == nil {
			t.Fatal("an undeclared reference compiled")
		}
	}
}
