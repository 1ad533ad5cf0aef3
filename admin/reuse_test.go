package admin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
)

// TestClientTokenReuse: a client's token reuse setting is stored
// normalized ("true" is on, "default" is the server's), shown as on, off
// or default, changed by an update on its own, and a bad value is refused
// with the allowed ones named, the stored client left as it was.
func TestClientTokenReuse(t *testing.T) {
	ctx := t.Context()
	svc := newService(t)
	c, _, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "reuse", Scopes: []string{"a"}, TokenReuse: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := svc.Client(ctx, c.ID); stored.TokenReuse != auth.ReuseOn || admin.View(stored).TokenReuse != "on" {
		t.Errorf("created with true: stored %q, shown %q; want on, on", stored.TokenReuse, admin.View(stored).TokenReuse)
	}
	if plain, _, err := svc.CreateClient(ctx, admin.ClientSpec{Name: "plain"}); err != nil || plain.TokenReuse != auth.ReuseDefault ||
		admin.View(plain).TokenReuse != "default" {
		t.Errorf("created without a setting: %q, %v; want \"\", shown as default", plain.TokenReuse, err)
	}

	for _, tt := range []struct{ in, stored, shown string }{
		{"off", auth.ReuseOff, "off"},
		{"default", auth.ReuseDefault, "default"},
		{"on", auth.ReuseOn, "on"},
		{"", auth.ReuseDefault, "default"},
	} {
		u, err := svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{TokenReuse: &tt.in})
		if err != nil || u.TokenReuse != tt.stored || admin.View(u).TokenReuse != tt.shown {
			t.Errorf("update to %q: stored %q, shown %q, %v; want %q, %q", tt.in, u.TokenReuse, admin.View(u).TokenReuse, err, tt.stored, tt.shown)
		}
	}
	if events, err := svc.Store.AuditEvents(ctx, auth.AuditQuery{TargetID: c.ID}); err != nil || len(events) != 5 ||
		events[1].Action != auth.ActionClientUpdate || !strings.Contains(string(events[1].After), `"token_reuse":"off"`) {
		t.Errorf("audit trail %+v, %v; want the create and four updates, the first to off", events, err)
	}

	bad := "sometimes"
	_, err = svc.UpdateClient(ctx, c.ID, admin.ClientUpdate{TokenReuse: &bad})
	if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), `token reuse "sometimes"`) || !strings.Contains(err.Error(), "want on") {
		t.Errorf("update to %q: %v; want EINVALID naming the value and the allowed ones", bad, err)
	}
	if stored, _ := svc.Client(ctx, c.ID); stored.TokenReuse != auth.ReuseDefault {
		t.Errorf("a refused update changed the setting to %q", stored.TokenReuse)
	}
	_, _, err = svc.CreateClient(ctx, admin.ClientSpec{Name: "", TokenReuse: "yes"})
	if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), `token reuse "yes"`) || !strings.Contains(err.Error(), "name: required") {
		t.Errorf("create with %q and no name: %v; want EINVALID listing both problems", "yes", err)
	}
	if u := (admin.ClientUpdate{TokenReuse: new(string)}); u.IsEmpty() {
		t.Error("an update of the token reuse setting alone IsEmpty")
	}
}

// TestApplyTokenReuse: the file's token_reuse is applied, unchanged when
// the same, and a change shows in the plan under its field.
func TestApplyTokenReuse(t *testing.T) {
	svc := newService(t)
	doc := "clients:\n  - {client_id: c, name: C, scopes: [a], jwks: " + jwks + ", token_reuse: off}\n"
	mustApply(t, svc, doc, admin.ApplyOptions{})
	if c, _ := svc.Client(t.Context(), "c"); c.TokenReuse != auth.ReuseOff {
		t.Fatalf("applied token_reuse: off; stored %q", c.TokenReuse)
	}
	if p := mustApply(t, svc, doc, admin.ApplyOptions{}); p.Changed {
		t.Errorf("the same file again: %+v", p.Objects)
	}
	p := mustApply(t, svc, strings.Replace(doc, ", token_reuse: off", "", 1), admin.ApplyOptions{})
	if o := p.Objects[0]; o.Action != admin.PlanUpdate || len(o.Fields) != 1 || o.Fields[0].Field != "token_reuse" || o.Fields[0].Old != "off" || o.Fields[0].New != nil {
		t.Errorf("token_reuse removed from the file: %+v", p.Objects)
	}
	if c, _ := svc.Client(t.Context(), "c"); c.TokenReuse != auth.ReuseDefault {
		t.Errorf("token_reuse removed from the file; stored %q, want the server's default", c.TokenReuse)
	}
}
