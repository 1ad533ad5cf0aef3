package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/authconfig"
)

// writeFile writes a test file and returns its path.
func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// applyEvents returns the audit events written by apply.
func (ts *testServer) applyEvents() []admin.AuditEventView {
	ts.t.Helper()
	out, errOut, code := ts.cli("", "audit", "--actor", admin.ActorApply, "--limit", "0", "-o", "json")
	if code != 0 {
		ts.t.Fatalf("audit: exit %d: %s", code, errOut)
	}
	var events []admin.AuditEventView
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		ts.t.Fatalf("audit -o json: %v: %s", err, out)
	}
	return events
}

// planJSON runs plan -o json and returns the plan and the exit code.
func (ts *testServer) planJSON(args ...string) (admin.Plan, int) {
	ts.t.Helper()
	out, errOut, code := ts.cli("", append([]string{"plan", "-o", "json"}, args...)...)
	var p admin.Plan
	if code == 1 {
		ts.t.Fatalf("plan %v: exit 1: %s", args, errOut)
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		ts.t.Fatalf("plan -o json: %v: %s", err, out)
	}
	return p, code
}

func object(p admin.Plan, kind, id string) *admin.PlanObject {
	for i := range p.Objects {
		if p.Objects[i].Kind == kind && p.Objects[i].ID == id {
			return &p.Objects[i]
		}
	}
	return nil
}

const applyDoc = `apiVersion: gooclaim.com/auth/v1
kind: AuthConfig
issuers:
  - name: k8s
    issuer: https://k8s.example.com
    jwks: ` + testIssuerJWKS + `
clients:
  - client_id: billing
    name: Billing sync
    scopes: [claims:read, claims:write]
    token_ttl: 15m
    metadata: {owner: billing-team}
    secret: {generate: true}
  - client_id: importer
    name: Importer
    scopes: [claims:write]
    secret: {from_file: importer.secret}
  - client_id: payouts
    name: Payouts
    scopes: [payouts:write]
    federated:
      - {issuer: k8s, subject: "system:serviceaccount:payouts:worker"}
`

// TestApplyCLI: plan, apply, idempotence, drift, adoption, prune, errors
// with lines, export — on SQLite and on two nodes sharing PostgreSQL.
func TestApplyCLI(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		dir := t.TempDir()
		const importerSecret = "imported-secret-for-the-importer-0123456789"
		writeTestFile(t, dir, "importer.secret", importerSecret+"\n")
		file := writeTestFile(t, dir, "auth.yaml", applyDoc)
		secretsOut := filepath.Join(dir, "secrets")
		if err := os.Mkdir(secretsOut, 0o700); err != nil {
			t.Fatal(err)
		}

		// plan: everything to create, exit 2.
		p, code := a.planJSON("-f", file)
		if code != 2 || !p.Changed || p.Summary.Create != 4 || p.Applied {
			t.Fatalf("first plan: exit %d, %+v", code, p)
		}
		if o := object(p, "client", "billing"); o == nil || o.Action != admin.PlanCreate || !hasField(o, "secret") || !hasField(o, "token_ttl") {
			t.Errorf("billing in the first plan: %+v", o)
		}
		if !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != len("sha256:")+64 {
			t.Errorf("digest %q", p.Digest)
		}
		out, _, code := a.cli("", "plan", "-f", file)
		if code != 2 || !strings.Contains(out, `+ client "billing"`) || !strings.Contains(out, "4 to create") {
			t.Errorf("text plan: exit %d:\n%s", code, out)
		}

		// apply without --secrets-out refuses: billing's secret would be generated.
		_, errOut, code := a.cli("", "apply", "-f", file)
		if code != 1 || !strings.Contains(errOut, "--secrets-out") || !strings.Contains(errOut, `auth.yaml:`) {
			t.Fatalf("apply without --secrets-out: exit %d: %s", code, errOut)
		}
		if n := len(a.applyEvents()); n != 0 {
			t.Fatalf("a refused apply wrote %d audit events", n)
		}

		out, errOut, code = a.cli("", "apply", "-f", file, "--secrets-out", secretsOut)
		if code != 0 || !strings.Contains(out, "Applied") {
			t.Fatalf("apply: exit %d: %s%s", code, out, errOut)
		}
		fi, err := os.Stat(filepath.Join(secretsOut, "billing"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("generated secret file: %v, %v", fi, err)
		}
		secret, _ := os.ReadFile(filepath.Join(secretsOut, "billing"))
		runRegistry.addSecret(t, "a generated secret in --secrets-out", string(secret))
		if strings.Contains(out, string(secret)) {
			t.Error("apply printed the generated secret")
		}
		for _, id := range []string{"billing", "importer", "payouts"} {
			b.waitForClient(id, true)
		}
		if tok := b.tokenFor("billing", string(secret)); tok == "" {
			t.Error("no token with the generated secret")
		}
		if tok := b.tokenFor("importer", importerSecret); tok == "" {
			t.Error("no token with the secret from the file")
		}
		events := a.applyEvents()
		if len(events) != 4 {
			t.Fatalf("apply wrote %d audit events, want 4 (one per object)", len(events))
		}
		for _, e := range events {
			if e.Actor != admin.ActorApply || !strings.HasPrefix(e.Source, p.Digest+" via cli:") {
				t.Errorf("audit event %s %s: actor %q source %q; want apply and %s via cli:…", e.Action, e.TargetID, e.Actor, e.Source, p.Digest)
			}
		}

		// show says which objects the file manages, and why that matters.
		for _, show := range [][]string{{"clients", "show", "billing"}, {"issuers", "show", "k8s"}} {
			if out, e, c := a.cli("", show...); c != 0 || !strings.Contains(out, "Managed by:") || !strings.Contains(out, "undone by its next apply") {
				t.Errorf("%v: exit %d: %s%s", show, c, out, e)
			}
		}

		// Idempotent: nothing to do, nothing written.
		p, code = a.planJSON("-f", file)
		if code != 0 || p.Changed || p.Summary.Unchanged != 4 {
			t.Fatalf("plan after apply: exit %d, %+v", code, p)
		}
		out, _, code = a.cli("", "apply", "-f", file, "--secrets-out", secretsOut)
		if code != 0 || !strings.Contains(out, "No changes") {
			t.Fatalf("second apply: exit %d: %s", code, out)
		}
		if n := len(a.applyEvents()); n != 4 {
			t.Errorf("a second apply wrote audit events: %d, want 4", n)
		}

		// Drift: a change by hand shows in the plan, field by field, and apply undoes it.
		if _, e, c := a.cli("", "clients", "update", "billing", "--token-ttl", "5m"); c != 0 {
			t.Fatal(e)
		}
		p, code = a.planJSON("-f", file)
		o := object(p, "client", "billing")
		if code != 2 || o == nil || o.Action != admin.PlanUpdate || len(o.Fields) != 1 || o.Fields[0].Field != "token_ttl" ||
			o.Fields[0].Old != "5m" || o.Fields[0].New != "15m" {
			t.Fatalf("drift plan: exit %d, %+v", code, o)
		}
		if _, e, c := a.cli("", "apply", "-f", file); c != 0 {
			t.Fatalf("apply over drift: %s", e)
		}
		if tok := b.tokenFor("billing", string(secret)); tok == "" {
			t.Error("the secret changed over an update")
		}

		// A client made by hand is not changed without adopt: true.
		a.createClient("--client-id", "manual", "--name", "Manual", "--scope", "x")
		a.createClient("--client-id", "bystander", "--name", "Bystander", "--scope", "x")
		if out, _, _ := a.cli("", "clients", "show", "manual"); strings.Contains(out, "Managed by:") {
			t.Errorf("a client made by hand is shown as managed:\n%s", out)
		}
		withManual := applyDoc + `  - client_id: manual
    name: Manual, renamed
    scopes: [x]
    secret: {generate: true}
`
		writeTestFile(t, dir, "auth.yaml", withManual)
		_, errOut, code = a.cli("", "plan", "-f", file)
		if code != 1 || !strings.Contains(errOut, `client "manual"`) || !strings.Contains(errOut, "adopt: true") || !strings.Contains(errOut, fmt.Sprintf("auth.yaml:%d:", lineOf(withManual, "client_id: manual"))) {
			t.Fatalf("plan of a hand-made client: exit %d: %s", code, errOut)
		}
		writeTestFile(t, dir, "auth.yaml", strings.Replace(withManual, "name: Manual, renamed", "name: Manual, renamed\n    adopt: true", 1))
		p, code = a.planJSON("-f", file)
		if o := object(p, "client", "manual"); code != 2 || o == nil || !o.Adopt || o.Action != admin.PlanUpdate {
			t.Fatalf("adopting plan: exit %d, %+v", code, o)
		}
		if _, e, c := a.cli("", "apply", "-f", file); c != 0 {
			t.Fatal(e)
		}

		// --prune deletes what the file manages and no longer names, never bystander.
		writeTestFile(t, dir, "auth.yaml", strings.Replace(withManual, "name: Manual, renamed", "name: Manual, renamed\n    adopt: true", 1))
		pruned := strings.Replace(applyDoc, "  - client_id: billing\n    name: Billing sync\n    scopes: [claims:read, claims:write]\n    token_ttl: 15m\n    metadata: {owner: billing-team}\n    secret: {generate: true}\n", "", 1)
		writeTestFile(t, dir, "auth.yaml", pruned)
		p, code = a.planJSON("-f", file, "--prune")
		if code != 2 || p.Summary.Delete != 2 || object(p, "client", "billing").Action != admin.PlanDelete ||
			object(p, "client", "manual").Action != admin.PlanDelete || object(p, "client", "bystander") != nil {
			t.Fatalf("prune plan: exit %d, %+v", code, p)
		}
		if p, code := a.planJSON("-f", file); code != 0 || p.Summary.Delete != 0 {
			t.Errorf("without --prune nothing is deleted: exit %d, %+v", code, p)
		}
		if _, e, c := a.cli("", "apply", "-f", file, "--prune"); c != 0 {
			t.Fatal(e)
		}
		b.waitForClient("billing", false)
		if _, _, c := a.cli("", "clients", "show", "bystander"); c != 0 {
			t.Error("prune deleted a client made by hand")
		}

		// Problems: every one with its line, nothing written.
		before := len(a.applyEvents())
		bad := pruned + `  - client_id: broken
    name: Broken
    token_ttl: 15 minutes
    federated: [{issuer: k8s-prd, subject: x}]
`
		writeTestFile(t, dir, "auth.yaml", bad)
		_, errOut, code = a.cli("", "apply", "-f", file)
		if code != 1 || !strings.Contains(errOut, "auth.yaml:") || !strings.Contains(errOut, "token_ttl") {
			t.Fatalf("bad file: exit %d: %s", code, errOut)
		}
		badSemantic := pruned + `  - client_id: broken
    name: Broken
    scopes: ["bad scope"]
    federated: [{issuer: k8s-prd, subject: x}]
`
		writeTestFile(t, dir, "auth.yaml", badSemantic)
		_, errOut, code = a.cli("", "apply", "-f", file)
		if code != 1 || !strings.Contains(errOut, fmt.Sprintf(`auth.yaml:%d: client "broken": scopes`, lineOf(badSemantic, "bad scope"))) ||
			!strings.Contains(errOut, fmt.Sprintf(`auth.yaml:%d: client "broken": federated`, lineOf(badSemantic, "k8s-prd"))) {
			t.Fatalf("file with two problems: exit %d: %s", code, errOut)
		}
		if n := len(a.applyEvents()); n != before {
			t.Errorf("a refused file wrote %d audit events", n-before)
		}

		// export | plan -f - : no change; the exported file is deterministic.
		exported, errOut, code := a.cli("", "export")
		if code != 0 || !strings.Contains(exported, "apiVersion: gooclaim.com/auth/v1") || strings.Contains(exported, "sha256") {
			t.Fatalf("export: exit %d: %s%s", code, exported, errOut)
		}
		out, errOut, code = a.cli(exported, "plan", "-f", "-")
		if code != 0 {
			t.Fatalf("export | plan -f -: exit %d: %s%s", code, out, errOut)
		}
	})
}

// lineOf is the line number of the first line of doc containing s.
func lineOf(doc, s string) int {
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

func hasField(o *admin.PlanObject, field string) bool {
	for _, f := range o.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// TestExportRoundTrip: export, apply to an empty database, export again:
// the same bytes.
func TestExportRoundTrip(t *testing.T) {
	ts := startTestServer(t, nil)
	ts.createClient("--client-id", "alpha", "--name", "Alpha: the first", "--scope", "a b", "--audience", "https://a.example.com",
		"--token-ttl", "10m", "--rate-limit", "50/1m", "--metadata", "owner=team-a", "--metadata", "note=yes")
	if _, e, c := ts.cli("", "issuers", "add", "k8s", "--issuer", "https://k8s.example.com", "--jwks-file", writeTestFile(t, t.TempDir(), "jwks.json", testIssuerJWKS), "--max-token-age", "30m"); c != 0 {
		t.Fatal(e)
	}
	if _, e, c := ts.cli("", "clients", "create", "--client-id", "wl", "--name", "Workload", "--scope", "c", "--federated", "k8s=system:serviceaccount:ns:wl", "--exchange-audience", "https://ledger.example.com"); c != 0 {
		t.Fatal(e)
	}
	if _, e, c := ts.cli("", "clients", "create", "--client-id", "off", "--name", "off", "--scope", "on"); c != 0 {
		t.Fatal(e)
	}
	ts.cli("", "clients", "disable", "off")
	first, errOut, code := ts.cli("", "export")
	if code != 0 {
		t.Fatal(errOut)
	}
	empty := &globalFlags{database: filepath.Join(t.TempDir(), "empty.db")}
	dir := t.TempDir()
	file := writeTestFile(t, dir, "exported.yaml", first)
	if out, e, c := runCLI(t, "", append([]string{"apply", "-f", file, "--secrets-out", dir}, globalArgs(empty)...)...); c != 0 {
		t.Fatalf("apply the export to an empty database: %s%s", out, e)
	}
	for _, id := range []string{"alpha", "off"} {
		s, _ := os.ReadFile(filepath.Join(dir, id))
		runRegistry.addSecret(t, "a generated secret in --secrets-out", string(s))
	}
	second, errOut, code := runCLI(t, "", append([]string{"export"}, globalArgs(empty)...)...)
	if code != 0 {
		t.Fatal(errOut)
	}
	if first != second {
		t.Errorf("export → apply → export differs:\n--- first\n%s\n--- second\n%s", first, second)
	}
}

// TestApplyIsAtomic: a file whose last write fails in the store (a
// federated identity bound to a client made by hand, which only the
// store's transaction can tell) changes nothing at all.
func TestApplyIsAtomic(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		if _, e, c := a.cli("", "issuers", "add", "k8s", "--issuer", "https://k8s.example.com", "--jwks-file", writeTestFile(t, t.TempDir(), "jwks.json", testIssuerJWKS)); c != 0 {
			t.Fatal(e)
		}
		if _, e, c := a.cli("", "clients", "create", "--client-id", "holder", "--name", "holder", "--federated", "k8s=sub-1"); c != 0 {
			t.Fatal(e)
		}
		file := writeTestFile(t, t.TempDir(), "auth.yaml", `apiVersion: gooclaim.com/auth/v1
kind: AuthConfig
clients:
  - {client_id: first, name: First, scopes: [a], federated: [{issuer: k8s, subject: sub-2}]}
  - {client_id: second, name: Second, scopes: [a], federated: [{issuer: k8s, subject: sub-3}]}
  - {client_id: thief, name: Thief, scopes: [a], federated: [{issuer: k8s, subject: sub-1}]}
`)
		_, errOut, code := a.cli("", "apply", "-f", file)
		if code != 1 || !strings.Contains(errOut, "holder") {
			t.Fatalf("apply: exit %d: %s; want the conflict naming holder", code, errOut)
		}
		for _, id := range []string{"first", "second", "thief"} {
			if _, _, c := a.cli("", "clients", "show", id); c == 0 {
				t.Errorf("client %s exists after a failed apply", id)
			}
		}
		if n := len(a.applyEvents()); n != 0 {
			t.Errorf("a failed apply left %d audit events", n)
		}
	})
}

// TestConcurrentApplies: two processes apply the same file to the same
// database at once; one writes, the other finds nothing left to do, and
// every object is written once.
func TestConcurrentApplies(t *testing.T) {
	var clients strings.Builder
	for i := range 20 {
		fmt.Fprintf(&clients, "  - {client_id: c%03d, name: Client %d, scopes: [s], secret: {from_file: shared.secret}}\n", i, i)
	}
	doc := "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n" + clients.String()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var g *globalFlags
			if backend == "sqlite" {
				g = &globalFlags{database: filepath.Join(t.TempDir(), "auth.db")}
				if _, e, c := runCLI(t, "", append([]string{"migrate"}, globalArgs(g)...)...); c != 0 {
					t.Fatal(e)
				}
			} else {
				g, _ = newFleetGlobals(t)
				if _, e, c := runCLI(t, "", append([]string{"migrate"}, globalArgs(g)...)...); c != 0 {
					t.Fatal(e)
				}
			}
			dir := t.TempDir()
			writeTestFile(t, dir, "shared.secret", "the-shared-secret-of-every-client-0123")
			file := writeTestFile(t, dir, "auth.yaml", doc)
			var wg sync.WaitGroup
			outs := make([]string, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					cmd := helperCommand(append([]string{"apply", "-f", file}, globalArgs(g)...)...)
					b, err := cmd.CombinedOutput()
					outs[i], errs[i] = string(b), err
				})
			}
			wg.Wait()
			for i := range 2 {
				if errs[i] != nil {
					t.Fatalf("apply %d: %v: %s", i, errs[i], outs[i])
				}
			}
			ts := &testServer{t: t, g: g}
			events := ts.applyEvents()
			if len(events) != 20 {
				t.Errorf("%d audit events, want 20 (each client created once)", len(events))
			}
			wrote := 0
			for _, o := range outs {
				if strings.Contains(o, "20 to create") && strings.Contains(o, "Applied") {
					wrote++
				}
			}
			if wrote != 1 {
				t.Errorf("%d applies report creating the clients, want 1:\n%s\n%s", wrote, outs[0], outs[1])
			}
		})
	}
}

// TestApplyThousandClients: plan and apply a file of 1,000 clients on
// both stores (the times are logged, for docs/performance.md; they are
// not asserted).
func TestApplyThousandClients(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 clients")
	}
	var b strings.Builder
	b.WriteString("apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  - client_id: svc-%04d\n    name: Service %d\n    scopes: [claims:read, claims:write]\n    metadata: {owner: team-%d}\n    secret: {generate: true}\n", i, i, i%17)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			file := writeTestFile(t, dir, "auth.yaml", b.String())
			g := &globalFlags{database: filepath.Join(dir, "auth.db")}
			if backend == "postgres" {
				g, _ = newFleetGlobals(t)
			}
			timed := func(what string, a ...string) string {
				t.Helper()
				start := time.Now()
				out, e, c := runCLI(t, "", append(a, globalArgs(g)...)...)
				if c != 0 && !(c == 2 && a[0] == "plan") {
					t.Fatalf("%s: exit %d: %s", what, c, e)
				}
				t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
				return out
			}
			secrets := filepath.Join(dir, "secrets")
			os.Mkdir(secrets, 0o700)
			timed("plan, empty database", "plan", "-f", file)
			timed("apply, 1,000 creates", "apply", "-f", file, "--secrets-out", secrets)
			if out := timed("plan, nothing to change", "plan", "-f", file); !strings.Contains(out, "1000 unchanged") {
				t.Errorf("plan after apply:\n%.300s", out)
			}
			timed("plan --prune, nothing to change", "plan", "-f", file, "--prune")
			updated := writeTestFile(t, dir, "updated.yaml", strings.ReplaceAll(b.String(), "claims:write]", "claims:write, claims:audit]"))
			if out := timed("apply, 1,000 updates", "apply", "-f", updated); !strings.Contains(out, "1000 to update") {
				t.Errorf("apply of the updated file:\n%.300s", out)
			}
			entries, _ := os.ReadDir(secrets)
			if len(entries) != 1000 {
				t.Errorf("%d secret files, want 1000", len(entries))
			}
			for _, e := range entries {
				s, _ := os.ReadFile(filepath.Join(secrets, e.Name()))
				runRegistry.addSecret(t, "a generated secret in --secrets-out", string(s))
			}
		})
	}
}

// TestApplyRemote: plan and apply through POST /v1/admin/apply, from the
// CLI (--server) and raw HTTP, on SQLite and on two PostgreSQL nodes.
func TestApplyRemote(t *testing.T) {
	backends(t, func(t *testing.T, a, b *testServer) {
		adminID, adminSecret := createOn(t, []*testServer{a, b}, "--name", "ci-deployer", "--scope", auth.ScopeAdmin, "--audience", auth.AdminAudience)
		dir := t.TempDir()
		secretFile := writeTestFile(t, dir, "admin-secret", adminSecret)
		writeTestFile(t, dir, "importer.secret", "imported-secret-for-the-importer-0123456789")
		file := writeTestFile(t, dir, "auth.yaml", applyDoc)
		secretsOut := filepath.Join(dir, "out")
		os.Mkdir(secretsOut, 0o700)
		remote := []string{"--server", b.url, "--token-url", b.url + "/v1/auth/token", "--client-id", adminID, "--client-secret-file", secretFile}

		out, errOut, code := runCLI(t, "", append([]string{"plan", "-f", file}, remote...)...)
		if code != 2 || !strings.Contains(out, "4 to create") {
			t.Fatalf("remote plan: exit %d: %s%s", code, out, errOut)
		}
		out, errOut, code = runCLI(t, "", append([]string{"apply", "-f", file, "--secrets-out", secretsOut}, remote...)...)
		if code != 0 || !strings.Contains(out, "Applied") {
			t.Fatalf("remote apply: exit %d: %s%s", code, out, errOut)
		}
		secret, err := os.ReadFile(filepath.Join(secretsOut, "billing"))
		if err != nil {
			t.Fatal(err)
		}
		runRegistry.addSecret(t, "a generated secret in --secrets-out", string(secret))
		a.waitForClient("billing", true)
		if a.tokenFor("billing", string(secret)) == "" || a.tokenFor("importer", "imported-secret-for-the-importer-0123456789") == "" {
			t.Fatal("the remotely applied clients cannot get tokens")
		}
		for _, e := range a.applyEvents() {
			if !strings.HasSuffix(e.Source, " via client:"+adminID) {
				t.Errorf("audit source %q; want … via client:%s", e.Source, adminID)
			}
		}
		if _, _, code := runCLI(t, "", append([]string{"plan", "-f", file}, remote...)...); code != 0 {
			t.Errorf("remote plan after apply: exit %d, want 0", code)
		}

		tok := a.tokenFor(adminID, adminSecret, "scope", auth.ScopeAdmin, "audience", auth.AdminAudience)
		bearer := []string{"Authorization", "Bearer " + tok}
		// Raw YAML: importer's secret comes from a file only the sender
		// reads, so the server refuses, naming the line, and changes nothing.
		changed := strings.Replace(applyDoc, "token_ttl: 15m", "token_ttl: 20m", 1)
		r := b.do("POST", "/v1/admin/apply", "application/yaml", changed, bearer...)
		var problems struct {
			Error    string `json:"error"`
			Problems []struct {
				Line   int    `json:"line"`
				Object string `json:"object"`
				Field  string `json:"field"`
			} `json:"problems"`
		}
		if r.StatusCode != 400 || json.Unmarshal(r.body, &problems) != nil || problems.Error != "invalid_request" || len(problems.Problems) != 1 ||
			problems.Problems[0].Line != lineOf(applyDoc, "importer.secret") || problems.Problems[0].Field != "secret" {
			t.Fatalf("YAML body with a from_file secret: %d %s", r.StatusCode, r.body)
		}
		// JSON with the secret: a dry run plans the change and writes nothing.
		body, _ := json.Marshal(map[string]any{"document": changed, "secrets": map[string]string{"importer": "imported-secret-for-the-importer-0123456789"}})
		r = b.do("POST", "/v1/admin/apply?dry_run=true", "application/json", string(body), bearer...)
		var plan admin.Plan
		if r.StatusCode != 200 || json.Unmarshal(r.body, &plan) != nil || plan.Applied || !plan.Changed || plan.Summary.Update != 1 {
			t.Fatalf("JSON dry run: %d %s", r.StatusCode, r.body)
		}
		if o := object(plan, "client", "billing"); o == nil || len(o.Fields) != 1 || o.Fields[0].Old != "15m" || o.Fields[0].New != "20m" {
			t.Errorf("JSON dry run: billing %+v", o)
		}
		r = b.do("POST", "/v1/admin/apply", "application/json", string(body), bearer...)
		if r.StatusCode != 200 || json.Unmarshal(r.body, &plan) != nil || !plan.Applied {
			t.Fatalf("JSON apply: %d %s", r.StatusCode, r.body)
		}
		// The admin API says which objects the file manages (a change made
		// by hand would be undone by its next apply), on every node, and
		// says nothing of those made by hand.
		for _, c := range []struct{ path, want string }{
			{"clients/billing", auth.ManagedByApply},
			{"issuers/k8s", auth.ManagedByApply},
			{"clients/" + adminID, ""},
		} {
			for _, n := range []*testServer{a, b} {
				var v struct {
					ManagedBy *string `json:"managed_by"`
				}
				r := n.do("GET", "/v1/admin/"+c.path, "", "", bearer...)
				if r.StatusCode != 200 || json.Unmarshal(r.body, &v) != nil {
					t.Fatalf("GET %s: %d %s", c.path, r.StatusCode, r.body)
				}
				if got := v.ManagedBy; (c.want == "") != (got == nil) || (got != nil && *got != c.want) {
					t.Errorf("GET %s: %s; want managed_by %q (absent when empty)", c.path, r.body, c.want)
				}
			}
		}
		for _, c := range []struct {
			name, query, ct, body string
			headers               []string
			status                int
		}{
			{"no token", "", "application/yaml", changed, nil, 401},
			{"text/plain", "", "text/plain", changed, bearer, 415},
			{"unknown parameter", "?force=true", "application/yaml", changed, bearer, 400},
			{"bad boolean", "?dry_run=maybe", "application/yaml", changed, bearer, 400},
			{"empty body", "", "application/yaml", "", bearer, 400},
			{"unknown JSON field", "", "application/json", `{"document":"x","prune":true}`, bearer, 400},
			{"not a document", "?dry_run=true", "application/yaml", "just text", bearer, 400},
		} {
			r := b.do("POST", "/v1/admin/apply"+c.query, c.ct, c.body, c.headers...)
			if r.StatusCode != c.status {
				t.Errorf("%s: %d %s; want %d", c.name, r.StatusCode, r.body, c.status)
			} else if m := map[string]any{}; json.Unmarshal(r.body, &m) != nil || m["error"] == "" || m["error_description"] == "" {
				t.Errorf("%s: not the Error shape: %s", c.name, r.body)
			}
		}
		if r := b.do("GET", "/v1/admin/apply", "", "", bearer...); r.StatusCode != 405 {
			t.Errorf("GET /v1/admin/apply: %d", r.StatusCode)
		}
		r = b.do("GET", "/schemas/auth/v1/auth-config.json", "", "")
		if r.StatusCode != 200 || !bytes.Equal(r.body, authconfig.Schema) || r.Header.Get("Content-Type") != "application/schema+json" {
			t.Errorf("the schema: %d %q %.80s", r.StatusCode, r.Header.Get("Content-Type"), r.body)
		}
	})
}

// TestServeConfigFile: serve --config-file applies the file before it
// serves and again when it changes; a bad file is refused whole and the
// last good state stays.
func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GOOCLAIM_TEST_IMPORTER_SECRET", "imported-secret-for-the-importer-0123456789")
	doc := strings.Replace(strings.Replace(applyDoc, "secret: {generate: true}", "secret: {from_env: GOOCLAIM_TEST_IMPORTER_SECRET}", 1),
		"{from_file: importer.secret}", "{from_file: secrets/importer}", 1)
	os.Mkdir(filepath.Join(dir, "secrets"), 0o700)
	writeTestFile(t, dir, "secrets/importer", "imported-secret-for-the-importer-0123456789\n")
	file := writeTestFile(t, dir, "auth.yaml", doc)
	ts := startTestServer(t, nil, func(c *serveConfig) {
		c.configFile, c.configFileEvery = file, durationValue(50*time.Millisecond)
	})
	// Before serving: no wait.
	if ts.tokenFor("importer", "imported-secret-for-the-importer-0123456789") == "" || ts.srv.Replica().FederatedClient("k8s", "system:serviceaccount:payouts:worker") == nil {
		t.Fatal("the file's clients are not there when the server starts serving")
	}
	if n := len(ts.applyEvents()); n != 4 {
		t.Fatalf("%d audit events after start, want 4", n)
	}
	if e := ts.applyEvents()[0]; !strings.Contains(e.Source, " via serve:") {
		t.Errorf("audit source %q; want … via serve:HOST", e.Source)
	}

	writeTestFile(t, dir, "auth.yaml", strings.Replace(doc, "name: Importer", "name: Importer v2", 1))
	waitUntil(t, func() bool {
		c, err := ts.srv.Replica().Client(t.Context(), "importer")
		return err == nil && c.Name == "Importer v2"
	})

	before := len(ts.applyEvents())
	writeTestFile(t, dir, "auth.yaml", strings.Replace(doc, "name: Importer", "name: Importer v3\n    token_ttl: forever", 1))
	waitUntil(t, func() bool { return strings.Contains(ts.logs.String(), "the configuration file was refused") })
	if c, _ := ts.srv.Replica().Client(t.Context(), "importer"); c.Name != "Importer v2" || len(ts.applyEvents()) != before {
		t.Errorf("a bad file changed something: name %q", c.Name)
	}
}

// TestFleetConfigFile: three nodes sharing PostgreSQL watch the same file;
// each change is written once, by one of them, and all serve it.
func TestFleetConfigFile(t *testing.T) {
	dir := t.TempDir()
	doc := strings.Replace(applyDoc, "secret: {generate: true}", "secret: {from_file: importer.secret}", 1)
	writeTestFile(t, dir, "importer.secret", "imported-secret-for-the-importer-0123456789")
	file := writeTestFile(t, dir, "auth.yaml", doc)
	f := startFleet(t, 3, nil, func(c *serveConfig) {
		c.configFile, c.configFileEvery = file, durationValue(20*time.Millisecond)
	})
	if n := len(f.nodes[0].applyEvents()); n != 4 {
		t.Fatalf("%d audit events after three nodes started together, want 4", n)
	}
	writeTestFile(t, dir, "auth.yaml", strings.Replace(doc, "scopes: [payouts:write]", "scopes: [payouts:write, payouts:read]", 1))
	for _, n := range f.nodes {
		waitUntil(t, func() bool {
			c, err := n.srv.Replica().Client(t.Context(), "payouts")
			return err == nil && len(c.Scopes) == 2
		})
	}
	time.Sleep(200 * time.Millisecond) // every node has checked the file several times
	if n := len(f.nodes[0].applyEvents()); n != 5 {
		t.Errorf("%d audit events, want 5: the change written once", n)
	}
}

// TestServeConfigFileRefusals: a --config-file that leads nowhere, or
// --config-file-prune alone, stops serve before it serves.
func TestServeConfigFileRefusals(t *testing.T) {
	db := filepath.Join(t.TempDir(), "auth.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config-file", filepath.Join(t.TempDir(), "missing.yaml")}, "--config-file: open"},
		{[]string{"--config-file-prune"}, "--config-file-prune without --config-file"},
	} {
		_, errOut, code := runCLI(t, "", append([]string{"serve", "--listen", "127.0.0.1:0", "--ops-listen", "", "--database", db}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("serve %v: exit %d: %s; want %q", c.args, code, errOut, c.want)
		}
	}
}
