package authtest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gooclaim/auth"
)

// testSQLReadOnly uses a handle whose transactions are read-only, as on a
// read-only file or a standby: it migrates a current schema (a no-op) and
// reads, and its writes fail as unavailable, saying why.
func testSQLReadOnly(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	database := s.b.NewDatabase(t)
	rw := s.migrated(t, database, SQLOptions{})
	if err := rw.CreateClient(ctx, &auth.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	ro := s.open(t, database, SQLOptions{ReadOnly: true})
	if err := ro.Migrate(ctx); err != nil {
		t.Errorf("Migrate of a current schema through a read-only handle: %v", err)
	}
	if _, err := ro.Client(ctx, "c"); err != nil {
		t.Errorf("Client through a read-only handle: %v", err)
	}
	writes := map[string]func() error{
		"CreateClient": func() error { return ro.CreateClient(ctx, &auth.Client{ID: "d"}) },
		"DeleteClient": func() error { return ro.DeleteClient(ctx, "c") },
		"UpdateKeys": func() error {
			return ro.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) {
				return []auth.Key{{ID: "k", CreatedAt: Epoch, SigningFrom: Epoch}}, nil
			})
		},
		"RevokeToken": func() error {
			return ro.RevokeToken(ctx, auth.RevokedToken{JTI: "t", ExpiresAt: Epoch})
		},
	}
	for name, write := range writes {
		err := write()
		if !errors.Is(err, auth.ErrUnavailable) || !strings.Contains(auth.ErrorMessage(err), "read-only") {
			t.Errorf("%s on a read-only database = %v (message %q); want EUNAVAILABLE, read-only", name, err, auth.ErrorMessage(err))
		}
	}
}

// testSQLTimes checks that times keep their nanoseconds and come back in UTC.
func testSQLTimes(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db := s.newStore(t, SQLOptions{})
	zone := time.FixedZone("UTC-7", -7*60*60)
	at := time.Date(2030, 4, 5, 6, 7, 8, 123456789, zone)
	c := &auth.Client{ID: "c", CreatedAt: at, UpdatedAt: at.Add(1),
		Secrets: []auth.Secret{{ID: "s", Hash: "h", CreatedAt: at.Add(2), ExpiresAt: at.Add(3)}}}
	if err := db.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	got, err := db.Client(ctx, "c")
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	times := []time.Time{got.CreatedAt, got.UpdatedAt, got.Secrets[0].CreatedAt, got.Secrets[0].ExpiresAt}
	for i, tm := range times {
		if want := at.Add(time.Duration(i)); !tm.Equal(want) || tm.Location() != time.UTC {
			t.Errorf("time %d = %v; want %v in UTC", i, tm, want.UTC())
		}
	}
}

// testSQLErrorMessages checks the codes, and the messages meant for users,
// of the errors every backend gives alike.
func testSQLErrorMessages(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db := s.newStore(t, SQLOptions{})
	if err := db.CreateClient(ctx, &auth.Client{ID: "x"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	err := db.CreateClient(ctx, &auth.Client{ID: "x"})
	if msg := auth.ErrorMessage(err); auth.ErrorCode(err) != auth.ECONFLICT || msg != `client "x" already exists` {
		t.Errorf("CreateClient of a taken ID = %q, %q", auth.ErrorCode(err), msg)
	}
	_, err = db.Client(ctx, "y")
	if msg := auth.ErrorMessage(err); auth.ErrorCode(err) != auth.ENOTFOUND || msg != `client "y" not found` {
		t.Errorf("Client of a missing ID = %q, %q", auth.ErrorCode(err), msg)
	}
	for _, limit := range []int{0, -1} {
		if _, err := db.ListClients(ctx, "", limit); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("ListClients(limit %d) = %v; want EINVALID", limit, err)
		}
		if _, err := db.Changes(ctx, 0, limit); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("Changes(limit %d) = %v; want EINVALID", limit, err)
		}
	}
	for _, c := range []*auth.Client{{}, {ID: "z", Secrets: []auth.Secret{{ID: "s"}, {ID: "s"}}}} {
		if err := db.CreateClient(ctx, c); auth.ErrorCode(err) != auth.EINVALID {
			t.Errorf("CreateClient(%+v) = %v; want EINVALID", c, err)
		}
	}
	err = db.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return []auth.Key{{ID: "k"}}, nil })
	if auth.ErrorCode(err) != auth.EINVALID {
		t.Errorf("UpdateKeys with a key without times = %v; want EINVALID", err)
	}
}

// testSQLListClientsBytewise checks that IDs sort bytewise, whatever the
// database's collation, and that each page has its clients' secrets.
func testSQLListClientsBytewise(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db := s.newStore(t, SQLOptions{})
	ids := []string{"b", "B", "a", "A", "_x", "a-b", "a_b", "ab", "é", "z", "Z9", "10", "9"}
	for _, id := range ids {
		if err := db.CreateClient(ctx, &auth.Client{ID: id, Secrets: []auth.Secret{{ID: id, Hash: "h"}}}); err != nil {
			t.Fatalf("CreateClient(%q): %v", id, err)
		}
	}
	var got []string
	for after := ""; ; {
		page, err := db.ListClients(ctx, after, 4)
		if err != nil {
			t.Fatalf("ListClients: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if len(c.Secrets) != 1 || c.Secrets[0].ID != c.ID {
				t.Errorf("client %q has secrets %+v; want its own one", c.ID, c.Secrets)
			}
			got = append(got, c.ID)
		}
		after = page[len(page)-1].ID
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("ListClients order %q; want %q", got, ids)
	}
}

// testSQLCreateClients: a batch is stored whole, with a change-feed entry
// per client, and a batch with a taken ID stores nothing.
func testSQLCreateClients(t *testing.T, s sqlSuite) {
	ctx := t.Context()
	db := s.newStore(t, SQLOptions{})
	mk := func(id string) *auth.Client {
		return &auth.Client{ID: id, Name: id, Scopes: []string{"s"}, Secrets: []auth.Secret{{ID: "k", Hash: "h-" + id}}}
	}
	seq0, _ := db.LatestChange(ctx)
	batch := []*auth.Client{mk("a"), mk("b"), mk("c")}
	if err := db.CreateClients(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].CreatedAt.IsZero() || batch[2].Secrets[0].CreatedAt.IsZero() {
		t.Error("timestamps not written back")
	}
	cs, err := db.ListClients(ctx, "", 10)
	if err != nil || len(cs) != 3 || cs[1].ID != "b" || len(cs[1].Secrets) != 1 || cs[1].Secrets[0].Hash != "h-b" {
		t.Fatalf("ListClients: %v, %+v", err, cs)
	}
	if seq, _ := db.LatestChange(ctx); seq != seq0+3 {
		t.Errorf("change feed at %d, want %d", seq, seq0+3)
	}
	if events, err := db.AuditEvents(ctx, auth.AuditQuery{Action: auth.ActionClientCreate}); err != nil || len(events) != 3 {
		t.Errorf("AuditEvents of the batch = %d, %v; want one per client", len(events), err)
	}
	err = db.CreateClients(ctx, []*auth.Client{mk("d"), mk("a")})
	if auth.ErrorCode(err) != auth.ECONFLICT {
		t.Fatalf("taken ID: %v, want ECONFLICT", err)
	}
	if _, err := db.Client(ctx, "d"); auth.ErrorCode(err) != auth.ENOTFOUND {
		t.Fatalf("d after the failed batch: %v, want ENOTFOUND", err)
	}

	// A batch writes every field, as CreateClient does.
	full := fullClient("full")
	if err := db.CreateClients(ctx, []*auth.Client{full.Clone()}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Client(ctx, "full"); err != nil {
		t.Fatal(err)
	} else {
		checkClient(t, got, full)
	}
}
