package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// runStopped runs gooclaim-auth with args and the environment vars under a
// cancelled context: a serve that accepted its configuration would stop at
// once instead of running for ever, so that a test of a refusal ends even
// when the refusal is missing.
func runStopped(t *testing.T, vars map[string]string, args ...string) (stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb, func(k string) string { return vars[k] })
	return errb.String(), code
}

// TestAdminAudienceRefusedWhenResourceServersAcceptIt: serve refuses an
// admin audience equal to --audience, the default audience every API
// accepts (admin tokens would be accepted by each API and could be
// replayed to the admin API) — given as a flag, an environment variable or
// in the configuration file, and whichever of the two was changed — naming
// both settings the way they were given; and an empty admin audience.
func TestAdminAudienceRefusedWhenResourceServersAcceptIt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "auth.db")
	file := func(name, content string) string { return writeConfig(t, dir, name, content) }
	sameFile := file("same.yaml", "admin-audience: https://api.gooclaim.com\n")
	bothFile := file("both.yaml", "audience: https://claims.example.com\nadmin-audience: https://claims.example.com\n")
	emptyFile := file("empty.yaml", "admin-audience: \"\"\n")
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want []string
	}{
		{"the default --audience", []string{"--admin-audience", "https://api.gooclaim.com"}, nil,
			[]string{`--admin-audience "https://api.gooclaim.com" is the same as --audience "https://api.gooclaim.com": every API that accepts the default audience would accept admin tokens`,
				"set --admin-audience to an identifier no other API accepts (the default is urn:gooclaim:auth:admin), or give --audience the identifier of your APIs"}},
		{"an explicit pair", []string{"--audience", "https://claims.example.com", "--admin-audience", "https://claims.example.com"}, nil,
			[]string{`--admin-audience "https://claims.example.com" is the same as --audience "https://claims.example.com"`}},
		{"but for case and a trailing slash", []string{"--audience", "https://claims.example.com", "--admin-audience", "https://Claims.example.com/"}, nil,
			[]string{`--admin-audience "https://Claims.example.com/" is the same as --audience "https://claims.example.com"`}},
		{"--audience set to the admin audience", []string{"--audience", "urn:gooclaim:auth:admin"}, nil,
			[]string{`--admin-audience "urn:gooclaim:auth:admin" is the same as --audience "urn:gooclaim:auth:admin"`}},
		{"without the admin API", []string{"--admin-audience", "https://api.gooclaim.com", "--no-admin-api"}, nil,
			[]string{`--admin-audience "https://api.gooclaim.com" is the same as --audience`}},
		{"from the environment", nil, map[string]string{"GOOCLAIM_ADMIN_AUDIENCE": "https://api.gooclaim.com"},
			[]string{`GOOCLAIM_ADMIN_AUDIENCE "https://api.gooclaim.com" is the same as --audience "https://api.gooclaim.com"`,
				"set GOOCLAIM_ADMIN_AUDIENCE to an identifier"}},
		{"both from the environment", nil, map[string]string{"GOOCLAIM_AUDIENCE": "https://claims.example.com", "GOOCLAIM_ADMIN_AUDIENCE": "https://claims.example.com"},
			[]string{`GOOCLAIM_ADMIN_AUDIENCE "https://claims.example.com" is the same as GOOCLAIM_AUDIENCE "https://claims.example.com"`}},
		{"from the file", []string{"--config", sameFile}, nil,
			[]string{sameFile + `:1: admin-audience "https://api.gooclaim.com" is the same as --audience "https://api.gooclaim.com"`}},
		{"both from the file", []string{"--config", bothFile}, nil,
			[]string{bothFile + `:2: admin-audience "https://claims.example.com" is the same as ` + bothFile + `:1: audience "https://claims.example.com"`}},
		{"file and flag", []string{"--config", sameFile, "--audience", "https://api.gooclaim.com/"}, nil,
			[]string{sameFile + `:1: admin-audience "https://api.gooclaim.com" is the same as --audience "https://api.gooclaim.com/"`}},
		{"empty, as a flag", []string{"--admin-audience="}, nil,
			[]string{"--admin-audience is empty: the admin API needs the audience its tokens must carry; remove the setting for the default urn:gooclaim:auth:admin, or set --no-admin-api"}},
		{"empty, in the file", []string{"--config", emptyFile}, nil,
			[]string{emptyFile + ":1: admin-audience is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--database", db, "--listen", "127.0.0.1:0", "--ops-listen", ""}, tc.args...)
			errOut, code := runStopped(t, tc.vars, args...)
			if code == 0 {
				t.Fatalf("serve %v started", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q\nwant %q", errOut, w)
				}
			}
		})
	}

	// Accepted: an admin audience of its own, and none at all without the
	// admin API.
	startTestServer(t, nil, func(c *serveConfig) {
		c.audience, c.adminAudience = "https://claims.example.com", "https://admin.claims.example.com"
	})
	startTestServer(t, nil, func(c *serveConfig) { c.adminAudience, c.noAdminAPI = "", true })
}
