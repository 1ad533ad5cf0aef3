package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/console"
	"github.com/gooclaim/auth/signing"
)

// consoleClientTTL is the lifetime of a console session's token: a
// session ends by itself a quarter of an hour after sign-in.
const consoleClientTTL = 15 * time.Minute

func newConsoleCmd(e *env, g *globalFlags) *cobra.Command {
	var issuer, page, adminAudience string
	cmd := &cobra.Command{
		Use:   "console --issuer URL [--page PAGE]",
		Short: "Print a one-time sign-in link to the admin web console",
		Long: `Print a link that signs in to the admin web console that serve offers at
/console/. The link works once, for one minute, on any node that shares this
database's key-encryption key; its code is in the URL's fragment, which
browsers never send to servers or in Referer headers. Opening it gives the
browser an admin token of the built-in client ` + console.ClientID + ` for
15 minutes; disabling that client ends every console session.

The first run creates ` + console.ClientID + ` (its secret is never shown: it
signs in through links only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := consoleBase(issuer)
			if err != nil {
				return err
			}
			if !console.ValidPage(page) {
				return fmt.Errorf("--page %q: use one of %s", page, strings.Join(console.Pages, ", "))
			}
			return withKEK(cmd.Context(), g, func(ctx context.Context, db database, kek *signing.KEK) error {
				if err := ensureConsoleClient(ctx, &admin.Service{Store: db}, adminAudience); err != nil {
					return err
				}
				code, err := console.NewCode(kek.Derive(console.CodeLabel), cliActor(), page, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s/console/#code=%s&page=%s\n", base, code, page)
				fmt.Fprintln(e.stderr, "The link signs in once, within one minute.")
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", "", "the server's public URL, as serve's --issuer (required): the link points there")
	f.StringVar(&page, "page", console.Pages[0], "the console page to open: "+strings.Join(console.Pages, ", "))
	f.StringVar(&adminAudience, "admin-audience", auth.AdminAudience, "the admin API's audience (serve's --admin-audience), given to "+console.ClientID+" when it is created")
	return cmd
}

// consoleBase checks --issuer and returns it without a trailing slash.
func consoleBase(issuer string) (string, error) {
	if issuer == "" {
		return "", errors.New("--issuer is required: the server's public URL, as serve's --issuer (for example https://auth.example.com)")
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--issuer %q: an http:// or https:// URL without query or fragment, such as https://auth.example.com", issuer)
	}
	return strings.TrimSuffix(issuer, "/"), nil
}

// ensureConsoleClient creates the console's client if it is missing,
// through the service so that it is validated and audited. Its generated
// secret is dropped: nobody needs it, the server issues the client's
// tokens itself on a sign-in code. An existing client is left as it is,
// disabled included: disabling it is how console access is turned off.
func ensureConsoleClient(ctx context.Context, svc *admin.Service, audience string) error {
	_, err := svc.Client(ctx, console.ClientID)
	if auth.ErrorCode(err) != auth.ENOTFOUND {
		return err
	}
	_, _, err = svc.CreateClient(ctx, admin.ClientSpec{
		ID:        console.ClientID,
		Name:      "Console sign-in links",
		Scopes:    []string{auth.ScopeAdmin},
		Audiences: []string{audience},
		TokenTTL:  consoleClientTTL,
		Metadata:  map[string]string{"purpose": "the admin web console's sessions, issued on gooclaim-auth console links; disable to end them"},
	})
	if auth.ErrorCode(err) == auth.ECONFLICT {
		return nil // created meanwhile by another run
	}
	return err
}
