package main

import (
	"encoding/json"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// cliActorForTest is the actor the CLI should record, found independently
// of the code under test.
func cliActorForTest() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli:unknown"
}

// auditJSON runs `audit -o json` with args and decodes its events.
func auditJSON(t *testing.T, ts *testServer, args ...string) []admin.AuditEventView {
	t.Helper()
	out := ts.mustCLI("", append([]string{"audit", "-o", "json"}, args...)...)
	var events []admin.AuditEventView
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("audit -o json %q: %v", out, err)
	}
	return events
}

func actions(events []admin.AuditEventView) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

// TestAuditTrailFromCLI: every CLI write is recorded with the OS user as
// actor and the host as remote address, the right action, and the client
// before and after without any secret or hash; the filters select.
func TestAuditTrailFromCLI(t *testing.T) {
	ts := lifecycleServer(t)
	actor := cliActorForTest()
	host, _ := os.Hostname()
	start := time.Now().Add(-time.Second)

	id, s1 := ts.createClient("--name", "audited", "--scope", "a", "--metadata", "owner=team-a")
	other, s2 := ts.createClient("--name", "other", "--scope", "b")
	ts.mustCLI("", "clients", "update", id, "--scope", "a b", "--metadata", "contact=x@example.com")
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	json.Unmarshal([]byte(ts.mustCLI("", "clients", "rotate-secret", id, "-o", "json")), &rot)
	ts.mustCLI("", "clients", "revoke-secret", id, "--old")
	ts.mustCLI("", "clients", "disable", id)
	ts.mustCLI("", "clients", "enable", id)
	ts.mustCLI("", "clients", "revoke-tokens", id)
	ts.mustCLI("", "clients", "delete", id)
	ts.mustCLI("", "keys", "rotate")

	out := ts.mustCLI("", "audit", "-o", "json", "--limit", "0")
	for _, secret := range []string{s1, s2, rot.ClientSecret} {
		if strings.Contains(out, secret) {
			t.Fatal("the audit trail shows a secret")
		}
	}
	if strings.Contains(out, "sha256:") || strings.Contains(out, "argon2") {
		t.Fatalf("the audit trail shows a secret hash:\n%s", out)
	}

	events := auditJSON(t, ts, "--client", id)
	want := []string{auth.ActionClientCreate, auth.ActionClientUpdate, auth.ActionSecretRotate, auth.ActionSecretRevoke,
		auth.ActionClientDisable, auth.ActionClientEnable, auth.ActionClientRevokeTokens, auth.ActionClientDelete}
	if got := actions(events); !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	for i, e := range events {
		if e.Actor != actor || e.RemoteAddr != host || e.TargetKind != "client" || e.TargetID != id || e.At.Before(start) {
			t.Errorf("event %d: %+v, want actor %s, remote %s, target client %s", i, e, actor, host, id)
		}
		if i > 0 && e.Seq <= events[i-1].Seq {
			t.Errorf("seq %d after %d", e.Seq, events[i-1].Seq)
		}
	}
	create, update, del := events[0], events[1], events[len(events)-1]
	if string(create.Before) != "null" || string(del.After) != "null" || string(create.After) == "null" || string(del.Before) == "null" {
		t.Fatalf("create before %s after %s; delete before %s after %s", create.Before, create.After, del.Before, del.After)
	}
	var before, after struct {
		Scopes   []string          `json:"scopes"`
		Metadata map[string]string `json:"metadata"`
		Secrets  []map[string]any  `json:"secrets"`
	}
	json.Unmarshal(update.Before, &before)
	json.Unmarshal(update.After, &after)
	if !slices.Equal(before.Scopes, []string{"a"}) || !slices.Equal(after.Scopes, []string{"a", "b"}) ||
		after.Metadata["contact"] != "x@example.com" || after.Metadata["owner"] != "team-a" || len(after.Secrets) != 1 {
		t.Fatalf("update before %s after %s", update.Before, update.After)
	}
	for k := range after.Secrets[0] {
		if k != "id" && k != "created_at" && k != "expires_at" {
			t.Fatalf("a secret in the audit view has %q: %s", k, update.After)
		}
	}

	// Filters.
	if ev := auditJSON(t, ts, "--action", auth.ActionSecretRotate); len(ev) != 1 || ev[0].TargetID != id {
		t.Fatalf("--action: %+v", ev)
	}
	if ev := auditJSON(t, ts, "--client", other); len(ev) != 1 || ev[0].Action != auth.ActionClientCreate {
		t.Fatalf("--client other: %+v", ev)
	}
	if ev := auditJSON(t, ts, "--actor", "cli:nobody-at-all"); len(ev) != 0 {
		t.Fatalf("--actor nobody: %+v", ev)
	}
	mine := auditJSON(t, ts, "--actor", actor)
	if len(mine) != len(want)+2 { // and the other client's create, and the key rotation
		t.Fatalf("--actor %s: %v", actor, actions(mine))
	}
	if keys := auditJSON(t, ts, "--actor", actor, "--action", auth.ActionKeysRotate); len(keys) != 1 || keys[0].TargetKind != "keys" {
		t.Fatalf("keys rotate from the CLI: %+v", keys)
	}
	// The server's own first key is not the CLI's.
	if sys := auditJSON(t, ts, "--actor", "system"); len(sys) == 0 {
		t.Log("note: no system events (the server's first key was not audited)")
	}
	if ev := auditJSON(t, ts, "--client", id, "--since", "1h"); len(ev) != len(want) {
		t.Fatalf("--since 1h: %d events", len(ev))
	}
	if ev := auditJSON(t, ts, "--client", id, "--until", "1h"); len(ev) != 0 {
		t.Fatalf("--until 1h ago: %d events", len(ev))
	}
	if ev := auditJSON(t, ts, "--client", id, "--since", start.UTC().Format(time.RFC3339), "--until", time.Now().Add(time.Minute).UTC().Format(time.RFC3339)); len(ev) != len(want) {
		t.Fatalf("--since/--until RFC 3339: %d events", len(ev))
	}
	if ev := auditJSON(t, ts, "--client", id, "--after", strconv.FormatInt(events[5].Seq, 10)); !slices.Equal(actions(ev), want[6:]) {
		t.Fatalf("--after: %v", actions(ev))
	}
	if ev := auditJSON(t, ts, "--client", id, "--limit", "3"); !slices.Equal(actions(ev), want[:3]) {
		t.Fatalf("--limit 3: %v", actions(ev))
	}

	// The table, and its hint to continue.
	table := ts.mustCLI("", "audit", "--client", id, "--limit", "2")
	for _, w := range []string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "REMOTE", actor, auth.ActionClientCreate, "client " + id,
		"--after " + strconv.FormatInt(events[1].Seq, 10)} {
		if !strings.Contains(table, w) {
			t.Errorf("audit table lacks %q:\n%s", w, table)
		}
	}
	if out := ts.mustCLI("", "audit", "--actor", "cli:nobody-at-all"); !strings.Contains(out, "No audit events") {
		t.Fatalf("empty audit table: %q", out)
	}
	for _, bad := range [][]string{{"--since", "yesterday"}, {"--since", "1h", "--until", "2h"}, {"--limit", "-1"}, {"-o", "yaml"}} {
		if _, errOut, code := ts.cli("", append([]string{"audit"}, bad...)...); code == 0 || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("audit %v: exit %d, %q", bad, code, errOut)
		}
	}
	// Read-only: no command edits or deletes audit events.
	root := newRootCmd(&env{getenv: os.Getenv})
	for _, c := range root.Commands() {
		if c.Name() == "audit" && len(c.Commands()) != 0 {
			t.Fatalf("audit has subcommands: %v", c.Commands())
		}
	}
}

// TestListFilters: the filters of clients list combine, and paging still works.
func TestListFilters(t *testing.T) {
	ts := lifecycleServer(t)
	a, _ := ts.createClient("--name", "claims-importer", "--scope", "claims:read", "--metadata", "owner=claims-team")
	b, _ := ts.createClient("--name", "billing-exporter", "--scope", "billing:read", "--metadata", "owner=billing")
	c, _ := ts.createClient("--name", "Claims-Exporter", "--scope", "claims:read claims:write", "--metadata", "owner=claims-team", "--metadata", "tier=gold")
	ts.mustCLI("", "clients", "disable", c)

	list := func(args ...string) []string {
		t.Helper()
		var views []admin.ClientView
		out := ts.mustCLI("", append([]string{"clients", "list", "-o", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &views); err != nil {
			t.Fatalf("list %v: %q: %v", args, out, err)
		}
		var ids []string
		for _, v := range views {
			ids = append(ids, v.ClientID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, sorted(a, b, c)},
		{[]string{"--name", "claims"}, sorted(a, c)},
		{[]string{"--name", "IMPORTER"}, sorted(a)},
		{[]string{"--disabled"}, sorted(c)},
		{[]string{"--enabled"}, sorted(a, b)},
		{[]string{"--scope", "claims:read"}, sorted(a, c)},
		{[]string{"--scope", "claims:write"}, sorted(c)},
		{[]string{"--metadata", "owner=claims-team"}, sorted(a, c)},
		{[]string{"--metadata", "owner=claims-team", "--metadata", "tier=gold"}, sorted(c)},
		{[]string{"--metadata", "owner=claims-team", "--enabled"}, sorted(a)},
		{[]string{"--metadata", "owner=nobody"}, nil},
		{[]string{"--scope", "claims:read", "--limit", "1"}, sorted(min(a, c))},
		{[]string{"--scope", "claims:read", "--after", min(a, c)}, sorted(max(a, c))},
		{[]string{"--limit", "2"}, sorted(a, b, c)[:2]},
	} {
		if got := list(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("list %v: %v, want %v", tc.args, got, tc.want)
		}
	}
	if out := ts.mustCLI("", "clients", "list", "--metadata", "owner=nobody"); !strings.Contains(out, "No clients match") {
		t.Fatalf("empty filtered table: %q", out)
	}
	if out := ts.mustCLI("", "clients", "list", "--disabled"); !strings.Contains(out, c) || strings.Contains(out, a) || !strings.Contains(out, "disabled") {
		t.Fatalf("table --disabled:\n%s", out)
	}
	for _, bad := range [][]string{{"--disabled", "--enabled"}, {"--metadata", "owner"}, {"--limit", "-2"}} {
		if _, errOut, code := ts.cli("", append([]string{"clients", "list"}, bad...)...); code == 0 || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("list %v: exit %d, %q", bad, code, errOut)
		}
	}
}
