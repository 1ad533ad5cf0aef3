package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

func newClientsCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage the clients that may obtain tokens",
		Long: `Manage clients directly in the database. A running server sees the change
within its poll interval (500ms by default), without a restart. Every change
is recorded in the audit trail as made by "cli:<OS user>" from this host
(see gooclaim-auth audit).`,
		Example: `  gooclaim-auth clients create --name claims-importer --scope "claims:read"
  gooclaim-auth clients list --metadata owner=claims-team
  gooclaim-auth clients rotate-secret gooclaim_app_3kT9… --grace 24h`,
	}
	cmd.AddCommand(
		newClientsCreateCmd(e, g),
		newClientsListCmd(e, g),
		newClientsShowCmd(e, g),
		newClientsUpdateCmd(e, g),
		newClientsSetDisabledCmd(e, g, true),
		newClientsSetDisabledCmd(e, g, false),
		newClientsDeleteCmd(e, g),
		newClientsRotateSecretCmd(e, g),
		newClientsRevokeSecretCmd(e, g),
		newClientsRevokeTokensCmd(e, g),
	)
	return cmd
}

// withService opens the database for one command and closes it after. The
// context given to fn carries the command line's audit identity (see
// cliAudit), so that every write fn makes is recorded with it.
func withService(ctx context.Context, g *globalFlags, fn func(context.Context, *admin.Service) error) error {
	db, err := openCLIStore(ctx, g)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(cliAudit(ctx), &admin.Service{Store: db})
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
		adminClient bool
		policy      policyFlags
		output      string
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--scope \"a b\"] [--audience URL]... [--token-ttl 15m] [--jwks-file F | --jwks-uri URL] [--metadata K=V]... [--admin]",
		Short: "Create a client and print its client_id and secret (shown only once)",
		Long: `Create a client directly in the database and print its client_id and, when it
has one, its secret. The secret is shown only this once and stored only as a
hash.

A client authenticates with a secret (client_secret_basic or
client_secret_post), with a JWT signed by its private key (private_key_jwt,
RFC 7523) whose public keys it registers with --jwks-file or --jwks-uri, or
both. A client created with public keys gets no secret unless --auth-method
names a secret method or --secret-stdin imports one; one can be added later
with clients rotate-secret.

A workload that already holds a token of a trusted issuer (a Kubernetes
service account token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID; see
gooclaim-auth issuers) needs no credential of ours: --federated ISSUER=SUBJECT
binds the client to that token's subject (federated_jwt). Given without
--jwks-file, --jwks-uri, --secret-stdin or a secret --auth-method, the client
gets no secret at all. --exchange-audience lets the client obtain, by token
exchange (RFC 8693), tokens for that audience acting for the subject of a
token of this server.

A client with a certificate from a CA the server trusts authenticates by
mutual TLS (tls_client_auth, RFC 8705): --tls-subject-dn DN, or one of
--tls-san-dns, --tls-san-uri, --tls-san-ip and --tls-san-email, says what its
certificate must name. Given without --jwks-file, --jwks-uri, --federated,
--secret-stdin or a secret --auth-method, the client gets no secret at all.
A client with registered public keys may instead present a self-signed
certificate of one of them (self_signed_tls_client_auth).
--require-dpop and --require-certificate-bound-tokens make every token of
the client sender-constrained: bound to a DPoP key (RFC 9449) or to its
client certificate (RFC 8705), so that a stolen token is useless alone.

--reuse-tokens (or =on) makes a request for the same scope, audience and
binding while a live token of the client has over half its lifetime left get
that token again instead of a new signature; --reuse-tokens=off always signs
a new one; by default the client follows the server's serve --reuse-tokens.

--auth-method restricts the methods; by default the client may use every
method its credentials allow.

--admin creates an admin client: the way to bootstrap the first one, since it
works on the database directly. It adds the scope auth:admin, and the audience
urn:gooclaim:auth:admin as the client's first (default) audience; its tokens
can then call the admin API (/v1/admin/).

With -o json the client is printed with its settings, and "client_secret"
holds the secret; the field is absent when the client has no secret.`,
		Example: `  gooclaim-auth clients create --name claims-importer --scope "claims:read claims:write" \
      --metadata owner=claims-team --metadata contact=claims@gooclaim.com
  gooclaim-auth clients create --name partner --scope claims:read --audience https://api.gooclaim.com --token-ttl 15m -o json
  # a client that authenticates with private_key_jwt, and so has no secret:
  gooclaim-auth clients create --name signer --scope claims:read --jwks-file signer-public.jwks.json
  gooclaim-auth clients create --name fetched --scope claims:read --jwks-uri https://signer.example/jwks.json
  # a Kubernetes workload, secretless: its service account token authenticates it
  gooclaim-auth clients create --name payments-worker --scope claims:read \
      --federated k8s-prod=system:serviceaccount:payments:worker
  # a workload with a certificate from the internal CA, secretless, tokens bound to it:
  gooclaim-auth clients create --name billing-sync --scope claims:read \
      --tls-san-uri spiffe://gooclaim.com/ns/billing/sa/sync --auth-method tls_client_auth \
      --require-certificate-bound-tokens
  # the first admin client:
  gooclaim-auth clients create --name ops-admin --admin --metadata owner=platform-team
  # import an existing client and secret (the seed's example):
  printf %s 'S3cureP@ssw0rd!' | gooclaim-auth clients create --client-id gooclaim_app_12345 --name legacy --scope claims:read --secret-stdin`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := reuseValueArg(cmd, args); err != nil {
				return err
			}
			return cobra.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			spec.Scopes = splitScopes(scopes)
			spec.TokenTTL = time.Duration(ttl)
			spec.RateLimit = auth.Rate(rate)
			var err error
			if spec.Quotas, spec.QuotaMode, err = policy.parseQuotaFlags(); err != nil {
				return err
			}
			if spec.Claims, err = parseClaims("claim", policy.claims); err != nil {
				return err
			}
			spec.Condition = policy.condition
			if spec.TokenReuse, err = policy.parseReuseFlag(); err != nil {
				return err
			}
			if secretStdin && policy.jwksFile == "-" {
				return fmt.Errorf("--secret-stdin and --jwks-file - both read standard input: put the JWK Set in a file")
			}
			if secretStdin {
				s, err := readSecret(e.stdin)
				if err != nil {
					return err
				}
				spec.Secret = s
			}
			if policy.jwksFile != "" {
				jwks, err := readJWKS(policy.jwksFile, e.stdin)
				if err != nil {
					return err
				}
				spec.JWKS = jwks
			}
			spec.JWKSURI = policy.jwksURI
			spec.AuthMethods = parseAuthMethods(policy.authMethods)
			md, err := parseMetadata(policy.metadata)
			if err != nil {
				return err
			}
			spec.Metadata = md
			if spec.Federated, err = parseFederatedFlags("federated", policy.federated); err != nil {
				return err
			}
			spec.ExchangeAudiences = policy.exchangeAuds
			spec.RequireDPoP, spec.RequireCertificateBoundTokens = policy.requireDPoP, policy.requireCertBound
			spec.TLSClientAuth = policy.tls
			if adminClient {
				spec.Scopes, spec.Audiences = addAdmin(spec.Scopes, spec.Audiences)
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				svc.AllowHTTPJWKSURI = policy.allowHTTP
				svc.AllowPrivateAddresses = policy.allowPrivate
				c, secret, err := svc.CreateClient(ctx, spec)
				if err != nil {
					return err
				}
				return printCreated(e, output, c, secret)
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
	f.BoolVar(&adminClient, "admin", false, "make an admin client: add scope "+auth.ScopeAdmin+" and the default audience "+auth.AdminAudience+" (bootstraps the first admin)")
	policy.add(f, false)
	addOutputFlag(cmd, &output)
	return cmd
}

// printCreated prints a new client with its secret, if it has one: shown
// this once. The JSON form has "client_secret" only when there is one.
func printCreated(e *env, output string, c *auth.Client, secret string) error {
	if output == "json" {
		return writeJSON(e.stdout, struct {
			admin.ClientView
			ClientSecret string `json:"client_secret,omitempty"`
		}{admin.View(c), secret})
	}
	fmt.Fprintf(e.stdout, "Client created.\n\nclient_id:     %s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(e.stdout, "client_secret: %s\n\n", secret)
		fmt.Fprintln(e.stdout, "The secret is shown only this once and is stored only as a hash: keep it in your secret manager now.")
	} else {
		switch {
		case c.HasPublicKeys():
			fmt.Fprintln(e.stdout, "\nIt has no secret: it authenticates with private_key_jwt, signing with the private key of its registered public keys.")
		case len(c.Federated) == 0 && !c.TLSClientAuth.IsZero():
			fmt.Fprintln(e.stdout, "\nIt has no secret: it authenticates by mutual TLS with its certificate (tls_client_auth).")
		default:
			fmt.Fprintln(e.stdout, "\nIt has no secret: it authenticates with a token of a trusted issuer bound to it (federated_jwt).")
		}
	}
	if slices.Contains(c.Scopes, auth.ScopeAdmin) && len(c.Audiences) > 0 && c.Audiences[0] == auth.AdminAudience {
		fmt.Fprintf(e.stdout, "It may call the admin API: its tokens carry the scope %s and, by default, the audience %s.\n", auth.ScopeAdmin, auth.AdminAudience)
	}
	fmt.Fprintln(e.stdout)
	return writeClientDetail(e.stdout, c)
}

// readSecret reads a secret from stdin, without its trailing newline.
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), 4096))
	if err != nil {
		return "", fmt.Errorf("read the secret from standard input: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", errors.New(`--secret-stdin: standard input is empty; pipe the secret in, e.g. printf %s "$SECRET" | gooclaim-auth clients create --name NAME --secret-stdin`)
	}
	return s, nil
}

func newClientsListCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		output            string
		limit             int
		after             string
		filter            admin.ClientFilter
		disabled, enabled bool
		metadata          []string
	)
	cmd := &cobra.Command{
		Use:   "list [--name TEXT] [--enabled|--disabled] [--scope S] [--metadata K=V]... [--limit N] [--after ID]",
		Short: "List clients, optionally only those matching filters",
		Long: `List clients in client_id order, never with their secrets. The filters combine:
a client is listed when it matches every one given. --name matches part of
the name, ignoring case; --metadata KEY=VALUE matches an exact entry and may
be repeated. --limit and --after page through a long list.`,
		Example: `  gooclaim-auth clients list
  gooclaim-auth clients list --metadata owner=claims-team --enabled
  gooclaim-auth clients list --scope claims:write -o json
  gooclaim-auth clients list --name importer --limit 50 --after gooclaim_app_3kT9…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if disabled && enabled {
				return fmt.Errorf("--disabled and --enabled exclude each other: give one, or neither for both")
			}
			if disabled || enabled {
				filter.Disabled = &disabled
			}
			md, err := parseMetadata(metadata)
			if err != nil {
				return err
			}
			filter.Metadata = md
			if limit < 0 {
				return fmt.Errorf("--limit %d: use a positive number, or 0 for all", limit)
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				var all []*auth.Client
				filter.After = after
				for {
					filter.Limit = 1000
					if limit > 0 {
						filter.Limit = min(filter.Limit, limit-len(all))
					}
					page, next, err := svc.FindClients(ctx, filter)
					if err != nil {
						return err
					}
					all = append(all, page...)
					if next == "" || (limit > 0 && len(all) >= limit) {
						break
					}
					filter.After = next
				}
				if output == "json" {
					views := []admin.ClientView{}
					for _, c := range all {
						views = append(views, admin.View(c))
					}
					return writeJSON(e.stdout, views)
				}
				if len(all) == 0 {
					if filter.Name != "" || filter.Disabled != nil || filter.Scope != "" || len(filter.Metadata) > 0 || after != "" {
						fmt.Fprintln(e.stdout, "No clients match.")
						return nil
					}
					fmt.Fprintln(e.stdout, `No clients. Create one with: gooclaim-auth clients create --name my-service --scope "claims:read"`)
					return nil
				}
				return writeClientTable(e.stdout, all)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter.Name, "name", "", "only clients whose name contains this text, ignoring case")
	f.BoolVar(&disabled, "disabled", false, "only disabled clients")
	f.BoolVar(&enabled, "enabled", false, "only enabled clients")
	f.StringVar(&filter.Scope, "scope", "", "only clients allowed this scope")
	f.StringArrayVar(&metadata, "metadata", nil, "only clients with this metadata entry KEY=VALUE; repeatable (all must match)")
	f.IntVar(&limit, "limit", 0, "list at most this many clients (0: all)")
	f.StringVar(&after, "after", "", "list clients whose ID sorts after this one (paging)")
	addOutputFlag(cmd, &output)
	return cmd
}

func newClientsShowCmd(e *env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show one client (never its secret)",
		Long: `Show every setting of one client: scopes, audiences, token lifetime, rate
limit, authentication methods, public keys, metadata, the revoke-all cut-off
and its secrets' IDs and lifetimes — never a secret or a secret's hash.`,
		Example: `  gooclaim-auth clients show gooclaim_app_3kT9…
  gooclaim-auth clients show gooclaim_app_3kT9… -o json`,
		Args: exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				c, err := svc.Client(ctx, args[0])
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
		return writeJSON(e.stdout, admin.View(c))
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
		policy          policyFlags
		output          string
	)
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID [--name N] [--scope \"a b\"] [--audience URL]... [--token-ttl D|default] [--rate-limit R|default] [--jwks-file F | --jwks-uri URL] [--auth-method M]... [--metadata K=V]... [--unset-metadata K]... [--federated ISSUER=SUBJECT]... [--remove-federated ISSUER=SUBJECT]... [--exchange-audience URL]... [--no-exchange-audience] [--require-dpop[=false]] [--require-certificate-bound-tokens[=false]] [--tls-subject-dn DN | --tls-san-dns|uri|ip|email V | --no-tls-client-auth] [--reuse-tokens[=on|off|default]]",
		Short: "Change a client's settings: name, scopes, audiences, lifetime, rate limit, keys, auth methods, metadata",
		Long: `Change the settings given; the others stay as they are.

--scope and --audience replace the whole list. --token-ttl default and
--rate-limit default return to the server's setting.

--jwks-file and --jwks-uri replace the client's public keys for
private_key_jwt (a client has a JWK Set or a jwks_uri, not both); an empty
value removes them. --auth-method replaces the list of methods the client may
use; --auth-method "" returns to the default (every method its credentials
allow). --metadata KEY=VALUE sets an entry and --unset-metadata KEY removes
one; the other entries stay.

--require-dpop and --require-certificate-bound-tokens turn the requirements
on; =false turns them off. A --tls-* flag replaces whichever certificate
field was registered for tls_client_auth; --no-tls-client-auth removes it.

--reuse-tokens (or =on) makes a request for what a live token of the client
already grants get that token again; --reuse-tokens=off always signs a new
one; --reuse-tokens=default follows the server's serve --reuse-tokens again.

Secrets are managed by rotate-secret and revoke-secret. A running server sees
the change within its poll interval.`,
		Example: `  gooclaim-auth clients update gooclaim_app_3kT9… --scope "claims:read claims:write" --token-ttl 15m
  gooclaim-auth clients update gooclaim_app_3kT9… --metadata owner=claims-team --unset-metadata contact
  # move a client to private_key_jwt only (it keeps its secret until revoked):
  gooclaim-auth clients update gooclaim_app_3kT9… --jwks-file signer-public.jwks.json --auth-method private_key_jwt
  # mutual TLS: the certificate's SAN, and every token bound to it
  gooclaim-auth clients update gooclaim_app_3kT9… --tls-san-dns sync.billing.internal --require-certificate-bound-tokens
  gooclaim-auth clients update gooclaim_app_3kT9… --require-certificate-bound-tokens=false --no-tls-client-auth
  # back to the default methods, keys removed:
  gooclaim-auth clients update gooclaim_app_3kT9… --auth-method "" --jwks-uri ""
  # reuse the client's live tokens whatever the server's setting, then follow it again:
  gooclaim-auth clients update gooclaim_app_3kT9… --reuse-tokens
  gooclaim-auth clients update gooclaim_app_3kT9… --reuse-tokens=default`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				if err := reuseValueArg(cmd, args[1:]); err != nil {
					return err
				}
			}
			return exactlyOneClientID(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			u, err := clientUpdate(cmd.Flags(), e.stdin, name, ttl, rate, scopes, auds, policy)
			if err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				svc.AllowHTTPJWKSURI = policy.allowHTTP
				svc.AllowPrivateAddresses = policy.allowPrivate
				c, err := svc.UpdateClient(ctx, args[0], u)
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
	f.StringArrayVar(&auds, "audience", nil, "the client's audiences (replaces them); the first is its default; repeatable")
	f.StringVar(&ttl, "token-ttl", "", "token lifetime, or default")
	f.StringVar(&rate, "rate-limit", "", "rate limit LIMIT/WINDOW, or default")
	policy.add(f, true)
	addOutputFlag(cmd, &output)
	return cmd
}

func newClientsSetDisabledCmd(e *env, g *globalFlags, disable bool) *cobra.Command {
	use, short, done := "enable", "Let a disabled client obtain tokens again", "enabled"
	if disable {
		use, short, done = "disable", "Stop a client from obtaining tokens (reversible with enable)", "disabled"
	}
	long := `Let a disabled client obtain tokens again, with the same credentials and
settings. A running server sees the change within its poll interval.`
	if disable {
		long = `Stop a client from obtaining tokens, and revoke every token it holds (as
clients revoke-tokens does): introspection and the admin API refuse them, and
enabling the client again does not bring them back. Its credentials and
settings are kept, so that enable restores it otherwise as it was. Offline
verifiers see the revocation only through introspection. A running server
sees the change within its poll interval.`
	}
	return &cobra.Command{
		Use:     use + " CLIENT_ID",
		Short:   short,
		Long:    long,
		Example: "  gooclaim-auth clients " + use + " gooclaim_app_3kT9…",
		Args:    exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				if _, err := svc.SetDisabled(ctx, args[0], disable); err != nil {
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
		Long: `Delete a client, its secrets and its keys for good: it can no longer obtain
tokens, and the tokens it holds are never accepted again by this server, even
if a client is created later with the same ID (that is another incarnation,
whose tokens alone are accepted). The audit trail keeps the record of the
client as it was. To stop a client reversibly, use clients disable.`,
		Example: "  gooclaim-auth clients delete gooclaim_app_3kT9…",
		Args:    exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				if err := svc.DeleteClient(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Client %s deleted.\n", args[0])
				return nil
			})
		},
	}
}
