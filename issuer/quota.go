package issuer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gooclaim/auth"
)

// QuotaObserver hears about quotas, for logs, metrics and the audit trail;
// server.quotaWatch implements it. Its methods must return quickly: they
// run on the token path.
type QuotaObserver interface {
	// QuotaUsed is called after each token counted or refused, with the
	// quotas applied and the counts of their current windows.
	QuotaUsed(c *auth.Client, qs []auth.Rate, used []int)
	// QuotaBreached is called when a token is refused past quota q
	// (enforce mode) or issued past it (warn mode, warn true); first says
	// it is the first breach of q in the window ending at end (per node,
	// or fleet-wide with a shared counter): the one to audit.
	QuotaBreached(c *auth.Client, q auth.Rate, used int, end time.Time, warn, first bool)
}

// QuotaError is the refusal of a token past a client's quota: an
// auth.ErrRateLimited whose description names the quota, and when the
// window renews, for Retry-After.
type QuotaError struct {
	*auth.OAuthError
	Quota  auth.Rate
	Renews time.Time
}

func (e *QuotaError) Unwrap() error { return e.OAuthError }

// quotas returns the quotas that apply to c: its own, else the server's.
func (i *Issuer) quotas(c *auth.Client) []auth.Rate {
	if len(c.Quotas) > 0 {
		return c.Quotas
	}
	return i.cfg.DefaultQuotas
}

// chargeQuota counts one token of c against its quotas at now, right
// before it is signed: after everything that could refuse the request, so
// that only tokens issued count. A client without quotas (and a server
// without defaults) pays two length checks. Past an enforced quota it
// returns a *QuotaError and nothing is counted.
func (i *Issuer) chargeQuota(ctx context.Context, c *auth.Client, now time.Time) error {
	if len(c.Quotas) == 0 && len(i.cfg.DefaultQuotas) == 0 {
		return nil
	}
	qs := i.quotas(c)
	if i.cfg.Quotas == nil {
		return fmt.Errorf("client %q has token quotas but the server has no quota counter", c.ID)
	}
	warn := c.QuotaMode == auth.QuotaWarn
	d, err := i.cfg.Quotas.Count(ctx, c.ID, qs, warn, now)
	if err != nil {
		return fmt.Errorf("count the token of client %q against its quotas: %w", c.ID, err)
	}
	obs := i.cfg.QuotaObserver
	if obs != nil {
		obs.QuotaUsed(c, qs, d.Used)
	}
	if d.Breached < 0 {
		return nil
	}
	q := qs[d.Breached]
	if obs != nil {
		obs.QuotaBreached(c, q, d.Used[d.Breached], d.End, d.Allowed, d.FirstBreach)
	}
	if d.Allowed {
		return nil
	}
	return &QuotaError{
		OAuthError: auth.ErrRateLimited.WithDescription("the client's quota of " + strconv.Itoa(q.Limit) + " tokens per " +
			auth.FormatDuration(q.Window) + " is used up; it renews at " + d.End.UTC().Format(time.RFC3339)),
		Quota: q, Renews: d.End,
	}
}
