package authconfig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxSecretFile bounds a from_file secret: a secret, not a file that
// happens to be named.
const maxSecretFile = 4 << 10

// ReadSecret returns the secret that src (from_file or from_env) names,
// as the command line reads secrets: the first line, without surrounding
// spaces. A relative from_file path is taken from dir, the directory of
// the document, so that a file and its secrets can move together (a
// ConfigMap beside a mounted Secret). getenv reads from_env.
func ReadSecret(dir string, src SecretSource, getenv func(string) string) (string, error) {
	if v := src.FromEnv; v != "" {
		s := strings.TrimSpace(getenv(v))
		if s == "" {
			return "", fmt.Errorf("from_env: the environment variable %s is unset or empty", v)
		}
		return s, nil
	}
	if src.FromFile == "" {
		return "", errors.New("the secret comes from neither a file nor the environment")
	}
	path := src.FromFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("from_file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("from_file: %w", err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("from_file: %s is over %d bytes; is it the right file?", path, maxSecretFile)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if s := strings.TrimSpace(line); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("from_file: %s is empty", path)
}
