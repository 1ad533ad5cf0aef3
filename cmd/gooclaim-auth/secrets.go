package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// The credential lifecycle of a client: rotate its secret with a grace
// period, end the grace, revoke every token it holds.

func newClientsRotateSecretCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		grace  = durationValue(24 * time.Hour)
		output string
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [--grace 24h]",
		Short: "Give a client a new secret; the current one keeps working for --grace",
		Long: `Give a client a new generated secret and print it: shown only this once,
stored only as a hash.

The current secret keeps working for --grace (24h by default), so that the
client's deployments can switch over without an outage; --grace 0 stops it at
once. End the grace early with: clients revoke-secret CLIENT_ID --old.
A client has at most two live secrets: rotating again during a grace stops
the oldest secret at once. A client without a secret (private_key_jwt only)
gets its first one.

With -o json it prints {"client_id", "client_secret", "old_secret_expires_at"};
old_secret_expires_at is null when no previous secret keeps working.`,
		Example: `  gooclaim-auth clients rotate-secret gooclaim_app_3kT9…
  gooclaim-auth clients rotate-secret gooclaim_app_3kT9… --grace 1h -o json
  # the secret leaked: replace it now, no grace
  gooclaim-auth clients rotate-secret gooclaim_app_3kT9… --grace 0`,
		Args: exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				c, secret, err := svc.RotateSecret(ctx, args[0], time.Duration(grace))
				if err != nil {
					return err
				}
				oldUntil := oldSecretExpiry(c, time.Now())
				if output == "json" {
					return writeJSON(e.stdout, struct {
						ClientID           string     `json:"client_id"`
						ClientSecret       string     `json:"client_secret"`
						OldSecretExpiresAt *time.Time `json:"old_secret_expires_at"`
					}{c.ID, secret, oldUntil})
				}
				fmt.Fprintf(e.stdout, "New secret for client %s.\n\nclient_secret: %s\n\n", c.ID, secret)
				fmt.Fprintln(e.stdout, "The secret is shown only this once and is stored only as a hash: keep it in your secret manager now.")
				if oldUntil != nil {
					fmt.Fprintf(e.stdout, "The previous secret keeps working until %s; end that sooner with:\n  gooclaim-auth clients revoke-secret %s --old\n",
						oldUntil.Local().Format(time.RFC3339), c.ID)
				} else {
					fmt.Fprintln(e.stdout, "No previous secret works any more.")
				}
				return nil
			})
		},
	}
	cmd.Flags().Var(&grace, "grace", fmt.Sprintf("how long the current secret keeps working, at most %s (0: it stops at once)", auth.FormatDuration(admin.MaxSecretGrace)))
	addOutputFlag(cmd, &output)
	return cmd
}

// oldSecretExpiry is when the previous secret of a just-rotated client
// stops working, nil when none still works. The new secret never expires;
// an old one kept for the grace has an expiry.
func oldSecretExpiry(c *auth.Client, now time.Time) *time.Time {
	var until *time.Time
	for _, s := range c.Secrets {
		if !s.ExpiresAt.IsZero() && s.Live(now) && (until == nil || s.ExpiresAt.After(*until)) {
			t := s.ExpiresAt
			until = &t
		}
	}
	return until
}

func newClientsRevokeSecretCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		old    bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "revoke-secret CLIENT_ID --old",
		Short: "End a rotation's grace: the previous secret stops working now",
		Long: `End the grace period of a secret rotation now: every secret of the client but
the newest stops working at once (a running server sees it within its poll
interval). Use it once all the client's deployments have the new secret, or
at once if the old secret leaked.

--old is required: it is the only secret that can be revoked, since revoking
a client's only secret would lock it out. To stop a client altogether, use
clients disable; to replace a leaked secret with no grace, use
clients rotate-secret --grace 0.`,
		Example: `  gooclaim-auth clients rotate-secret gooclaim_app_3kT9… --grace 24h
  # … deploy the new secret everywhere, then:
  gooclaim-auth clients revoke-secret gooclaim_app_3kT9… --old`,
		Args: exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if !old {
				return fmt.Errorf("--old is required: revoke-secret ends the grace of the previous secret after a rotation; revoking a client's only secret would lock it out (to stop the client, use: gooclaim-auth clients disable %s)", args[0])
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				c, err := svc.RevokeOldSecrets(ctx, args[0])
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(e.stdout, admin.View(c))
				}
				newest := ""
				if n := len(c.Secrets); n > 0 {
					newest = c.Secrets[n-1].ID
				}
				fmt.Fprintf(e.stdout, "The old secret of client %s is revoked; only its newest secret (%s) works now.\n", c.ID, newest)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&old, "old", false, "revoke every secret but the newest (required)")
	addOutputFlag(cmd, &output)
	return cmd
}

func newClientsRevokeTokensCmd(e *env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "revoke-tokens CLIENT_ID",
		Short: "Revoke every token issued to a client so far",
		Long: `Revoke every access token issued to a client up to now, and print the cut-off
time: tokens issued at or before it (to the second) are revoked; tokens the
client obtains afterwards work. Introspection and the verification kit's
revocation checks reject the revoked tokens once they see the change; a
resource server that only checks signatures will not notice, so keep token
lifetimes short.

To stop the client from obtaining new tokens too, also disable it or rotate
its secret. With -o json it prints {"client_id", "tokens_revoked_before"}.`,
		Example: `  gooclaim-auth clients revoke-tokens gooclaim_app_3kT9…
  # a leaked secret: stop new tokens and revoke the old ones
  gooclaim-auth clients rotate-secret gooclaim_app_3kT9… --grace 0
  gooclaim-auth clients revoke-tokens gooclaim_app_3kT9…`,
		Args: exactlyOneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				c, err := svc.RevokeClientTokens(ctx, args[0])
				if err != nil {
					return err
				}
				cutoff := c.TokensRevokedBefore.UTC()
				if output == "json" {
					return writeJSON(e.stdout, map[string]any{"client_id": c.ID, "tokens_revoked_before": cutoff})
				}
				fmt.Fprintf(e.stdout, "Every token issued to client %s at or before %s is revoked.\n", c.ID, cutoff.Format(time.RFC3339))
				return nil
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
