package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// cliAudit returns ctx with the audit identity of the command line: actor
// "cli:<OS user>" and, as the remote address, this host's name. Every write
// a command makes through the store is recorded with it.
func cliAudit(ctx context.Context) context.Context {
	host, err := os.Hostname()
	if err != nil {
		host = ""
	}
	return auth.WithAudit(ctx, auth.Audit{Actor: cliActor(), RemoteAddr: host})
}

// cliActor is "cli:" and the OS user running the command: from the user
// database, else $USER, else "unknown".
func cliActor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

// timeFlag is a point in time given as RFC 3339 ("2025-06-01T00:00:00Z") or
// as a duration ago ("24h", "7d", "90m").
type timeFlag struct {
	t   time.Time
	raw string
	now func() time.Time
}

func (f *timeFlag) String() string { return f.raw }
func (f *timeFlag) Type() string   { return "time" }
func (f *timeFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		f.t, f.raw = t, s
		return nil
	}
	d, err := auth.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: use an RFC 3339 time (2025-06-01T09:00:00Z) or a duration ago (90m, 24h, 7d)", s)
	}
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	f.t, f.raw = now().Add(-d), s
	return nil
}

func newAuditCmd(e *env, g *globalFlags) *cobra.Command {
	var (
		q            auth.AuditQuery
		since, until timeFlag
		limit        int
		output       string
	)
	cmd := &cobra.Command{
		Use:   "audit [--client ID] [--actor A] [--action X] [--since T] [--until T] [--after SEQ] [--limit N]",
		Short: "Show the audit trail: who changed which client, secret or key, and when",
		Long: `Show the audit trail, oldest first. Every change to clients, secrets, signing
keys and revocations is recorded by the database in the same transaction as the
change itself, with its actor ("cli:<OS user>" for this command line,
"client:<client_id>" for the admin API, "apply" for the apply of a
configuration file, "system" for the server's own key rotation), the action,
the target, where it came from (the host name for the command line) and the target's settings before and after — never a secret or
a secret's hash.

Actions: client.create, client.update, client.disable, client.enable,
client.delete, client.rotate_secret, client.revoke_secret,
client.revoke_tokens, issuer.create, issuer.update, issuer.delete,
keys.rotate, keys.revoke, keys.update, token.revoke.

--since and --until take an RFC 3339 time or a duration ago (24h, 7d).
The table shows seq, time, actor, action, target and remote address; -o json
prints every event with its before and after views and, for changes made by
applying a configuration file, its source: the file's digest (sha256:<hex>)
and who applied it ("via cli:<OS user>", "via client:<id>" through the admin
API, "via serve:<host>" for serve --config-file).

The trail is append-only: no command edits or deletes its events.`,
		Example: `  gooclaim-auth audit --since 24h
  gooclaim-auth audit --client gooclaim_app_3kT9… -o json
  gooclaim-auth audit --actor cli:alice --action client.rotate_secret --since 2025-06-01T00:00:00Z
  # page through everything, 500 events at a time:
  gooclaim-auth audit --after 1500 --limit 500`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: use a positive number, or 0 for every event", limit)
			}
			q.Since, q.Until = since.t, until.t
			if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
				return fmt.Errorf("--until %s is not after --since %s", until.raw, since.raw)
			}
			return withService(cmd.Context(), g, func(ctx context.Context, svc *admin.Service) error {
				events, more, err := auditEvents(ctx, svc, q, limit)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(e.stdout, admin.ViewAuditEvents(events))
				}
				if len(events) == 0 {
					fmt.Fprintln(e.stdout, "No audit events match.")
					return nil
				}
				if err := writeAuditTable(e.stdout, events); err != nil {
					return err
				}
				if more {
					fmt.Fprintf(e.stdout, "\nMore events follow: add --after %d.\n", events[len(events)-1].Seq)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.TargetID, "client", "", "only events whose target is this client_id (or trusted issuer name, key ID, or token jti)")
	f.StringVar(&q.Actor, "actor", "", `only events by this actor, e.g. cli:alice, client:gooclaim_app_…, system`)
	f.StringVar(&q.Action, "action", "", "only events of this action, e.g. client.rotate_secret")
	f.Var(&since, "since", "only events at or after this time: RFC 3339, or a duration ago such as 24h or 7d")
	f.Var(&until, "until", "only events before this time: RFC 3339, or a duration ago")
	f.Int64Var(&q.After, "after", 0, "only events whose seq is greater (to continue a listing)")
	f.IntVar(&limit, "limit", 100, "show at most this many events (0: all)")
	addOutputFlag(cmd, &output)
	return cmd
}

// auditEvents reads up to limit events (all when 0) that q selects, a page
// at a time, and reports whether more follow.
func auditEvents(ctx context.Context, svc *admin.Service, q auth.AuditQuery, limit int) ([]auth.AuditEvent, bool, error) {
	const page = 1000
	var out []auth.AuditEvent
	for {
		q.Limit = page
		if limit > 0 {
			q.Limit = min(page, limit-len(out)+1) // one more, to know whether more follow
		}
		batch, err := svc.AuditEvents(ctx, q)
		if err != nil {
			return nil, false, fmt.Errorf("read the audit trail: %w", err)
		}
		out = append(out, batch...)
		if limit > 0 && len(out) > limit {
			return out[:limit], true, nil
		}
		if len(batch) < q.Limit {
			return out, false, nil
		}
		q.After = batch[len(batch)-1].Seq
	}
}

func writeAuditTable(w io.Writer, events []auth.AuditEvent) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tREMOTE")
	for _, ev := range events {
		target := ev.TargetID
		if ev.TargetKind != "" {
			target = ev.TargetKind + " " + ev.TargetID
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, ev.At.UTC().Format(time.RFC3339), ev.Actor, ev.Action,
			orDefault(target, "-"), orDefault(ev.RemoteAddr, "-"))
	}
	return tw.Flush()
}
