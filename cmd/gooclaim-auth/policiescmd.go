package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
)

// The policies commands read serve's settings (flags, GOOCLAIM_*, --config)
// as config print does: the server-wide policies are serve's, and a
// management command has no running server to ask. The admin API answers
// for the node that runs (GET /v1/admin/policies).

func newPoliciesCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "Show the server-wide policies, and try a client's expressions without a token",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newPoliciesShowCmd(e, g), newPoliciesEvaluateCmd(e, g))
	return cmd
}

// policyIssuer is an issuer with serve's policy settings c, for the
// admin service's policy use cases: it evaluates expressions, and never
// issues a token (it has neither clients nor keys).
func policyIssuer(c *serveConfig, g *globalFlags) (*issuer.Issuer, error) {
	if err := c.validate(g); err != nil {
		return nil, err
	}
	return issuer.New(issuer.Config{
		Issuer: c.issuerOrDefault(), Audience: c.audience, TokenTTL: time.Duration(c.tokenTTL), RateLimit: auth.Rate(c.rateLimit),
		DefaultQuotas: c.defaultQuotas, DefaultClaims: map[string]string(c.defaultClaims),
		ReuseTokens: c.reuseTokens, Tokens: issuer.NewTokenCache(c.reuseMaxTokens),
	}, nil, nil, nil, nil), nil
}

func newPoliciesShowCmd(e *env, g *globalFlags) *cobra.Command {
	c := defaultServeConfig()
	var output string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the server-wide policies serve runs with: default claims, quotas, token reuse",
		Long: `Show the server-wide policies serve would run with, given the same flags,
environment and configuration file (as config print reads them): the default
claims, the default quotas, token reuse and its bound, the default audience,
token lifetime and rate limit, and the limits of expressions. A running
server answers the same at GET /v1/admin/policies.

  gooclaim-auth policies show --config gooclaim-auth.yaml -o json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{serveScoped: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			iss, err := policyIssuer(c, g)
			if err != nil {
				return err
			}
			v, err := (&admin.Service{TokenIssuer: iss}).Policies()
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, v)
			}
			claims := []string{}
			for _, k := range slices.Sorted(maps.Keys(v.DefaultClaims)) {
				claims = append(claims, k+"="+v.DefaultClaims[k])
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "default claims\t%s\n", orDefault(strings.Join(claims, "; "), "none"))
			fmt.Fprintf(tw, "default quotas\t%s\n", orDefault(strings.Join(v.DefaultQuotas, " "), "none"))
			fmt.Fprintf(tw, "token reuse\t%s (at most %d tokens kept per node)\n", yesNo(v.ReuseTokens, "on", "off"), v.ReuseMaxTokens)
			fmt.Fprintf(tw, "default audience\t%s\n", v.DefaultAudience)
			fmt.Fprintf(tw, "default token lifetime\t%s\n", v.DefaultTokenTTL)
			fmt.Fprintf(tw, "default rate limit\t%s\n", v.DefaultRateLimit)
			return tw.Flush()
		},
	}
	addServeFlags(cmd.Flags(), c)
	addOutputFlag(cmd, &output)
	return cmd
}

func newPoliciesEvaluateCmd(e *env, g *globalFlags) *cobra.Command {
	c := defaultServeConfig()
	var (
		client, condition, remoteIP, scope, audience, method string
		claims                                               []string
	)
	cmd := &cobra.Command{
		Use:   "evaluate --client ID",
		Short: "Evaluate a client's claims and condition, or expressions not saved yet, without a token",
		Long: `Evaluate the stored client's claim expressions and condition — or those
given with --claim and --condition in their place — with serve's default
claims, for a token request like the one the flags describe, as issuance
would. Nothing is issued, counted or written. Prints the answer of
POST /v1/admin/policies/evaluate, as JSON.

  gooclaim-auth policies evaluate --client gooclaim_app_… \
    --claim tenant='client.metadata.tenant' \
    --condition 'ip_in(request.remote_ip, ["10.0.0.0/8"])' --remote-ip 10.1.2.3`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{serveScoped: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			iss, err := policyIssuer(c, g)
			if err != nil {
				return err
			}
			ev := admin.PolicyEvaluation{ClientID: client,
				Request: issuer.PolicyRequest{Scope: scope, Audience: audience, AuthMethod: method, RemoteIP: remoteIP}}
			if cmd.Flags().Changed("claim") {
				if ev.Claims, err = parseClaims("claim", claims); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("condition") {
				ev.Condition = &condition
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				svc.TokenIssuer = iss
				v, err := svc.EvaluatePolicy(ctx, ev)
				if err != nil {
					return err
				}
				return writeJSON(e.stdout, v)
			})
		},
	}
	f := cmd.Flags()
	addServeFlags(f, c)
	f.StringVar(&client, "client", "", "the client whose expressions to evaluate (required)")
	f.StringArrayVar(&claims, "claim", nil, `claim NAME='EXPR' to evaluate in place of the client's own claims (repeatable; none given: the client's own)`)
	f.StringVar(&condition, "condition", "", `condition to evaluate in place of the client's own ("" for none; not given: the client's own)`)
	f.StringVar(&remoteIP, "remote-ip", "", "request.remote_ip: the address of the token request to suppose")
	f.StringVar(&scope, "request-scope", "", "the scope of the token request to suppose (default: every scope of the client)")
	f.StringVar(&audience, "request-audience", "", "the audience of the token request to suppose (default: the client's default)")
	f.StringVar(&method, "auth-method", "", "request.auth_method: "+authMethodsHelp+" (default client_secret_post)")
	_ = cmd.MarkFlagRequired("client")
	return cmd
}
