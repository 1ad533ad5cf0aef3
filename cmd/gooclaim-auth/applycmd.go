package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/authconfig"
	"github.com/gooclaim/auth/client"
)

// exitCode ends a command with a code and no message: plan's 2, "there
// are changes", is an answer, not an error.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// applyFlags are plan's and apply's.
type applyFlags struct {
	file       string
	prune      bool
	dryRun     bool
	secretsOut string
	output     string
	remote     remoteFlags
}

// remoteFlags reach a server's admin API instead of the database.
type remoteFlags struct {
	server     string
	clientID   string
	secretFile string
	tokenFile  string
	tokenURL   string
	audience   string
}

func (r *remoteFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&r.server, "server", "", "URL of a running server (its issuer URL): plan or apply through its admin API (POST /v1/admin/apply) instead of --database")
	fl.StringVar(&r.clientID, "client-id", "", "with --server: the admin client (scope "+auth.ScopeAdmin+") whose token is used")
	fl.StringVar(&r.secretFile, "client-secret-file", "", "with --server: file holding the admin client's secret, or - for standard input")
	fl.StringVar(&r.tokenFile, "token-file", "", "with --server: file holding an admin access token to send instead of --client-id and --client-secret-file")
	fl.StringVar(&r.tokenURL, "token-url", "", "with --server: the token endpoint to get the admin token from (default: read from --server's metadata, RFC 8414)")
	fl.StringVar(&r.audience, "audience", auth.AdminAudience, "with --server: the admin API's audience (serve's --admin-audience)")
}

func (f *applyFlags) add(fl *pflag.FlagSet, apply bool) {
	fl.StringVarP(&f.file, "file", "f", "", "the configuration document (YAML, apiVersion "+authconfig.APIVersion+"), or - for standard input (required)")
	fl.BoolVar(&f.prune, "prune", false, "delete the clients and trusted issuers an earlier apply created or adopted that the file no longer names (never those made by hand)")
	fl.StringVarP(&f.output, "output", "o", "text", "output: text or json")
	if apply {
		fl.BoolVar(&f.dryRun, "dry-run", false, "plan only: write nothing (exits as plan does)")
		fl.StringVar(&f.secretsOut, "secrets-out", "", "directory to write each generated secret to, once, as a 0600 file named after its client_id (needed by clients with secret: {generate: true} and no secret yet)")
	}
	f.remote.add(fl)
}

func newPlanCmd(e *env, g *globalFlags) *cobra.Command {
	f := &applyFlags{}
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show what apply would change to match a configuration file",
		Long: `Plan compares a configuration document (clients and trusted issuers, see
docs/configuration-as-code.md) with the database, or with a server's state
through its admin API (--server), and prints what apply would do: each object
created, updated (every field, old → new), deleted (--prune) or unchanged.

Exit status: 0 when nothing would change, 2 when something would, 1 on error
(Terraform's -detailed-exitcode), so that a CI job can fail on drift.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.dryRun = true
			return runApply(cmd.Context(), e, g, f, true)
		},
	}
	f.add(cmd.Flags(), false)
	return cmd
}

func newApplyCmd(e *env, g *globalFlags) *cobra.Command {
	f := &applyFlags{}
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Make the clients and trusted issuers match a configuration file",
		Long: `Apply makes the database (or, with --server, a server's store through its
admin API) match a configuration document, in one transaction: every change
or none. A second apply of the same file changes nothing and records nothing.
Each change is in the audit trail with the actor "apply" and the file's digest.

Secrets are never in the file: secret: {from_file: PATH} or {from_env: VAR}
is read here and stored only as a hash; secret: {generate: true} generates one
for a client that has none, written once to --secrets-out DIR/CLIENT_ID.

Objects made by hand are changed only when their entry says adopt: true, and
--prune deletes only the objects an apply created or adopted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApply(cmd.Context(), e, g, f, f.dryRun)
		},
	}
	f.add(cmd.Flags(), true)
	return cmd
}

func newExportCmd(e *env, g *globalFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the current clients and trusted issuers as a configuration file",
		Long: `Export writes every client and trusted issuer in the format plan and apply
read, without secrets (a client with a secret gets secret: {generate: true},
which keeps the secret it has), so that a running installation can move to
files: export > auth.yaml, then plan -f auth.yaml shows no change.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(ctx context.Context, s *admin.Service) error {
				data, err := s.Export(ctx)
				if err != nil {
					return err
				}
				if out == "" || out == "-" {
					_, err = e.stdout.Write(data)
					return err
				}
				return os.WriteFile(out, data, 0o644)
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output-file", "O", "", "write to this file instead of standard output")
	return cmd
}

func runApply(ctx context.Context, e *env, g *globalFlags, f *applyFlags, dryRun bool) error {
	if f.file == "" {
		return errors.New("--file (-f) is required: the configuration document, or - for standard input")
	}
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: use text or json", f.output)
	}
	data, name, err := readDocument(e, f.file)
	if err != nil {
		return err
	}
	if f.secretsOut != "" && !dryRun {
		if err := checkSecretsDir(f.secretsOut); err != nil {
			return err
		}
	}
	var p *admin.Plan
	var generated map[string]string
	if f.remote.server != "" {
		p, generated, err = remoteApply(ctx, e, f, name, data, dryRun)
	} else {
		p, generated, err = localApply(ctx, e, g, f, name, data, dryRun)
	}
	if err != nil {
		return err
	}
	writeErr := writeSecrets(f.secretsOut, generated)
	if f.output == "json" {
		err = writeJSON(e.stdout, p)
	} else {
		err = writePlan(e.stdout, p)
	}
	if err = errors.Join(writeErr, err); err != nil {
		return err
	}
	if dryRun && p.Changed {
		return exitCode(2)
	}
	return nil
}

// readDocument reads -f: a file, or standard input for "-".
func readDocument(e *env, path string) ([]byte, string, error) {
	var r io.Reader = e.stdin
	name := "-"
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("read the configuration document: %w", err)
		}
		defer fh.Close()
		r, name = fh, path
	}
	data, err := io.ReadAll(io.LimitReader(r, authconfig.MaxSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("read the configuration document %s: %w", name, err)
	}
	return data, name, nil
}

func localApply(ctx context.Context, e *env, g *globalFlags, f *applyFlags, name string, data []byte, dryRun bool) (*admin.Plan, map[string]string, error) {
	doc, err := authconfig.Parse(name, data)
	if err != nil {
		return nil, nil, err
	}
	var p *admin.Plan
	err = withService(ctx, g, func(ctx context.Context, s *admin.Service) error {
		p, err = s.Apply(ctx, doc, admin.ApplyOptions{
			Prune: f.prune, DryRun: dryRun, GenerateSecrets: f.secretsOut != "" || dryRun,
			ResolveSecret: fileSecrets(e, name),
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return p, p.GeneratedSecrets(), nil
}

// fileSecrets resolves from_file (relative to the document's directory;
// the working directory for standard input) and from_env sources.
func fileSecrets(e *env, docName string) func(authconfig.Client) (string, error) {
	dir := "."
	if docName != "-" {
		dir = filepath.Dir(docName)
	}
	return func(c authconfig.Client) (string, error) { return authconfig.ReadSecret(dir, c.Secret, e.getenv) }
}

// remoteApply sends the document to POST /v1/admin/apply, with the
// secrets its from_file and from_env sources name, read here.
func remoteApply(ctx context.Context, e *env, f *applyFlags, name string, data []byte, dryRun bool) (*admin.Plan, map[string]string, error) {
	doc, err := authconfig.Parse(name, data)
	if err != nil {
		return nil, nil, err // the server would say the same, without the local file's name
	}
	secrets := map[string]string{}
	resolve := fileSecrets(e, name)
	var problems []authconfig.Problem
	for _, c := range doc.Clients {
		if c.Secret.FromFile == "" && c.Secret.FromEnv == "" {
			continue
		}
		s, err := resolve(c)
		if err != nil {
			problems = append(problems, authconfig.Problem{File: name, Line: c.FieldLine("secret"), Object: fmt.Sprintf("client %q", c.Client.ID), Field: "secret", Message: err.Error()})
			continue
		}
		secrets[c.Client.ID] = s
	}
	if len(problems) > 0 {
		return nil, nil, authconfig.NewError(problems)
	}
	hc, err := f.remote.httpClient(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	body, _ := json.Marshal(applyRequest{File: filepath.Base(name), Document: string(data), Secrets: secrets})
	q := url.Values{}
	q.Set("dry_run", fmt.Sprint(dryRun))
	q.Set("prune", fmt.Sprint(f.prune))
	q.Set("generate_secrets", fmt.Sprint(f.secretsOut != "" || dryRun))
	u := strings.TrimSuffix(f.remote.server, "/") + "/v1/admin/apply?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("--server %q: %w", f.remote.server, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("apply through %s: %w", f.remote.server, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("apply through %s: read the answer: %w", f.remote.server, err)
	}
	if resp.StatusCode != http.StatusOK {
		var oe struct {
			Error       string               `json:"error"`
			Description string               `json:"error_description"`
			Problems    []authconfig.Problem `json:"problems"`
		}
		if json.Unmarshal(respBody, &oe) == nil && len(oe.Problems) > 0 {
			for i := range oe.Problems {
				oe.Problems[i].File = name
			}
			return nil, nil, &authconfig.Error{Problems: oe.Problems}
		}
		if oe.Error != "" {
			return nil, nil, fmt.Errorf("apply through %s: %s %s: %s", f.remote.server, resp.Status, oe.Error, oe.Description)
		}
		return nil, nil, fmt.Errorf("apply through %s: %s", f.remote.server, resp.Status)
	}
	var out applyResponse
	if err := json.Unmarshal(respBody, &out); err != nil {
		return nil, nil, fmt.Errorf("apply through %s: the answer is not a plan: %w", f.remote.server, err)
	}
	out.Plan.File = name
	return &out.Plan, out.GeneratedSecrets, nil
}

// applyRequest and applyResponse mirror the admin API's JSON forms
// (httpapi's apply handler).
type applyRequest struct {
	File     string            `json:"file,omitempty"`
	Document string            `json:"document"`
	Secrets  map[string]string `json:"secrets,omitempty"`
}

type applyResponse struct {
	admin.Plan
	GeneratedSecrets map[string]string `json:"generated_secrets"`
}

// httpClient is an HTTP client that sends an admin token: the one in
// --token-file, or one obtained for --client-id.
func (r *remoteFlags) httpClient(ctx context.Context, e *env) (*http.Client, error) {
	switch {
	case r.tokenFile != "" && (r.clientID != "" || r.secretFile != ""):
		return nil, errors.New("give --token-file, or --client-id with --client-secret-file, not both")
	case r.tokenFile != "":
		tok, err := readSecretFile(e, r.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		return &http.Client{Transport: bearer{tok}}, nil
	case r.tokenURL != "" && r.tokenFile != "":
		return nil, errors.New("--token-url is where --client-id gets its token: with --token-file there is none to get")
	case r.clientID == "" || r.secretFile == "":
		return nil, errors.New("--server needs an admin token: --client-id and --client-secret-file of a client with scope " + auth.ScopeAdmin + ", or --token-file")
	}
	secret, err := readSecretFile(e, r.secretFile)
	if err != nil {
		return nil, err
	}
	cfg := &client.Config{Issuer: r.server, TokenURL: r.tokenURL, ClientID: r.clientID, ClientSecret: secret, Audience: r.audience, Scopes: []string{auth.ScopeAdmin}}
	return cfg.Client(ctx), nil
}

// bearer sends a fixed access token.
type bearer struct{ token string }

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(req)
}

// checkSecretsDir checks, before anything is generated, that the
// generated secrets can be written: a directory only its owner reads.
func checkSecretsDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--secrets-out: %w (create it first: mkdir -m 700 %s)", err, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--secrets-out %s is not a directory", dir)
	}
	probe, err := os.CreateTemp(dir, ".gooclaim-auth-probe-*")
	if err != nil {
		return fmt.Errorf("--secrets-out: cannot write in %s: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// writeSecrets writes each generated secret to DIR/CLIENT_ID, 0600,
// holding the secret alone; a file that exists is never overwritten.
func writeSecrets(dir string, secrets map[string]string) error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(secrets)) {
		if id == "." || id == ".." || strings.ContainsAny(id, `/\`) {
			errs = append(errs, fmt.Errorf("client %q: its ID cannot name a file in --secrets-out; give it a new secret with: gooclaim-auth clients rotate-secret %s", id, id))
			continue
		}
		path := filepath.Join(dir, id)
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = fh.WriteString(secrets[id])
			err = errors.Join(err, fh.Close())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("client %q: the generated secret could not be written to %s (%w); give it a new secret with: gooclaim-auth clients rotate-secret %s", id, path, err, id))
		}
	}
	return errors.Join(errs...)
}

// writePlan prints a plan for people: a summary line, then each object
// with a sign (+ create, ~ update, - delete, = unchanged) and its fields.
func writePlan(w io.Writer, p *admin.Plan) error {
	var b strings.Builder
	verb := "Plan"
	if p.Applied {
		verb = "Applied"
	}
	fmt.Fprintf(&b, "%s %s (%s): %d to create, %d to update, %d to delete, %d unchanged.\n",
		verb, p.File, p.Digest, p.Summary.Create, p.Summary.Update, p.Summary.Delete, p.Summary.Unchanged)
	if !p.Changed {
		b.WriteString("No changes: the store matches the file.\n")
	}
	for _, o := range p.Objects {
		sign := map[string]string{admin.PlanCreate: "+", admin.PlanUpdate: "~", admin.PlanDelete: "-", admin.PlanUnchanged: "="}[o.Action]
		note := ""
		switch {
		case o.Adopt:
			note = " (adopted: the file manages it from now on)"
		case o.Unmanaged:
			note = " (made by hand, not managed: --prune leaves it alone)"
		case o.Action == admin.PlanDelete:
			note = " (--prune: no longer in the file)"
		}
		fmt.Fprintf(&b, "\n%s %s %q%s\n", sign, o.Kind, o.ID, note)
		for _, fc := range o.Fields {
			switch o.Action {
			case admin.PlanCreate:
				fmt.Fprintf(&b, "    %s: %s\n", fc.Field, planValue(fc.New))
			default:
				fmt.Fprintf(&b, "    %s: %s → %s\n", fc.Field, planValue(fc.Old), planValue(fc.New))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// planValue shows a field's value on one line: JSON, strings unquoted
// when that reads unambiguously, (none) for an unset field.
func planValue(v any) string {
	if v == nil {
		return "(none)"
	}
	if s, ok := v.(string); ok && s != "" && !strings.ContainsAny(s, " \t\n\"→") {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
