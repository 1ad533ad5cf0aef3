package authtest

import (
	"context"
	"testing"

	"github.com/gooclaim/auth"
)

// ClientCache is a store that also serves clients from a copy of its own,
// kept by writing through it, as inmem.Replica does. RunStoreTests checks
// that the copy agrees with the store at once after each write made
// through it, and at the end of every test.
type ClientCache interface {
	auth.Store
	// Lookup returns the client from the copy, nil when it holds none.
	Lookup(id string) *auth.Client
	// Len returns how many clients the copy holds.
	Len() int
}

// cacheChecker runs the suite's writes through a ClientCache and checks
// the copy after each: in a test that writes from one goroutine, that it
// holds what the store does; in one that writes from several (concurrent),
// where another write may have come between, that it holds the client.
type cacheChecker struct {
	ClientCache
	t          *testing.T
	concurrent bool
}

// checkCopy reports the differences between the copy's client id and the store's.
func (c *cacheChecker) checkCopy(ctx context.Context, what, id string) {
	t := c.t
	t.Helper()
	got := c.Lookup(id)
	want, err := c.ClientCache.Client(ctx, id)
	switch {
	case auth.ErrorCode(err) == auth.ENOTFOUND:
		if got != nil && !c.concurrent {
			t.Errorf("%s: Lookup(%q) = %+v; want nil, as the store has no such client", what, id, got)
		}
	case err != nil:
		t.Errorf("%s: Client(%q): %v", what, id, err)
	case got == nil:
		t.Errorf("%s: Lookup(%q) = nil; want the client the store has", what, id)
	case !c.concurrent:
		checkClient(t, got, want)
		c.checkFederated(what, want)
	}
}

// checkFederated reports the federated identities of want that a copy
// which is an auth.Federation does not map to want.
func (c *cacheChecker) checkFederated(what string, want *auth.Client) {
	fed, ok := c.ClientCache.(auth.Federation)
	if !ok {
		return
	}
	for _, f := range want.Federated {
		if got := fed.FederatedClient(f.Issuer, f.Subject); got == nil || got.ID != want.ID {
			c.t.Errorf("%s: FederatedClient(%q, %q) = %v; want client %q", what, f.Issuer, f.Subject, got, want.ID)
		}
	}
}

// checkIssuers reports the store's trusted issuers that a copy which is
// an auth.Federation does not hold as they are.
func (c *cacheChecker) checkIssuers(ctx context.Context) {
	fed, ok := c.ClientCache.(auth.Federation)
	if !ok {
		return
	}
	all, err := c.ListIssuers(ctx)
	if err != nil {
		c.t.Fatalf("ListIssuers: %v", err)
	}
	for _, want := range all {
		got := fed.IssuerByURL(want.Issuer)
		if got == nil {
			c.t.Errorf("at the end: IssuerByURL(%q) = nil; want trusted issuer %q", want.Issuer, want.Name)
			continue
		}
		checkIssuer(c.t, got, want)
	}
}

func (c *cacheChecker) CreateClient(ctx context.Context, cl *auth.Client) error {
	c.t.Helper()
	err := c.ClientCache.CreateClient(ctx, cl)
	if err == nil {
		c.checkCopy(ctx, "after CreateClient", cl.ID)
	}
	return err
}

func (c *cacheChecker) UpdateClient(ctx context.Context, id string, fn func(*auth.Client) error) (*auth.Client, error) {
	c.t.Helper()
	cl, err := c.ClientCache.UpdateClient(ctx, id, fn)
	if err == nil {
		c.checkCopy(ctx, "after UpdateClient", id)
	}
	return cl, err
}

func (c *cacheChecker) DeleteClient(ctx context.Context, id string) error {
	c.t.Helper()
	err := c.ClientCache.DeleteClient(ctx, id)
	if err == nil {
		c.checkCopy(ctx, "after DeleteClient", id)
	}
	return err
}

func (c *cacheChecker) ApplyBatch(ctx context.Context, b auth.Batch) error {
	c.t.Helper()
	err := c.ClientCache.ApplyBatch(ctx, b)
	if err != nil {
		return err
	}
	for _, l := range [][]*auth.Client{b.CreateClients, b.UpdateClients} {
		for _, cl := range l {
			c.checkCopy(ctx, "after ApplyBatch", cl.ID)
		}
	}
	for _, id := range b.DeleteClients {
		c.checkCopy(ctx, "after ApplyBatch", id)
	}
	return nil
}

// checkAll reports the differences between the copy and the store.
func (c *cacheChecker) checkAll() {
	t := c.t
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	c.concurrent = false
	n := 0
	for after := ""; ; {
		page, err := c.ListClients(ctx, after, 100)
		if err != nil {
			t.Fatalf("ListClients: %v", err)
		}
		for _, cl := range page {
			c.checkCopy(ctx, "at the end", cl.ID)
		}
		n += len(page)
		if len(page) < 100 {
			break
		}
		after = page[len(page)-1].ID
	}
	if l := c.Len(); l != n {
		t.Errorf("at the end: the copy holds %d clients; want %d, as the store", l, n)
	}
	c.checkIssuers(ctx)
}
