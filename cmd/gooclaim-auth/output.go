package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/credential"
)

// addOutputFlag adds --output/-o (table or json) to a command.
func addOutputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "table", "output format: table or json")
}

func checkOutput(out string) error {
	if out != "table" && out != "json" {
		return fmt.Errorf("--output %q: use table or json", out)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func status(c *auth.Client) string {
	if c.Disabled {
		return "disabled"
	}
	return "enabled"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func writeClientTable(w io.Writer, clients []*auth.Client) error {
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tSTATUS\tCREDENTIALS\tSCOPES\tAUDIENCES\tTOKEN TTL\tCREATED")
	for _, c := range clients {
		ttl := "default"
		if c.TokenTTL != 0 {
			ttl = auth.FormatDuration(c.TokenTTL)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, status(c), credentials(c, now),
			orDefault(strings.Join(c.Scopes, " "), "-"), orDefault(strings.Join(c.Audiences, " "), "default"),
			ttl, c.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// credentials summarizes what a client authenticates with: "secret" (or
// "2 secrets" during a rotation's grace), "jwks", "jwks_uri", "federated",
// joined by +.
func credentials(c *auth.Client, now time.Time) string {
	var parts []string
	live := 0
	for _, s := range c.Secrets {
		if s.Live(now) {
			live++
		}
	}
	switch {
	case live == 1:
		parts = append(parts, "secret")
	case live > 1:
		parts = append(parts, fmt.Sprintf("%d secrets", live))
	}
	if len(c.JWKS) > 0 {
		parts = append(parts, "jwks")
	}
	if c.JWKSURI != "" {
		parts = append(parts, "jwks_uri")
	}
	if len(c.Federated) > 0 {
		parts = append(parts, "federated")
	}
	if !c.TLSClientAuth.IsZero() {
		parts = append(parts, "tls")
	}
	return orDefault(strings.Join(parts, "+"), "-")
}

// managedByFile is how show commands describe an object a configuration
// file manages (ManagedBy "apply"): the reason not to change it by hand.
const managedByFile = "a configuration file (apply): a change made by hand is undone by its next apply"

func writeClientDetail(w io.Writer, c *auth.Client) error {
	v := admin.View(c)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Client ID:\t%s\n", v.ClientID)
	fmt.Fprintf(tw, "Name:\t%s\n", v.Name)
	fmt.Fprintf(tw, "Status:\t%s\n", status(c))
	fmt.Fprintf(tw, "Scopes:\t%s\n", orDefault(strings.Join(v.Scopes, " "), "-"))
	fmt.Fprintf(tw, "Audiences:\t%s\n", orDefault(strings.Join(v.Audiences, " "), "(server default)"))
	fmt.Fprintf(tw, "Token TTL:\t%s\n", orDefault(v.TokenTTL, "(server default)"))
	fmt.Fprintf(tw, "Rate limit:\t%s\n", orDefault(v.RateLimit, "(server default)"))
	if len(v.Quotas) > 0 {
		fmt.Fprintf(tw, "Token quotas:\t%s (%s)\n", strings.Join(v.Quotas, " "), v.QuotaMode)
	} else {
		fmt.Fprintf(tw, "Token quotas:\t(server default, %s)\n", v.QuotaMode)
	}
	for _, name := range slices.Sorted(maps.Keys(v.Claims)) {
		fmt.Fprintf(tw, "Claim %s:\t%s\n", name, v.Claims[name])
	}
	if v.Condition != "" {
		fmt.Fprintf(tw, "Condition:\t%s\n", v.Condition)
	}
	fmt.Fprintf(tw, "Token reuse:\t%s\n", yesNo(v.TokenReuse == "default", "default (the server's serve --reuse-tokens)", v.TokenReuse))
	if len(v.AuthMethods) > 0 {
		fmt.Fprintf(tw, "Auth methods:\t%s\n", strings.Join(v.AuthMethods, " "))
	} else {
		fmt.Fprintf(tw, "Auth methods:\t%s (default: what its credentials allow)\n", orDefault(strings.Join(v.AllowedAuthMethods, " "), "none"))
	}
	fmt.Fprintf(tw, "Public keys:\t%s\n", describeKeys(c))
	if len(c.Federated) == 0 {
		fmt.Fprintf(tw, "Federated:\t%s\n", "none")
	}
	for _, f := range c.Federated {
		fmt.Fprintf(tw, "Federated:\t%s\n", f)
	}
	fmt.Fprintf(tw, "Exchange audiences:\t%s\n", orDefault(strings.Join(v.ExchangeAudiences, " "), "none (no token exchange)"))
	fmt.Fprintf(tw, "TLS client auth:\t%s\n", describeTLSClientAuth(c.TLSClientAuth))
	fmt.Fprintf(tw, "Require DPoP:\t%s\n", yesNo(c.RequireDPoP, "yes (every token DPoP-bound)", "no"))
	fmt.Fprintf(tw, "Require cert-bound:\t%s\n", yesNo(c.RequireCertificateBoundTokens, "yes (every token bound to its client certificate)", "no"))
	for _, k := range slices.Sorted(maps.Keys(v.Metadata)) {
		fmt.Fprintf(tw, "Metadata:\t%s=%s\n", k, v.Metadata[k])
	}
	if v.TokensRevokedBefore != nil {
		fmt.Fprintf(tw, "Tokens revoked:\tevery token issued at or before %s\n", v.TokensRevokedBefore.Format(time.RFC3339))
	}
	if v.ManagedBy != "" {
		fmt.Fprintf(tw, "Managed by:\t%s\n", managedByFile)
	}
	fmt.Fprintf(tw, "Created:\t%s\n", v.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "Updated:\t%s\n", v.UpdatedAt.Format(time.RFC3339))
	if len(v.Secrets) == 0 {
		how := orDefault(strings.Join(v.AllowedAuthMethods, ", "), "no method")
		fmt.Fprintf(tw, "Secret:\t%s\n", "none ("+how+" only; rotate-secret gives it one)")
	}
	for _, s := range v.Secrets {
		exp := "never expires"
		if s.ExpiresAt != nil {
			exp = "expires " + s.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "Secret:\t%s, %s, created %s, %s\n", s.ID, kindDetail(c, s.ID), s.CreatedAt.Format(time.RFC3339), exp)
	}
	return tw.Flush()
}

// kindDetail names how a secret is kept: "generated (sha256)", "imported (argon2id)".
func kindDetail(c *auth.Client, id string) string {
	for _, s := range c.Secrets {
		if s.ID == id {
			return credential.KindOf(s.Hash).String()
		}
	}
	return "unknown"
}

// describeKeys says which public keys a client registered for private_key_jwt.
func describeKeys(c *auth.Client) string {
	switch {
	case c.JWKSURI != "":
		return "jwks_uri " + c.JWKSURI
	case len(c.JWKS) > 0:
		var set struct {
			Keys []struct {
				KID string `json:"kid"`
				Kty string `json:"kty"`
				Alg string `json:"alg"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(c.JWKS, &set); err != nil {
			return "JWK Set (unreadable)"
		}
		var keys []string
		for _, k := range set.Keys {
			d := k.Kty
			if k.Alg != "" {
				d += " " + k.Alg
			}
			if k.KID != "" {
				d += " kid " + k.KID
			}
			keys = append(keys, d)
		}
		return fmt.Sprintf("JWK Set, %d key(s): %s", len(set.Keys), strings.Join(keys, "; "))
	}
	return "none"
}

func writeKeyTable(w io.Writer, keys []admin.KeyView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNING FROM\tPUBLISHED UNTIL")
	for _, k := range keys {
		until := "-"
		if k.PublishedTil != nil {
			until = k.PublishedTil.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339), k.SigningFrom.Format(time.RFC3339), until)
	}
	return tw.Flush()
}

// describeTLSClientAuth shows what a tls_client_auth client's certificate
// must name, by the flag that sets it.
func describeTLSClientAuth(t auth.TLSClientAuth) string {
	switch {
	case t.SubjectDN != "":
		return "subject DN " + t.SubjectDN
	case t.SANDNS != "":
		return "SAN DNS " + t.SANDNS
	case t.SANURI != "":
		return "SAN URI " + t.SANURI
	case t.SANIP != "":
		return "SAN IP " + t.SANIP
	case t.SANEmail != "":
		return "SAN email " + t.SANEmail
	}
	return "none"
}

func yesNo(v bool, yes, no string) string {
	if v {
		return yes
	}
	return no
}
