package authconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s"), []byte("  the-secret  \nsecond line\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "big"), []byte(strings.Repeat("x", maxSecretFile+1)), 0o600)
	env := map[string]string{"SET": " env-secret\n", "BLANK": "  "}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		name    string
		src     SecretSource
		want    string
		wantErr string
	}{
		{"relative file, first line trimmed", SecretSource{FromFile: "s"}, "the-secret", ""},
		{"absolute file", SecretSource{FromFile: filepath.Join(dir, "s")}, "the-secret", ""},
		{"environment", SecretSource{FromEnv: "SET"}, "env-secret", ""},
		{"missing file", SecretSource{FromFile: "none"}, "", "from_file: open"},
		{"empty file", SecretSource{FromFile: "empty"}, "", "is empty"},
		{"too large", SecretSource{FromFile: "big"}, "", "over 4096 bytes"},
		{"unset variable", SecretSource{FromEnv: "UNSET"}, "", "UNSET is unset or empty"},
		{"blank variable", SecretSource{FromEnv: "BLANK"}, "", "BLANK is unset or empty"},
		{"generate", SecretSource{Generate: true}, "", "neither"},
	} {
		got, err := ReadSecret(dir, c.src, getenv)
		if c.wantErr == "" && (err != nil || got != c.want) || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %q, %v; want %q, error containing %q", c.name, got, err, c.want, c.wantErr)
		}
	}
}
