package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/issuer"
	"github.com/gooclaim/auth/server"
	"github.com/gooclaim/auth/signing"
)

func newKeysCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, rotate and revoke the token signing keys",
	}
	cmd.AddCommand(newKeysListCmd(e, g), newKeysRotateCmd(e, g), newKeysRevokeCmd(e, g))
	return cmd
}

func newKeysListCmd(e *env, g *globalFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List signing keys and their state (next, active, retired)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				st, err := svc.KeyStatuses(ctx)
				if err != nil {
					return err
				}
				views := admin.ViewKeys(st)
				if output == "json" {
					return writeJSON(e.stdout, views)
				}
				if len(views) == 0 {
					fmt.Fprintln(e.stdout, "No signing keys yet: serve creates the first one when it starts.")
					return nil
				}
				return writeKeyTable(e.stdout, views)
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newKeysRotateCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		output       string
		alg          string
		publishAhead = durationValue(issuer.DefaultPublishAhead)
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new signing key: published at once, signing after --key-publish-ahead",
		Long: `Add a new signing key. It is published in the JWKS at once and starts signing
after --key-publish-ahead (10m by default), so that verifiers' caches hold it
first. The current key keeps signing until then and stays published until its
last token has expired. Running servers pick the new key up by themselves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withKeyService(cmd.Context(), g, alg, func(ctx context.Context, svc *admin.Service) error {
				k, err := svc.RotateKeys(ctx, time.Duration(publishAhead))
				if err != nil {
					return err
				}
				return printRotated(e, output, k)
			})
		},
	}
	cmd.Flags().StringVar(&alg, "signing-alg", "", "algorithm of the new key: ES256, EdDSA or RS256 (default: the newest key's)")
	cmd.Flags().Var(&publishAhead, "key-publish-ahead", "how long the new key is published before it signs (0: at once, for an emergency)")
	addOutputFlag(cmd, &output)
	return cmd
}

// withKeyService opens the database and the key-encryption key for one
// command and runs fn with a service that can change the keys; new keys
// use alg, or the newest key's algorithm when alg is empty.
func withKeyService(ctx context.Context, g *globalFlags, alg string, fn func(context.Context, *admin.Service) error) error {
	return withKEK(ctx, g, func(ctx context.Context, db database, kek *signing.KEK) error {
		return fn(ctx, server.AdminService(ctx, db, kek, alg))
	})
}

// withKEK runs fn, with the CLI's audit identity, on the database and its
// key-encryption key.
func withKEK(ctx context.Context, g *globalFlags, fn func(context.Context, database, *signing.KEK) error) error {
	ctx = cliAudit(ctx)
	db, err := openCLIStore(ctx, g)
	if err != nil {
		return err
	}
	defer db.Close()
	kek, err := loadKEK(ctx, g, db, nil)
	if err != nil {
		return err
	}
	return fn(ctx, db, kek)
}

// printRotated shows a key made by a rotation.
func printRotated(e *env, output string, k auth.Key) error {
	if output == "json" {
		return writeJSON(e.stdout, admin.ViewNewKey(k))
	}
	fmt.Fprintf(e.stdout, "New %s key %s published; it signs from %s.\n", k.Algorithm, k.ID, k.SigningFrom.Local().Format(time.RFC3339))
	return nil
}

func newKeysRevokeCmd(e *env, g *globalFlags) *cobra.Command {
	var output, reason, kid string
	cmd := &cobra.Command{
		Use:   "revoke KID | --kid=KID",
		Short: "Remove a compromised signing key at once; an active key is replaced by a new one that signs at once",
		Long: `Remove the signing key KID from the key set at once, for a key that is or
may be compromised. It leaves the JWKS, so tokens it signed stop verifying
(introspection answers active=false at once; offline verifiers refuse them
once their JWKS cache refreshes, within 5 minutes), and it never signs again.
If it was the active key, a new key of the same algorithm signs at once
(an emergency rotation, without the publish-ahead delay): verifiers fetch it
on the first token that names it. Running servers pick the change up within
their poll interval. The audit trail records it as keys.revoke.`,
		Example: `  gooclaim-auth keys list
  gooclaim-auth keys revoke 3kq0Xw… --reason "KEK and database backup stolen"
  # a kid is base64url and may start with "-", which would read as a flag:
  gooclaim-auth keys revoke --kid=-yUlbE2W…`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			switch {
			case len(args) == 1 && kid != "":
				return errors.New("give the kid once: as the argument or with --kid")
			case len(args) == 1:
				kid = args[0]
			case kid == "":
				return errors.New("which key? give its kid (gooclaim-auth keys list shows them), or --kid=KID for one that starts with -")
			}
			var rk issuer.RevokedKey
			err := withKeyService(cmd.Context(), g, "", func(ctx context.Context, svc *admin.Service) (err error) {
				rk, err = svc.RevokeKey(ctx, kid, reason)
				return err
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, admin.ViewRevokedKey(rk, reason))
			}
			fmt.Fprintf(e.stdout, "Key %s (%s, %s) revoked: it is no longer published and never signs again.\n", rk.Key.ID, rk.Key.Algorithm, rk.State)
			if k := rk.Replacement; k != nil {
				fmt.Fprintf(e.stdout, "New %s key %s signs from now on.\n", k.Algorithm, k.ID)
			}
			fmt.Fprintln(e.stdout, "Tokens it signed are inactive to introspection now; offline verifiers refuse them once their JWKS cache refreshes (at most 5 minutes).")
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "what happened (shown in the output; at most 500 characters)")
	cmd.Flags().StringVar(&kid, "kid", "", "the key to revoke, instead of the argument (for a kid that starts with -)")
	addOutputFlag(cmd, &output)
	return cmd
}

func newMigrateCmd(e *env, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema (serve does this by itself)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openCLIStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer db.Close()
			fmt.Fprintf(e.stdout, "Database %s is up to date.\n", g.database)
			return nil
		},
	}
}
