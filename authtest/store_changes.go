package authtest

import (
	"context"
	"errors"
	"testing"

	"github.com/gooclaim/auth"
)

func latestChange(t *testing.T, s auth.Store) int64 {
	t.Helper()
	seq, err := s.LatestChange(t.Context())
	if err != nil {
		t.Fatalf("LatestChange: %v", err)
	}
	return seq
}

// testChangeFeed checks that every write appends exactly one change of the
// right kind and ID, and that failed and no-op writes append none.
func testChangeFeed(t *testing.T, s auth.Store) {
	ctx := t.Context()
	start := latestChange(t, s)
	if changes, err := s.Changes(ctx, start, 10); err != nil || len(changes) != 0 {
		t.Fatalf("Changes(%d, 10) of an empty store = %+v, %v; want none", start, changes, err)
	}

	boom := errors.New("boom")
	rename := func(c *auth.Client) error { c.Name = "renamed"; return nil }
	keep := func(current []auth.Key) ([]auth.Key, error) { return current, nil }
	type change struct {
		kind auth.ChangeKind
		id   string
	}
	steps := []struct {
		name  string
		write func(context.Context) error
		want  *change // nil: no change
		fails bool
	}{
		{"create a", func(ctx context.Context) error { return s.CreateClient(ctx, fullClient("a")) }, &change{auth.ChangeClient, "a"}, false},
		{"create a again", func(ctx context.Context) error { return s.CreateClient(ctx, fullClient("a")) }, nil, true},
		{"update a", func(ctx context.Context) error { _, err := s.UpdateClient(ctx, "a", rename); return err }, &change{auth.ChangeClient, "a"}, false},
		{"update a, fn fails", func(ctx context.Context) error {
			_, err := s.UpdateClient(ctx, "a", func(*auth.Client) error { return boom })
			return err
		}, nil, true},
		{"create b", func(ctx context.Context) error { return s.CreateClient(ctx, fullClient("b")) }, &change{auth.ChangeClient, "b"}, false},
		{"update missing", func(ctx context.Context) error { _, err := s.UpdateClient(ctx, "missing", rename); return err }, nil, true},
		{"delete a", func(ctx context.Context) error { return s.DeleteClient(ctx, "a") }, &change{auth.ChangeClient, "a"}, false},
		{"delete a again", func(ctx context.Context) error { return s.DeleteClient(ctx, "a") }, nil, true},
		{"add a key", func(ctx context.Context) error {
			return s.UpdateKeys(ctx, func(cur []auth.Key) ([]auth.Key, error) { return append(cur, someKey("k1", 0)), nil })
		}, &change{auth.ChangeKeys, ""}, false},
		{"keep the keys", func(ctx context.Context) error { return s.UpdateKeys(ctx, keep) }, nil, false},
		{"keys, fn fails", func(ctx context.Context) error {
			return s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return nil, boom })
		}, nil, true},
		{"delete the key", func(ctx context.Context) error {
			return s.UpdateKeys(ctx, func([]auth.Key) ([]auth.Key, error) { return nil, nil })
		}, &change{auth.ChangeKeys, ""}, false},
		{"update b", func(ctx context.Context) error { _, err := s.UpdateClient(ctx, "b", rename); return err }, &change{auth.ChangeClient, "b"}, false},
	}

	var want []change
	latest := start
	for _, step := range steps {
		err := step.write(ctx)
		if !step.fails && err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if step.fails && err == nil {
			t.Fatalf("%s succeeded; want an error", step.name)
		}
		l := latestChange(t, s)
		switch {
		case step.want != nil && l <= latest:
			t.Errorf("%s: LatestChange = %d; want more than %d", step.name, l, latest)
		case step.want == nil && l != latest:
			t.Errorf("%s: LatestChange = %d; want %d (unchanged)", step.name, l, latest)
		}
		latest = l
		if step.want != nil {
			want = append(want, *step.want)
		}
	}

	all, err := s.Changes(ctx, start, 100)
	if err != nil {
		t.Fatalf("Changes(%d, 100): %v", start, err)
	}
	if len(all) != len(want) {
		t.Fatalf("Changes(%d, 100) = %+v; want %d changes %+v", start, all, len(want), want)
	}
	prev := start
	for i, c := range all {
		if c.Kind != want[i].kind || c.ID != want[i].id {
			t.Errorf("change %d = %q %q; want %q %q", i, c.Kind, c.ID, want[i].kind, want[i].id)
		}
		if c.Seq <= prev {
			t.Errorf("change %d: Seq %d after %d; want increasing", i, c.Seq, prev)
		}
		if c.At.IsZero() {
			t.Errorf("change %d: At is zero", i)
		}
		prev = c.Seq
	}
	if prev != latest {
		t.Errorf("the last change's Seq is %d; LatestChange %d", prev, latest)
	}

	// after and limit.
	checkChanges := func(after int64, limit int, want []auth.Change) {
		t.Helper()
		got, err := s.Changes(ctx, after, limit)
		if err != nil {
			t.Fatalf("Changes(%d, %d): %v", after, limit, err)
		}
		if len(got) != len(want) {
			t.Fatalf("Changes(%d, %d) = %+v; want %+v", after, limit, got, want)
		}
		for i := range got {
			if got[i].Seq != want[i].Seq || got[i].Kind != want[i].Kind || got[i].ID != want[i].ID || !got[i].At.Equal(want[i].At) {
				t.Errorf("Changes(%d, %d)[%d] = %+v; want %+v", after, limit, i, got[i], want[i])
			}
		}
	}
	checkChanges(start, 2, all[:2])
	checkChanges(all[1].Seq, 3, all[2:5])
	checkChanges(all[len(all)-2].Seq, 10, all[len(all)-1:])
	checkChanges(latest, 10, nil)
}
