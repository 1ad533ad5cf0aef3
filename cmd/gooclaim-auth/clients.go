package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	auth "github.com/gooclaim/gooclaim-auth"
	"github.com/gooclaim/gooclaim-auth/admin"
)

func newClientsCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage the clients that may obtain tokens",
		Long: `Manage clients directly in the database. A running server sees the change
within its poll interval (500ms by default), without a restart.`,
	}
	cmd.AddCommand(
		newClientsCreateCmd(e, g),
		newClientsListCmd(e, g),
		newClientsShowCmd(e, g),
		newClientsUpdateCmd(e, g),
		newClientsSetDisabledCmd(e, g, true),
		newClientsSetDisabledCmd(e, g, false),
		newClientsDeleteCmd(e, g),
	)
	return cmd
}

// withService opens the database for one command and closes it after.
func withService(ctx context.Context, g *globalFlags, fn func(*admin.Service) error) error {
	db, err := openStore(ctx, g, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(&admin.Service{Store: db})
}

// splitScopes reads --scope values: each may hold several space-separated scopes.
func splitScopes(values []string) []string {
	out := []string{}
	for _, v := range values {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func newClientsCreateCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		spec        admin.ClientSpec
		scopes      []string
		ttl         durationValue
		rate        rateValue
		secretStdin bool
		output      string
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--scope \"a b\"] [--audience URL]... [--token-ttl 15m]",
		Short: "Create a client and print its client_id and secret (shown only once)",
		Example: `  gooclaim-auth clients create --name claims-importer --scope "claims:read claims:write"
  gooclaim-auth clients create --name partner --scope claims:read --audience https://api.gooclaim.com --token-ttl 15m -o json
  # import an existing client and secret (the seed's example):
  printf %s 'S3cureP@ssw0rd!' | gooclaim-auth clients create --client-id gooclaim_app_12345 --name legacy --scope claims:read --secret-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			spec.Scopes = splitScopes(scopes)
			spec.TokenTTL = time.Duration(ttl)
			spec.RateLimit = auth.Rate(rate)
			if secretStdin {
				s, err := readSecret(e.stdin)
				if err != nil {
					return err
				}
				spec.Secret = s
			}
			return withService(cmd.Context(), g, func(svc *admin.Service) error {
				c, secret, err := svc.CreateClient(cmd.Context(), spec)
				if err != nil {
					return err
				}
				if output == "json" {
					v := viewClient(c)
					return writeJSON(e.stdout, struct {
						clientView
						ClientSecret string `json:"client_secret"`
					}{v, secret})
				}
				fmt.Fprintf(e.stdout, "Client created.\n\nclient_id:     %s\nclient_secret: %s\n\n", c.ID, secret)
				fmt.Fprintln(e.stdout, "The secret is shown only this once and is stored only as a hash: keep it in your secret manager now.")
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Name, "name", "", "what the client is, e.g. claims-importer (required)")
	f.StringArrayVar(&scopes, "scope", nil, "scopes the client may be granted, space-separated; repeatable")
	f.StringArrayVar(&spec.Audiences, "audience", nil, "audience (aud) the client may ask for; the first is its default; repeatable (default: the server's --audience)")
	f.Var(&ttl, "token-ttl", "token lifetime for this client (default: the server's --token-ttl)")
	f.Var(&rate, "rate-limit", "rate limit for this client, LIMIT/WINDOW (default: the server's --rate-limit)")
	f.StringVar(&spec.ID, "client-id", "", "use this client_id instead of a generated one (to import an existing client)")
	f.BoolVar(&secretStdin, "secret-stdin", false, "read the client secret from standard input instead of generating one (to import an existing secret)")
	addOutputFlag(cmd, &output)
	return cmd
}

// readSecret reads a secret from stdin, without its trailing newline.
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), 4096))
	if err != nil {
		return "", fmt.Errorf("read the secret from standard input: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("--secret-stdin: standard input is empty; pipe the secret in, e.g. printf %%s \"$SECRET\" | gooclaim-auth clients create ...")
	}
	return s, nil
}

func newClientsListCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		output string
		limit  int
		after  string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(svc *admin.Service) error {
				var all []*auth.Client
				for {
					n := 1000
					if limit > 0 {
						n = min(n, limit-len(all))
					}
					page, err := svc.ListClients(cmd.Context(), after, n)
					if err != nil {
						return err
					}
					all = append(all, page...)
					if len(page) < n || (limit > 0 && len(all) >= limit) {
						break
					}
					after = page[len(page)-1].ID
				}
				if output == "json" {
					views := []clientView{}
					for _, c := range all {
						views = append(views, viewClient(c))
					}
					return writeJSON(e.stdout, views)
				}
				if len(all) == 0 {
					fmt.Fprintln(e.stdout, `No clients. Create one with: gooclaim-auth clients create --name my-service --scope "claims:read"`)
					return nil
				}
				return writeClientTable(e.stdout, all)
			})
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many clients (0: all)")
	cmd.Flags().StringVar(&after, "after", "", "list clients whose ID sorts after this one (paging)")
	return cmd
}

func newClientsShowCmd(e *env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show one client (never its secret)",
		Args:  exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(svc *admin.Service) error {
				c, err := svc.Client(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printClient(e, output, c)
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func printClient(e *env, output string, c *auth.Client) error {
	if output == "json" {
		return writeJSON(e.stdout, viewClient(c))
	}
	return writeClientDetail(e.stdout, c)
}

func exactlyOneClientID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes exactly one CLIENT_ID (list them with: gooclaim-auth clients list)", cmd.CommandPath())
	}
	return nil
}

func newClientsUpdateCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		name, ttl, rate string
		scopes, auds    []string
		output          string
	)
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID [--name N] [--scope \"a b\"] [--audience URL]... [--token-ttl D|default] [--rate-limit R|default]",
		Short: "Change a client's name, scopes, audiences, token lifetime or rate limit",
		Long: `Change the settings given; the others stay as they are. --scope and --audience
replace the whole list. --token-ttl default and --rate-limit default return to
the server's setting.`,
		Args: exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var u admin.ClientUpdate
			f := cmd.Flags()
			if f.Changed("name") {
				u.Name = &name
			}
			if f.Changed("scope") {
				s := splitScopes(scopes)
				u.Scopes = &s
			}
			if f.Changed("audience") {
				u.Audiences = &auds
			}
			if f.Changed("token-ttl") {
				var d time.Duration
				if ttl != "default" {
					v, err := parseDuration(ttl)
					if err != nil {
						return fmt.Errorf("--token-ttl: %w", err)
					}
					d = v
				}
				u.TokenTTL = &d
			}
			if f.Changed("rate-limit") {
				var r auth.Rate
				if rate != "default" {
					v, err := auth.ParseRate(rate)
					if err != nil {
						return fmt.Errorf("--rate-limit: %w", err)
					}
					r = v
				}
				u.RateLimit = &r
			}
			if u.IsEmpty() {
				return fmt.Errorf("nothing to change: give at least one of --name, --scope, --audience, --token-ttl, --rate-limit")
			}
			return withService(cmd.Context(), g, func(svc *admin.Service) error {
				c, err := svc.UpdateClient(cmd.Context(), args[0], u)
				if err != nil {
					return err
				}
				return printClient(e, output, c)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringArrayVar(&scopes, "scope", nil, "the client's scopes (replaces them), space-separated; repeatable")
	f.StringArrayVar(&auds, "audience", nil, "the client's audiences (replaces them); repeatable")
	f.StringVar(&ttl, "token-ttl", "", "token lifetime, or default")
	f.StringVar(&rate, "rate-limit", "", "rate limit LIMIT/WINDOW, or default")
	addOutputFlag(cmd, &output)
	return cmd
}

func newClientsSetDisabledCmd(e *env, g *globalFlags, disable bool) *cobra.Command {
	use, short, done := "enable", "Let a disabled client obtain tokens again", "enabled"
	if disable {
		use, short, done = "disable", "Stop a client from obtaining tokens (reversible with enable)", "disabled"
	}
	return &cobra.Command{
		Use:   use + " CLIENT_ID",
		Short: short,
		Args:  exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(svc *admin.Service) error {
				if _, err := svc.SetDisabled(cmd.Context(), args[0], disable); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Client %s %s.\n", args[0], done)
				return nil
			})
		},
	}
}

func newClientsDeleteCmd(e *env, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client and its secrets for good (disable is reversible)",
		Args:  exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(svc *admin.Service) error {
				if err := svc.DeleteClient(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Client %s deleted.\n", args[0])
				return nil
			})
		},
	}
}
