package authtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

func testClientRoundTrip(t *testing.T, s auth.Store) {
	ctx := t.Context()
	want := fullClient("client-1")
	if err := s.CreateClient(ctx, want.Clone()); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	got, err := s.Client(ctx, want.ID)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, got, want)

	// What Client returns is the caller's to change.
	got.Scopes[0], got.Secrets[0].Hash = "changed", "changed"
	got, err = s.Client(ctx, want.ID)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, got, want)

	// Zero times are set by the store and written back.
	minimal := &auth.Client{ID: "minimal", Secrets: []auth.Secret{{ID: "s", Hash: "sha256:BBBB"}}}
	if err := s.CreateClient(ctx, minimal); err != nil {
		t.Fatalf("CreateClient(minimal): %v", err)
	}
	if minimal.CreatedAt.IsZero() || minimal.UpdatedAt.IsZero() || minimal.Secrets[0].CreatedAt.IsZero() {
		t.Errorf("CreateClient(minimal) left a time zero: %+v", minimal)
	}
	got, err = s.Client(ctx, "minimal")
	if err != nil {
		t.Fatalf("Client(minimal): %v", err)
	}
	checkClient(t, got, minimal)

	// Secrets come back ordered by CreatedAt, then ID.
	ordered := &auth.Client{ID: "ordered", CreatedAt: someTime(0), UpdatedAt: someTime(0), Secrets: []auth.Secret{
		{ID: "b", Hash: "h", CreatedAt: someTime(2)},
		{ID: "a", Hash: "h", CreatedAt: someTime(2)},
		{ID: "c", Hash: "h", CreatedAt: someTime(1)},
	}}
	if err := s.CreateClient(ctx, ordered.Clone()); err != nil {
		t.Fatalf("CreateClient(ordered): %v", err)
	}
	got, err = s.Client(ctx, "ordered")
	if err != nil {
		t.Fatalf("Client(ordered): %v", err)
	}
	ordered.Secrets = []auth.Secret{ordered.Secrets[2], ordered.Secrets[1], ordered.Secrets[0]}
	checkClient(t, got, ordered)
}

// testClientEmptyFields checks that empty AuthMethods, JWKS and Metadata
// read back as nil, and a zero TokensRevokedBefore as zero, after a create
// and after an update that empties them.
func testClientEmptyFields(t *testing.T, s auth.Store) {
	ctx := t.Context()
	checkEmpty := func(what string, c *auth.Client) {
		t.Helper()
		if c.AuthMethods != nil || c.JWKS != nil || c.Metadata != nil || c.JWKSURI != "" || !c.TokensRevokedBefore.IsZero() {
			t.Errorf("%s: AuthMethods %#v, JWKS %#v, Metadata %#v, JWKSURI %q, TokensRevokedBefore %v; want nil, nil, nil, empty, zero",
				what, c.AuthMethods, c.JWKS, c.Metadata, c.JWKSURI, c.TokensRevokedBefore)
		}
	}
	for _, c := range []*auth.Client{
		{ID: "nil"},
		{ID: "empty", AuthMethods: []string{}, JWKS: []byte{}, Metadata: map[string]string{}},
	} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s): %v", c.ID, err)
		}
		got, err := s.Client(ctx, c.ID)
		if err != nil {
			t.Fatalf("Client(%s): %v", c.ID, err)
		}
		checkEmpty("Client("+c.ID+")", got)
	}

	// A client with keys by URL only.
	uri := &auth.Client{ID: "uri", AuthMethods: []string{auth.AuthPrivateKeyJWT}, JWKSURI: "https://client.example.com/jwks",
		CreatedAt: someTime(0), UpdatedAt: someTime(0)}
	if err := s.CreateClient(ctx, uri.Clone()); err != nil {
		t.Fatalf("CreateClient(uri): %v", err)
	}
	got, err := s.Client(ctx, "uri")
	if err != nil {
		t.Fatalf("Client(uri): %v", err)
	}
	checkClient(t, got, uri)

	// Emptied by an update.
	if err := s.CreateClient(ctx, fullClient("full")); err != nil {
		t.Fatalf("CreateClient(full): %v", err)
	}
	updated, err := s.UpdateClient(ctx, "full", func(c *auth.Client) error {
		c.AuthMethods, c.JWKS, c.Metadata = []string{}, []byte{}, map[string]string{}
		c.TokensRevokedBefore = time.Time{}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(full): %v", err)
	}
	checkEmpty("UpdateClient(full)", updated)
	if got, err = s.Client(ctx, "full"); err != nil {
		t.Fatalf("Client(full): %v", err)
	}
	checkEmpty("Client(full) after emptying", got)
}

func testCreateClientConflict(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, fullClient("taken")); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	second := fullClient("taken")
	second.Name = "second"
	err := s.CreateClient(ctx, second)
	if !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("CreateClient of a taken ID = %v; want ErrConflict", err)
	}
	got, err := s.Client(ctx, "taken")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, got, fullClient("taken"))
}

func testMissingClient(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if _, err := s.Client(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Client(missing) = %v; want ErrNotFound", err)
	}
	called := false
	_, err := s.UpdateClient(ctx, "missing", func(*auth.Client) error { called = true; return nil })
	if !errors.Is(err, auth.ErrNotFound) || called {
		t.Errorf("UpdateClient(missing) = %v, fn called: %v; want ErrNotFound, false", err, called)
	}
	if err := s.DeleteClient(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("DeleteClient(missing) = %v; want ErrNotFound", err)
	}
	if n, err := s.CountClients(ctx); err != nil || n != 0 {
		t.Errorf("CountClients = %d, %v; want 0", n, err)
	}
}

func testUpdateClient(t *testing.T, s auth.Store) {
	ctx := t.Context()
	orig := fullClient("c")
	if err := s.CreateClient(ctx, orig.Clone()); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	newSecret := auth.Secret{ID: "s3", Hash: "sha256:CCCC", CreatedAt: someTime(10), ExpiresAt: someTime(20)}
	updated, err := s.UpdateClient(ctx, "c", func(c *auth.Client) error {
		c.ID = "other"                           // ignored
		c.CreatedAt = c.CreatedAt.Add(time.Hour) // ignored
		c.Name = "renamed"
		c.Scopes = append(c.Scopes, "extra")
		c.Audiences = c.Audiences[:1]
		c.TokenTTL = 2 * time.Minute
		c.RateLimit = auth.Rate{Limit: 7, Window: time.Hour}
		c.Disabled = false
		c.Secrets = append(c.Secrets[1:], newSecret)
		c.AuthMethods = []string{auth.AuthClientSecretPost}
		c.JWKS, c.JWKSURI = nil, "https://client.example.com/.well-known/jwks.json"
		c.Metadata["owner"] = "team-payments"
		delete(c.Metadata, "note")
		c.TokensRevokedBefore = someTime(30)
		c.TokenReuse = auth.ReuseOff
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	want := orig.Clone()
	want.Name, want.Scopes, want.Audiences = "renamed", []string{"read", "write:all", "extra"}, orig.Audiences[:1]
	want.TokenTTL, want.RateLimit, want.Disabled = 2*time.Minute, auth.Rate{Limit: 7, Window: time.Hour}, false
	want.Secrets = []auth.Secret{orig.Secrets[1], newSecret}
	want.AuthMethods = []string{auth.AuthClientSecretPost}
	want.JWKS, want.JWKSURI = nil, "https://client.example.com/.well-known/jwks.json"
	want.Metadata = map[string]string{"owner": "team-payments", "contact": "billing@example.com"}
	want.TokensRevokedBefore = someTime(30)
	want.TokenReuse = auth.ReuseOff
	want.UpdatedAt = updated.UpdatedAt
	checkClient(t, updated, want)
	if !updated.UpdatedAt.After(orig.UpdatedAt) {
		t.Errorf("UpdatedAt = %v; want it after %v", updated.UpdatedAt, orig.UpdatedAt)
	}
	got, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, got, want)
	if _, err := s.Client(ctx, "other"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Client(other) = %v; want ErrNotFound (the ID cannot change)", err)
	}

	again, err := s.UpdateClient(ctx, "c", func(c *auth.Client) error { c.Name = "again"; return nil })
	if err != nil {
		t.Fatalf("UpdateClient again: %v", err)
	}
	if again.UpdatedAt.Before(updated.UpdatedAt) {
		t.Errorf("UpdatedAt went back from %v to %v", updated.UpdatedAt, again.UpdatedAt)
	}

	// An error from fn aborts: nothing changes, fn's error is returned.
	before, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	latest := latestChange(t, s)
	boom := errors.New("boom")
	_, err = s.UpdateClient(ctx, "c", func(c *auth.Client) error {
		c.Name, c.Scopes, c.Secrets = "aborted", nil, nil
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateClient with a failing fn = %v; want %v", err, boom)
	}
	after, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, after, before)
	if l := latestChange(t, s); l != latest {
		t.Errorf("LatestChange after an aborted update = %d; want %d", l, latest)
	}
}

func testUpdateClientConcurrently(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateClient(ctx, "c", func(c *auth.Client) error {
				c.Scopes = append(c.Scopes, fmt.Sprintf("scope-%02d", i))
				return nil
			})
			if err != nil {
				t.Errorf("UpdateClient %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	for i := range n {
		if want := fmt.Sprintf("scope-%02d", i); !slices.Contains(got.Scopes, want) {
			t.Errorf("scope %q was lost: %q", want, got.Scopes)
		}
	}
	if len(got.Scopes) != n {
		t.Errorf("%d scopes %q; want %d", len(got.Scopes), got.Scopes, n)
	}
}

func testDeleteClient(t *testing.T, s auth.Store) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, fullClient("c")); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := s.DeleteClient(ctx, "c"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if _, err := s.Client(ctx, "c"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("Client after DeleteClient = %v; want ErrNotFound", err)
	}
	if n, err := s.CountClients(ctx); err != nil || n != 0 {
		t.Errorf("CountClients = %d, %v; want 0", n, err)
	}
	// The secrets went with the client.
	again := &auth.Client{ID: "c", CreatedAt: someTime(100), UpdatedAt: someTime(100),
		Secrets: []auth.Secret{{ID: "s1", Hash: "sha256:NEW", CreatedAt: someTime(100)}}}
	if err := s.CreateClient(ctx, again.Clone()); err != nil {
		t.Fatalf("CreateClient after DeleteClient: %v", err)
	}
	got, err := s.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	checkClient(t, got, again)
}

// testClientIncarnation: the store gives every client it creates a new
// incarnation, whatever the caller put there, writes it back, keeps it
// through updates, and never gives it again to a client created later with
// the same ID — the tokens of a deleted client carry the old one.
func testClientIncarnation(t *testing.T, s auth.Store) {
	ctx := t.Context()
	read := func(id string) *auth.Client {
		t.Helper()
		c, err := s.Client(ctx, id)
		if err != nil {
			t.Fatalf("Client(%q): %v", id, err)
		}
		return c
	}
	c := fullClient("c")
	c.Incarnation = "chosen-by-the-caller"
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	first := c.Incarnation
	if first == "" || first == "chosen-by-the-caller" {
		t.Fatalf("CreateClient wrote back the incarnation %q; want a new one from the store", first)
	}
	if got := read("c").Incarnation; got != first {
		t.Fatalf("Client: incarnation %q; want %q, as written back", got, first)
	}
	other := fullClient("d")
	if err := s.CreateClient(ctx, other); err != nil {
		t.Fatalf("CreateClient(d): %v", err)
	}
	if other.Incarnation == "" || other.Incarnation == first {
		t.Errorf("two clients' incarnations: %q and %q; want two distinct new values", first, other.Incarnation)
	}

	updated, err := s.UpdateClient(ctx, "c", func(c *auth.Client) error {
		c.Name, c.Incarnation = "renamed", "changed-by-fn"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if updated.Incarnation != first || read("c").Incarnation != first {
		t.Errorf("after UpdateClient: incarnation %q (returned), %q (read); want %q unchanged", updated.Incarnation, read("c").Incarnation, first)
	}
	list, err := s.ListClients(ctx, "", 10)
	if err != nil || len(list) != 2 || list[0].Incarnation != first || list[1].Incarnation != other.Incarnation {
		t.Errorf("ListClients: %v; want c and d with their incarnations", err)
	}

	if err := s.DeleteClient(ctx, "c"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	again := fullClient("c")
	again.Incarnation = first
	if err := s.CreateClient(ctx, again); err != nil {
		t.Fatalf("CreateClient after DeleteClient: %v", err)
	}
	if again.Incarnation == "" || again.Incarnation == first || read("c").Incarnation != again.Incarnation {
		t.Errorf("a client created again with a deleted one's ID: incarnation %q (written back), %q (read); want a new value, not %q",
			again.Incarnation, read("c").Incarnation, first)
	}
}

func testListClients(t *testing.T, s auth.Store) {
	ctx := t.Context()
	const n = 25
	want := make(map[string]*auth.Client, n)
	for i := range n {
		j := i * 7 % n // create them out of order
		c := fullClient(fmt.Sprintf("client-%02d", j))
		if j%2 == 0 {
			c.Secrets = c.Secrets[:1]
		}
		want[c.ID] = c
		if err := s.CreateClient(ctx, c.Clone()); err != nil {
			t.Fatalf("CreateClient %s: %v", c.ID, err)
		}
	}
	if got, err := s.CountClients(ctx); err != nil || got != n {
		t.Errorf("CountClients = %d, %v; want %d", got, err, n)
	}

	var ids []string
	var sizes []int
	for after := ""; len(sizes) <= n; {
		page, err := s.ListClients(ctx, after, 10)
		if err != nil {
			t.Fatalf("ListClients(%q, 10): %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		sizes = append(sizes, len(page))
		for _, c := range page {
			ids = append(ids, c.ID)
			if w := want[c.ID]; w == nil {
				t.Errorf("ListClients returned an unknown client %q", c.ID)
			} else {
				checkClient(t, c, w)
			}
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("page sizes %v; want [10 10 5]", sizes)
	}
	var wantIDs []string
	for i := range n {
		wantIDs = append(wantIDs, fmt.Sprintf("client-%02d", i))
	}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("listed %q; want %q", ids, wantIDs)
	}

	page, err := s.ListClients(ctx, "client-09", 3)
	if err != nil {
		t.Fatalf("ListClients(client-09, 3): %v", err)
	}
	if got := clientIDs(page); !slices.Equal(got, []string{"client-10", "client-11", "client-12"}) {
		t.Errorf("ListClients(client-09, 3) = %q; want client-10..12", got)
	}
	page, err = s.ListClients(ctx, "client-099", 10) // between two IDs
	if err != nil {
		t.Fatalf("ListClients(client-099, 10): %v", err)
	}
	if got := clientIDs(page); len(got) != 10 || got[0] != "client-10" {
		t.Errorf("ListClients(client-099, 10) = %q; want 10 from client-10", got)
	}
}

func clientIDs(cs []*auth.Client) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}
