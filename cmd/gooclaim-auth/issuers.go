package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

func newIssuersCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issuers",
		Short: "Manage the trusted issuers whose tokens authenticate secretless clients",
		Long: `Manage trusted issuers directly in the database: identity providers outside
this server — a Kubernetes cluster's service account issuer, GitHub Actions'
OIDC issuer, a SPIFFE trust domain — whose signed tokens authenticate the
clients bound to their subjects (clients create --federated NAME=SUBJECT), so
that those clients hold no secret of ours. A running server sees the change
within its poll interval. Every change is recorded in the audit trail.`,
		Example: `  gooclaim-auth issuers add github --issuer https://token.actions.githubusercontent.com
  gooclaim-auth issuers add k8s-prod --issuer https://kubernetes.default.svc.cluster.local --jwks-file k8s-prod.jwks.json
  gooclaim-auth clients create --name deployer --scope deploy --federated github=repo:acme/app:environment:prod`,
	}
	cmd.AddCommand(
		newIssuersAddCmd(e, g),
		newIssuersListCmd(e, g),
		newIssuersShowCmd(e, g),
		newIssuersUpdateCmd(e, g),
		newIssuersRemoveCmd(e, g),
	)
	return cmd
}

// issuerFlags are the settings add and update share.
type issuerFlags struct {
	issuer       string
	jwksFile     string
	jwksURI      string
	audience     string
	maxTokenAge  string
	allowHTTP    bool
	allowPrivate bool
}

func (p *issuerFlags) add(f *pflag.FlagSet, update bool) {
	if update {
		f.StringVar(&p.issuer, "issuer", "", "the new issuer URL: the exact \"iss\" of its tokens")
		f.StringVar(&p.audience, "audience", "", `the "aud" its tokens must carry; "default" for this server's issuer or token endpoint`)
		f.StringVar(&p.maxTokenAge, "max-token-age", "", `how long after its "iat" a token is accepted, 1m to 24h; "default" for `+auth.FormatDuration(auth.DefaultMaxTokenAge))
		f.StringVar(&p.jwksFile, "jwks-file", "", "replace its keys with this public JWK Set (JSON file, - for standard input); drops --jwks-uri")
		f.StringVar(&p.jwksURI, "jwks-uri", "", "fetch its keys from this https URL instead; drops the JWK Set")
	} else {
		f.StringVar(&p.issuer, "issuer", "", "the exact \"iss\" of its tokens, an https URL such as https://token.actions.githubusercontent.com (required)")
		f.StringVar(&p.audience, "audience", "", `the "aud" its tokens must carry (default: this server's issuer or token endpoint)`)
		f.StringVar(&p.maxTokenAge, "max-token-age", "", `how long after its "iat" a token is accepted, 1m to 24h, whatever its "exp" (default `+auth.FormatDuration(auth.DefaultMaxTokenAge)+")")
		f.StringVar(&p.jwksFile, "jwks-file", "", "its public JWK Set (JSON file, - for standard input), for an issuer this server cannot reach (default: OpenID discovery from --issuer)")
		f.StringVar(&p.jwksURI, "jwks-uri", "", "https URL of its JWK Set, instead of --jwks-file (default: OpenID discovery from --issuer)")
	}
	f.BoolVar(&p.allowHTTP, "allow-http-jwks-uri", false, "accept a plain http --issuer or --jwks-uri (development only: keys fetched over http can be substituted)")
	f.BoolVar(&p.allowPrivate, "allow-private-addresses", false, "accept an --issuer or --jwks-uri fetched from localhost or a loopback, private, link-local or other special-purpose IP address (development only)")
}

// parseAge reads --max-token-age: "" and "default" are the default.
func parseAge(s string) (time.Duration, error) {
	if s == "" || s == "default" {
		return 0, nil
	}
	d, err := auth.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--max-token-age: %w; \"default\" means %s", err, auth.FormatDuration(auth.DefaultMaxTokenAge))
	}
	return d, nil
}

// exactlyOneIssuerName checks that a command got one argument, the issuer's name.
func exactlyOneIssuerName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the trusted issuer's name (gooclaim-auth issuers list shows them), and only that as an argument; got %d arguments", len(args))
	}
	return nil
}

func newIssuersAddCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		p      issuerFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "add NAME --issuer URL [--jwks-uri URL | --jwks-file FILE] [--audience AUD] [--max-token-age 1h]",
		Short: "Trust an issuer: its tokens may authenticate the clients bound to its subjects",
		Long: `Trust an identity provider under NAME (a short slug: lower-case letters,
digits, - _ .), which clients then name in --federated NAME=SUBJECT.

--issuer is the exact "iss" of its tokens. Its public keys come from
--jwks-file (for an issuer this server cannot reach, such as a private
Kubernetes API server: kubectl get --raw /openid/v1/jwks), from --jwks-uri,
or, with neither, from its OpenID discovery document
(ISSUER/.well-known/openid-configuration).`,
		Example: `  gooclaim-auth issuers add github --issuer https://token.actions.githubusercontent.com
  kubectl get --raw /openid/v1/jwks > k8s-prod.jwks.json
  gooclaim-auth issuers add k8s-prod --issuer https://kubernetes.default.svc.cluster.local \
      --jwks-file k8s-prod.jwks.json --max-token-age 1h
  gooclaim-auth issuers add spiffe-prod --issuer https://oidc.prod.example.com --jwks-uri https://oidc.prod.example.com/keys`,
		Args: exactlyOneIssuerName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if p.jwksFile != "" && p.jwksURI != "" {
				return fmt.Errorf("--jwks-file and --jwks-uri: give one (or neither, for OpenID discovery)")
			}
			spec := admin.IssuerSpec{Name: args[0], Issuer: p.issuer, JWKSURI: p.jwksURI, Audience: p.audience}
			var err error
			if spec.MaxTokenAge, err = parseAge(p.maxTokenAge); err != nil {
				return err
			}
			if p.jwksFile != "" {
				if spec.JWKS, err = readJWKS(p.jwksFile, e.stdin); err != nil {
					return err
				}
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				svc.AllowHTTPJWKSURI, svc.AllowPrivateAddresses = p.allowHTTP, p.allowPrivate
				t, err := svc.CreateIssuer(ctx, spec)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(e.stdout, admin.ViewIssuer(t))
				}
				fmt.Fprintf(e.stdout, "Trusted issuer %s added. Bind clients to its subjects with: gooclaim-auth clients create --federated %s=SUBJECT …\n\n", t.Name, t.Name)
				return writeIssuerDetail(e.stdout, t)
			})
		},
	}
	p.add(cmd.Flags(), false)
	addOutputFlag(cmd, &output)
	return cmd
}

func newIssuersListCmd(e *env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the trusted issuers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				ts, err := svc.ListIssuers(ctx)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(e.stdout, admin.ViewIssuers(ts))
				}
				if len(ts) == 0 {
					fmt.Fprintln(e.stdout, "No trusted issuers. Add one with: gooclaim-auth issuers add NAME --issuer URL")
					return nil
				}
				return writeIssuerTable(e.stdout, ts)
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newIssuersShowCmd(e *env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one trusted issuer",
		Args:  exactlyOneIssuerName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				t, err := svc.Issuer(ctx, args[0])
				if err != nil {
					return err
				}
				return printIssuer(e, output, t)
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newIssuersUpdateCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		p               issuerFlags
		discovery       bool
		disable, enable bool
		output          string
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--issuer URL] [--jwks-uri URL | --jwks-file FILE | --discovery] [--audience AUD|default] [--max-token-age D|default] [--disable|--enable]",
		Short: "Change a trusted issuer's settings, or disable or enable it",
		Long: `Change the settings given; the others stay. --jwks-file, --jwks-uri and
--discovery each replace where its keys come from. --disable stops its tokens
authenticating anyone at once, keeping the clients' bindings; --enable lets
them again.`,
		Example: `  kubectl get --raw /openid/v1/jwks > k8s-prod.jwks.json   # after the cluster rotated its keys
  gooclaim-auth issuers update k8s-prod --jwks-file k8s-prod.jwks.json
  gooclaim-auth issuers update github --disable`,
		Args: exactlyOneIssuerName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			f := cmd.Flags()
			var u admin.IssuerUpdate
			sources := 0
			for _, name := range []string{"jwks-file", "jwks-uri", "discovery"} {
				if f.Changed(name) {
					sources++
				}
			}
			if sources > 1 {
				return fmt.Errorf("--jwks-file, --jwks-uri and --discovery: give one")
			}
			if disable && enable {
				return fmt.Errorf("--disable and --enable: give one")
			}
			if f.Changed("issuer") {
				u.Issuer = &p.issuer
			}
			switch {
			case f.Changed("jwks-file"):
				jwks, err := readJWKS(p.jwksFile, e.stdin)
				if err != nil {
					return err
				}
				u.JWKS = &jwks
			case f.Changed("jwks-uri"):
				if p.jwksURI == "" {
					return fmt.Errorf(`--jwks-uri "": give a URL, or --discovery to find the keys by OpenID discovery`)
				}
				u.JWKSURI = &p.jwksURI
			case discovery:
				empty, none := "", []byte{}
				u.JWKSURI, u.JWKS = &empty, &none
			}
			if f.Changed("audience") {
				aud := p.audience
				if aud == "default" {
					aud = ""
				}
				u.Audience = &aud
			}
			if f.Changed("max-token-age") {
				d, err := parseAge(p.maxTokenAge)
				if err != nil {
					return err
				}
				u.MaxTokenAge = &d
			}
			if disable || enable {
				u.Disabled = &disable
			}
			if u.IsEmpty() {
				return fmt.Errorf("nothing to change: give at least one of --issuer, --jwks-file, --jwks-uri, --discovery, --audience, --max-token-age, --disable, --enable")
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				svc.AllowHTTPJWKSURI, svc.AllowPrivateAddresses = p.allowHTTP, p.allowPrivate
				t, err := svc.UpdateIssuer(ctx, args[0], u)
				if err != nil {
					return err
				}
				return printIssuer(e, output, t)
			})
		},
	}
	f := cmd.Flags()
	p.add(f, true)
	f.BoolVar(&discovery, "discovery", false, "drop the JWK Set and the jwks_uri: find its keys by OpenID discovery from the issuer")
	f.BoolVar(&disable, "disable", false, "stop its tokens authenticating anyone (the clients' bindings are kept)")
	f.BoolVar(&enable, "enable", false, "let its tokens authenticate again")
	addOutputFlag(cmd, &output)
	return cmd
}

func newIssuersRemoveCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Stop trusting an issuer (refused while clients are bound to it)",
		Long: `Remove a trusted issuer. It is refused, naming them, while clients are bound
to its subjects: remove those first (clients update ID --remove-federated
NAME=SUBJECT), or disable the issuer instead (issuers update NAME --disable).`,
		Args: exactlyOneIssuerName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				if err := svc.DeleteIssuer(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Trusted issuer %s removed.\n", args[0])
				return nil
			})
		},
	}
	return cmd
}

func printIssuer(e *env, output string, t *auth.TrustedIssuer) error {
	if output == "json" {
		return writeJSON(e.stdout, admin.ViewIssuer(t))
	}
	return writeIssuerDetail(e.stdout, t)
}

func issuerStatus(t *auth.TrustedIssuer) string {
	if t.Disabled {
		return "disabled"
	}
	return "enabled"
}

// issuerKeys says where an issuer's keys come from.
func issuerKeys(t *auth.TrustedIssuer) string {
	switch {
	case t.JWKSURI != "":
		return "jwks_uri " + t.JWKSURI
	case len(t.JWKS) > 0:
		return describeKeys(&auth.Client{JWKS: t.JWKS})
	}
	return "OpenID discovery (" + strings.TrimSuffix(t.Issuer, "/") + "/.well-known/openid-configuration)"
}

func writeIssuerTable(w io.Writer, ts []*auth.TrustedIssuer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tISSUER\tSTATUS\tKEYS\tAUDIENCE\tMAX TOKEN AGE\tCREATED")
	for _, t := range ts {
		keys := "discovery"
		switch {
		case t.JWKSURI != "":
			keys = "jwks_uri"
		case len(t.JWKS) > 0:
			keys = "jwks"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Issuer, issuerStatus(t), keys, orDefault(t.Audience, "default"),
			auth.FormatDuration(t.TokenAgeLimit()), t.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func writeIssuerDetail(w io.Writer, t *auth.TrustedIssuer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", t.Name)
	fmt.Fprintf(tw, "Issuer:\t%s\n", t.Issuer)
	fmt.Fprintf(tw, "Status:\t%s\n", issuerStatus(t))
	fmt.Fprintf(tw, "Keys:\t%s\n", issuerKeys(t))
	fmt.Fprintf(tw, "Audience:\t%s\n", orDefault(t.Audience, "(this server's issuer or token endpoint)"))
	age := auth.FormatDuration(t.TokenAgeLimit())
	if t.MaxTokenAge == 0 {
		age += " (default)"
	}
	fmt.Fprintf(tw, "Max token age:\t%s\n", age)
	if t.ManagedBy != "" {
		fmt.Fprintf(tw, "Managed by:\t%s\n", managedByFile)
	}
	fmt.Fprintf(tw, "Created:\t%s\n", t.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "Updated:\t%s\n", t.UpdatedAt.Format(time.RFC3339))
	return tw.Flush()
}
