// Command gooclaim-auth is the Gooclaim Auth token service and its
// management tool: `serve` runs the OAuth 2.0 client credentials token
// endpoint; `clients`, `keys` and `migrate` manage its database (`policies`
// shows and tries its policies); `token`
// and `verify` fetch and check access tokens over HTTP with the client and
// verification kits.
//
// Every flag can also be set with an environment variable GOOCLAIM_<FLAG>,
// upper-cased with dashes as underscores (--database → GOOCLAIM_DATABASE),
// and serve's in a YAML configuration file (--config) whose keys are the
// flag names; a flag given on the command line wins, then the environment,
// then the file (settings.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gooclaim/auth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// env is what a command reads besides its flags: streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if code, ok := errors.AsType[exitCode](err); ok {
			return int(code)
		}
		fmt.Fprintln(stderr, "Error:", explain(err))
		return 1
	}
	return 0
}

// globalFlags are shared by every command that touches the database.
type globalFlags struct {
	database       string
	postgresSchema string
	kekFile        string
	logLevel       string
	config         string
	// settings is where each flag's value came from, and the problems
	// found reading the environment and the configuration file; set before
	// a command runs.
	settings *settings
	// warnings receives the management commands' warnings (standard
	// error); serve logs its own.
	warnings io.Writer
}

// addGlobalFlags adds the flags every command shares.
func addGlobalFlags(pf *pflag.FlagSet, g *globalFlags) {
	pf.StringVar(&g.database, "database", "./gooclaim-auth.db", "database: a SQLite file path (or sqlite:PATH), or a postgres:// URL shared by every node")
	pf.StringVar(&g.postgresSchema, "postgres-schema", "", "PostgreSQL schema holding the tables, created if missing (default: the connection's search_path)")
	pf.StringVar(&g.kekFile, "key-encryption-key-file", "", "file holding the 32-byte key-encryption key, base64 (make one with: openssl rand -base64 32); default: beside the SQLite database, created if missing")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.config, "config", "", "YAML file of settings whose keys are the flag names (listen: \":8080\"); the command line and GOOCLAIM_* win over it")
}

func newRootCmd(e *env) *cobra.Command {
	g := &globalFlags{warnings: e.stderr}
	root := &cobra.Command{
		Use:   "gooclaim-auth",
		Short: "Gooclaim Auth: OAuth 2.0 client credentials token service",
		Long: `Gooclaim Auth issues signed JWT access tokens (RFC 9068) to machine clients
that authenticate with their client_id and client_secret (RFC 6749 §4.4).

Quick start:
  gooclaim-auth serve                                   # SQLite in ./gooclaim-auth.db, :8080
  gooclaim-auth clients create --name my-service --scope "claims:read"

Every flag can also be set with GOOCLAIM_<FLAG> (--database → GOOCLAIM_DATABASE)
or, for serve, in a YAML file named by --config (GOOCLAIM_CONFIG) whose keys are
the flag names. Precedence: flags, then the environment, then the file, then
the defaults; gooclaim-auth config print shows the result and where each
value came from.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.settings = resolveSettings(cmd, e.getenv, g)
			if cmd.Name() == "version" {
				return nil // whatever the configuration, version answers
			}
			if _, ok := cmd.Annotations[serveScoped]; ok {
				return nil // reported with the rest of serve's checks
			}
			return g.settings.err()
		},
	}
	addGlobalFlags(root.PersistentFlags(), g)

	root.AddCommand(
		newServeCmd(e, g),
		newConfigCmd(e, g),
		newClientsCmd(e, g),
		newIssuersCmd(e, g),
		newKeysCmd(e, g),
		newMigrateCmd(e, g),
		newPlanCmd(e, g),
		newApplyCmd(e, g),
		newExportCmd(e, g),
		newAuditCmd(e, g),
		newPoliciesCmd(e, g),
		newConsoleCmd(e, g),
		newTokenCmd(e),
		newVerifyCmd(e),
		newJWKSCmd(e),
		newVersionCmd(e),
		newHealthcheckCmd(e),
	)
	return root
}

// explain turns an error into a sentence that says what to do next.
func explain(err error) string {
	msg := err.Error()
	switch auth.ErrorCode(err) {
	case auth.ENOTFOUND:
		return msg + " (list clients with: gooclaim-auth clients list)"
	case auth.ECONFLICT:
		return msg + " (choose another --client-id, or update the existing client)"
	case auth.EINVALID:
		return msg + " (see --help for the accepted values)"
	case auth.EUNAVAILABLE:
		return msg
	}
	return msg
}
