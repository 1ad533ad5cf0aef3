package authconfig

import (
	"strings"
	"testing"

	"github.com/gooclaim/auth"
)

// TestTokenReuse: token_reuse takes on, off and default as this package's
// YAML 1.2 reads them unquoted (strings), and true and false as a YAML 1.1
// reader would have read on and off; Export writes it only when it is not
// the server's default, quoted so that a YAML 1.1 reader reads the string.
func TestTokenReuse(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"on", auth.ReuseOn},
		{"off", auth.ReuseOff},
		{`"on"`, auth.ReuseOn},
		{"'off'", auth.ReuseOff},
		{"default", auth.ReuseDefault},
		{"true", auth.ReuseOn},
		{"True", auth.ReuseOn},
		{"false", auth.ReuseOff},
	} {
		doc := "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n  - client_id: a\n    token_reuse: " + tc.value + "\n"
		d := mustParse(t, "reuse.yaml", []byte(doc))
		if got := d.Clients[0].Client.TokenReuse; got != tc.want {
			t.Errorf("token_reuse: %s read as %q; want %q", tc.value, got, tc.want)
		}
	}
	for _, tc := range []struct{ value, want string }{
		{"yes", `token reuse "yes": want on`},
		{"ON", `token reuse "ON": want on`},
		{"[on]", "want on, off or default, not a list"},
		{"", "want on, off or default, not nothing (null)"},
	} {
		doc := "apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n  - client_id: a\n    token_reuse: " + tc.value + "\n"
		checkProblems(t, "reuse.yaml", []byte(doc), []wantProblem{{5, `client "a"`, "token_reuse", tc.want}})
	}

	out, err := Export([]*auth.Client{{ID: "on", TokenReuse: auth.ReuseOn}, {ID: "off", TokenReuse: auth.ReuseOff}, {ID: "default"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  - client_id: \"on\"\n    token_reuse: \"on\"\n", "  - client_id: \"off\"\n    token_reuse: \"off\"\n", "  - client_id: default\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Export has no %q:\n%s", want, out)
		}
	}
	if strings.Count(string(out), "token_reuse") != 2 {
		t.Errorf("Export writes token_reuse for the client that follows the server's default:\n%s", out)
	}
}
